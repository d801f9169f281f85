package radius

import (
	"context"
	"log/slog"
	"testing"

	"github.com/radrelay/radrelay/sinks"
	"github.com/radrelay/radrelay/sinks/sinktest"
)

// TestConformance runs the shared sink conformance test against the sink as
// New opens it (built-in dictionary) and an in-process receiver.
func TestConformance(t *testing.T) {
	var r *receiver
	sinktest.Run(t, sinktest.Harness{
		New: func(t *testing.T) sinks.Sink {
			r = newReceiver(t, testSecret)
			// Patient timers: a loaded machine must not make the only
			// server look dead (fastConfig's 300 ms zombie_period did).
			cfg := patientConfig(r.addr)
			s, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Delivered: func(t *testing.T) []string { return r.Delivered() },
	})
}
