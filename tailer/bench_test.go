package tailer

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/internal/freeradiustest"
)

// nopSink acknowledges everything.
type nopSink struct{}

func (nopSink) Send(ctx context.Context, recs []*detail.Record, results []error) { clear(results) }
func (nopSink) Close() error                                                     { return nil }

// countSink acknowledges everything and closes done after want records.
type countSink struct {
	n    atomic.Int64
	want int64
	done chan struct{}
}

func (s *countSink) Send(ctx context.Context, recs []*detail.Record, results []error) {
	clear(results)
	if s.n.Add(int64(len(recs))) >= s.want {
		select {
		case <-s.done:
		default:
			close(s.done)
		}
	}
}
func (s *countSink) Close() error { return nil }

// peakRSS returns the process's peak resident set size (VmHWM) in MiB since
// the last resetPeakRSS.
func peakRSS() float64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}

// resetPeakRSS starts a new VmHWM measurement (Linux: clear_refs 5).
func resetPeakRSS() {
	runtime.GC()
	debug.FreeOSMemory()
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// benchRecords is the backlog size of BenchmarkTailer: 200,000 records
// (~52 MB) unless BENCH_TAILER_RECORDS says otherwise (4000000 is ~1 GB).
func benchRecords(b *testing.B) int {
	if v := os.Getenv("BENCH_TAILER_RECORDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	return 200_000
}

// BenchmarkTailer measures records/s through the whole tailer (reading,
// parsing, window, batching, ordered commits, checkpoints in a state
// directory) into a no-op sink, for a backlog of benchRecords records in one
// file: in Replay mode with several windows, and in Consume and Follow mode
// (the file found by the glob at start). peak-RSS-MiB is the process's peak
// resident memory while draining (the benchmark itself holds nothing).
func BenchmarkTailer(b *testing.B) {
	n := benchRecords(b)
	tmpl := filepath.Join(b.TempDir(), "template")
	f, err := os.Create(tmpl)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for i := 0; i < n; i++ {
		w.Write(testRecord(i))
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	size := fileSize(&testing.T{}, tmpl)
	run := func(b *testing.B, mode Mode, mo int, serial bool) {
		b.SetBytes(size)
		b.ReportAllocs()
		var peak float64
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			dir := b.TempDir()
			src := filepath.Join(dir, "detail-big")
			copyFile(b, tmpl, src)
			cfg := Config{
				Inputs:   []Input{{Glob: filepath.Join(dir, "detail-*"), Mode: mode}},
				StateDir: b.TempDir(),
				Logger:   testLogger(b),
			}
			sink := &countSink{want: int64(n), done: make(chan struct{})}
			cfg.Sinks = []SinkSpec{{Name: "nop", Sink: sink, MaxOutstanding: mo}}
			if mode == Replay {
				cfg.Inputs[0] = Input{Files: []string{src}, Mode: Replay}
			}
			tl, err := New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			if serial {
				tl.parallelMin = 0 // one Reader, as before backlogs were parsed in parallel
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			resetPeakRSS()
			b.StartTimer()
			go func() { done <- tl.Run(ctx) }()
			<-sink.done
			b.StopTimer()
			peak = max(peak, peakRSS())
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			if got := tl.Stats().Sinks[0].Delivered; got != int64(n) {
				b.Fatalf("delivered %d", got)
			}
			os.Remove(src)
			b.StartTimer()
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		b.ReportMetric(peak, "peak-RSS-MiB")
	}
	for _, mo := range []int{64, 256, 1024, 4096} {
		b.Run(fmt.Sprintf("replay/max_outstanding=%d", mo), func(b *testing.B) { run(b, Replay, mo, false) })
	}
	b.Run("consume/max_outstanding=256", func(b *testing.B) { run(b, Consume, 256, false) })
	b.Run("follow/max_outstanding=256", func(b *testing.B) { run(b, Follow, 256, false) })
	// The backlog parsed by one Reader (backlog.go's parallel path off),
	// for an A/B in one run.
	for _, mo := range []int{256, 4096} {
		b.Run(fmt.Sprintf("replay-serial/max_outstanding=%d", mo), func(b *testing.B) { run(b, Replay, mo, true) })
	}
}

func copyFile(b *testing.B, from, to string) {
	in, err := os.Open(from)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		b.Fatal(err)
	}
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
}

// latencySink records, for each record, the time since the writer appended
// it (its Acct-Session-Id holds the append time in Unix nanoseconds).
type latencySink struct {
	mu   sync.Mutex
	lat  []time.Duration
	want int
	done chan struct{}
}

func (s *latencySink) Send(ctx context.Context, recs []*detail.Record, results []error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, r := range recs {
		a, _ := r.Get("Acct-Session-Id")
		ns, _ := strconv.ParseInt(a.Value, 10, 64)
		s.lat = append(s.lat, now.Sub(time.Unix(0, ns)))
		results[i] = nil
	}
	if len(s.lat) >= s.want {
		select {
		case <-s.done:
		default:
			close(s.done)
		}
	}
}
func (s *latencySink) Close() error { return nil }

// BenchmarkTailerLatency measures the time from the append of a record to
// its delivery to the sink, in Follow and Consume mode, with a writer
// appending 1,000 records/s (one locked write each, the lock tried without
// waiting and the name opened again when refused, like FreeRADIUS) for
// 3 seconds. It reports p50, p99 and max in milliseconds.
func BenchmarkTailerLatency(b *testing.B) {
	for _, mode := range []Mode{Follow, Consume} {
		b.Run([]string{"consume", "follow"}[mode], func(b *testing.B) {
			var all []time.Duration
			for i := 0; i < b.N; i++ {
				const rate, total = 1000, 3000
				dir := b.TempDir()
				sink := &latencySink{want: total, done: make(chan struct{})}
				cfg := Config{
					Inputs:       []Input{{Glob: filepath.Join(dir, "detail-*"), Mode: mode}},
					Sinks:        []SinkSpec{{Name: "lat", Sink: sink, MaxOutstanding: 256}},
					StateDir:     b.TempDir(),
					PollInterval: time.Second,
					SettleTime:   200 * time.Millisecond,
					Logger:       testLogger(b),
				}
				tl, err := New(cfg)
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- tl.Run(ctx) }()
				tick := time.NewTicker(time.Second / rate)
				path := filepath.Join(dir, "detail-20261123")
				for j := 0; j < total; j++ {
					<-tick.C
					rec := fmt.Appendf(nil, "Mon Nov 23 11:57:39 2026\n\tUser-Name = \"u\"\n\tAcct-Session-Id = \"%d\"\n\tTimestamp = 1795435059\n\n", time.Now().UnixNano())
					if err := freeradiustest.AppendDetail(path, rec); err != nil {
						b.Fatal(err)
					}
				}
				tick.Stop()
				select {
				case <-sink.done:
				case <-time.After(30 * time.Second):
					b.Fatalf("only %d of %d records delivered", len(sink.lat), total)
				}
				cancel()
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				all = append(all, sink.lat...)
			}
			slices.Sort(all)
			q := func(p float64) float64 {
				return float64(all[int(p*float64(len(all)-1))]) / float64(time.Millisecond)
			}
			b.ReportMetric(q(0.50), "p50-ms")
			b.ReportMetric(q(0.99), "p99-ms")
			b.ReportMetric(q(1), "max-ms")
		})
	}
}
