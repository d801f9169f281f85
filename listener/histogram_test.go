package listener

import (
	"testing"
	"time"
)

func TestHistogram(t *testing.T) {
	var h histogram
	for _, d := range []time.Duration{
		100 * time.Microsecond, 500 * time.Microsecond, // ≤ 0.5 ms (the bound is inclusive)
		700 * time.Microsecond,           // ≤ 1 ms
		3 * time.Millisecond,             // ≤ 5 ms
		2 * time.Second, 3 * time.Second, // past the last bucket
	} {
		h.observe(d)
	}
	s := h.snapshot()
	want := []int64{2, 3, 3, 4, 4, 4, 4, 4, 4, 4}
	if s.Count != 6 || len(s.Buckets) != len(want) {
		t.Fatalf("count %d, buckets %v", s.Count, s.Buckets)
	}
	for i := range want {
		if s.Buckets[i] != want[i] {
			t.Fatalf("buckets %v, want %v", s.Buckets, want)
		}
	}
	if got := time.Duration(s.Seconds * float64(time.Second)).Round(time.Microsecond); got != 5004300*time.Microsecond {
		t.Errorf("sum %v", got)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
		ok   bool
	}{
		{0.1, 500 * time.Microsecond, true},
		{0.5, time.Millisecond, true},
		{0.6, 5 * time.Millisecond, true},
		{0.99, 0, false},
	} {
		got, ok := s.Quantile(tc.q)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Quantile(%v) = %v, %v; want %v, %v", tc.q, got, ok, tc.want, tc.ok)
		}
	}
	if _, ok := (Histogram{}).Quantile(0.5); ok {
		t.Error("an empty histogram has a quantile")
	}
}
