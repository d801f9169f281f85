package route

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks"
)

// Sink is a sink behind a Filter (see Wrap). Its Send may run on several
// goroutines at once when the sink behind it takes concurrent Sends: each
// call works on its own buffers.
type Sink struct {
	next    sinks.Sink
	filter  *Filter
	skipped atomic.Int64
	bufs    sync.Pool // *buffers, reused across Send calls
}

// buffers are one Send call's selection; they are cleared before Send
// returns so no record is kept.
type buffers struct {
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
	b, _ := s.bufs.Get().(*buffers)
	if b == nil {
		b = &buffers{}
	}
	defer s.bufs.Put(b)
	b.recs, b.results, b.index = b.recs[:0], b.results[:0], b.index[:0]
	for i, r := range recs {
		if !s.filter.Matches(r) {
			results[i] = nil
			s.skipped.Add(1)
			continue
		}
		b.recs = append(b.recs, s.filter.Rewrite(r))
		b.results = append(b.results, nil)
		b.index = append(b.index, i)
	}
	if len(b.recs) > 0 {
		s.next.Send(ctx, b.recs, b.results)
		for j, i := range b.index {
			results[i] = b.results[j]
		}
	}
	clear(b.recs)
	clear(b.results)
}

// ConcurrentSends forwards the concurrency of the sink behind the filter
// (see sinks.ConcurrentSender): the filter adds none and hides none.
func (s *Sink) ConcurrentSends() int { return sinks.Concurrency(s.next) }

// Close implements sinks.Sink.
func (s *Sink) Close() error { return s.next.Close() }

// Skipped returns how many records the filter let pass without delivery.
func (s *Sink) Skipped() int64 { return s.skipped.Load() }

// Unwrap returns the sink behind the filter.
func (s *Sink) Unwrap() sinks.Sink { return s.next }
