package tailer

import (
	"path/filepath"
	"testing"
	"time"
)

// Another detail reader (FreeRADIUS's listener, a second radrelay) owns the
// directory (holds detail.work locked). radrelay used to leave the work file
// alone but read in place the files that reader claims and delivers next:
// every record of them was delivered twice.
func TestConsumeLeavesForeignWorkDirAlone(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	work := filepath.Join(dir, workName)
	writeRecords(t, work, 0, 5)
	release := startLockHolder(t, work)
	defer close(release)
	writeRecords(t, filepath.Join(dir, "detail-1"), 100, 110)
	sink := newMemSink(0)
	cfg := liveConfig(t, dir, state, Consume, SinkSpec{Name: "mem", Sink: sink, MaxOutstanding: 8})
	_, stop := runTailer(t, cfg)
	// Not synchronisation: a run of some length (several scans and polls)
	// in which nothing may be delivered.
	time.Sleep(500 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, total := sink.snapshot(); total != 0 {
		t.Errorf("%d records of detail-1 delivered while another reader owns the directory (it will deliver them too)", total)
	}
}
