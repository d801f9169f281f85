package nats

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks"
	"github.com/radrelay/radrelay/sinks/sinktest"
	"github.com/radrelay/radrelay/sinks/stream"
)

// createStream makes the stream of cfg as an operator would, with the
// settings of mod.
func createStream(t *testing.T, url string, cfg Config, mod func(*jetstream.StreamConfig)) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	sc := jetstream.StreamConfig{Name: cfg.Stream, Subjects: []string{cfg.Subject}}
	mod(&sc)
	if _, err := js.CreateStream(context.Background(), sc); err != nil {
		t.Fatal(err)
	}
}

// sessionsAt lists the stream's messages as session@time, in stream order.
func sessionsAt(msgs []storedMessage) string {
	var out []string
	for _, m := range msgs {
		out = append(out, fmt.Sprint(m.Session, "@", m.Time))
	}
	return strings.Join(out, " ")
}

func recordsAt(recs []*detail.Record, idx ...int) string {
	var out []string
	for _, i := range idx {
		out = append(out, fmt.Sprint(sinktest.SessionID(recs[i]), "@", recs[i].Timestamp))
	}
	return strings.Join(out, " ")
}

// TestBatchStopsAtRefusedRecord: in a fast batch the stream stores a
// prefix of the batch, in its order, and nothing after the first record
// it refuses. A stream that takes 4 messages and then refuses more
// (discard new): the first 4 records are delivered, the fifth is refused
// retryably, and the rest fail retryably without being stored, to be sent
// again after it.
func TestBatchStopsAtRefusedRecord(t *testing.T) {
	srv := startServer(t, nil)
	cfg := newStream(srv)
	cfg.CreateStream = false
	createStream(t, srv.ClientURL(), cfg, func(sc *jetstream.StreamConfig) {
		sc.MaxMsgs, sc.Discard, sc.AllowBatchPublish = 4, jetstream.DiscardNew, true
	})
	s := openSink(t, cfg)
	defer s.Close()
	recs := sinktest.Records(9)
	results := make([]error, len(recs))
	s.Send(context.Background(), recs, results)
	if s.batches == nil {
		t.Fatal("the sink did not publish fast batches to a stream that allows them")
	}
	for i, err := range results {
		switch {
		case i < 4 && err != nil:
			t.Errorf("record %d: %v, want delivered", i, err)
		case i >= 4 && err == nil:
			t.Errorf("record %d: delivered, want a retryable failure", i)
		case err != nil && sinks.IsPermanent(err):
			t.Errorf("record %d: permanent %v, want retryable", i, err)
		}
	}
	if got, want := sessionsAt(readStream(t, srv.ClientURL(), cfg.Stream)), recordsAt(recs, 0, 1, 2, 3); got != want {
		t.Errorf("stream holds %v, want %v", got, want)
	}
}

// TestBatchServerTooLarge: a record the stream refuses as too large (its
// max_msg_size below the sink's limit) fails permanently, and the records
// after it are delivered in a new batch.
func TestBatchServerTooLarge(t *testing.T) {
	srv := startServer(t, nil)
	cfg := newStream(srv)
	cfg.CreateStream = false
	createStream(t, srv.ClientURL(), cfg, func(sc *jetstream.StreamConfig) {
		sc.MaxMsgSize, sc.AllowBatchPublish = 4096, true
	})
	s := openSink(t, cfg)
	defer s.Close()
	recs := sinktest.Records(5)
	recs[2] = sinktest.Oversized(recs[2], 8000)
	results := make([]error, len(recs))
	s.Send(context.Background(), recs, results)
	for i, err := range results {
		if i == 2 {
			if !sinks.IsPermanent(err) || !errors.Is(err, stream.ErrTooLarge) {
				t.Errorf("the large record's outcome is %v, want a permanent too-large error", err)
			}
		} else if err != nil {
			t.Errorf("record %d: %v, want delivered", i, err)
		}
	}
	if got, want := sessionsAt(readStream(t, srv.ClientURL(), cfg.Stream)), recordsAt(recs, 0, 1, 3, 4); got != want {
		t.Errorf("stream holds %v, want %v", got, want)
	}
}

