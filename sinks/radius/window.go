package radius

import (
	"context"
	"net"
	"sync"
	"time"
)

// window bounds the requests in flight to one server, and adapts its size
// to what the server can take.
//
// A UDP server that is sent more requests at once than its socket buffer
// holds drops the excess (FreeRADIUS with the default 208 KiB buffer starts
// dropping at about 170 requests in flight on loopback). A dropped request
// is resent only after initial_rtx (2 s), and a batch is not done until its
// last record is, so every such loss stalls the stream. The window avoids
// repeating that: a loss (a retransmission timer that expired while the
// server went on answering other requests) shrinks it to three quarters and
// caps it just below the size at which the loss happened; every capProbe
// without loss the cap rises by an eighth, so the window follows a server
// that got faster.
// Timeouts of a server that answers nothing at all are not congestion and
// do not shrink it.
type window struct {
	mu       sync.Mutex
	size     int // requests allowed in flight now
	cap      int // size never grows past this (max after cutting)
	max      int // max_outstanding
	inflight int
	acks     int // acknowledgements since the size last changed
	lastCut  time.Time
	lastRise time.Time
	cutGap   time.Duration // at most one cut per gap: one burst, one cut
	waiters  []chan struct{}
}

const (
	minWindow = 4
	// startWindow is where a window starts: it grows from there by one per
	// window-full of acknowledgements, so a server is not hit with the whole
	// max_outstanding at once before anything is known about it.
	startWindow = 32
	capProbe    = 10 * time.Second
)

func newWindow(max int, cutGap time.Duration) *window {
	return &window{size: min(max, startWindow), cap: max, max: max, cutGap: cutGap}
}

// acquire waits for a place in the window.
func (w *window) acquire(ctx context.Context, closed <-chan struct{}) error {
	w.mu.Lock()
	if w.inflight < w.size && len(w.waiters) == 0 {
		w.inflight++
		w.mu.Unlock()
		return nil
	}
	ch := make(chan struct{}, 1)
	w.waiters = append(w.waiters, ch)
	w.mu.Unlock()
	var err error
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-closed:
		err = net.ErrClosed
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case <-ch: // granted meanwhile: give the place back
		w.inflight--
		w.grantLocked()
	default:
		for i, c := range w.waiters {
			if c == ch {
				w.waiters = append(w.waiters[:i], w.waiters[i+1:]...)
				break
			}
		}
	}
	return err
}

// release gives a place back.
func (w *window) release() {
	w.mu.Lock()
	w.inflight--
	w.grantLocked()
	w.mu.Unlock()
}

func (w *window) grantLocked() {
	for len(w.waiters) > 0 && w.inflight < w.size {
		ch := w.waiters[0]
		w.waiters = w.waiters[1:]
		w.inflight++
		ch <- struct{}{}
	}
}

// acked grows the window by one per window-full of acknowledgements, up to
// its cap, and lets the cap rise by one every capProbe.
func (w *window) acked(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cap < w.max && now.Sub(w.lastRise) >= capProbe && now.Sub(w.lastCut) >= capProbe {
		w.cap = min(w.max, w.cap+max(1, w.cap/8))
		w.lastRise = now
	}
	if w.size >= w.cap {
		return
	}
	w.acks++
	if w.acks >= w.size {
		w.acks = 0
		w.size++
		w.grantLocked()
	}
}

// lost shrinks the window after a loss; it reports whether it did.
func (w *window) lost(now time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.lastCut.IsZero() && now.Sub(w.lastCut) < w.cutGap {
		return false
	}
	w.lastCut = now
	// The cap goes just below the size that lost, but never below the new
	// size: a burst of timeouts (a server restarting) must not pin the
	// window low for long.
	w.size = max(minWindow, w.size*3/4)
	w.cap = max(w.size, min(w.cap, w.size*4/3-1))
	w.acks = 0
	return true
}

func (w *window) current() (size, inflight int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.size, w.inflight
}
