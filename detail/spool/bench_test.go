package spool

// Internal micro-benchmarks (not through the binary): see docs/benchmarks.md.

import (
	"bytes"
	"os"
	"testing"

	"github.com/radrelay/radrelay/detail"
)

// BenchmarkWriter appends records to a file with no fsync (one write(2)
// per record).
func BenchmarkWriter(b *testing.B) {
	data, err := os.ReadFile("../testdata/freeradius/packets-sessions.detail")
	if err != nil {
		b.Fatal(err)
	}
	var recs []*detail.Record
	r := detail.NewReader(bytes.NewReader(data), "bench")
	for {
		rec, err := r.Next()
		if err != nil {
			break
		}
		recs = append(recs, rec)
	}
	w, err := New(Options{Template: b.TempDir() + "/detail-%Y%m%d"})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := w.Write(recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
