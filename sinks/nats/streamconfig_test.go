package nats

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/radrelay/radrelay/sinks"
	"github.com/radrelay/radrelay/sinks/sinktest"
)

// TestCreateStreamKeepsAnExistingStream: create_stream on a stream the
// operator made applies the settings radrelay is configured with, and
// nothing else: the stream's other subjects (a wider wildcard, another
// publisher's subject) and its limits stay. Before, the stream was
// replaced by radrelay's settings: its subjects narrowed to the sink's
// one (other publishers' messages no longer stored) and its max_bytes and
// max_msg_size limits removed.
func TestCreateStreamKeepsAnExistingStream(t *testing.T) {
	srv := startServer(t, nil)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	for _, tc := range []struct {
		name         string
		subjects     []string // the operator's
		sinkSubject  string
		wantSubjects []string
	}{
		{"captured by a wildcard", []string{"wide.>"}, "wide.radius.acct", []string{"wide.>"}},
		{"captured by *", []string{"a.*.acct"}, "a.radius.acct", []string{"a.*.acct"}},
		{"not captured: added", []string{"other.events"}, "radius.acct", []string{"other.events", "radius.acct"}},
		{"> needs a token", []string{"b.>"}, "b", []string{"b.>", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := newStream(srv)
			cfg.Subject = tc.sinkSubject
			cfg.MaxAge = time.Hour
			if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
				Name: cfg.Stream, Subjects: tc.subjects, MaxBytes: 100 << 20, MaxMsgs: 1e6, MaxMsgSize: -1,
				Duplicates: 5 * time.Minute, Description: "the operator's",
			}); err != nil {
				t.Fatal(err)
			}
			s := openSink(t, cfg)
			deliver(t, s, sinktest.Records(3))
			s.Close()
			st, err := js.Stream(ctx, cfg.Stream)
			if err != nil {
				t.Fatal(err)
			}
			got := st.CachedInfo().Config
			if !slices.Equal(got.Subjects, tc.wantSubjects) {
				t.Errorf("subjects %q, want %q", got.Subjects, tc.wantSubjects)
			}
			if got.MaxBytes != 100<<20 || got.MaxMsgs != 1e6 || got.MaxMsgSize != -1 || got.Description != "the operator's" {
				t.Errorf("the operator's limits changed: max_bytes %d, max_msgs %d, max_msg_size %d, description %q",
					got.MaxBytes, got.MaxMsgs, got.MaxMsgSize, got.Description)
			}
			// What radrelay is configured with is applied (max_age); what
			// it is not is the stream's own (duplicate_window: 5m, not
			// the default 2m).
			if got.MaxAge != time.Hour || got.Duplicates != 5*time.Minute {
				t.Errorf("max_age %v, duplicate_window %v: want the configured 1h and the operator's 5m", got.MaxAge, got.Duplicates)
			}
			if !got.AllowBatchPublish {
				t.Error("fast batches not allowed (batch_publish is on by default)")
			}
		})
	}
}

// TestStreamMustCaptureTheSubject: without create_stream, a stream that
// does not capture the sink's subject is a retryable failure that names
// the stream, its subjects and the subject (the publish would time out
// with "no response from stream", or a stream mismatch).
func TestStreamMustCaptureTheSubject(t *testing.T) {
	srv := startServer(t, nil)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	cfg := newStream(srv)
	cfg.CreateStream = false
	cfg.PublishTimeout = 2 * time.Second
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: cfg.Stream, Subjects: []string{"elsewhere.>"}}); err != nil {
		t.Fatal(err)
	}
	s := openSink(t, cfg)
	defer s.Close()
	recs := sinktest.Records(2)
	results := make([]error, len(recs))
	s.Send(context.Background(), recs, results)
	for i, err := range results {
		if err == nil || !strings.Contains(err.Error(), "does not capture") || !strings.Contains(err.Error(), cfg.Subject) || !strings.Contains(err.Error(), "elsewhere.>") {
			t.Errorf("record %d: %v, want an error saying the stream does not capture %s", i, err, cfg.Subject)
		}
	}
}

func TestSubjectCaptured(t *testing.T) {
	for _, tc := range []struct {
		filter, subject string
		want            bool
	}{
		{"a.b", "a.b", true},
		{"a.b", "a.c", false},
		{"a.*", "a.b", true},
		{"a.*", "a.b.c", false},
		{"a.>", "a.b.c", true},
		{"a.>", "a", false},
		{">", "a", true},
		{"*.b.*", "a.b.c", true},
		{"*", "a.b", false},
		{"a.b.c", "a.b", false},
	} {
		if got := subjectCaptured(tc.filter, tc.subject); got != tc.want {
			t.Errorf("subjectCaptured(%q, %q) = %v, want %v", tc.filter, tc.subject, got, tc.want)
		}
	}
}

// TestStreamDeletedIsCreatedAgain: a stream that goes away while radrelay
// runs (deleted by an operator, or a memory-storage stream lost with a
// server restart) was never looked for again: every record failed with
// "no response from stream" for ever. With create_stream it is created
// again and the retried records are stored.
func TestStreamDeletedIsCreatedAgain(t *testing.T) {
	srv := startServer(t, nil)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	cfg := newStream(srv)
	cfg.PublishTimeout = 2 * time.Second
	s := openSink(t, cfg)
	defer s.Close()
	recs := sinktest.Records(20)
	deliver(t, s, recs[:10])
	if err := js.DeleteStream(context.Background(), cfg.Stream); err != nil {
		t.Fatal(err)
	}
	var last error
	for attempt := 0; attempt < 3; attempt++ { // the tailer's retries
		results := make([]error, 10)
		s.Send(context.Background(), recs[10:], results)
		last = errors.Join(results...)
		if last == nil {
			break
		}
	}
	if last != nil {
		t.Fatalf("records still fail after the stream was deleted: %v", last)
	}
	if got := readStream(t, srv.ClientURL(), cfg.Stream); len(got) != 10 {
		t.Errorf("the stream created again holds %d records, want 10", len(got))
	}
}

