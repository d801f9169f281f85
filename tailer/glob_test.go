package tailer

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// One entry of the glob that cannot be stat'ed (a symlink loop) used to fail
// the whole listing; every file of the input was taken for gone, forgotten
// after settle_time with its cursor, and read again from offset 0 when found.
func TestFollowUnstatableGlobEntryKeepsFiles(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	path := filepath.Join(dir, "detail-live")
	writeRecords(t, path, 0, 20)
	sink := newMemSink(20)
	cfg := liveConfig(t, dir, state, Follow, SinkSpec{Name: "mem", Sink: sink, MaxOutstanding: 8})
	tl, stop := runTailer(t, cfg)
	waitClosed(t, sink.full, "first 20")
	loop := filepath.Join(dir, "detail-loop")
	if err := os.Symlink("detail-loop", loop); err != nil {
		t.Fatal(err)
	}
	// Not synchronisation: the time (> settle_time, several polls) the old
	// bug needed to forget the file.
	time.Sleep(500 * time.Millisecond)
	if err := os.Remove(loop); err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	sink.want, sink.full = 21, make(chan struct{})
	sink.mu.Unlock()
	if err := appendLocked(path, testRecord(20)); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, sink.full, "record 20")
	waitCaughtUp(t, tl)
	stop()
	checkExactlyOnce(t, "mem", sink, 21)
}
