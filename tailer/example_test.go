package tailer_test

import (
	"context"
	"log"
	"os/signal"
	"syscall"
	"time"

	"github.com/radrelay/radrelay/sinks"
	"github.com/radrelay/radrelay/tailer"
)

// Consume FreeRADIUS's detail files as its own radrelay does, delivering to
// two sinks with independent cursors, until SIGTERM.
func Example() {
	var primary, backup sinks.Sink // e.g. RADIUS proxies (sinks/radius)
	t, err := tailer.New(tailer.Config{
		Inputs: []tailer.Input{{Glob: "/var/log/freeradius/radacct/*/detail-*", Mode: tailer.Consume}},
		Sinks: []tailer.SinkSpec{
			{Name: "primary", Sink: primary, MaxOutstanding: 64},
			{Name: "backup", Sink: backup, MaxOutstanding: 64, Retry: tailer.RetryPolicy{Max: time.Minute}},
		},
		StateDir:       "/var/lib/radrelay",
		RaiseDelayTime: true,
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := t.Run(ctx); err != nil { // returns after draining and saving progress
		log.Fatal(err)
	}
}
