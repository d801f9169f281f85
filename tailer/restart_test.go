package tailer

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A restart while the spool is briefly not there (not mounted yet, renamed by
// an operator) used to drop every saved cursor at the first scan and persist
// that; when the files were back they were read from offset 0 again.
func TestFollowStartWithSpoolMissingKeepsCursors(t *testing.T) {
	root, state := t.TempDir(), t.TempDir()
	dir := filepath.Join(root, "spool")
	os.Mkdir(dir, 0o700)
	path := filepath.Join(dir, "detail-live")
	writeRecords(t, path, 0, 20)
	sink := newMemSink(20)
	cfg := liveConfig(t, dir, state, Follow, SinkSpec{Name: "mem", Sink: sink, MaxOutstanding: 8})
	_, stop := runTailer(t, cfg)
	waitClosed(t, sink.full, "first 20")
	stop()

	// Restart while the spool is away, then stop.
	if err := os.Rename(dir, dir+".away"); err != nil {
		t.Fatal(err)
	}
	s2 := newMemSink(0)
	cfg.Sinks[0].Sink = s2
	_, stop = runTailer(t, cfg)
	// Not synchronisation: a run of some length while the spool is away.
	time.Sleep(300 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dir+".away", dir); err != nil {
		t.Fatal(err)
	}

	// Restart with the spool back and one new record.
	s3 := newMemSink(1)
	cfg.Sinks[0].Sink = s3
	tl, stop := runTailer(t, cfg)
	if err := appendLocked(path, testRecord(20)); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, s3.full, "record 20")
	waitCaughtUp(t, tl)
	stop()
	if _, total := s3.snapshot(); total != 1 {
		t.Errorf("%d records delivered after the spool came back, want 1", total)
	}
}
