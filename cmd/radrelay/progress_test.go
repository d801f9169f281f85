package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/radrelay/radrelay/sinks/sinktest"
	"github.com/radrelay/radrelay/tailer"
)

func TestProgressLine(t *testing.T) {
	st := tailer.Stats{
		TotalBytes: 4 << 20,
		Sinks: []tailer.SinkStats{
			{Name: "a", BytesDone: 3 << 20, Delivered: 30000},
			{Name: "b", BytesDone: 1 << 20, Delivered: 9000, Quarantined: 1000},
		},
	}
	got := progressLine(st, 10*time.Second, 20)
	want := "[=====>              ]  25.0% 1.0 MiB/4.0 MiB  30,000 records  3,000 records/s  ETA 0:30"
	if got != want {
		t.Errorf("progress line\n got %q\nwant %q", got, want)
	}
	done := progressLine(tailer.Stats{TotalBytes: 10, Sinks: []tailer.SinkStats{{BytesDone: 10}}}, time.Second, 4)
	if !strings.HasPrefix(done, "[====] 100.0%") || !strings.HasSuffix(done, "ETA 0:00") {
		t.Errorf("finished line %q", done)
	}
	empty := progressLine(tailer.Stats{}, 0, 4)
	if !strings.Contains(empty, "ETA --:--") {
		t.Errorf("line before any progress %q", empty)
	}
}

func TestProgressClearsItsLine(t *testing.T) {
	var buf bytes.Buffer
	p := &progress{w: &buf, stats: func() tailer.Stats { return tailer.Stats{TotalBytes: 100} }, start: time.Now(), width: 10}
	p.draw(time.Now())
	p.clear()
	out := buf.String()
	if !strings.HasPrefix(out, "\r[") || !strings.HasSuffix(out, "\r") || strings.Contains(out, "\n") {
		t.Errorf("progress output %q", out)
	}
}

func TestFormatters(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{formatBytes(512), "512 B"},
		{formatBytes(1536), "1.5 KiB"},
		{formatBytes(5 << 30), "5.0 GiB"},
		{formatCount(0), "0"},
		{formatCount(999), "999"},
		{formatCount(1234567), "1,234,567"},
		{formatClock(75 * time.Second), "1:15"},
		{formatClock(3723 * time.Second), "1:02:03"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// signalWriter collects writes and reports the first one on wrote.
type signalWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	wrote chan struct{}
	once  sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.once.Do(func() { close(w.wrote) })
	return w.buf.Write(p)
}

func TestRunProgressDrawsAndClears(t *testing.T) {
	w := &signalWriter{wrote: make(chan struct{})}
	stats := func() tailer.Stats {
		return tailer.Stats{TotalBytes: 1000, Sinks: []tailer.SinkStats{{Name: "a", BytesDone: 500, Delivered: 10}}}
	}
	stop := make(chan struct{})
	done := runProgress(w, stats, stop)
	<-w.wrote // the first redraw
	close(stop)
	<-done
	w.mu.Lock()
	out := w.buf.String()
	w.mu.Unlock()
	if !strings.Contains(out, "\r[") || !strings.Contains(out, " 50.0% ") {
		t.Errorf("no progress line drawn: %q", out)
	}
	if !strings.HasSuffix(out, "\r") || strings.Contains(out, "\n") {
		t.Errorf("the progress line is not cleared at the end: %q", out)
	}
}

func TestReplayOnTerminal(t *testing.T) {
	dir := t.TempDir()
	src := writeDetail(t, filepath.Join(dir, "detail"), sinktest.Records(3000))
	memoryReset("terminal")
	var stdout, stderr bytes.Buffer
	code := runMain(&env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, isTerminal: true},
		[]string{"replay", "--to", "memory:terminal", "--quarantine", filepath.Join(dir, "q"), src})
	if code != 0 {
		t.Fatalf("status %d\n%s", code, stderr.String())
	}
	if n := len(memoryRecords("terminal")); n != 3000 {
		t.Errorf("delivered %d records, want 3000", n)
	}
	if !strings.Contains(stderr.String(), "read 3,000 records from 1 file in") {
		t.Errorf("no summary:\n%s", stderr.String())
	}
}
