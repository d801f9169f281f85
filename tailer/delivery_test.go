package tailer

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks"
)

// A sink that is down (retryable errors) does not hold up another sink; when
// it comes back it gets every record, exactly once. In consume mode the
// healthy sink gets the work file's records and then waits: records are
// delivered only from files this process claimed, and the next file is
// claimed once the slowest sink has finished the work file.
func TestSinkDownDoesNotHoldUpOthers(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	const n = 1200
	writeRecords(t, filepath.Join(dir, "detail-1"), 0, n/2)
	writeRecords(t, filepath.Join(dir, "detail-2"), n/2, n)
	for _, mode := range []Mode{Consume, Follow} {
		t.Run([]string{"consume", "follow"}[mode], func(t *testing.T) {
			dir := t.TempDir()
			writeRecords(t, filepath.Join(dir, "detail-1"), 0, n/2)
			writeRecords(t, filepath.Join(dir, "detail-2"), n/2, n)
			down, up := newMemSink(n), newMemSink(n)
			down.setFail(func(string) error { return errors.New("connection refused") })
			retry := RetryPolicy{Initial: time.Millisecond, Max: 5 * time.Millisecond}
			cfg := liveConfig(t, dir, t.TempDir(), mode,
				SinkSpec{Name: "down", Sink: down, MaxOutstanding: 20, Retry: retry},
				SinkSpec{Name: "up", Sink: up, MaxOutstanding: 20})
			if mode == Consume {
				up.mu.Lock()
				up.want = n / 2 // the work file's records
				up.mu.Unlock()
			}
			tl, stop := runTailer(t, cfg)
			waitClosed(t, up.full, "the healthy sink to get every record it may have")
			if got, _ := down.snapshot(); len(got) != 0 {
				t.Fatalf("down sink got %d records", len(got))
			}
			st := tl.Stats()
			if st.Sinks[0].Retried == 0 || st.Sinks[0].InFlight == 0 || st.BacklogBytes == 0 {
				t.Errorf("stats while down: %+v backlog %d", st.Sinks[0], st.BacklogBytes)
			}
			if mode == Consume {
				// The work file stays until the slow sink has passed it.
				if names := listDir(t, dir); !strings.Contains(strings.Join(names, " "), workName) {
					t.Errorf("work file deleted before every sink finished it: %v", names)
				}
			}
			if mode == Consume {
				up.mu.Lock()
				up.want, up.full = n, make(chan struct{})
				up.mu.Unlock()
			}
			down.setFail(nil) // the server comes back
			waitClosed(t, down.full, "the recovered sink to catch up")
			waitClosed(t, up.full, "the healthy sink to get the rest")
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			checkExactlyOnce(t, "up", up, n)
			checkExactlyOnce(t, "down", down, n)
		})
	}
	_ = state
}