// TestBatchResentDuplicatesAreDropped: a batch whose records the stream
// already holds (a restart sending again what it had not seen
// acknowledged) stores only the new ones, and acknowledges all.
func TestBatchResentDuplicatesAreDropped(t *testing.T) {
	srv := startServer(t, nil)
	cfg := newStream(srv)
	recs := sinktest.Records(50)
	s := openSink(t, cfg)
	defer s.Close()
	deliver(t, s, recs[:20])
	deliver(t, s, recs[10:30]) // starts with duplicates
	deliver(t, s, recs)        // duplicates, then new ones
	deliver(t, s, recs[40:])   // all duplicates
	got := readStream(t, srv.ClientURL(), cfg.Stream)
	if len(got) != len(recs) {
		t.Errorf("the stream holds %d messages, want %d", len(got), len(recs))
	}
	if n := checkExactlyOnce(t, got, recs); n > 0 {
		t.Errorf("%d records are stored after a later record of their session", n)
	}
}

// TestSinglePublishConformance: with batch_publish = false the sink
// publishes with a PubAck per record, and passes the conformance test
// that way too.
func TestSinglePublishConformance(t *testing.T) {
	srv := startServer(t, nil)
	off := false
	var cur Config
	sinktest.Run(t, sinktest.Harness{
		New: func(t *testing.T) sinks.Sink {
			cur = newStream(srv)
			cur.BatchPublish = &off
			s := openSink(t, cur)
			if err := s.ensureStream(context.Background()); err != nil {
				t.Fatal(err)
			}
			if s.batches != nil {
				t.Fatal("batch_publish = false, and the sink publishes fast batches")
			}
			return s
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

// TestBatchMessageHeaders: the reused message of a batch carries exactly
// the headers of each record, also when one lacks some that the one
// before had, and after the (empty) commit; but not Radrelay-Id, which
// Nats-Msg-Id carries, nor Radrelay-Schema-Version, which the value
// carries (schema_version). Nats-Expected-Stream is on a batch's first message
// only (TestBatchRefusedByAnotherStream says why that suffices).
func TestBatchMessageHeaders(t *testing.T) {
	srv := startServer(t, nil)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	got := make(chan *nats.Msg, 16)
	if _, err := nc.ChanSubscribe("hdr.test", got); err != nil {
		t.Fatal(err)
	}
	p, err := newBatchPublisher(nc)
	if err != nil {
		t.Fatal(err)
	}
	full := []stream.Header{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}, {Name: "C", Value: "3"}}
	for i, hs := range [][]stream.Header{
		full,
		{{Name: stream.HeaderSchema, Value: "1"}, {Name: "A", Value: "4"}, {Name: "B", Value: "5"}, {Name: stream.HeaderID, Value: "id1"}, {Name: "C", Value: "6"}},
		{{Name: "A", Value: "7"}, {Name: "C", Value: "8"}}, // no B
		nil, // the commit
		full,
		{{Name: "A", Value: "9"}, {Name: "B", Value: "10"}}, // no C
	} {
		var m *stream.Message
		if hs != nil {
			m = &stream.Message{Value: []byte(fmt.Sprint(i)), Headers: hs, ID: fmt.Sprint("id", i)}
		}
		op := fastBatchOpAppend
		if i == 0 || i == 4 { // the first message of a batch, after a commit
			op = fastBatchOpStart
		}
		if hs == nil {
			op = fastBatchOpCommitEOB
		}
		if err := p.publish(nc, "hdr.test", "S", "reply.", uint64(i+1), op, m); err != nil {
			t.Fatal(err)
		}
		msg := <-got
		want := nats.Header{}
		if m != nil {
			for _, h := range hs {
				if h.Name != stream.HeaderID && h.Name != stream.HeaderSchema {
					want.Set(h.Name, h.Value)
				}
			}
			want.Set("Nats-Msg-Id", m.ID)
			if op == fastBatchOpStart {
				want.Set("Nats-Expected-Stream", "S")
			}
		}
		if fmt.Sprint(msg.Header) != fmt.Sprint(want) && !(len(msg.Header) == 0 && len(want) == 0) {
			t.Errorf("message %d: headers %v, want %v", i, msg.Header, want)
		}
		if wantReply := fmt.Sprintf("reply.%d.%d.$FI", i+1, op); msg.Reply != wantReply {
			t.Errorf("message %d: reply %q, want %q", i, msg.Reply, wantReply)
		}
	}
}

// TestBatchSmallWindow: with max_pending below the server's flow
// acknowledgement interval, a batch still goes through: the sink asks
// for acknowledgements often enough to keep publishing.
func TestBatchSmallWindow(t *testing.T) {
	srv := startServer(t, nil)
	cfg := newStream(srv)
	cfg.MaxPending = 3
	s := openSink(t, cfg)
	defer s.Close()
	recs := sinktest.Records(100)
	deliver(t, s, recs)
	if got := readStream(t, srv.ClientURL(), cfg.Stream); len(got) != len(recs) {
		t.Errorf("the stream holds %d messages, want %d", len(got), len(recs))
	}
}

// TestReplySubjects: the reply subjects made a chunk at a time are those
// made one by one, whatever order and batch they are asked for in.
func TestReplySubjects(t *testing.T) {
	var r replySubjects
	asks := []struct {
		replyTo string
		seq     uint64
	}{
		{"_INBOX.a.B1.500.fail.", 2}, {"_INBOX.a.B1.500.fail.", 3}, {"_INBOX.a.B1.500.fail.", 65},
		{"_INBOX.a.B1.500.fail.", 66}, {"_INBOX.a.B1.500.fail.", 3}, {"_INBOX.a.B2.500.fail.", 66},
		{"_INBOX.a.B2.500.fail.", 129}, {"_INBOX.a.B2.500.fail.", 9999999}, {"_INBOX.a.B2.500.fail.", 10000000},
	}
	for _, a := range asks {
		want := string(appendReply(nil, a.replyTo, a.seq, fastBatchOpAppend))
		if got := r.get(a.replyTo, a.seq); got != want {
			t.Errorf("%s %d: got %q, want %q", a.replyTo, a.seq, got, want)
		}
	}
	for seq := uint64(2); seq < 300; seq++ {
		want := string(appendReply(nil, "X.", seq, fastBatchOpAppend))
		if got := r.get("X.", seq); got != want {
			t.Fatalf("%d: got %q, want %q", seq, got, want)
		}
	}
}

// TestFirstRefusedAfter: a record the batch ended before, whose own
// message the server did not answer, takes the reason the server gave for
// the first later message it refused (the hostile review saw only "the
// batch ended before this record" when the stream went away mid-batch).
func TestFirstRefusedAfter(t *testing.T) {
	unknown := errors.New("batch publish ID unknown")
	other := errors.New("expected stream does not match")
	for _, tc := range []struct {
		name    string
		errs    map[uint64]error
		seq     uint64
		wantSeq uint64
		wantErr error
	}{
		{"none", map[uint64]error{}, 3, 0, nil},
		{"only earlier", map[uint64]error{2: other}, 3, 0, nil},
		{"the first later one", map[uint64]error{9: other, 5: unknown, 7: other}, 3, 5, unknown},
		{"not its own", map[uint64]error{3: other, 4: unknown}, 3, 4, unknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seq, err := firstRefusedAfter(tc.errs, tc.seq)
			if seq != tc.wantSeq || err != tc.wantErr {
				t.Errorf("firstRefusedAfter(%v, %d) = %d, %v; want %d, %v", tc.errs, tc.seq, seq, err, tc.wantSeq, tc.wantErr)
			}
		})
	}
}
