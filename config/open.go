package config

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/radrelay/radrelay/sinks"
	"github.com/radrelay/radrelay/sinks/route"
	"github.com/radrelay/radrelay/tailer"
)

// Opened is a sink ready for the tailer.
type Opened struct {
	Spec tailer.SinkSpec
	// Filter is the sink's filter, nil when it has none (for its count of
	// records passed over).
	Filter *route.Sink
}

// Open opens sink s: its package's sink, behind its filter. Its
// concurrency is read from the package's sink, before the filter wraps
// it, and declared in the spec, so the filter cannot hide it.
func (s *Sink) Open(ctx context.Context, env sinks.Env) (Opened, error) {
	if s.Options == nil {
		return Opened{}, fmt.Errorf("sink %q: no configuration", s.Name)
	}
	sink, err := s.Options.Open(ctx, env)
	if err != nil {
		return Opened{}, fmt.Errorf("opening sink %q (%s): %w", s.Name, s.Type, err)
	}
	o := Opened{Spec: tailer.SinkSpec{
		Name: s.Name, Sink: sink, Concurrency: sinks.Concurrency(sink),
		MaxOutstanding: s.MaxOutstanding, BatchSize: s.BatchSize, Retry: s.Retry,
	}}
	if p, ok := sink.(sinks.Preparer); ok && s.Filter.IsZero() {
		// Behind a filter it is not declared: the filter drops records
		// (their preparing would be wasted) and may hand on changed copies.
		o.Spec.Preparer = p
	}
	if !s.Filter.IsZero() {
		f, err := route.New(s.Filter)
		if err != nil {
			sink.Close()
			return Opened{}, fmt.Errorf("sink %q: filter: %w", s.Name, err)
		}
		o.Filter = route.Wrap(sink, f).(*route.Sink)
		o.Spec.Sink = o.Filter
	}
	return o, nil
}

// OpenSinks opens every sink of cfg, each logging with logger (labelled
// with its name). On error, the ones already open are closed.
func (cfg *Config) OpenSinks(ctx context.Context, logger *slog.Logger) ([]Opened, error) {
	var out []Opened
	for i := range cfg.Sinks {
		s := &cfg.Sinks[i]
		o, err := s.Open(ctx, sinks.Env{Logger: logger.With("sink", s.Name), Dictionary: cfg.Dictionary})
		if err != nil {
			for _, o := range out {
				o.Spec.Sink.Close()
			}
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}
