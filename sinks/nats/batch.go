package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks"
	"github.com/radrelay/radrelay/sinks/stream"
)

// A fast batch (nats-server 2.14 and later, a stream with allow_batched)
// is a run of messages that the stream stores one by one as they arrive
// but acknowledges together: a flow acknowledgement every few hundred
// messages and one PubAck when the batch is committed, instead of one
// PubAck per message. Each message says in its reply subject which batch
// it belongs to and its place in it:
//
//	INBOX.BATCH-ID.FLOW.GAP-MODE.SEQUENCE.OPERATION.$FI
//
// FLOW is how many messages the publisher lets go unacknowledged between
// flow acknowledgements (the server asks for fewer when several batches
// share the stream), GAP-MODE "fail" ends the batch at the first message
// that is missing or refused, and OPERATION is one of the fastBatchOp
// values. De-duplication by Nats-Msg-Id works as for a single publish: a
// duplicate is skipped and the batch goes on.
//
// With "fail", the stream holds a prefix of the batch, in the batch's
// order: the commit PubAck's count says how long (duplicates included). A
// record is delivered when that count covers it; nothing after a missing
// or refused message is stored, which is what keeps every session's order
// without holding a session's next record back (docs/streams.md, "Order").
const (
	fastBatchOpStart = iota
	fastBatchOpAppend
	fastBatchOpCommit
	fastBatchOpCommitEOB // commit without storing this (empty) message
)

// fastBatchFlow is the longest flow acknowledgement interval the sink
// asks for: the server's own maximum. It asks for at most half of
// max_pending, so that the publisher, stopping at max_pending messages
// beyond the last acknowledgement, always has one more coming.
const fastBatchFlow = 500

// publishChunk is how many records are encoded before they are published
// back to back (see publishBatch). A batch's first chunk is firstChunk
// records, and each next one twice the one before, up to publishChunk:
// the server, idle since it stored the previous batch, gets the first
// messages after 8 records are encoded rather than 64.
const (
	publishChunk = 64
	firstChunk   = 8
)

// notEncoded marks, while a chunk is published, a record that failed to
// encode (its result is set).
const notEncoded = ^uint64(0)

// batchReply is a response to a message of a fast batch.
type batchReply struct {
	Type  string              `json:"type"` // "ack", "gap", "err"; "" for a PubAck
	Seq   uint64              `json:"seq"`  // flow ack: the batch sequence stored so far; err: the message's
	Batch string              `json:"batch"`
	Count uint64              `json:"count"` // PubAck: how many of the batch are stored
	Error *jetstream.APIError `json:"error"`
}

// fastBatch is the state of the batch in flight: what its responses told.
type fastBatch struct {
	id      string
	replyTo string // INBOX.ID.FLOW.fail.
	mu      sync.Mutex
	sent    uint64           // messages published (the batch sequence of the last)
	acked   uint64           // stored, by the flow acknowledgements
	count   uint64           // stored, by the PubAck (valid when committed)
	done    bool             // the PubAck, or the batch's end, arrived
	errs    map[uint64]error // what the server refused, by batch sequence
	wake    chan struct{}    // poked on every response
}

// batchPublisher publishes fast batches over one connection and routes
// the responses, which all come to one wildcard subscription, to the
// batch in flight.
type batchPublisher struct {
	inbox string
	sub   *nats.Subscription

	mu  sync.Mutex
	cur *fastBatch

	// msg is reused for every message: PublishMsg copies it into the
	// connection's buffer; so are reply, its reply subject's bytes, and
	// slots, the one-element value slices of its headers (setHeader).
	msg     nats.Msg
	reply   []byte
	replies replySubjects
	slots   []headerSlot
	chunk   []stream.Message // the records being published, encoded
	n       int              // headers set of the message being made
	changed bool             // and their names are not the message before's
}

type headerSlot struct {
	name  string
	value []string
}

func newBatchPublisher(nc *nats.Conn) (*batchPublisher, error) {
	p := &batchPublisher{inbox: nats.NewInbox(), msg: nats.Msg{Header: nats.Header{}}}
	sub, err := nc.Subscribe(p.inbox+".>", p.handle)
	if err != nil {
		return nil, err
	}
	// A batch's responses are few (one per flow interval, one PubAck);
	// the limit must never drop the PubAck.
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return nil, err
	}
	p.sub = sub
	return p, nil
}

