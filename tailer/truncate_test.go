package tailer

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/radrelay/radrelay/detail"
)

// After copytruncate the checkpoint must carry the new content's fingerprint:
// with the old one (a stale cache) a clean restart did not recognise the file
// and re-delivered every record written since the truncation.
func TestFollowCopytruncateRestartKeepsPosition(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	path := filepath.Join(dir, "detail-live")
	writeRecords(t, path, 0, 50)
	sink := newMemSink(50)
	cfg := liveConfig(t, dir, state, Follow, SinkSpec{Name: "mem", Sink: sink, MaxOutstanding: 8})
	_, stop := runTailer(t, cfg)
	waitClosed(t, sink.full, "first 50")
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	sink.want, sink.full = 60, make(chan struct{})
	sink.mu.Unlock()
	for i := 50; i < 60; i++ {
		if err := appendLocked(path, testRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	waitClosed(t, sink.full, "records after truncation")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, "first run", sink, 60)

	// Clean restart, one new record appended: only it should be delivered.
	r := newMemSink(1)
	cfg.Sinks[0].Sink = r
	tl, stop := runTailer(t, cfg)
	if err := appendLocked(path, testRecord(60)); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, r.full, "new record")
	waitCaughtUp(t, tl)
	stop()
	if _, total := r.snapshot(); total != 1 {
		t.Errorf("after a clean restart %d records delivered, want 1 (the whole file since the truncation was sent again)", total)
	}
}

// heldSink blocks every Send until open is closed.
type heldSink struct {
	*memSink
	open chan struct{}
}

func (g *heldSink) Send(ctx context.Context, recs []*detail.Record, results []error) {
	<-g.open
	g.memSink.Send(ctx, recs, results)
}

// A followed file truncated in place and rewritten past the old read
// position while the sink's reader is held up by backpressure: the reader
// used to miss the truncation (it compared sizes only, and only on entering
// readFile), carried on at the old offset in the new content and skipped
// the new records before it.
func TestFollowCopytruncateUnderBackpressure(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	path := filepath.Join(dir, "detail-live")
	// ids 100..109 and 200..219: all records have the same length.
	writeRecords(t, path, 100, 110)
	g := &heldSink{memSink: newMemSink(0), open: make(chan struct{})}
	cfg := liveConfig(t, dir, state, Follow, SinkSpec{Name: "g", Sink: g, MaxOutstanding: 1})
	tl, stop := runTailer(t, cfg)
	// Wait until the reader has filled the window (one item read).
	deadline := time.Now().Add(10 * time.Second)
	for tl.Stats().Sinks == nil || tl.Stats().Sinks[0].Read < 1 {
		if time.Now().After(deadline) {
			t.Fatal("reader did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	// copytruncate and FreeRADIUS writes 20 new records.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	for i := 200; i < 220; i++ {
		if err := appendLocked(path, testRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	close(g.open) // the sink comes back
	waitDelivered(t, g.memSink, 200, 220)
	stop()
}

// waitDelivered waits until the records from..to-1 were all delivered, and
// fails naming those that were not.
func waitDelivered(t *testing.T, s *memSink, from, to int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, _ := s.snapshot()
		var missing []string
		for i := from; i < to; i++ {
			if m[sessionID(i)] == 0 {
				missing = append(missing, sessionID(i))
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("records written after the truncation never delivered: %v", missing)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitCaughtUp waits until every sink has committed everything of the
// listed files, so that any (wrong) re-delivery has happened.
func waitCaughtUp(t *testing.T, tl *Tailer) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := tl.Stats()
		idle := st.BacklogBytes == 0
		for _, s := range st.Sinks {
			idle = idle && s.InFlight == 0
		}
		if idle {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not caught up: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The same without backpressure: truncate, then the writer appends more
// bytes than were there before the reader looks again.
func TestFollowCopytruncateFastRewrite(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	path := filepath.Join(dir, "detail-live")
	writeRecords(t, path, 100, 110)
	sink := newMemSink(10)
	cfg := liveConfig(t, dir, state, Follow, SinkSpec{Name: "mem", Sink: sink, MaxOutstanding: 8})
	_, stop := runTailer(t, cfg)
	waitClosed(t, sink.full, "first 10")
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	var b []byte
	for i := 200; i < 220; i++ {
		b = append(b, testRecord(i)...)
	}
	if err := appendLocked(path, b); err != nil {
		t.Fatal(err)
	}
	waitDelivered(t, sink, 200, 220)
	stop()
}
