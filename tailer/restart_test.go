package tailer

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Regression: a restart while the spool is temporarily not there (not mounted yet,
// renamed by an operator) drops every saved cursor at the first scan and
// persists that; when the files are back they are read from offset 0.
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
	os.Rename(dir, dir+".away")
	s2 := newMemSink(0)
	cfg.Sinks[0].Sink = s2
	_, stop = runTailer(t, cfg)
	time.Sleep(300 * time.Millisecond)
	stop()
	os.Rename(dir+".away", dir)

	// Restart with the spool back and one new record.
	s3 := newMemSink(1)
	cfg.Sinks[0].Sink = s3
	_, stop = runTailer(t, cfg)
	appendLocked(path, testRecord(20))
	waitClosed(t, s3.full, "record 20")
	time.Sleep(300 * time.Millisecond)
	stop()
	if _, total := s3.snapshot(); total != 1 {
		t.Errorf("%d records delivered after the spool came back, want 1", total)
	}
}