// handle takes one response: its subject is the reply subject of the
// message it answers, which names the batch and the message.
func (p *batchPublisher) handle(m *nats.Msg) {
	id, seq, op, ok := parseBatchReply(m.Subject, p.inbox)
	if !ok {
		return
	}
	p.mu.Lock()
	b := p.cur
	p.mu.Unlock()
	if b == nil || b.id != id {
		return // an earlier batch's: it is over
	}
	var r batchReply
	if len(m.Data) == 0 && m.Header.Get("Status") == "503" {
		// No stream listens on the subject (a leader being elected):
		// the message was dropped, and so is every one after it.
		r.Error = &jetstream.APIError{Code: 503, Description: nats.ErrNoResponders.Error()}
	} else if err := json.Unmarshal(m.Data, &r); err != nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return
	}
	switch r.Type {
	case "ack":
		b.acked = max(b.acked, r.Seq)
	case "gap":
		// A message went missing; with "fail" the PubAck follows.
	case "err":
		b.refused(r.Seq, r.Error)
	case "":
		switch {
		case r.Error == nil:
			b.count, b.done = r.Count, true
		case r.Count > 0 || r.Batch != "":
			// An error PubAck for the batch as a whole.
			b.refused(seq, r.Error)
			b.count, b.done = r.Count, true
		default:
			// A message refused before the batch took it (too large; the
			// batch unknown, because it never started or has ended):
			// only the commit's refusal ends the wait, since a PubAck
			// may still follow a refused message.
			b.refused(seq, r.Error)
			b.done = op == fastBatchOpCommitEOB
		}
	default:
		return // a kind of response this sink does not know: informational
	}
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

func (b *fastBatch) refused(seq uint64, apiErr *jetstream.APIError) {
	if apiErr == nil {
		return
	}
	if _, ok := b.errs[seq]; !ok {
		b.errs[seq] = apiErr
	}
}

// parseBatchReply splits INBOX.ID.FLOW.GAP.SEQ.OP.$FI.
func parseBatchReply(subject, inbox string) (id string, seq uint64, op int, ok bool) {
	rest, found := strings.CutPrefix(subject, inbox+".")
	if !found {
		return "", 0, 0, false
	}
	rest, found = strings.CutSuffix(rest, ".$FI")
	if !found {
		return "", 0, 0, false
	}
	f := strings.Split(rest, ".")
	if len(f) != 5 {
		return "", 0, 0, false
	}
	seq, err1 := strconv.ParseUint(f[3], 10, 64)
	op, err2 := strconv.Atoi(f[4])
	return f[0], seq, op, err1 == nil && err2 == nil
}

// sendBatched delivers recs as fast batches, one at a time: normally one
// batch for all of them. When the server refuses a record permanently
// (too large for the stream), the batch ends before it: the record is
// quarantined and the records after it go in a new batch. Any other
// failure ends the Send: the records not yet stored fail retryably, to be
// sent again, in order, by the tailer.
func (s *Sink) sendBatched(ctx context.Context, recs []*detail.Record, results []error) {
	start := 0
	for start < len(recs) {
		n, err := s.publishBatch(ctx, recs[start:], results[start:])
		start += n
		if err == nil {
			return
		}
		if start < len(recs) && sinks.IsPermanent(err) {
			results[start] = err
			start++
			continue
		}
		for i := start; i < len(recs); i++ {
			results[i] = err
		}
		return
	}
}

