package file

import (
	"bytes"
	"os"
	"testing"

	"github.com/radrelay/radrelay/detail"
)

// BenchmarkEncoders formats the realistic records FreeRADIUS 3.2 wrote for
// detail/testdata/freeradius/packets-sessions.txt in each format.
func BenchmarkEncoders(b *testing.B) {
	src, err := os.ReadFile("../../detail/testdata/freeradius/packets-sessions.detail")
	if err != nil {
		b.Fatal(err)
	}
	var recs []*detail.Record
	r := detail.NewReader(bytes.NewReader(src), "bench")
	for {
		rec, err := r.Next()
		if err != nil {
			break
		}
		recs = append(recs, rec)
	}
	for _, format := range []string{FormatDetail, FormatJSONL, FormatCSV} {
		b.Run(format, func(b *testing.B) {
			enc, _ := NewEncoder(format, EncoderOptions{})
			var buf []byte
			size := 0
			for _, rec := range recs {
				size += len(enc.Append(nil, rec))
			}
			b.SetBytes(int64(size / len(recs)))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				buf = enc.Append(buf[:0], recs[i%len(recs)])
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
