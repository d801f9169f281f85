package nats

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/radrelay/radrelay/sinks"
	"github.com/radrelay/radrelay/sinks/sinktest"
)

// TestStreamErrorsSayTheFix: when the stream cannot be checked, the
// retryable error says what to do: a stream that does not exist names
// create_stream; a server nobody listens on is named, instead of nats.go's
// "outbound buffer limit exceeded" (what a newcomer saw).
func TestStreamErrorsSayTheFix(t *testing.T) {
	srv := startServer(t, nil)
	missing := newStream(srv)
	missing.CreateStream = false
	down := Config{
		Servers:        []string{fmt.Sprintf("nats://127.0.0.1:%d", freePort(t))},
		Subject:        "radius.acct.down",
		Stream:         "RADIUS_DOWN",
		PublishTimeout: 2 * time.Second, // a failure bound: nothing answers
	}
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"no stream", missing, []string{"stream " + missing.Stream + " does not exist", "create_stream = true", "stream not found"}},
		{"no server", down, []string{"not connected to " + down.Servers[0]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openSink(t, tt.cfg)
			defer s.Close()
			results := make([]error, 1)
			s.Send(context.Background(), sinktest.Records(1), results)
			err := results[0]
			if err == nil {
				t.Fatal("delivered without a stream")
			}
			if sinks.IsPermanent(err) {
				t.Errorf("%v is permanent, want retryable (the stream may appear)", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "outbound buffer") && !strings.Contains(err.Error(), "not connected") {
				t.Errorf("error %q blames a buffer, not the connection", err)
			}
		})
	}
}
