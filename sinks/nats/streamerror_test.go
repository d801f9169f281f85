package nats

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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

// TestFullStreamSaysWhichAndTheFix: a stream at its max_msgs that discards
// new messages refuses the records retryably (it may be raised, or its
// messages consumed), and the error names the stream and the fix, with and
// without fast batches; the server's own words named neither.
func TestFullStreamSaysWhichAndTheFix(t *testing.T) {
	srv := startServer(t, nil)
	for _, batched := range []bool{true, false} {
		t.Run(fmt.Sprintf("batch_publish=%v", batched), func(t *testing.T) {
			cfg := newStream(srv)
			cfg.BatchPublish = &batched
			nc, err := nats.Connect(srv.ClientURL())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			js, _ := jetstream.New(nc)
			if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{
				Name: cfg.Stream, Subjects: []string{cfg.Subject}, MaxMsgs: 2, Discard: jetstream.DiscardNew, AllowBatchPublish: true,
			}); err != nil {
				t.Fatal(err)
			}
			cfg.CreateStream = false
			s := openSink(t, cfg)
			defer s.Close()
			recs := sinktest.Records(4)
			results := make([]error, len(recs))
			s.Send(context.Background(), recs, results)
			var refused error
			for _, err := range results {
				if err != nil {
					refused = err
				}
			}
			if refused == nil {
				t.Fatal("4 records stored in a stream of at most 2")
			}
			if sinks.IsPermanent(refused) {
				t.Errorf("%v is permanent, want retryable", refused)
			}
			for _, w := range []string{"stream " + cfg.Stream + " cannot store more", "max_bytes / max_msgs"} {
				if !strings.Contains(refused.Error(), w) {
					t.Errorf("error %q does not say %q", refused, w)
				}
			}
		})
	}
}

// TestNoJetStreamSaysSo: a server without JetStream answers the stream
// check with "no responders", which said nothing of JetStream; the
// records' error now names it, and they stay retryable (nothing lost).
func TestNoJetStreamSaysSo(t *testing.T) {
	srv := startServer(t, func(o *server.Options) { o.JetStream = false })
	cfg := newStream(srv)
	cfg.PublishTimeout = 2 * time.Second
	s := openSink(t, cfg)
	defer s.Close()
	recs := sinktest.Records(2)
	results := make([]error, len(recs))
	s.Send(context.Background(), recs, results)
	for i, err := range results {
		if err == nil || sinks.IsPermanent(err) || !strings.Contains(err.Error(), "without JetStream") {
			t.Errorf("record %d: %v, want a retryable error naming JetStream", i, err)
		}
	}
}
