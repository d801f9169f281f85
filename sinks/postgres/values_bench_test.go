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