// publishBatch publishes recs as one fast batch and waits for its PubAck.
// It returns how many records it resolved (delivered, or failed
// permanently before the server saw them: those have their results set),
// and, when it stopped before the end, the error of the record at that
// position.
func (s *Sink) publishBatch(ctx context.Context, recs []*detail.Record, results []error) (int, error) {
	p := s.batches
	b := &fastBatch{id: nats.NewInbox()[len(nats.InboxPrefix):], errs: map[uint64]error{}, wake: make(chan struct{}, 1)}
	flow := min(fastBatchFlow, max(1, s.cfg.MaxPending/2))
	b.replyTo = p.inbox + "." + b.id + "." + strconv.Itoa(flow) + ".fail."
	p.mu.Lock()
	p.cur = b
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.cur = nil
		p.mu.Unlock()
	}()

	// seqOf[k] is the batch sequence of record k; 0 for a record that
	// failed before it was published.
	seqOf := make([]uint64, len(recs))
	var publishErr error
	deadline := newDeadline(s.cfg.PublishTimeout)
	defer deadline.stop()
	// Records are encoded a chunk at a time and the chunk published back
	// to back: the connection then writes, and the server reads, many
	// messages at once, which costs the server less per message than a
	// trickle of them.
	if p.chunk == nil {
		p.chunk = make([]stream.Message, publishChunk)
	}
	chunk := firstChunk
	for base := 0; base < len(recs) && publishErr == nil; base, chunk = base+chunk, min(2*chunk, publishChunk) {
		end := min(base+chunk, len(recs))
		for k := base; k < end; k++ {
			if err := s.enc.Encode(recs[k], &p.chunk[k-base]); err != nil {
				results[k] = fmt.Errorf("nats sink: %w", err)
				seqOf[k] = notEncoded
			}
		}
		for k := base; k < end; k++ {
			if seqOf[k] == notEncoded {
				seqOf[k] = 0
				continue
			}
			if err := ctx.Err(); err != nil {
				publishErr = err
				break
			}
			// Keep at most max_pending messages beyond the last flow
			// acknowledgement.
			if err := b.waitWindow(ctx, uint64(s.cfg.MaxPending), deadline); err != nil {
				publishErr = err
				break
			}
			b.mu.Lock()
			seq := b.sent + 1
			b.mu.Unlock()
			op := fastBatchOpAppend
			if seq == 1 {
				op = fastBatchOpStart
			}
			err := p.publish(s.nc, s.cfg.Subject, s.cfg.Stream, b.replyTo, seq, op, &p.chunk[k-base])
			if err != nil {
				err = s.classify(err)
				if sinks.IsPermanent(err) { // over the server's max_payload: never sent
					results[k] = err
					continue
				}
				publishErr = err
				break
			}
			b.mu.Lock()
			b.sent = seq
			b.mu.Unlock()
			seqOf[k] = seq
		}
	}
	for k := range seqOf {
		if seqOf[k] == notEncoded {
			seqOf[k] = 0 // failed to encode (its result is set), after publishing stopped
		}
	}
	p.forget()
	b.mu.Lock()
	sent := b.sent
	b.mu.Unlock()
	if sent == 0 {
		if publishErr != nil {
			return 0, publishErr
		}
		return len(recs), nil // every record failed permanently, or none
	}
	if publishErr == nil {
		// Commit without storing the commit message itself, so that the
		// last record need not be known in advance.
		publishErr = s.classify(p.publish(s.nc, s.cfg.Subject, s.cfg.Stream, b.replyTo, sent+1, fastBatchOpCommitEOB, nil))
	}
	if publishErr != nil {
		// The batch cannot be committed: what it stored is not
		// acknowledged, and is dropped as duplicates when sent again.
		return firstSent(seqOf), publishErr
	}
	if err := b.waitDone(ctx, deadline); err != nil {
		return firstSent(seqOf), err
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	for k, seq := range seqOf {
		switch {
		case seq == 0:
			// failed before it was published: its result is set
		case seq <= b.count:
			results[k] = nil // stored (or a duplicate of a stored one)
		default:
			// The batch ended before record k.
			err := errors.New("the batch ended before this record (not stored)")
			if e, ok := b.errs[seq]; ok {
				err = e
			} else if later, e := firstRefusedAfter(b.errs, seq); e != nil {
				// The server said why for a later message of the batch
				// (an unknown batch, a stream that does not match): that
				// is the batch's reason.
				err = fmt.Errorf("the batch ended before this record (not stored); the server refused its message %d: %w", later, e)
			}
			return k, s.classify(err)
		}
	}
	if b.count < sent {
		return len(recs), s.classify(errors.New("the batch ended early (not stored)"))
	}
	return len(recs), nil
}

// firstRefusedAfter returns the first message after seq that the server
// refused, and why; nil when it refused none.
func firstRefusedAfter(errs map[uint64]error, seq uint64) (uint64, error) {
	var first uint64
	for k := range errs {
		if k > seq && (first == 0 || k < first) {
			first = k
		}
	}
	if first == 0 {
		return 0, nil
	}
	return first, errs[first]
}

// firstSent is the number of records before the first one published: they
// failed permanently and are resolved.
func firstSent(seqOf []uint64) int {
	for k, seq := range seqOf {
		if seq != 0 {
			return k
		}
	}
	return len(seqOf)
}

// forget drops what the reused messages hold of the records (keys and
// header values are strings of the records'), so that no record is kept
// alive after Send.
func (p *batchPublisher) forget() {
	for i := range p.chunk {
		p.chunk[i].Key = ""
		clear(p.chunk[i].Headers)
	}
	for _, sl := range p.slots {
		sl.value[0] = ""
	}
}

