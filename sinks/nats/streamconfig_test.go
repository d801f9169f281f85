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
	js := connectJS(t, srv)
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
	js := connectJS(t, srv)
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
	js := connectJS(t, srv)
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
	js := connectJS(t, srv)
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

// TestCreateStreamRefusesUnchangeableSettings: a create_stream setting
// the existing stream cannot take (JetStream never changes a stream's
// storage, nor its retention to or from workqueue; more than one replica
// on a server that is not clustered; a duplicate window longer than the
// stream's max_age) was refused by the server (10052) at every retry, for
// ever, in words that named neither the key nor the fix. Open now returns
// a StreamSettingsError naming the key, the stream's own value and what to
// do, and the stream is left as it was; a change JetStream allows (limits
// to interest) is applied.
func TestCreateStreamRefusesUnchangeableSettings(t *testing.T) {
	srv := startServer(t, nil)
	js := connectJS(t, srv)
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		stream  *jetstream.StreamConfig // the operator's; nil: none
		set     func(*Config)
		wantKey string   // "" with wantOK
		want    []string // in the error
		wantOK  bool
	}{
		{"storage", &jetstream.StreamConfig{Storage: jetstream.FileStorage}, func(c *Config) { c.Storage = "memory" },
			"storage", []string{`storage = "memory" is set`, "has file storage", `set it to "file"`, "nats stream rm"}, false},
		{"retention to workqueue", &jetstream.StreamConfig{Retention: jetstream.LimitsPolicy}, func(c *Config) { c.Retention = "workqueue" },
			"retention", []string{`retention = "workqueue" is set`, "has limits retention", `set it to "limits"`}, false},
		{"retention from workqueue", &jetstream.StreamConfig{Retention: jetstream.WorkQueuePolicy}, func(c *Config) { c.Retention = "limits" },
			"retention", []string{`retention = "limits" is set`, "has workqueue retention"}, false},
		{"replicas on a single server, existing stream", &jetstream.StreamConfig{}, func(c *Config) { c.Replicas = 3 },
			"replicas", []string{"replicas = 3", "not clustered"}, false},
		{"replicas on a single server, new stream", nil, func(c *Config) { c.Replicas = 3 },
			"replicas", []string{"replicas = 3", "not clustered"}, false},
		{"duplicate_window longer than the stream's max_age", &jetstream.StreamConfig{MaxAge: time.Minute, Duplicates: time.Minute}, func(c *Config) { c.DuplicateWindow = time.Hour },
			"", []string{"the server refuses the stream's settings", "nats stream info"}, false},
		{"retention limits to interest: allowed", &jetstream.StreamConfig{Retention: jetstream.LimitsPolicy}, func(c *Config) { c.Retention = "interest" },
			"", nil, true},
		{"storage as the stream's: nothing to change", &jetstream.StreamConfig{Storage: jetstream.MemoryStorage}, func(c *Config) { c.Storage = "memory" },
			"", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := newStream(srv)
			cfg.PublishTimeout = time.Minute // a failure bound: the server answers
			if tc.stream != nil {
				sc := *tc.stream
				sc.Name, sc.Subjects = cfg.Stream, []string{cfg.Subject}
				if _, err := js.CreateStream(ctx, sc); err != nil {
					t.Fatal(err)
				}
			}
			tc.set(&cfg)
			s, err := Open(ctx, cfg, sinks.Env{})
			if tc.wantOK {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				deliver(t, s, sinktest.Records(2))
				s.Close()
				st, err := js.Stream(ctx, cfg.Stream)
				if err != nil {
					t.Fatal(err)
				}
				if want := cfg.WithDefaults().streamConfig(); st.CachedInfo().Config.Retention != want.Retention {
					t.Errorf("retention %v, want %v", st.CachedInfo().Config.Retention, want.Retention)
				}
				return
			}
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded: the stream cannot take the configured settings")
			}
			var bad *StreamSettingsError
			if !errors.As(err, &bad) || bad.Key != tc.wantKey || bad.Stream != cfg.Stream {
				t.Fatalf("Open: %v (%T), want a StreamSettingsError for key %q of stream %s", err, err, tc.wantKey, cfg.Stream)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if tc.stream == nil {
				if _, err := js.Stream(ctx, cfg.Stream); !errors.Is(err, jetstream.ErrStreamNotFound) {
					t.Errorf("the refused stream exists: %v", err)
				}
				return
			}
			st, err := js.Stream(ctx, cfg.Stream)
			if err != nil {
				t.Fatal(err)
			}
			got := st.CachedInfo().Config
			if got.Storage != tc.stream.Storage || got.Retention != tc.stream.Retention || got.Replicas > 1 || got.Duplicates != tc.stream.Duplicates && tc.stream.Duplicates != 0 {
				t.Errorf("the stream changed: %+v", got)
			}
		})
	}
}

// TestKeptSettingsLoggedWhenTheyDiffer: the INFO line "keeping the
// existing stream's own settings" was written at every start, also when
// every kept value was radrelay's own (a stream it created). It now lists
// only the kept values that differ from what radrelay would create the
// stream with, and is not written (DEBUG) when none does.
func TestKeptSettingsLoggedWhenTheyDiffer(t *testing.T) {
	srv := startServer(t, nil)
	js := connectJS(t, srv)
	ctx := context.Background()

	// A stream radrelay created: a second start has nothing to say.
	cfg := newStream(srv)
	var first, second bytes.Buffer
	for _, log := range []*bytes.Buffer{&first, &second} {
		s, err := Open(ctx, cfg, sinks.Env{Logger: slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
		if err != nil {
			t.Fatal(err)
		}
		deliver(t, s, sinktest.Records(2))
		s.Close()
	}
	if !strings.Contains(first.String(), "creating the stream") {
		t.Errorf("the first start did not create the stream:\n%s", first.String())
	}
	for _, line := range strings.Split(second.String(), "\n") {
		if strings.Contains(line, "level=INFO") && strings.Contains(line, "keeping the existing stream's own settings") {
			t.Errorf("said at INFO with every kept value radrelay's own: %s", line)
		}
	}
	if !strings.Contains(second.String(), "level=DEBUG") || !strings.Contains(second.String(), "max_age=0s") {
		t.Errorf("the kept defaults are not at DEBUG:\n%s", second.String())
	}

	// An operator's stream with a 30-day max_age: that one is said, alone.
	cfg = newStream(srv)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: cfg.Stream, Subjects: []string{cfg.Subject}, MaxAge: 720 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	_, log := streamAfterDelivery(t, ctx, js, cfg)
	var info []string
	for _, line := range strings.Split(log.String(), "\n") {
		if strings.Contains(line, "keeping the existing stream's own settings") {
			info = append(info, line)
		}
	}
	if len(info) != 1 || !strings.Contains(info[0], "max_age=720h0m0s") || strings.Contains(info[0], "storage=") || strings.Contains(info[0], "replicas=") {
		t.Errorf("want one line with max_age alone, got %q", info)
	}
}