// Records a sink rejects permanently, and records whose retries are
// exhausted, are quarantined (with the reason) and the stream goes on; the
// quarantine file can be replayed and yields the original records.
func TestPermanentFailuresAreQuarantined(t *testing.T) {
	dir := t.TempDir()
	const n = 400
	src := filepath.Join(dir, "detail-1")
	writeRecords(t, src, 0, n)
	sink := newMemSink(0)
	sink.fail = func(id string) error {
		switch id {
		case sessionID(7), sessionID(300):
			return sinks.Permanent(errors.New("duplicate key value violates unique constraint"))
		case sessionID(42):
			return errors.New("timeout")
		}
		return nil
	}
	qdir := filepath.Join(dir, "q")
	tl, err := New(Config{
		Inputs:        []Input{{Files: []string{src}, Mode: Replay}},
		Sinks:         []SinkSpec{{Name: "pg", Sink: sink, MaxOutstanding: 32, Retry: RetryPolicy{Initial: time.Millisecond, Max: 2 * time.Millisecond, MaxAttempts: 3}}},
		QuarantineDir: qdir,
		Logger:        testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := tl.Stats().Sinks[0]
	if st.Delivered != n-3 || st.Quarantined != 3 || st.Retried != 2 {
		t.Errorf("stats %+v, want %d delivered, 3 quarantined, 2 retries", st, n-3)
	}
	q := globOne(t, filepath.Join(qdir, "pg-*.detail"))
	recs, bad := readDetail(t, q)
	if bad != 0 || len(recs) != 3 {
		t.Fatalf("quarantine: %d records, %d bad", len(recs), bad)
	}
	reasons := map[string]string{}
	for _, r := range recs {
		id, _ := r.Get("Acct-Session-Id")
		why, _ := r.Get(QuarantineReasonAttr)
		src, _ := r.Get(QuarantineSourceAttr)
		reasons[id.Value] = why.Value
		if !strings.HasPrefix(src.Value, filepath.Join(dir, "detail-1")+":") {
			t.Errorf("source %q", src.Value)
		}
	}
	if !strings.HasPrefix(reasons[sessionID(7)], "rejected: duplicate key") ||
		!strings.HasPrefix(reasons[sessionID(42)], "retries exhausted after 3 attempts: timeout") {
		t.Errorf("reasons %q", reasons)
	}

	// Replay the quarantine file to a healthy sink: the three records, their
	// annotations stripped.
	again := &attrSink{memSink: newMemSink(0)}
	tl, err = New(Config{
		Inputs:        []Input{{Files: []string{q}, Mode: Replay}},
		Sinks:         []SinkSpec{{Name: "pg", Sink: again}},
		QuarantineDir: t.TempDir(),
		Logger:        testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, total := again.snapshot()
	if total != 3 || got[sessionID(7)] != 1 || got[sessionID(42)] != 1 || got[sessionID(300)] != 1 {
		t.Errorf("replayed quarantine: %v", got)
	}
	if again.sawAnnotation {
		t.Error("a sink was handed quarantine annotations")
	}
}

// attrSink is a memSink that notes quarantine annotations reaching it.
type attrSink struct {
	*memSink
	sawAnnotation bool
}

func (s *attrSink) Send(ctx context.Context, recs []*detail.Record, results []error) {
	for _, r := range recs {
		for _, a := range r.Attrs {
			if strings.HasPrefix(a.Name, QuarantineAttrPrefix) {
				s.sawAnnotation = true
			}
		}
	}
	s.memSink.Send(ctx, recs, results)
}

// gateSink holds every Send until its gate opens (or ctx ends).
type gateSink struct {
	*memSink
	entered chan struct{} // gets a value when a Send starts waiting
	gate    chan struct{}
}

func (s *gateSink) Send(ctx context.Context, recs []*detail.Record, results []error) {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	select {
	case <-s.gate:
	case <-ctx.Done():
		for i := range results {
			results[i] = ctx.Err()
		}
		return
	}
	s.memSink.Send(ctx, recs, results)
}

// On shutdown the records in flight are still delivered (within
// ShutdownTimeout) and their progress persisted: a restart does not send
// them again.
func TestShutdownDrainsInFlight(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	writeRecords(t, filepath.Join(dir, "detail-1"), 0, 100)
	sink := &gateSink{memSink: newMemSink(0), entered: make(chan struct{}, 1), gate: make(chan struct{})}
	cfg := liveConfig(t, dir, state, Follow, SinkSpec{Name: "mem", Sink: sink, MaxOutstanding: 10, BatchSize: 10})
	cfg.ShutdownTimeout = time.Minute
	tl, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tl.Run(ctx) }()
	<-sink.entered // a batch is in flight
	cancel()
	close(sink.gate) // the destination answers after the shutdown began
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got, total := sink.snapshot()
	// The window (10) held at most what was read before the shutdown; one
	// more may pass a reader that checked just before the cancel.
	if total == 0 || total > 11 {
		t.Fatalf("delivered %d records during shutdown, want the batch in flight (and what was queued)", total)
	}
	// Restart: the rest, nothing twice.
	rest := newMemSink(100 - total)
	cfg.Sinks[0].Sink = rest
	_, stop := runTailer(t, cfg)
	waitClosed(t, rest.full, "the remaining records")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	again, _ := rest.snapshot()
	for i := 0; i < 100; i++ {
		if got[sessionID(i)]+again[sessionID(i)] != 1 {
			t.Errorf("record %d delivered %d+%d times", i, got[sessionID(i)], again[sessionID(i)])
		}
	}
}
