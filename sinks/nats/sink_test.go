package nats

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks"
	"github.com/radrelay/radrelay/sinks/sinktest"
	"github.com/radrelay/radrelay/sinks/stream"
)

var streamSeq atomic.Int64

// newStream returns the configuration of a sink to a new stream of srv.
func newStream(srv *server.Server) Config {
	n := streamSeq.Add(1)
	return Config{
		Servers:      []string{srv.ClientURL()},
		Subject:      fmt.Sprintf("radius.acct.t%d", n),
		Stream:       fmt.Sprintf("RADIUS_T%d", n),
		CreateStream: true,
	}
}

func openSink(t testing.TB, cfg Config) *Sink {
	t.Helper()
	s, err := Open(context.Background(), cfg, sinks.Env{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	srv := startServer(t, nil)
	var cur Config
	sinktest.Run(t, sinktest.Harness{
		New: func(t *testing.T) sinks.Sink {
			cur = newStream(srv)
			return openSink(t, cur)
		},
		Delivered: func(t *testing.T) []string {
			var ids []string
			for _, m := range readStream(t, srv.ClientURL(), cur.Stream) {
				ids = append(ids, m.Session)
			}
			return ids
		},
	})
}

// deliver sends recs and fails the test unless every one is acknowledged.
func deliver(t testing.TB, s sinks.Sink, recs []*detail.Record) {
	t.Helper()
	results := make([]error, len(recs))
	s.Send(context.Background(), recs, results)
	for i, err := range results {
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
}

// TestResentRecordsAreStoredOnce: what an at-least-once restart sends again
// (the same records, from a new connection) is dropped by the stream's
// de-duplication; the stream holds every record once, each session's in
// order, with exactly the contract's headers (docs/streams.md: on
// JetStream the identity is Nats-Msg-Id, without a Radrelay-Id, and the
// schema version is the value's, without a Radrelay-Schema-Version), whether
// the sink publishes fast batches or a PubAck per record.
func TestResentRecordsAreStoredOnce(t *testing.T) {
	srv := startServer(t, nil)
	for _, batched := range []bool{true, false} {
		t.Run(fmt.Sprintf("batch_publish=%v", batched), func(t *testing.T) {
			cfg := newStream(srv)
			cfg.BatchPublish = &batched
			recs := sinktest.Records(300)
			s := openSink(t, cfg)
			deliver(t, s, recs[:200])
			if (s.batches != nil) != batched {
				t.Fatalf("batch_publish = %v, and the sink publishes fast batches: %v", batched, s.batches != nil)
			}
			s.Close()
			s = openSink(t, cfg) // a restart: the last 100 delivered records again
			deliver(t, s, recs[100:])
			s.Close()
			checkStoredOnceWithHeaders(t, readStream(t, srv.ClientURL(), cfg.Stream), cfg, batched, recs)
		})
	}
}

func checkStoredOnceWithHeaders(t *testing.T, got []storedMessage, cfg Config, batched bool, recs []*detail.Record) {
	t.Helper()
	if len(got) != len(recs) {
		t.Fatalf("the stream holds %d messages, want %d", len(got), len(recs))
	}
	if n := checkExactlyOnce(t, got, recs); n > 0 {
		t.Errorf("%d records are stored after a later record of their session", n)
	}
	// Nats-Expected-Stream is on every message published with a PubAck
	// each, and on the first message of each fast batch only.
	expected := 0
	defer func() {
		switch {
		case !batched && expected != len(got):
			t.Errorf("%d of %d messages have Nats-Expected-Stream, want all (a PubAck per record)", expected, len(got))
		case batched && (expected == 0 || expected == len(got)):
			t.Errorf("%d of %d messages have Nats-Expected-Stream, want the first of each fast batch", expected, len(got))
		}
	}()
	byContent := map[string]*detail.Record{}
	for _, r := range recs {
		byContent[fmt.Sprint(sinktest.SessionID(r), r.Timestamp)] = r
	}
	for i, m := range got {
		want := byContent[fmt.Sprint(m.Session, m.Time)]
		if want == nil {
			continue // reported by checkExactlyOnce
		}
		if v := m.Fields["schema_version"]; v != float64(stream.SchemaVersion) {
			t.Errorf("message %d: schema_version %v", i, v)
		}
		uniq, _ := want.Get("Acct-Unique-Session-Id")
		st, _ := want.Get("Acct-Status-Type")
		wantHeaders := map[string]string{
			stream.HeaderKey:        uniq.Value,
			stream.HeaderStatusType: st.Value,
			stream.HeaderSource:     fmt.Sprintf("sinktest:%d", want.Offset),
			"Nats-Msg-Id":           stream.ID(want),
		}
		for h, v := range wantHeaders {
			if got := m.Header.Values(h); len(got) != 1 || got[0] != v {
				t.Errorf("message %d: header %s = %q, want %q", i, h, got, v)
			}
		}
		if got := m.Header.Values("Nats-Expected-Stream"); len(got) > 0 {
			expected++
			if len(got) != 1 || got[0] != cfg.Stream {
				t.Errorf("message %d: header Nats-Expected-Stream = %q, want %q", i, got, cfg.Stream)
			}
		}
		for h, v := range m.Header {
			if _, ok := wantHeaders[h]; !ok && h != "Nats-Expected-Stream" {
				t.Errorf("message %d: header %s = %q, which the contract does not have on JetStream (the identity is Nats-Msg-Id, the schema version the value's schema_version)", i, h, v)
			}
		}
	}
}

// TestTooLargeIsPermanent: a record over the size limit (the sink's own, or
// the server's max_payload) is a permanent failure, and the others of its
// batch are delivered.
func TestTooLargeIsPermanent(t *testing.T) {
	srv := startServer(t, func(o *server.Options) { o.MaxPayload = 4096 })
	recs := sinktest.Records(3)
	recs[1] = sinktest.Oversized(recs[1], 8000)
	for _, limit := range []int{0, 1 << 20} { // the sink's limit (1 MiB default) / above the server's
		cfg := newStream(srv)
		cfg.MaxMessageBytes = limit
		if limit == 0 {
			cfg.MaxMessageBytes = 2048
		}
		s := openSink(t, cfg)
		results := make([]error, len(recs))
		s.Send(context.Background(), recs, results)
		s.Close()
		if results[0] != nil || results[2] != nil {
			t.Errorf("limit %d: small records failed: %v", limit, results)
		}
		if !sinks.IsPermanent(results[1]) || !errors.Is(results[1], stream.ErrTooLarge) {
			t.Errorf("limit %d: the large record's outcome is %v, want a permanent too-large error", limit, results[1])
		}
		if got := readStream(t, srv.ClientURL(), cfg.Stream); len(got) != 2 {
			t.Errorf("limit %d: the stream holds %d messages, want 2", limit, len(got))
		}
	}
}

// TestServerDownIsRetryable: with no server, a record fails retryably (the
// tailer retries it), not permanently.
func TestServerDownIsRetryable(t *testing.T) {
	cfg := Config{Servers: []string{fmt.Sprintf("nats://127.0.0.1:%d", freePort(t))}, Subject: "a.b", Stream: "S", CreateStream: true, PublishTimeout: 1}
	s := openSink(t, cfg)
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	results := make([]error, 2)
	s.Send(ctx, sinktest.Records(2), results)
	for _, err := range results {
		if err == nil || sinks.IsPermanent(err) {
			t.Errorf("outcome %v, want a retryable error", err)
		}
	}
}

// TestSessionWaitsForItsEarlierRecord: publishing a PubAck per record (the
// stream, made without allow_batched, takes no fast batches), a record is
// published only once the earlier record of its session in the batch is stored, and not at
// all when that one fails retryably. A stream that takes 4 messages and
// then refuses more (discard new) fails the records in a fixed order:
// the three sessions' first records, then session 0's second, are stored;
// the next one of each session is refused by the server; the rest are
// never published.
func TestSessionWaitsForItsEarlierRecord(t *testing.T) {
	srv := startServer(t, nil)
	cfg := newStream(srv)
	cfg.CreateStream = false
	js := connectJS(t, srv)
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: cfg.Stream, Subjects: []string{cfg.Subject}, MaxMsgs: 4, Discard: jetstream.DiscardNew}); err != nil {
		t.Fatal(err)
	}
	s := openSink(t, cfg)
	defer s.Close()
	recs := sinktest.Records(9) // sessions 0, 1, 2: records 0-2, 3-5, 6-8
	results := make([]error, len(recs))
	s.Send(context.Background(), recs, results)
	if s.batches != nil {
		t.Fatal("the stream does not allow fast batches, and the sink publishes them")
	}
	const waited = "not sent after an earlier record of its key failed"
	for i, want := range []string{"", "", "refused", "", "refused", waited, "", "refused", waited} {
		err := results[i]
		switch {
		case want == "" && err != nil, want != "" && err == nil:
			t.Errorf("record %d: %v, want %s", i, err, cmp.Or(want, "delivered"))
		case err != nil && sinks.IsPermanent(err):
			t.Errorf("record %d: permanent %v, want retryable", i, err)
		case want == waited && !strings.Contains(err.Error(), waited), want == "refused" && strings.Contains(err.Error(), waited):
			t.Errorf("record %d: %v, want %s", i, err, want)
		}
	}
	var order []string
	for _, m := range readStream(t, srv.ClientURL(), cfg.Stream) {
		order = append(order, fmt.Sprint(m.Session, "@", m.Time))
	}
	var want []string
	for _, i := range []int{0, 3, 6, 1} {
		want = append(want, fmt.Sprint(sinktest.SessionID(recs[i]), "@", recs[i].Timestamp))
	}
	if strings.Join(order, " ") != strings.Join(want, " ") {
		t.Errorf("stream holds %v, want %v", order, want)
	}
}

// TestHeadersNotPlainTextStored: a key with CR LF (a NATS header line
// cannot hold them: the client made them spaces) and a file name in
// Latin-1 are stored escaped, named in Radrelay-Escaped, and read back as
// the record's exact bytes, with fast batches and with a PubAck per record.
func TestHeadersNotPlainTextStored(t *testing.T) {
	srv := startServer(t, nil)
	for _, batched := range []bool{true, false} {
		t.Run(fmt.Sprint("batch_publish=", batched), func(t *testing.T) {
			cfg := newStream(srv)
			cfg.BatchPublish = &batched
			rec := sinktest.Records(1)[0]
			rec.File = "/var/log/caf\xe9/detail"
			for i := range rec.Attrs {
				if rec.Attrs[i].Name == "Acct-Unique-Session-Id" {
					rec.Attrs[i].Value = "sess\r\nInjected: yes"
				}
			}
			s := openSink(t, cfg)
			deliver(t, s, []*detail.Record{rec})
			s.Close()
			got := readStream(t, srv.ClientURL(), cfg.Stream)
			if len(got) != 1 {
				t.Fatalf("%d messages stored, want 1", len(got))
			}
			h := got[0].Header
			if h.Get("Injected") != "" || h.Get(stream.HeaderEscaped) != stream.HeaderSource+","+stream.HeaderKey {
				t.Fatalf("headers %q", h)
			}
			for name, want := range map[string]string{stream.HeaderKey: "sess\r\nInjected: yes", stream.HeaderSource: rec.File + ":0"} {
				r := detail.NewReader(strings.NewReader("Mon Nov 23 11:57:39 2026\n\tReply-Message = \""+h.Get(name)+"\"\n\n"), "escaped")
				back, err := r.Next()
				if err != nil || len(back.Attrs) != 1 || back.Attrs[0].Value != want {
					t.Errorf("%s = %q does not read back as %q: %v", name, h.Get(name), want, err)
				}
			}
		})
	}
}
