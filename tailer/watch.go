package tailer

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// signal wakes every goroutine waiting for something to change: each waiter
// takes the current channel, which is closed (and replaced) by the next Broadcast.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

func newSignal() *signal { return &signal{ch: make(chan struct{})} }

// C returns a channel closed at the next Broadcast. Take it BEFORE looking
// at the state it guards, so no broadcast is missed.
func (s *signal) C() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ch
}

func (s *signal) Broadcast() {
	s.mu.Lock()
	close(s.ch)
	s.ch = make(chan struct{})
	s.mu.Unlock()
}

// watcher notices new data: fsnotify on the inputs' directories for
// milliseconds latency, and a stat poll every PollInterval as the safety net
// for what inotify misses (NFS and FUSE, a full event queue, directories
// created after the start).
type watcher struct {
	patterns []string
	interval time.Duration
	wake     *signal
	log      *slog.Logger
}

func (w *watcher) run(ctx context.Context) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		w.log.Warn("fsnotify unavailable; relying on the stat poll", "err", err, "poll_interval", w.interval)
		fw = nil
	}
	watched := map[string]bool{}
	addDirs := func() {
		if fw == nil {
			return
		}
		for _, p := range w.patterns {
			for _, d := range globDirs(p) {
				if watched[d] {
					continue
				}
				if err := fw.Add(d); err != nil {
					w.log.Debug("cannot watch directory", "dir", d, "err", err)
					continue
				}
				watched[d] = true
			}
		}
	}
	addDirs()
	var events <-chan fsnotify.Event
	var errs <-chan error
	if fw != nil {
		defer fw.Close()
		events, errs = fw.Events, fw.Errors
	}
	tick := time.NewTicker(w.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if ev.Has(fsnotify.Create) {
				addDirs() // a new client directory
			}
			if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
				delete(watched, ev.Name)
			}
			w.wake.Broadcast()
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				w.log.Warn("fsnotify queue overflowed; rescanning")
			} else {
				w.log.Warn("fsnotify error", "err", err)
			}
			w.wake.Broadcast()
		case <-tick.C:
			addDirs()
			w.wake.Broadcast()
		}
	}
}
