package tailer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/radrelay/radrelay/detail"
)

// nopSink acknowledges everything.
type nopSink struct{}

func (nopSink) Send(ctx context.Context, recs []*detail.Record, results []error) { clear(results) }
func (nopSink) Close() error                                                     { return nil }

// BenchmarkTailer measures records/s through the whole tailer (reading,
// parsing, window, batching, ordered commit, checkpoint fsyncs) into a
// no-op sink, for a 200,000-record file (~52 MB), in Replay mode with a
// state directory (so checkpoints are written as in production).
func BenchmarkTailer(b *testing.B) {
	const n = 200_000
	dir := b.TempDir()
	src := filepath.Join(dir, "detail-big")
	f, err := os.Create(src)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i++ {
		f.Write(testRecord(i))
	}
	f.Close()
	size := fileSize(&testing.T{}, src)
	for _, mo := range []int{64, 256, 1024} {
		b.Run(fmt.Sprintf("max_outstanding=%d", mo), func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				tl, err := New(Config{
					Inputs:   []Input{{Files: []string{src}, Mode: Replay}},
					Sinks:    []SinkSpec{{Name: "nop", Sink: nopSink{}, MaxOutstanding: mo}},
					StateDir: b.TempDir(),
					Logger:   testLogger(b),
				})
				if err != nil {
					b.Fatal(err)
				}
				if err := tl.Run(context.Background()); err != nil {
					b.Fatal(err)
				}
				if got := tl.Stats().Sinks[0].Delivered; got != n {
					b.Fatalf("delivered %d", got)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
