package tailer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"errors"
)

func TestReplayDeliversEveryRecordAndQuarantinesDamage(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "detail-20261122")
	b := filepath.Join(dir, "detail-20261123")
	writeRecords(t, a, 0, 500)
	// b: records, a malformed one in the middle, more records, a truncated tail.
	var data []byte
	for i := 500; i < 700; i++ {
		data = append(data, testRecord(i)...)
	}
	data = append(data, "Mon Nov 23 11:57:39 2026\n\tUser-Name = \"broken\n\tthis is not an attribute\n\n"...)
	for i := 700; i < 1000; i++ {
		data = append(data, testRecord(i)...)
	}
	data = append(data, "Mon Nov 23 11:57:39 2026\n\tUser-Name = \"cut\"\n\tAcct-Sess"...)
	if err := os.WriteFile(b, data, 0o600); err != nil {
		t.Fatal(err)
	}
	sink := newMemSink(0)
	qdir := filepath.Join(dir, "quarantine")
	tl, err := New(Config{
		Inputs:        []Input{{Files: []string{a, b}, Mode: Replay}},
		Sinks:         []SinkSpec{{Name: "mem", Sink: sink, MaxOutstanding: 64}},
		QuarantineDir: qdir,
		Logger:        testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tl.Run(ctx); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, "mem", sink, 1000)
	st := tl.Stats()
	if st.TotalBytes != int64(len(data))+fileSize(t, a) {
		t.Errorf("TotalBytes = %d", st.TotalBytes)
	}
	s := st.Sinks[0]
	if s.Delivered != 1000 || s.Quarantined != 0 || st.Malformed != 2 || s.BytesDone != st.TotalBytes || s.InFlight != 0 {
		t.Errorf("stats = %+v, malformed %d; want 1000 delivered, 2 malformed (none quarantined for the sink), all bytes done", s, st.Malformed)
	}
	q := globOne(t, filepath.Join(qdir, "mem-*.detail"))
	recs, bad := readDetail(t, q)
	if bad != 0 || len(recs) != 2 {
		t.Fatalf("quarantine file: %d records, %d unparsable; want 2 valid records", len(recs), bad)
	}
	for _, r := range recs {
		reason, _ := r.Get(QuarantineReasonAttr)
		src, _ := r.Get(QuarantineSourceAttr)
		raw, _ := r.Get(QuarantineRawAttr)
		if !strings.HasPrefix(src.Value, b+":") || raw.Value == "" {
			t.Errorf("quarantined record: source %q raw %q", src.Value, raw.Value)
		}
		if !strings.HasPrefix(reason.Value, "malformed") && !strings.HasPrefix(reason.Value, "truncated") {
			t.Errorf("reason %q", reason.Value)
		}
	}
	// Source files are untouched.
	if got := fileSize(t, b); got != int64(len(data)) {
		t.Errorf("source changed size: %d", got)
	}
}

func TestReplayResumesWithStateDir(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "detail-a")
	writeRecords(t, a, 0, 300)
	replayInterruptedAndResumed(t, a, filepath.Join(dir, "state"))
}

// replayInterruptedAndResumed replays file (records 0 to 299) with state in
// state: the first run's sink takes 100 records and then fails every one
// retryably, and is shut down; a second run with a healthy sink must
// deliver exactly the rest. It returns the second run's statistics.
func replayInterruptedAndResumed(t *testing.T, file, state string) Stats {
	t.Helper()
	first := newMemSink(100)
	var n atomic.Int64
	first.fail = func(string) error {
		if n.Add(1) > 100 {
			return errTemporary
		}
		return nil
	}
	cfg := Config{
		Inputs:          []Input{{Files: []string{file}, Mode: Replay}},
		Sinks:           []SinkSpec{{Name: "mem", Sink: first, MaxOutstanding: 10, Retry: RetryPolicy{Initial: time.Millisecond, Max: time.Millisecond}}},
		StateDir:        state,
		ShutdownTimeout: 10 * time.Millisecond,
		Logger:          testLogger(t),
	}
	_, stop := runTailer(t, cfg)
	waitClosed(t, first.full, "100 records")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	got1, _ := first.snapshot()
	second := newMemSink(0)
	cfg.Sinks[0].Sink = second
	tl, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	got2, _ := second.snapshot()
	for i := 0; i < 300; i++ {
		id := sessionID(i)
		if got1[id]+got2[id] != 1 {
			t.Fatalf("record %s delivered %d+%d times", id, got1[id], got2[id])
		}
	}
	return tl.Stats()
}

var errTemporary = errors.New("temporarily unavailable")

func fileSize(t *testing.T, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
