package tailer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/radrelay/radrelay/sinks"
)

// Tailer follows the inputs of a Config and feeds its sinks.
//
// Each sink gets its own pipeline over the same files: a reader that turns
// the files into records, a sender that hands them to the sink in batches
// (retrying and quarantining), and a flusher that persists the sink's
// cursors. A sink that is down therefore never holds up another one; the
// files are shared (one descriptor each) and a consumed file is deleted when
// the slowest sink has passed it.
type Tailer struct {
	cfg  Config
	mode Mode
	log  *slog.Logger

	running atomic.Bool
	started chan struct{} // closed once Run has passed its checks (Started)

	// Set up by Run.
	table   *fileTable
	runners []*sinkRunner
	ready   *signal // the file list changed or files grew: readers look again
	list    atomic.Pointer[[]*openFile]
	// complete is set (Replay) once the file list is complete.
	complete   atomic.Bool
	totalBytes atomic.Int64
	// skippedFiles counts input files left alone: compressed or binary
	// files in a consume or follow glob, binary files given to a Replay.
	skippedFiles atomic.Int64
	// malformed counts the records that could not be parsed, once each
	// whichever sink wrote their quarantine entry (unparsed.go).
	malformed atomic.Int64
	progress  chan struct{} // a sink committed something (maintenance looks)

	statsMu sync.Mutex // guards runners being set

	// Unparseable spans being quarantined, once for every sink (unparsed.go).
	unparsedMu sync.Mutex
	unparsed   map[unparsedKey]*unparsedClaim

	// parallelMin is the backlog from which a file is parsed in parallel
	// (defaultParallelMin; 0 = never) and parallelChunk the size of its
	// chunks (0 = detail's default); tests make them small.
	parallelMin   int64
	parallelChunk int

	// testWorkDeleted, when set (by tests, before Run), is called after a
	// work file was deleted.
	testWorkDeleted func(path string)
	// testWorkOpenElsewhere, when set (by tests, before Run), is called
	// when a claimed work file was found still open in another process
	// (so its end is not final yet).
	testWorkOpenElsewhere func(path string)
}

