package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

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
