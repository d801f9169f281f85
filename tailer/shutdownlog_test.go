package tailer

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a log destination several goroutines write to.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestShutdownTimeoutIsSaid: when the shutdown timeout runs out with
// records still unacknowledged, one WARN line says so, with how many and
// that they go out again at the next start.
func TestShutdownTimeoutIsSaid(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "detail-a")
	writeRecords(t, src, 0, 20)
	sink := newMemSink(0)
	sink.fail = func(string) error { return errTemporary }
	var logs lockedBuffer
	cfg := Config{
		Inputs:          []Input{{Files: []string{src}, Mode: Replay}},
		Sinks:           []SinkSpec{{Name: "stuck", Sink: sink, MaxOutstanding: 10, Retry: RetryPolicy{Initial: time.Millisecond, Max: time.Millisecond}}},
		StateDir:        filepath.Join(dir, "state"),
		ShutdownTimeout: 10 * time.Millisecond,
		Logger:          slog.New(slog.NewTextHandler(&logs, nil)),
	}
	tl, stop := runTailer(t, cfg)
	// Wait until records are in flight (failing and retried).
	for deadline := time.Now().Add(time.Minute); tl.Stats().Sinks == nil || tl.Stats().Sinks[0].InFlight == 0; {
		if time.Now().After(deadline) {
			t.Fatal("no record ever in flight")
		}
		time.Sleep(time.Millisecond) // polling a counter, not synchronising
	}
	stop()
	out := logs.String()
	if n := strings.Count(out, "shutdown timeout ran out"); n != 1 {
		t.Fatalf("%d shutdown-timeout lines, want 1:\n%s", n, out)
	}
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "stuck=") {
		t.Errorf("the line should be a WARN naming the sink:\n%s", out)
	}
}

// TestShutdownTimeoutCountsRecords: the records the shutdown line (and
// Stats.InFlight, which radrelay's Ctrl-C line and its metrics show) says
// are in flight are records: the mark of a file's end, which holds a
// window slot until it is committed too, was counted as one more.
func TestShutdownTimeoutCountsRecords(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "detail-a")
	writeRecords(t, src, 0, 3)
	sink := newMemSink(0)
	sink.fail = func(string) error { return errTemporary }
	var logs lockedBuffer
	cfg := Config{
		Inputs:          []Input{{Files: []string{src}, Mode: Replay}},
		Sinks:           []SinkSpec{{Name: "stuck", Sink: sink, MaxOutstanding: 10, Retry: RetryPolicy{Initial: time.Millisecond, Max: time.Millisecond}}},
		StateDir:        filepath.Join(dir, "state"),
		ShutdownTimeout: 10 * time.Millisecond,
		Logger:          slog.New(slog.NewTextHandler(&logs, nil)),
	}
	tl, stop := runTailer(t, cfg)
	// Every record read (the file's end follows at once): 3 in flight.
	for deadline := time.Now().Add(time.Minute); ; {
		if st := tl.Stats(); st.Sinks != nil && st.Sinks[0].Read == 3 {
			if n := st.Sinks[0].InFlight; n > 3 {
				t.Fatalf("%d records in flight, of 3 read", n)
			}
			if st.Sinks[0].InFlight == 3 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the 3 records never in flight: %+v", tl.Stats())
		}
		time.Sleep(time.Millisecond) // polling a counter, not synchronising
	}
	stop()
	out := logs.String()
	if !strings.Contains(out, "shutdown timeout ran out") || !strings.Contains(out, "records=3 stuck=3") {
		t.Fatalf("the shutdown line should say 3 records, all of stuck:\n%s", out)
	}
}

// TestMixedBatchLogsOneOutage: a batch in which some records are delivered
// and others fail (a server lost mid-batch) is one outage: one "failing"
// line and, once every record is delivered, one "recovered" line. Each
// success used to reset the failure state, so one batch logged "failing"
// (and "recovered") once per failed record.
func TestMixedBatchLogsOneOutage(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "detail-a")
	writeRecords(t, src, 0, 20)
	sink := newMemSink(20)
	tries := map[string]int{}
	sink.fail = func(id string) error { // called under the sink's lock
		tries[id]++
		if tries[id] == 1 && len(tries)%2 == 0 {
			return errTemporary
		}
		return nil
	}
	var logs lockedBuffer
	cfg := Config{
		Inputs:   []Input{{Files: []string{src}, Mode: Replay}},
		Sinks:    []SinkSpec{{Name: "flaky", Sink: sink, MaxOutstanding: 20, BatchSize: 20, Retry: RetryPolicy{Initial: time.Millisecond, Max: time.Millisecond}}},
		StateDir: filepath.Join(dir, "state"),
		Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
	}
	_, stop := runTailer(t, cfg)
	select {
	case <-sink.full:
	case <-time.After(2 * time.Minute): // a failure bound, not a timing assertion
		t.Fatal("the records were never all delivered")
	}
	stop()
	out := logs.String()
	if n := strings.Count(out, "sink is failing"); n != 1 {
		t.Errorf("%d \"sink is failing\" lines, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "sink recovered"); n != 1 {
		t.Errorf("%d \"sink recovered\" lines, want 1:\n%s", n, out)
	}
}