// TestCreateStreamKeepsReplicasNotSet: create_stream without replicas on
// an existing 3-replica stream scaled it down to 1 (the key's default) — a
// count the operator never asked for. Unset, the stream's own count is
// kept, and the log says so; set, it is applied.
func TestCreateStreamKeepsReplicasNotSet(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	nodes := startCluster(t)
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.ClientURL())
	}
	nc, err := nats.Connect(strings.Join(urls, ","))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	// The cluster elects its meta leader after the nodes start: creating a
	// stream fails until then.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	create := func(name string, replicas int) {
		t.Helper()
		for {
			// Each attempt bounded: without a meta leader a request waits
			// for its context.
			attempt, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := js.CreateStream(attempt, jetstream.StreamConfig{Name: name, Subjects: []string{"radius." + name}, Replicas: replicas})
			cancel()
			if err == nil {
				return
			}
			if ctx.Err() != nil {
				t.Fatalf("the cluster never accepted stream %s: %v", name, err)
			}
		}
	}
	create("KEPT", 3)
	create("SCALED", 1)
	for _, tc := range []struct {
		stream      string
		replicas    int // configured; 0: not set
		want        int
		wantLogKept bool
	}{
		{"KEPT", 0, 3, true},
		{"SCALED", 3, 3, false},
	} {
		cfg := Config{Servers: urls, Subject: "radius." + tc.stream, Stream: tc.stream, CreateStream: true, Replicas: tc.replicas, PublishTimeout: 5 * time.Second}
		got, log := streamAfterDelivery(t, ctx, js, cfg)
		if got := got.Replicas; got != tc.want {
			t.Errorf("%s (replicas %d configured): the stream has %d replicas, want %d", tc.stream, tc.replicas, got, tc.want)
		}
		kept := false
		for _, line := range strings.Split(log.String(), "\n") {
			kept = kept || strings.Contains(line, "keeping the existing stream's own settings") && strings.Contains(line, "replicas=3")
		}
		if kept != tc.wantLogKept {
			t.Errorf("%s: the log says the replicas were kept: %v, want %v:\n%s", tc.stream, kept, tc.wantLogKept, log.String())
		}
	}
}

// TestCreateStreamKeepsSettingsNotSet: create_stream on an existing stream
// applies only the settings the sink's configuration sets. A default must
// not lift an operator's 30-day max_age (radrelay's default is for ever),
// shorten their duplicate window, or try to change the stream's storage or
// retention; a key that is set is applied.
func TestCreateStreamKeepsSettingsNotSet(t *testing.T) {
	srv := startServer(t, nil)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	const month = 30 * 24 * time.Hour
	for _, tc := range []struct {
		name         string
		set          func(*Config)
		wantMaxAge   time.Duration
		wantDupes    time.Duration
		wantInterest bool
		wantLog      string // in the log, "" for none
	}{
		{"nothing set", func(*Config) {}, month, 10 * time.Minute, true, "max_age=720h0m0s"},
		{"max_age set", func(c *Config) { c.MaxAge = 48 * time.Hour }, 48 * time.Hour, 10 * time.Minute, true, "duplicate_window=10m0s"},
		{"duplicate_window and retention set", func(c *Config) { c.DuplicateWindow = 3 * time.Minute; c.Retention = "limits" }, month, 3 * time.Minute, false, "max_age=720h0m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := newStream(srv)
			if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
				Name: cfg.Stream, Subjects: []string{cfg.Subject}, MaxAge: month, Duplicates: 10 * time.Minute,
				Retention: jetstream.InterestPolicy, Storage: jetstream.MemoryStorage,
			}); err != nil {
				t.Fatal(err)
			}
			tc.set(&cfg)
			got, log := streamAfterDelivery(t, ctx, js, cfg)
			if got.MaxAge != tc.wantMaxAge || got.Duplicates != tc.wantDupes {
				t.Errorf("max_age %v, duplicate_window %v; want %v, %v", got.MaxAge, got.Duplicates, tc.wantMaxAge, tc.wantDupes)
			}
			if (got.Retention == jetstream.InterestPolicy) != tc.wantInterest {
				t.Errorf("retention %v, want interest: %v", got.Retention, tc.wantInterest)
			}
			if got.Storage != jetstream.MemoryStorage {
				t.Errorf("storage %v: the stream's memory storage was not kept", got.Storage)
			}
			if !strings.Contains(log.String(), "keeping the existing stream's own settings") || !strings.Contains(log.String(), tc.wantLog) {
				t.Errorf("the log does not say what was kept (%s):\n%s", tc.wantLog, log.String())
			}
		})
	}
}

// streamAfterDelivery opens a sink with cfg, delivers three records and
// returns the stream's configuration afterwards, with what the sink logged.
func streamAfterDelivery(t *testing.T, ctx context.Context, js jetstream.JetStream, cfg Config) (jetstream.StreamConfig, *bytes.Buffer) {
	t.Helper()
	var log bytes.Buffer
	s, err := Open(ctx, cfg, sinks.Env{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, s, sinktest.Records(3))
	s.Close()
	st, err := js.Stream(ctx, cfg.Stream)
	if err != nil {
		t.Fatal(err)
	}
	return st.CachedInfo().Config, &log
}
