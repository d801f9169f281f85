package tailer

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// With ReadAhead (the listener's spool), a sink that is down holds up no
// other sink: while it retries the first work file, the healthy sink reads
// the files waiting to be claimed in place, including records appended to
// them meanwhile. Once the dead sink recovers it gets every record too, in
// order, and the files are claimed and deleted as usual.
func TestConsumeReadAheadDeadSinkHoldsUpNoOther(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	const n = 30
	up, down := newMemSink(n), newMemSink(n)
	down.setFail(func(string) error { return errors.New("connection refused") })
	fast := RetryPolicy{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond}
	cfg := liveConfig(t, dir, state, Consume,
		SinkSpec{Name: "up", Sink: up, MaxOutstanding: 8},
		SinkSpec{Name: "down", Sink: down, MaxOutstanding: 8, Retry: fast})
	cfg.Inputs[0].ReadAhead = true
	deleted := make(chan string, 10)
	_, stop := runTailer(t, cfg, func(tl *Tailer) { tl.testWorkDeleted = func(p string) { deleted <- p } })

	writeRecords(t, filepath.Join(dir, "detail-0001"), 0, 10)
	up.waitFor(t, sessionID(9))
	// detail-0001 is the work file now, held by the dead sink; the next
	// file is not claimed while it is.
	second := filepath.Join(dir, "detail-0002")
	writeRecords(t, second, 10, 20)
	up.waitFor(t, sessionID(19))
	for i := 20; i < n; i++ {
		if err := appendLocked(second, testRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	waitClosed(t, up.full, "every record at the healthy sink while the other is down")
	if _, err := os.Stat(second); err != nil {
		t.Fatalf("the second file was claimed while the dead sink held the first: %v", err)
	}
	if _, total := down.snapshot(); total != 0 {
		t.Fatalf("the dead sink took %d records", total)
	}

	down.setFail(nil)
	waitClosed(t, down.full, "every record at the recovered sink")
	for range 2 {
		select {
		case <-deleted:
		case <-time.After(90 * time.Second): // a failure bound only
			t.Fatal("work files not deleted after both sinks had them")
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, "up", up, n)
	checkExactlyOnce(t, "down", down, n)
	if names := listDir(t, dir); len(names) != 0 {
		t.Errorf("left in the spool: %v", names)
	}
}