// New checks cfg, fills in defaults, and returns a Tailer ready to Run.
// Run does not close the sinks: the caller does, after Run returns.
func New(cfg Config) (*Tailer, error) {
	if len(cfg.Inputs) == 0 {
		return nil, errors.New("tailer: no input")
	}
	if len(cfg.Sinks) == 0 {
		return nil, errors.New("tailer: no sink")
	}
	mode := cfg.Inputs[0].Mode
	for i, in := range cfg.Inputs {
		if (in.Mode == Replay) != (mode == Replay) {
			return nil, errors.New("tailer: Replay inputs cannot be mixed with Consume or Follow inputs")
		}
		switch in.Mode {
		case Consume, Follow:
			if in.Glob == "" {
				return nil, fmt.Errorf("tailer: input %d: a glob is required in consume and follow mode", i+1)
			}
			if len(in.Files) > 0 {
				return nil, fmt.Errorf("tailer: input %d: Files is for Replay only; use Glob", i+1)
			}
			if cfg.StateDir == "" {
				return nil, fmt.Errorf("tailer: input %d (%s): a state directory is required in consume and follow mode", i+1, in.Glob)
			}
		case Replay:
			if in.Glob == "" && len(in.Files) == 0 {
				return nil, fmt.Errorf("tailer: input %d: no files to replay", i+1)
			}
		default:
			return nil, fmt.Errorf("tailer: input %d: unknown mode %d", i+1, in.Mode)
		}
		if in.Mode != mode && mode != Replay {
			// Consume and Follow may be mixed (different globs).
			mode = Consume
		}
	}
	seen := map[string]bool{}
	specs := make([]SinkSpec, len(cfg.Sinks))
	for i, s := range cfg.Sinks {
		if s.Name == "" {
			return nil, fmt.Errorf("tailer: sink %d has no name", i+1)
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("tailer: two sinks are named %q", s.Name)
		}
		seen[s.Name] = true
		if s.Sink == nil {
			return nil, fmt.Errorf("tailer: sink %q: no Sink", s.Name)
		}
		if s.MaxOutstanding <= 0 {
			s.MaxOutstanding = DefaultMaxOutstanding
		}
		if s.BatchSize <= 0 {
			s.BatchSize = min(s.MaxOutstanding, DefaultMaxBatch)
		}
		if s.BatchSize > s.MaxOutstanding {
			return nil, fmt.Errorf("tailer: sink %q: BatchSize %d is larger than MaxOutstanding %d", s.Name, s.BatchSize, s.MaxOutstanding)
		}
		if s.Concurrency <= 0 {
			s.Concurrency = sinks.Concurrency(s.Sink)
		}
		if s.Retry.MaxAttempts < 0 || s.Retry.MaxDuration < 0 {
			return nil, fmt.Errorf("tailer: sink %q: negative retry limit", s.Name)
		}
		s.Retry = s.Retry.withDefaults()
		specs[i] = s
	}
	cfg.Sinks = specs
	cfg.Inputs = append([]Input(nil), cfg.Inputs...)
	if cfg.QuarantineDir == "" {
		if cfg.StateDir == "" {
			return nil, errors.New("tailer: a quarantine directory is required (QuarantineDir) when there is no state directory")
		}
		cfg.QuarantineDir = DefaultQuarantineDir(cfg.StateDir)
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.SettleTime <= 0 {
		cfg.SettleTime = DefaultSettleTime
	}
	if cfg.FailureReminder <= 0 {
		cfg.FailureReminder = DefaultFailureReminder
	}
	if cfg.SyncInterval <= 0 {
		cfg.SyncInterval = DefaultSyncInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	t := &Tailer{cfg: cfg, mode: mode, log: cfg.Logger, unparsed: map[unparsedKey]*unparsedClaim{}, started: make(chan struct{}),
		parallelMin: defaultParallelMin}
	t.list.Store(new([]*openFile))
	return t, nil
}

// Run delivers records until ctx is done (Consume, Follow) or every file has
// been delivered or quarantined (Replay). After ctx is done it stops reading,
// drains the records in flight for up to ShutdownTimeout, persists progress
// and returns nil. It returns an error only when it cannot start or cannot
// persist progress: another process holds the state directory (an error
// matching ErrStateLocked, naming its pid), the state or quarantine
// directory cannot be written (matching ErrNotWritable; checked before
// anything is read), a state file cannot be read.
func (t *Tailer) Run(ctx context.Context) error {
	if !t.running.CompareAndSwap(false, true) {
		return errors.New("tailer: Run called twice")
	}
	cfg := t.cfg
	if cfg.StateDir != "" {
		if err := checkWritable("state", cfg.StateDir); err != nil {
			return err
		}
		lock, err := lockStateDir(cfg.StateDir)
		if err != nil {
			return err
		}
		defer lock.Close()
	}
	if err := checkWritable("quarantine", cfg.QuarantineDir); err != nil {
		return err
	}
	t.table = newFileTable()
	defer t.table.closeAll() // releases the work files' locks
	t.ready = newSignal()
	t.progress = make(chan struct{}, 1)

	runners := make([]*sinkRunner, len(cfg.Sinks))
	for i, spec := range cfg.Sinks {
		r, err := newSinkRunner(t, spec)
		if err != nil {
			return err
		}
		runners[i] = r
	}
	t.statsMu.Lock()
	t.runners = runners
	t.statsMu.Unlock()
	close(t.started)

	// drainCtx outlives ctx by ShutdownTimeout: in-flight records are still
	// sent, retried and committed while the pipeline empties.
	drainCtx, cancelDrain := context.WithCancel(context.Background())
	defer cancelDrain()
	stopDrain := context.AfterFunc(ctx, func() {
		// The command says what it waits for at the level an operator
		// sees (radrelay run/replay); this is the library's own trace.
		t.log.Debug("shutting down: draining records in flight", "timeout", cfg.ShutdownTimeout.String())
		time.AfterFunc(cfg.ShutdownTimeout, func() {
			// Said once, at the level an operator sees: the wait is
			// over and what was not acknowledged goes out again.
			var waiting []any
			var total int64
			for _, st := range t.Stats().Sinks {
				if n := st.Unsettled(); n > 0 {
					waiting = append(waiting, st.Name, n)
					total += n
				}
			}
			if total > 0 {
				t.log.Warn("shutdown timeout ran out: records in flight were not acknowledged; they will be sent again at the next start",
					append([]any{"timeout", cfg.ShutdownTimeout.String(), "records", total}, waiting...)...)
			}
			cancelDrain()
		})
	})
	defer stopDrain()

	bg, stopBG := context.WithCancel(context.Background())
	var bgWG sync.WaitGroup
	m := newMaintainer(t)
	if err := m.start(); err != nil {
		stopBG()
		return err
	}
	bgWG.Add(1)
	go func() { defer bgWG.Done(); m.run(bg, ctx) }()
	if t.mode != Replay {
		var pats []string
		for _, in := range cfg.Inputs {
			pats = append(pats, in.Glob)
		}
		w := &watcher{patterns: pats, interval: cfg.PollInterval, wake: m.wake, log: t.log}
		bgWG.Add(1)
		go func() { defer bgWG.Done(); w.run(bg) }()
	}

	for _, in := range cfg.Inputs {
		source := []any{"glob", in.Glob}
		if in.Glob == "" {
			source = []any{"files", len(in.Files)}
		}
		t.log.Info("tailer started", append([]any{"mode", in.Mode.String()}, append(source,
			"sinks", len(runners), "state_dir", cfg.StateDir, "quarantine_dir", cfg.QuarantineDir)...)...)
	}
	if t.mode != Replay {
		t.logStartPositions()
	}
	var wg sync.WaitGroup
	errs := make([]error, len(runners))
	for i, r := range runners {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = r.run(ctx, drainCtx) }()
	}
	wg.Wait()
	stopBG()
	bgWG.Wait()
	// Final pass: mark and delete what the last commits finished.
	m.finish()
	for i, r := range runners {
		// The flushers have exited: persist what finish forgot (deleted
		// work files, finished gone files), or the next start would look
		// for them again.
		if err := r.flush(true); err != nil {
			errs[i] = errors.Join(errs[i], fmt.Errorf("tailer: sink %s: saving state at shutdown: %w", r.spec.Name, err))
		}
		r.summariseQuarantine("")
		r.q.close()
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	t.log.Info("tailer stopped")
	return nil
}

// Started is closed once Run has locked the state directory, found the
// directories writable and loaded every sink's state: from then on the
// state directory is this Tailer's (a caller may write its own files there).
// It is never closed when Run fails before.
func (t *Tailer) Started() <-chan struct{} { return t.started }

func (t *Tailer) listComplete() bool { return t.complete.Load() }

// notifyProgress tells the maintainer that a sink committed something.
func (t *Tailer) notifyProgress() {
	select {
	case t.progress <- struct{}{}:
	default:
	}
}

// Stats returns a snapshot of the Tailer's progress. It is safe to call
// concurrently with Run.
func (t *Tailer) Stats() Stats {
	t.statsMu.Lock()
	runners := t.runners
	t.statsMu.Unlock()
	st := Stats{TotalBytes: t.totalBytes.Load(), SkippedFiles: int(t.skippedFiles.Load()), Malformed: t.malformed.Load()}
	files := *t.list.Load()
	sizes := make(map[fileKey]int64, len(files))
	for _, of := range files {
		if n, err := of.size(); err == nil {
			sizes[of.key] = n
		}
	}
	for _, r := range runners {
		ss, backlog, nfiles := r.stats(sizes)
		st.Sinks = append(st.Sinks, ss)
		if backlog > st.BacklogBytes {
			st.BacklogBytes = backlog
		}
		if nfiles > st.BacklogFiles {
			st.BacklogFiles = nfiles
		}
	}
	if len(runners) == 0 {
		for _, s := range t.cfg.Sinks {
			st.Sinks = append(st.Sinks, SinkStats{Name: s.Name})
		}
	}
	return st
}