// publish sends one message of the batch, m's or (m nil) the empty commit.
func (p *batchPublisher) publish(nc *nats.Conn, subject, streamName, replyTo string, seq uint64, op int, m *stream.Message) error {
	msg := &p.msg
	msg.Subject = subject
	if op == fastBatchOpAppend {
		msg.Reply = p.replies.get(replyTo, seq)
	} else {
		p.reply = appendReply(p.reply[:0], replyTo, seq, op)
		msg.Reply = string(p.reply)
	}
	msg.Data = nil
	p.n, p.changed = 0, false
	if m != nil {
		msg.Data = m.Value
		for _, h := range m.Headers {
			if !sentOnJetStream(h.Name) {
				continue
			}
			p.setHeader(h.Name, h.Value)
		}
		p.setHeader(jetstream.MsgIDHeader, m.ID)
		if op == fastBatchOpStart {
			// Refused, not stored, if another stream captures the
			// subject. Only the batch's first message needs it: the
			// batch lives in the stream that took its first message, and
			// any other stream refuses the rest of it as an unknown batch
			// (nats-server's processJetStreamFastBatchMsg; tested in
			// TestBatchRefusedByAnotherStream). Each message without it
			// is 30 bytes and a string fewer for the server to copy,
			// checksum, write and store.
			p.setHeader(jetstream.ExpectedStreamHeader, streamName)
		}
	}
	if p.changed || p.n != len(msg.Header) {
		clear(msg.Header)
		for _, sl := range p.slots[:p.n] {
			msg.Header[sl.name] = sl.value
		}
	}
	return nc.PublishMsg(msg)
}

// appendReply appends the reply subject of message seq of a batch, with
// operation op, to b.
func appendReply(b []byte, replyTo string, seq uint64, op int) []byte {
	b = append(b, replyTo...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, '.', byte('0'+op))
	return append(b, ".$FI"...)
}

// replySubjects makes the reply subjects of a batch's appended messages
// publishChunk at a time, as pieces of one string: a string per message
// was a quarter of the sink's allocations.
type replySubjects struct {
	replyTo string // of the batch they are for
	from    uint64 // the sequence of the first
	s       string // the subjects, one after another
	ends    []int  // where each ends in s
	buf     []byte
}

// get returns the reply subject of message seq (appended, not the start
// or the commit) of the batch replying to replyTo.
func (r *replySubjects) get(replyTo string, seq uint64) string {
	if replyTo != r.replyTo || seq < r.from || seq-r.from >= uint64(len(r.ends)) {
		r.replyTo, r.from, r.buf, r.ends = replyTo, seq, r.buf[:0], r.ends[:0]
		for k := range uint64(publishChunk) {
			r.buf = appendReply(r.buf, replyTo, seq+k, fastBatchOpAppend)
			r.ends = append(r.ends, len(r.buf))
		}
		r.s = string(r.buf)
	}
	k := seq - r.from
	start := 0
	if k > 0 {
		start = r.ends[k-1]
	}
	return r.s[start:r.ends[k]]
}

// setHeader sets the next header of p.msg in its slot. Messages have the
// same headers in the same order (but for one lacking some): when the
// names are those of the message before, the header map holds the slots'
// value slices already, and only the values change.
func (p *batchPublisher) setHeader(name, value string) {
	k := p.n
	p.n++
	if k < len(p.slots) && p.slots[k].name == name {
		p.slots[k].value[0] = value
		return
	}
	if k == len(p.slots) {
		p.slots = append(p.slots, headerSlot{})
	}
	p.slots[k] = headerSlot{name: name, value: []string{value}}
	p.changed = true
}

// deadline is publish_timeout without a response: each response moves it.
type deadline struct {
	d time.Duration
	t *time.Timer
}

func newDeadline(d time.Duration) *deadline { return &deadline{d: d, t: time.NewTimer(d)} }

func (d *deadline) reset() { d.t.Reset(d.d) }
func (d *deadline) stop()  { d.t.Stop() }

var errNoAnswer = errors.New("no answer from the stream within publish_timeout")

// waitWindow waits until fewer than window messages await a flow
// acknowledgement (or the batch has ended).
func (b *fastBatch) waitWindow(ctx context.Context, window uint64, d *deadline) error {
	return b.waitUntil(ctx, d, func() bool { return b.sent < b.acked+window })
}

// waitDone waits for the batch's PubAck (or its end).
func (b *fastBatch) waitDone(ctx context.Context, d *deadline) error {
	return b.waitUntil(ctx, d, func() bool { return false })
}

// waitUntil waits until ready (called with b.mu held) or the batch's end.
// Every answer from the server restarts the deadline; none within it is
// errNoAnswer.
func (b *fastBatch) waitUntil(ctx context.Context, d *deadline, ready func() bool) error {
	for {
		b.mu.Lock()
		ok := b.done || ready()
		b.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-b.wake:
			d.reset()
		case <-d.t.C:
			return errNoAnswer
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
