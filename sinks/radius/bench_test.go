package radius

import (
	"context"
	"testing"
	"time"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/dictionary"
	"github.com/radrelay/radrelay/sinks/sinktest"
)

// benchBatch is how many records one Send gets, as the tailer's
// max_outstanding would hand over.
const benchBatch = 1024

// sendAll sends recs in batches and fails on any error.
func sendAll(b *testing.B, s *Sink, recs []*detail.Record) {
	ctx := context.Background()
	results := make([]error, benchBatch)
	for start := 0; start < len(recs); start += benchBatch {
		batch := recs[start:min(start+benchBatch, len(recs))]
		s.Send(ctx, batch, results[:len(batch)])
		for i, err := range results[:len(batch)] {
			if err != nil {
				b.Fatalf("record %d: %v", start+i, err)
			}
		}
	}
}

func reportRate(b *testing.B, n int, d time.Duration) {
	b.ReportMetric(float64(n)/d.Seconds(), "records/s")
}

// BenchmarkTransportGoReceiver measures the client alone (a trivial
// encoder) against the in-process Go receiver.
func BenchmarkTransportGoReceiver(b *testing.B) {
	r := newReceiver(b, testSecret)
	cfg := fastConfig(r.addr)
	cfg.InitialRTX, cfg.MaxRTX = 2*time.Second, 16*time.Second
	cfg.ServerWindow = 256
	s := openSink(b, cfg)
	recs := testRecords("bench", b.N)
	b.ResetTimer()
	start := time.Now()
	sendAll(b, s, recs)
	reportRate(b, b.N, time.Since(start))
	b.Logf("%+v", s.Stats()[0])
}

// BenchmarkSinkGoReceiver measures the whole sink as New opens it: the
// built-in dictionary encodes realistic records (FreeRADIUS-written
// sessions with vendor attributes), sent in batches of 1024 to the
// in-process Go receiver.
func BenchmarkSinkGoReceiver(b *testing.B) {
	r := newReceiver(b, testSecret)
	s, err := New(context.Background(), Config{Servers: []ServerConfig{{Address: r.addr, Secret: testSecret}}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	recs := realisticRecords(b, b.N)
	b.ResetTimer()
	start := time.Now()
	sendAll(b, s, recs)
	reportRate(b, b.N, time.Since(start))
}

// BenchmarkEncode measures preparing one record for the wire (dictionary
// encoding and the Acct-Delay-Time bookkeeping), without sending it.
func BenchmarkEncode(b *testing.B) {
	s, err := newSink(Config{Servers: []ServerConfig{{Address: "127.0.0.1:1813", Secret: testSecret}}}, nil, dictionary.Builtin())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	recs := realisticRecords(b, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.prepare(recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
	}
}

// realisticRecords returns n records made from the FreeRADIUS-written
// session fixture (vendor attributes and all), each with its own
// Acct-Session-Id.
func realisticRecords(tb testing.TB, n int) []*detail.Record {
	return sinktest.Repeat(readFixture(tb, "packets-sessions.detail"), n)
}
