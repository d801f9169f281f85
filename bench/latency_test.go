package bench

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/radrelay/radrelay/internal/freeradiustest"
)

// latency measures append → delivered through "radrelay run" in follow and
// consume mode: a writer appends the corpus's records to a detail file at
// latencyRate records/s, as FreeRADIUS's detail module does (open, fcntl
// lock, append, close), and radrelay delivers them to a JSON-lines file
// that the harness reads as it grows. A record's latency is from the
// moment its write returned to the moment its line was seen in the output.
func (h *harness) latency(t *testing.T) {
	for _, mode := range []string{"follow", "consume"} {
		t.Run(mode, func(t *testing.T) { h.latencyMode(t, mode) })
	}
}

func (h *harness) latencyMode(t *testing.T, mode string) {
	n := h.sz.latencyRate * int(h.sz.latencyFor/time.Second)
	recs := splitRecords(h.records(t, n))
	dir := t.TempDir()
	spool := filepath.Join(dir, "spool")
	os.MkdirAll(spool, 0o755)
	out := filepath.Join(dir, "out.jsonl")
	input := filepath.Join(spool, "detail-20261123")
	load := loadavg()
	args := []string{"run", "--mode", mode, "--input", filepath.Join(spool, "detail-*"), "--state", filepath.Join(dir, "state"), "--to", "jsonl:" + out}
	p := h.startRadrelay(t, nil, args...)
	// Wait until radrelay serves its metrics: it has started.
	for deadline := time.Now().Add(30 * time.Second); ; {
		if _, ok := p.scrape(); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("radrelay did not start:\n%s", p.stderrText())
		}
		time.Sleep(10 * time.Millisecond)
	}

	appended := make([]time.Time, len(recs))
	seen := make([]time.Time, 0, len(recs))
	readerDone := make(chan error, 1)
	stop := make(chan struct{})
	go func() { readerDone <- watchLines(out, len(recs), &seen, stop) }()

	interval := time.Second / time.Duration(h.sz.latencyRate)
	t0 := time.Now()
	for i, rec := range recs {
		if d := time.Until(t0.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d) // pacing the writer, not synchronising
		}
		if err := freeradiustest.AppendDetail(input, rec); err != nil {
			t.Fatal(err)
		}
		appended[i] = time.Now()
	}
	writeTime := time.Since(t0)
	var err error
	select {
	case err = <-readerDone:
	case <-time.After(60 * time.Second):
		close(stop)
		err = <-readerDone
	}
	r := p.wait(t, true, time.Minute)
	if err != nil {
		t.Fatalf("%v (%d of %d records delivered)\n%s", err, len(seen), len(recs), p.stderrText())
	}
	lat := make([]time.Duration, len(recs))
	for i := range recs {
		lat[i] = seen[i].Sub(appended[i])
	}
	slices.Sort(lat)
	pct := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	h.rep.add(figure{
		scenario: "latency",
		what:     fmt.Sprintf("append → delivered, `radrelay run --mode %s`, %s records/s", mode, thousands(int64(h.sz.latencyRate))),
		value:    fmt.Sprintf("p99 %s", fmtDur(pct(0.99))),
		target:   "p99 < 50 ms",
		inputs: fmt.Sprintf("%d FreeRADIUS-written records appended over %s (open, fcntl lock, write, close per record, as FreeRADIUS's detail module) to a jsonl file sink; p50 %s, p90 %s, p99.9 %s, max %s; radrelay CPU %s; load %s → %s",
			len(recs), writeTime.Round(10*time.Millisecond), fmtDur(pct(0.5)), fmtDur(pct(0.9)), fmtDur(pct(0.999)), fmtDur(lat[len(lat)-1]),
			r.cpu.Round(10*time.Millisecond), load, loadavg()),
		command: "radrelay " + cmdline(args...),
	})
}

func fmtDur(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

// watchLines reads path as it grows, every millisecond, and appends the
// time each new line was seen to *seen, until want lines or stop.
func watchLines(path string, want int, seen *[]time.Time, stop <-chan struct{}) error {
	var f *os.File
	buf := make([]byte, 1<<20)
	for len(*seen) < want {
		select {
		case <-stop:
			return fmt.Errorf("%s: %d lines of %d after the timeout", path, len(*seen), want)
		default:
		}
		if f == nil {
			var err error
			if f, err = os.Open(path); err != nil {
				time.Sleep(time.Millisecond) // polling another process's output
				continue
			}
			defer f.Close()
		}
		n, err := f.Read(buf)
		if n > 0 {
			now := time.Now()
			for c := bytes.Count(buf[:n], []byte("\n")); c > 0; c-- {
				*seen = append(*seen, now)
			}
			continue
		}
		if err != nil && err != io.EOF {
			return err
		}
		time.Sleep(time.Millisecond) // polling another process's output
	}
	return nil
}

// memory measures peak RSS of "radrelay run" (consume mode) draining a
// backlog of backlogBytes of detail files into a jsonl sink on /dev/null.
func (h *harness) memory(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "spool")
	os.MkdirAll(spool, 0o755)
	data, err := os.ReadFile(h.corpus)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	var records int64
	perFile := int64(bytes.Count(data, []byte("\n\n")))
	if int64(len(data)) > h.sz.backlogBytes {
		data = h.records(t, int(int64(h.stats.Records)*h.sz.backlogBytes/int64(len(data)))+1)
		perFile = int64(bytes.Count(data, []byte("\n\n")))
	}
	for day := 1; total < h.sz.backlogBytes; day++ {
		if err := os.WriteFile(filepath.Join(spool, fmt.Sprintf("detail-202611%02d", day)), data, 0o644); err != nil {
			t.Fatal(err)
		}
		total += int64(len(data))
		records += perFile
	}
	load := loadavg()
	args := []string{"run", "--mode", "consume", "--input", filepath.Join(spool, "detail-*"), "--state", filepath.Join(dir, "state"), "--to", "jsonl:-"}
	p := h.startRadrelay(t, nil, args...) // nil: standard output is /dev/null
	done := p.waitDelivered(t, records, 30*time.Minute)
	elapsed := done.Sub(p.start)
	r := p.wait(t, true, time.Minute)
	h.rep.add(figure{
		scenario: "memory",
		what:     "peak RSS of `radrelay run --mode consume` draining a backlog",
		value:    fmt.Sprintf("%.1f MiB", float64(r.maxRSS)/(1<<20)),
		target:   "< 100 MB",
		inputs: fmt.Sprintf("%.2f GB in %d files of the FreeRADIUS-written corpus (%s records), to a jsonl sink on standard output (discarded); drained at %s; peak RSS is VmHWM of /proc/PID/status, read every 50 ms and once more when every record was delivered; radrelay CPU %s; load %s → %s",
			float64(total)/1e9, total/int64(len(data)), thousands(records), rate(records, elapsed), r.cpu.Round(10*time.Millisecond), load, loadavg()),
		command: "radrelay " + cmdline(args...) + " > /dev/null",
	})
}
