package listener

import (
	"sync/atomic"
	"time"
)

// LatencyBuckets are the upper bounds, in seconds, of the listener's
// latency histograms (Stats.AckLatency, Stats.FsyncLatency): from well
// under one fsync of a fast disk to a stalled one.
var LatencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}

// Histogram is a latency distribution, as Prometheus histograms are:
// Buckets[i] observations took at most LatencyBuckets[i] (cumulative).
type Histogram struct {
	Count   int64   `json:"count"`
	Seconds float64 `json:"seconds"` // the sum of the observations
	Buckets []int64 `json:"buckets"` // cumulative, by LatencyBuckets
}

// Quantile returns the upper bound of the bucket holding the q-quantile
// (0 < q ≤ 1) and false when it is past the last bucket (or there are no
// observations).
func (h Histogram) Quantile(q float64) (time.Duration, bool) {
	if h.Count == 0 {
		return 0, false
	}
	rank := int64(q*float64(h.Count) + 0.5)
	rank = max(rank, 1)
	for i, n := range h.Buckets {
		if n >= rank {
			return time.Duration(LatencyBuckets[i] * float64(time.Second)), true
		}
	}
	return 0, false
}

// histogram counts observations into LatencyBuckets without a lock.
type histogram struct {
	counts [11]atomic.Int64 // per bucket (not cumulative), the last one past LatencyBuckets
	nanos  atomic.Int64
}

func (h *histogram) observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(LatencyBuckets) && s > LatencyBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.nanos.Add(int64(d))
}

func (h *histogram) snapshot() Histogram {
	out := Histogram{Buckets: make([]int64, len(LatencyBuckets)), Seconds: time.Duration(h.nanos.Load()).Seconds()}
	for i := range h.counts {
		out.Count += h.counts[i].Load()
		if i < len(LatencyBuckets) {
			out.Buckets[i] = out.Count
		}
	}
	return out
}
