package tailer

import "testing"

// quarantine.sync used to clear dirty before the fsync: a failed fsync was
// reported once, the retry (flush -> q.sync) succeeded without syncing, and
// the checkpoint moved past quarantined records that may not be on disk.
func TestQuarantineSyncErrorRetried(t *testing.T) {
	q := &quarantine{dir: t.TempDir(), sink: "s"}
	if err := q.put(nil, []byte("garbage\n"), "malformed: x", "f", 1, 0); err != nil {
		t.Fatal(err)
	}
	q.f.Close() // make the next fsync fail (stands in for EIO)
	if err := q.sync(); err == nil {
		t.Fatal("first sync should fail")
	}
	if err := q.sync(); err == nil {
		t.Errorf("second sync reports success although nothing was fsynced")
	}
}
