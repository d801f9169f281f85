package route

import (
	"context"
	"testing"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks/sinktest"
)

type discard struct{}

func (discard) Send(_ context.Context, recs []*detail.Record, results []error) {
	for i := range recs {
		results[i] = nil
	}
}
func (discard) Close() error { return nil }

// BenchmarkWrap measures the cost a filter adds per record: matching on
// realm, status type and NAS prefix, a regexp, and dropping attributes.
func BenchmarkWrap(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  Config
	}{
		{"realm", Config{Realm: []string{"example.org"}}},
		{"status+nas", Config{StatusType: []string{"Stop"}, NAS: []string{"192.0.2.0/24"}}},
		{"regexp", Config{Match: map[string]string{"Calling-Station-Id": "^02-00-00-00-00"}}},
		{"drop", Config{DropAttributes: []string{"Acct-Unique-Session-Id", "Tmp-*"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f, err := New(bc.cfg)
			if err != nil {
				b.Fatal(err)
			}
			s := Wrap(discard{}, f)
			recs := sinktest.Records(256)
			results := make([]error, len(recs))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.Send(context.Background(), recs, results)
			}
			b.ReportMetric(float64(b.N*len(recs))/b.Elapsed().Seconds(), "records/s")
		})
	}
}
