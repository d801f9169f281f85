package nats

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/radrelay/radrelay/sinks"
	"github.com/radrelay/radrelay/sinks/sinktest"
	"github.com/radrelay/radrelay/sinks/stream"
)

// captureElsewhere moves cfg's subject from its stream to a new stream
// other (which allows fast batches, so that only the stream check can
// refuse a batch), as an operator's mistake would.
func captureElsewhere(t *testing.T, url string, cfg Config, other string) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	st, err := js.Stream(ctx, cfg.Stream)
	if err != nil {
		t.Fatal(err)
	}
	sc := st.CachedInfo().Config
	sc.Subjects = []string{cfg.Subject + ".moved"}
	if _, err := js.UpdateStream(ctx, sc); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: other, Subjects: []string{cfg.Subject}, AllowBatchPublish: true}); err != nil {
		t.Fatal(err)
	}
}

// TestBatchRefusedByAnotherStream: a fast batch carries
// Nats-Expected-Stream on its first message only, and that still keeps
// every record out of a stream other than the sink's. When another stream
// captures the subject before a batch, it refuses the batch's first
// message (the header) and then every other one as belonging to a batch
// it does not know: all the records fail retryably, and neither stream
// stores any of them.
func TestBatchRefusedByAnotherStream(t *testing.T) {
	srv := startServer(t, nil)
	cfg := newStream(srv)
	s := openSink(t, cfg)
	defer s.Close()
	recs := sinktest.Records(40)
	deliver(t, s, recs[:3])
	if s.batches == nil {
		t.Fatal("the sink did not publish fast batches")
	}
	other := cfg.Stream + "_OTHER"
	captureElsewhere(t, srv.ClientURL(), cfg, other)

	results := make([]error, len(recs)-3)
	s.Send(context.Background(), recs[3:], results)
	for i, err := range results {
		if err == nil || sinks.IsPermanent(err) {
			t.Errorf("record %d: %v, want a retryable failure", i+3, err)
		}
	}
	if got := readStream(t, srv.ClientURL(), other); len(got) != 0 {
		t.Errorf("the other stream holds %d messages: %s", len(got), sessionsAt(got))
	}
	if got, want := sessionsAt(readStream(t, srv.ClientURL(), cfg.Stream)), recordsAt(recs, 0, 1, 2); got != want {
		t.Errorf("the sink's stream holds %v, want %v", got, want)
	}
}

// TestBatchMovedMidBatch proves, against the real server, why the first
// message's Nats-Expected-Stream suffices: a fast batch's state lives in
// the stream that took its first message. The subject is moved to
// another stream after the first message of a batch: the other stream
// refuses the rest (messages without the header) as an unknown batch,
// the commit too, so the batch ends with nothing counted, and the other
// stream stores nothing.
func TestBatchMovedMidBatch(t *testing.T) {
	srv := startServer(t, nil)
	cfg := newStream(srv)
	s := openSink(t, cfg)
	defer s.Close()
	recs := sinktest.Records(8)
	deliver(t, s, recs[:1])
	p := s.batches
	if p == nil {
		t.Fatal("the sink did not publish fast batches")
	}
	b := &fastBatch{id: "MIDBATCH", errs: map[uint64]error{}, wake: make(chan struct{}, 1)}
	b.replyTo = p.inbox + "." + b.id + ".500.fail."
	p.mu.Lock()
	p.cur = b
	p.mu.Unlock()
	var m stream.Message
	publish := func(seq uint64, op int, rec int) {
		t.Helper()
		var mp *stream.Message
		if rec >= 0 {
			if err := s.enc.Encode(recs[rec], &m); err != nil {
				t.Fatal(err)
			}
			mp = &m
		}
		if err := p.publish(s.nc, cfg.Subject, cfg.Stream, b.replyTo, seq, op, mp); err != nil {
			t.Fatal(err)
		}
		b.mu.Lock()
		b.sent = seq
		b.mu.Unlock()
	}
	publish(1, fastBatchOpStart, 1)
	// The server has read (and routed to the sink's stream) the first
	// message when it answers the flush.
	if err := s.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	other := cfg.Stream + "_OTHER"
	captureElsewhere(t, srv.ClientURL(), cfg, other)
	for k := 2; k < len(recs); k++ {
		publish(uint64(k), fastBatchOpAppend, k)
	}
	publish(uint64(len(recs)), fastBatchOpCommitEOB, -1)
	d := newDeadline(10 * time.Second)
	defer d.stop()
	if err := b.waitDone(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	count, refused := b.count, len(b.errs)
	var firstErr error
	for seq := uint64(2); seq <= uint64(len(recs)) && firstErr == nil; seq++ {
		firstErr = b.errs[seq]
	}
	b.mu.Unlock()
	if count != 0 || refused == 0 {
		t.Errorf("the batch counted %d stored and %d refused, want 0 stored and the rest refused", count, refused)
	}
	t.Logf("the other stream's refusal: %v", firstErr)
	if got := readStream(t, srv.ClientURL(), other); len(got) != 0 {
		t.Errorf("the other stream holds %d messages: %s", len(got), sessionsAt(got))
	}
	if got, want := sessionsAt(readStream(t, srv.ClientURL(), cfg.Stream)), recordsAt(recs, 0, 1); got != want {
		t.Errorf("the sink's stream holds %v, want %v", got, want)
	}
}
