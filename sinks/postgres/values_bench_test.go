package postgres

import (
	"testing"

	"github.com/radrelay/radrelay/sinks/sinktest"
)

// BenchmarkParseRecord measures the client-side work per record: computing
// what the queries need, the fingerprint and the attributes' JSON.
func BenchmarkParseRecord(b *testing.B) {
	recs := sinktest.Records(3000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a, err := parseRecord(recs[i%len(recs)], false)
		if err != nil {
			b.Fatal(err)
		}
		_ = attributesJSON(a)
	}
}

// BenchmarkHistoryTuple measures the client-side work per record of the
// history's binary COPY: parsing the record and encoding its row
// (an internal micro-benchmark).
func BenchmarkHistoryTuple(b *testing.B) {
	recs := sinktest.Records(3000)
	b.ReportAllocs()
	b.ResetTimer()
	var buf []byte
	for i := 0; i < b.N; i++ {
		a, err := parseRecord(recs[i%len(recs)], false)
		if err != nil {
			b.Fatal(err)
		}
		buf = appendHistoryTuple(buf[:0], a, true)
	}
}
