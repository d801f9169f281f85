package tailer

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/radrelay/radrelay/detail"
)

// slowHeadSink is a sinks.ConcurrentSender that holds the batch holding
// the first record until release is closed, and acknowledges every other
// batch once the held one is in its Send: then each of them overlaps it,
// however the goroutines are scheduled (a Send that ran and returned
// before the held one was even called would have shown no overlap, and the
// test failed under load).
type slowHeadSink struct {
	*memSink
	release  chan struct{}
	heldIn   chan struct{} // closed when the held batch's Send began
	heldOnce sync.Once
	mu       sync.Mutex
	active   int
	peak     int
	othersOK chan struct{} // closed when want Sends besides the held one returned
	others   int
	want     int
}

func (s *slowHeadSink) ConcurrentSends() int { return 4 }

func (s *slowHeadSink) Send(ctx context.Context, recs []*detail.Record, results []error) {
	s.mu.Lock()
	s.active++
	s.peak = max(s.peak, s.active)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.active--
		s.mu.Unlock()
	}()
	held := false
	for _, r := range recs {
		if a, _ := r.Get("Acct-Session-Id"); a.Value == sessionID(0) {
			held = true
		}
	}
	if held {
		s.heldOnce.Do(func() { close(s.heldIn) })
		<-s.release
	} else {
		<-s.heldIn
	}
	s.memSink.Send(ctx, recs, results)
	if !held {
		s.mu.Lock()
		s.others++
		if s.others >= s.want {
			select {
			case <-s.othersOK:
			default:
				close(s.othersOK)
			}
		}
		s.mu.Unlock()
	}
}

// TestConcurrentSender: a sink that takes concurrent Sends gets later
// batches while an earlier one is still in flight, but the position is
// committed in order: it does not pass the held batch until that batch is
// acknowledged, and every record is delivered exactly once, also across a
// restart.
func TestConcurrentSender(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "detail-a")
	const n = 400
	writeRecords(t, src, 0, n)
	sink := &slowHeadSink{memSink: newMemSink(n), release: make(chan struct{}), heldIn: make(chan struct{}), othersOK: make(chan struct{}), want: 3}
	cfg := Config{
		Inputs:   []Input{{Files: []string{src}, Mode: Replay}},
		Sinks:    []SinkSpec{{Name: "mem", Sink: sink, MaxOutstanding: 40, BatchSize: 10}},
		StateDir: filepath.Join(dir, "state"),
		Logger:   testLogger(t),
	}
	tl, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- tl.Run(context.Background()) }()

	// Three more batches (all the other slots) are sent while the first is held.
	waitClosed(t, sink.othersOK, "batches after the held one")
	if st := tl.Stats().Sinks[0]; st.BytesDone != 0 {
		t.Errorf("position moved to %d bytes while the first batch was unacknowledged", st.BytesDone)
	}
	close(sink.release)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Run did not return")
	}
	checkExactlyOnce(t, "first run", sink.memSink, n)
	if sink.peak < 2 || sink.peak > 4 {
		t.Errorf("at most %d Sends ran at once, want 2 to 4", sink.peak)
	}

	// The position was saved past every record: a second run sends nothing.
	again := newMemSink(0)
	cfg.Sinks[0].Sink = again
	tl, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, total := again.snapshot(); total != 0 {
		t.Errorf("second run re-sent %d records", total)
	}
}
