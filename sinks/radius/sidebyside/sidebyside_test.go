package sidebyside

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	layeh "layeh.com/radius"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/dictionary"
	"github.com/radrelay/radrelay/internal/freeradiustest"
	"github.com/radrelay/radrelay/sinks"
	"github.com/radrelay/radrelay/sinks/radius"
	"github.com/radrelay/radrelay/sinks/sinktest"
	"github.com/radrelay/radrelay/tailer"
)

// fixture is the FreeRADIUS-written session fixture (vendor attributes and all).
const fixture = "../../../detail/testdata/freeradius/packets-sessions.detail"

const batch = 1024

// sendAll sends recs in batches and fails on any error.
func sendAll(b *testing.B, s sinks.Sink, recs []*detail.Record) {
	ctx := context.Background()
	results := make([]error, batch)
	for start := 0; start < len(recs); start += batch {
		part := recs[start:min(start+batch, len(recs))]
		s.Send(ctx, part, results[:len(part)])
		for i, err := range results[:len(part)] {
			if err != nil {
				b.Fatalf("record %d: %v", start+i, err)
			}
		}
	}
}

func open(b *testing.B, addr, secret string) sinks.Sink {
	s, err := radius.New(context.Background(), radius.Config{Servers: []radius.ServerConfig{{Address: addr, Secret: secret}}}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// benchRecords is the size of the file relayed by the side-by-side
// benchmark; RADRELAY_BENCH_RECORDS overrides it.
func benchRecords() int {
	if n, err := strconv.Atoi(os.Getenv("RADRELAY_BENCH_RECORDS")); err == nil && n > 0 {
		return n
	}
	return 60000
}

// realisticRecords returns n records made from the FreeRADIUS-written
// session fixture (vendor attributes and all), each with its own
// Acct-Session-Id.
func realisticRecords(tb testing.TB, n int) []*detail.Record {
	return sinktest.Repeat(freeradiustest.ReadDetail(tb, fixture), n)
}

// freeradiusWrittenFile relays n realistic records to a FreeRADIUS home
// server and returns the detail file that server wrote: the input every
// contender of the side-by-side benchmark relays.
func freeradiusWrittenFile(b *testing.B, n int) string {
	home := freeradiustest.StartHomeServer(b, freeradiustest.HomeOptions{})
	s := open(b, home.Addr, home.Secret)
	sendAll(b, s, realisticRecords(b, n))
	s.Close()
	home.WaitRecords(b, n, time.Minute)
	home.Stop()
	return home.DetailFile
}

// loadGenerator sends every packet once to addr, concurrency requests at a
// time (each worker has its own socket and one request in flight, resent
// after a second without answer), and returns the elapsed time. It is the
// plain Go client that measures what the home server can take.
func loadGenerator(b *testing.B, addr string, secret []byte, packets []layeh.Packet, concurrency int) time.Duration {
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialUDP("udp", nil, raddr)
			if err != nil {
				b.Error(err)
				return
			}
			defer c.Close()
			buf := make([]byte, 4096)
			id := byte(0)
			for {
				i := int(next.Add(1)) - 1
				if i >= len(packets) {
					return
				}
				id++
				p := packets[i]
				p.Identifier = id
				pkt, err := p.Encode()
				if err != nil {
					b.Error(err)
					return
				}
				for {
					c.Write(pkt)
					c.SetReadDeadline(time.Now().Add(time.Second))
					n, err := c.Read(buf)
					if err != nil {
						continue // timeout: resend
					}
					if n >= 20 && buf[1] == id && layeh.IsAuthenticResponse(buf[:n], pkt, secret) {
						break
					}
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// BenchmarkSideBySideFreeRADIUS relays the same FreeRADIUS-written detail
// file, in one run, to a fresh FreeRADIUS 3.2 home server each time:
//
//   - ceiling: a plain Go load generator, 64 requests in flight;
//   - radrelay-sink: the sink fed by the detail Reader, batches of 1024;
//   - radrelay-tailer: the tailer (replay mode) feeding the sink;
//   - freeradius-relay: FreeRADIUS 3.2's own detail reader proxying.
//
// Run it with -benchtime 1x: every iteration repeats the whole comparison.
func BenchmarkSideBySideFreeRADIUS(b *testing.B) {
	freeradiustest.Binary(b)
	n := benchRecords()
	file := freeradiusWrittenFile(b, n)
	recs := freeradiustest.ReadDetail(b, file)
	if len(recs) != n {
		b.Fatalf("generated file holds %d records, want %d", len(recs), n)
	}
	b.ResetTimer()
	for range b.N {
		// Ceiling.
		home := freeradiustest.StartHomeServer(b, freeradiustest.HomeOptions{})
		secret := []byte(home.Secret)
		d := dictionary.Builtin()
		packets := make([]layeh.Packet, len(recs))
		for i, r := range recs {
			packets[i] = layeh.Packet{Code: layeh.CodeAccountingRequest, Secret: secret}
			if err := d.Encode(&packets[i], r.Attrs); err != nil {
				b.Fatal(err)
			}
		}
		ceiling := loadGenerator(b, home.Addr, secret, packets, 64)
		home.WaitRecords(b, n, time.Minute)
		home.Stop()

		// radrelay: the sink fed directly.
		home = freeradiustest.StartHomeServer(b, freeradiustest.HomeOptions{})
		s := open(b, home.Addr, home.Secret)
		start := time.Now()
		sendAll(b, s, recs)
		sinkTime := time.Since(start)
		sinkStats := s.(*radius.Sink).Stats()[0]
		s.Close()
		home.WaitRecords(b, n, time.Minute)
		home.Stop()

		// radrelay: the tailer (replay) feeding the sink.
		home = freeradiustest.StartHomeServer(b, freeradiustest.HomeOptions{})
		s = open(b, home.Addr, home.Secret)
		tl, err := tailer.New(tailer.Config{
			Inputs:        []tailer.Input{{Files: []string{file}, Mode: tailer.Replay}},
			Sinks:         []tailer.SinkSpec{{Name: "radius", Sink: s, MaxOutstanding: 1024, BatchSize: 256}},
			QuarantineDir: b.TempDir(),
			Logger:        slog.New(slog.DiscardHandler),
		})
		if err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		if err := tl.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		tailerTime := time.Since(start)
		tailerStats := s.(*radius.Sink).Stats()[0]
		s.Close()
		home.WaitRecords(b, n, time.Minute)
		home.Stop()

		// FreeRADIUS 3.2's detail reader.
		data, err := os.ReadFile(file)
		if err != nil {
			b.Fatal(err)
		}
		relayTime := freeradiusRelayTime(b, data, n)

		rate := func(d time.Duration) float64 { return float64(n) / d.Seconds() }
		b.ReportMetric(rate(ceiling), "ceiling-rec/s")
		b.ReportMetric(rate(sinkTime), "radrelay-sink-rec/s")
		b.ReportMetric(rate(tailerTime), "radrelay-tailer-rec/s")
		b.ReportMetric(rate(relayTime), "freeradius-relay-rec/s")
		b.ReportMetric(100*rate(sinkTime)/rate(ceiling), "sink-%-of-ceiling")
		b.ReportMetric(100*rate(tailerTime)/rate(ceiling), "tailer-%-of-ceiling")
		b.Logf("%d records: ceiling %.0f/s, radrelay sink %.0f/s, radrelay tailer+sink %.0f/s, FreeRADIUS detail reader %.0f/s",
			n, rate(ceiling), rate(sinkTime), rate(tailerTime), rate(relayTime))
		for _, st := range []radius.ServerStats{sinkStats, tailerStats} {
			b.Logf("  sink: sent %d, retransmits %d (early %d), timeouts %d, window %d (cut %d times)",
				st.Sent, st.Retransmits, st.FastRetransmits, st.Timeouts, st.Window, st.WindowCuts)
		}
	}
}

// freeradiusRelayTime is how long FreeRADIUS 3.2's detail reader takes to
// relay data (n records, dropped into its spool by a rename) to a fresh
// FreeRADIUS home server: the reference every side-by-side benchmark
// compares radrelay with.
func freeradiusRelayTime(b *testing.B, data []byte, n int) time.Duration {
	b.Helper()
	home := freeradiustest.StartHomeServer(b, freeradiustest.HomeOptions{})
	relay := freeradiustest.StartRelay(b, freeradiustest.RelayOptions{Home: home.Addr, Secret: home.Secret})
	staged := filepath.Join(b.TempDir(), "detail-staged")
	if err := os.WriteFile(staged, data, 0o600); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := os.Rename(staged, filepath.Join(relay.SpoolDir, "detail-1")); err != nil {
		b.Fatal(err)
	}
	home.WaitRecords(b, n, 10*time.Minute)
	d := time.Since(start)
	relay.Stop()
	home.Stop()
	return d
}

// BenchmarkTailerBatchSize relays the FreeRADIUS-written file through the
// tailer (replay) and the sink to a FreeRADIUS home server with several
// batch sizes, to show what the tailer's batching costs.
func BenchmarkTailerBatchSize(b *testing.B) {
	freeradiustest.Binary(b)
	n := benchRecords()
	file := freeradiusWrittenFile(b, n)
	for _, size := range []int{256, 1024, 4096} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			for range b.N {
				home := freeradiustest.StartHomeServer(b, freeradiustest.HomeOptions{})
				s := open(b, home.Addr, home.Secret)
				tl, err := tailer.New(tailer.Config{
					Inputs:        []tailer.Input{{Files: []string{file}, Mode: tailer.Replay}},
					Sinks:         []tailer.SinkSpec{{Name: "radius", Sink: s, MaxOutstanding: size, BatchSize: size}},
					QuarantineDir: b.TempDir(),
					Logger:        slog.New(slog.DiscardHandler),
				})
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				if err := tl.Run(context.Background()); err != nil {
					b.Fatal(err)
				}
				d := time.Since(start)
				s.Close()
				home.WaitRecords(b, n, time.Minute)
				home.Stop()
				b.ReportMetric(float64(n)/d.Seconds(), "rec/s")
				b.Logf("stats %+v", s.(*radius.Sink).Stats()[0])
			}
		})
	}
}
