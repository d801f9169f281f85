package tailer

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/radrelay/radrelay/detail"
)

// after copytruncate the cached fingerprint of the openFile is stale, the
// checkpoint stores the OLD fingerprint, and a plain restart (no crash)
// re-delivers every record written since the truncation.
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
	_, stop = runTailer(t, cfg)
	if err := appendLocked(path, testRecord(60)); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, r.full, "new record")
	time.Sleep(300 * time.Millisecond) // let any re-delivery arrive
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

// a followed file truncated in place and rewritten past the old read
// position while the sink's reader is held up by backpressure: the reader
// never notices the truncation (the size check is only at readFile entry and
// compares sizes), continues at the old byte offset in the new content and
// silently skips the new records before it.
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
	time.Sleep(1500 * time.Millisecond)
	stop()
	m, _ := g.snapshot()
	var missing []string
	for i := 200; i < 220; i++ {
		if m[sessionID(i)] == 0 {
			missing = append(missing, sessionID(i))
		}
	}
	if len(missing) > 0 {
		t.Errorf("records written after the truncation never delivered: %v", missing)
	}
}

// the same without any backpressure: truncate, then the writer appends
// more bytes than were there before the reader looks again.
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
	time.Sleep(time.Second)
	stop()
	m, _ := sink.snapshot()
	var missing []string
	for i := 200; i < 220; i++ {
		if m[sessionID(i)] == 0 {
			missing = append(missing, sessionID(i))
		}
	}
	if len(missing) > 0 {
		t.Errorf("records written after the truncation never delivered: %v", missing)
	}
}
