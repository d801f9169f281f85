package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/radrelay/radrelay/tailer"
)

// progressRedraw is the period of the progress bar: at most 5 redraws a second.
const progressRedraw = 200 * time.Millisecond

// progress is the line a replay draws on a terminal: bytes done of the total,
// records per second, and the time left.
type progress struct {
	w       io.Writer
	stats   func() tailer.Stats
	start   time.Time
	width   int // columns of the bar itself
	drawn   bool
	lastLen int
}

// runProgress redraws the progress line every progressRedraw until stop is
// closed, then erases it. done is closed when it has.
func runProgress(w io.Writer, stats func() tailer.Stats, stop <-chan struct{}) (done <-chan struct{}) {
	d := make(chan struct{})
	p := &progress{w: w, stats: stats, start: time.Now(), width: 24}
	go func() {
		defer close(d)
		t := time.NewTicker(progressRedraw)
		defer t.Stop()
		for {
			select {
			case <-stop:
				p.clear()
				return
			case now := <-t.C:
				p.draw(now)
			}
		}
	}()
	return d
}

func (p *progress) draw(now time.Time) {
	line := progressLine(p.stats(), now.Sub(p.start), p.width)
	pad := ""
	if n := len(line); n < p.lastLen {
		pad = strings.Repeat(" ", p.lastLen-n)
	}
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
	p.lastLen = len(line)
	p.drawn = true
}

func (p *progress) clear() {
	if p.drawn {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.lastLen))
	}
}

// progressLine formats one progress line: the slowest sink decides how far
// the replay is.
func progressLine(st tailer.Stats, elapsed time.Duration, width int) string {
	var done, records int64 = -1, 0
	for _, s := range st.Sinks {
		if done < 0 || s.BytesDone < done {
			done = s.BytesDone
		}
		records = max(records, s.Delivered+s.Quarantined)
	}
	records += st.Malformed
	done = max(done, 0)
	total := st.TotalBytes
	frac := 0.0
	if total > 0 {
		frac = min(float64(done)/float64(total), 1)
	}
	filled := int(frac * float64(width))
	bar := strings.Repeat("=", filled)
	if filled < width {
		bar += ">" + strings.Repeat(" ", width-filled-1)
	}
	rate := 0.0
	if secs := elapsed.Seconds(); secs > 0 {
		rate = float64(records) / secs
	}
	eta := "--:--"
	if frac > 0 && frac < 1 {
		left := time.Duration(float64(elapsed) * (1 - frac) / frac)
		eta = formatClock(left)
	} else if frac >= 1 {
		eta = "0:00"
	}
	return fmt.Sprintf("[%s] %5.1f%% %s/%s  %s records  %s records/s  ETA %s",
		bar, frac*100, formatBytes(done), formatBytes(total), formatCount(records), formatCount(int64(rate)), eta)
}

func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// formatCount writes n with thousands separators.
func formatCount(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func formatClock(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%d:%02d", m, s)
}
