package tailer

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Regression: one entry of the glob that cannot be stat'ed (a symlink loop)
// makes globFiles fail, scan marks EVERY file of the input gone; gone is
// sticky; once quiet for settle_time the file is "final", forgotten, its
// cursor dropped, and when it is found again it is read from offset 0.
func TestFollowUnstatableGlobEntryKeepsFiles(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	path := filepath.Join(dir, "detail-live")
	writeRecords(t, path, 0, 20)
	sink := newMemSink(20)
	cfg := liveConfig(t, dir, state, Follow, SinkSpec{Name: "mem", Sink: sink, MaxOutstanding: 8})
	_, stop := runTailer(t, cfg)
	waitClosed(t, sink.full, "first 20")
	loop := filepath.Join(dir, "detail-loop")
	if err := os.Symlink("detail-loop", loop); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // > settle + several polls
	os.Remove(loop)
	sink.mu.Lock()
	sink.want, sink.full = 21, make(chan struct{})
	sink.mu.Unlock()
	if err := appendLocked(path, testRecord(20)); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, sink.full, "record 20")
	time.Sleep(300 * time.Millisecond)
	stop()
	checkExactlyOnce(t, "mem", sink, 21)
}
