package route

import (
	"context"
	"sync/atomic"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks"
)

// Sink is a sink behind a Filter (see Wrap).
type Sink struct {
	next    sinks.Sink
	filter  *Filter
	skipped atomic.Int64

	// Buffers reused across Send calls (Send is called from one goroutine
	// at a time); they are cleared before Send returns so no record is kept.
	recs    []*detail.Record
	results []error
	index   []int
}

// Wrap returns a sink that hands next only the records f matches, rewritten
// on a copy (f's keep/drop lists). Records f does not match are acknowledged
// without being delivered and counted (Skipped). A nil f returns next itself.
func Wrap(next sinks.Sink, f *Filter) sinks.Sink {
	if f == nil {
		return next
	}
	return &Sink{next: next, filter: f}
}

// Send implements sinks.Sink.
func (s *Sink) Send(ctx context.Context, recs []*detail.Record, results []error) {
	s.recs, s.results, s.index = s.recs[:0], s.results[:0], s.index[:0]
	for i, r := range recs {
		if !s.filter.Matches(r) {
			results[i] = nil
			s.skipped.Add(1)
			continue
		}
		s.recs = append(s.recs, s.filter.Rewrite(r))
		s.results = append(s.results, nil)
		s.index = append(s.index, i)
	}
	if len(s.recs) > 0 {
		s.next.Send(ctx, s.recs, s.results)
		for j, i := range s.index {
			results[i] = s.results[j]
		}
	}
	clear(s.recs)
	clear(s.results)
}

// Close implements sinks.Sink.
func (s *Sink) Close() error { return s.next.Close() }

// Skipped returns how many records the filter let pass without delivery.
func (s *Sink) Skipped() int64 { return s.skipped.Load() }

// Unwrap returns the sink behind the filter.
func (s *Sink) Unwrap() sinks.Sink { return s.next }
