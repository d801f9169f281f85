package nats

import (
	"context"
	"testing"

	"github.com/radrelay/radrelay/sinks/sinktest"
)

// BenchmarkSink is an internal micro-benchmark: the sink alone (no tailer,
// no detail reading), batches of 4,096 records, into an embedded
// nats-server with file storage in the same process. The figure that
// counts is radrelay replay's, in docs/benchmarks.md.
func BenchmarkSink(b *testing.B) {
	srv := startServer(b, nil)
	cfg := newStream(srv)
	s := openSink(b, cfg)
	defer s.Close()
	recs := sinktest.Records(4096)
	results := make([]error, len(recs))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Send(context.Background(), recs, results)
		for _, err := range results {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(recs))/b.Elapsed().Seconds(), "records/s")
}
