package nats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks"
	"github.com/radrelay/radrelay/sinks/stream"
)

// JetStream's error codes: a message over the stream's max_msg_size; a
// message the stream could not store (at its limits with discard new).
const (
	errCodeMessageTooLarge = 10054
	errCodeStoreFailed     = 10077
)

// Sink publishes records to a JetStream stream; see the package comment.
type Sink struct {
	cfg    Config
	asked  Config // cfg as written, before defaults: the stream settings create_stream applies to an existing stream
	enc    *stream.Encoder
	nc     *nats.Conn
	js     jetstream.JetStream
	logger *slog.Logger
	conn   *connState // why the connection is down, for errors and logs

	mu      sync.Mutex
	ready   bool            // the stream exists (created or found)
	batches *batchPublisher // set when publishing fast batches

	expectStream jetstream.PublishOpt // WithExpectStream(cfg.Stream), made once
}

// noRetry: see batch.publish.
var noRetry = jetstream.WithRetryAttempts(0)

// Open connects to the servers (retrying in the background when none
// answers yet: a record sent meanwhile fails retryably) and returns the
// sink.
func Open(ctx context.Context, cfg Config, env sinks.Env) (*Sink, error) {
	asked := cfg
	cfg = cfg.WithDefaults()
	if !literalSubject(cfg.Subject) {
		// Validate says so too; checked here because the connection
		// does not check the subject of each publish (options).
		return nil, fmt.Errorf("nats sink: subject %q: want a literal subject (tokens separated by dots, no wildcards)", cfg.Subject)
	}
	dict, err := stream.Dictionary(env)
	if err != nil {
		return nil, err
	}
	enc, err := stream.NewEncoder(stream.Options{Key: cfg.Key, MaxBytes: cfg.MaxMessageBytes, Dictionary: dict})
	if err != nil {
		return nil, fmt.Errorf("nats sink: key: %w", err)
	}
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	conn := newConnState(logger, cfg.Servers)
	opts, err := cfg.options(logger, conn)
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(strings.Join(cfg.Servers, ","), opts...)
	if err != nil {
		return nil, fmt.Errorf("nats sink: connecting: %w", err)
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(cfg.MaxPending),
		jetstream.WithPublishAsyncTimeout(cfg.PublishTimeout))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats sink: %w", err)
	}
	s := &Sink{cfg: cfg, asked: asked, enc: enc, nc: nc, js: js, logger: logger, conn: conn, expectStream: jetstream.WithExpectStream(cfg.Stream)}
	if nc.IsConnected() {
		// The stream is checked (created, updated) now when a server
		// answers, so that settings the stream cannot take stop radrelay
		// at start with what to change, rather than fail every record
		// for ever. Anything else (no JetStream yet, a timeout) is
		// retried by Send, as when no server answers at start.
		var bad *StreamSettingsError
		if err := s.ensureStream(ctx); errors.As(err, &bad) {
			nc.Close()
			return nil, bad
		}
	}
	return s, nil
}

// options are the connection options: reconnect for ever, TLS and
// authentication as configured; conn hears how connecting goes.
func (c Config) options(logger *slog.Logger, conn *connState) ([]nats.Option, error) {
	opts := []nats.Option{
		nats.Name("radrelay"),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		// No buffering while disconnected: a publish then fails at once,
		// and Send publishes nothing after it (see Send), so a record lost
		// with a connection is never overtaken by the records after it.
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				logger.Warn("nats sink: disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			conn.connected()
			logger.Info("nats sink: reconnected", "server", nc.ConnectedUrlRedacted())
		}),
		// Called when the first connection comes up, also late (after
		// failed attempts, which ReconnectErrHandler hears).
		nats.ConnectHandler(func(nc *nats.Conn) {
			if conn.down() {
				logger.Info("nats sink: connected", "server", nc.ConnectedUrlRedacted())
			}
			conn.connected()
		}),
		nats.ReconnectErrHandler(conn.failed),
		// The subject is checked once (Validate, Open) and the reply
		// subjects are the sink's own: no need to scan both again for
		// every message.
		nats.SkipSubjectValidation(),
	}
	switch {
	case c.CredentialsFile != "":
		opts = append(opts, nats.UserCredentials(c.CredentialsFile))
	case c.NKeyFile != "":
		o, err := nats.NkeyOptionFromSeed(c.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("nats sink: nkey_file: %w", err)
		}
		opts = append(opts, o)
	case c.TokenFile != "":
		b, err := os.ReadFile(c.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("nats sink: token_file: %w", err)
		}
		tok, _, _ := strings.Cut(string(b), "\n")
		opts = append(opts, nats.Token(strings.TrimSpace(tok)))
	case c.TokenEnv != "":
		opts = append(opts, nats.Token(os.Getenv(c.TokenEnv)))
	}
	if c.TLSCAFile != "" {
		opts = append(opts, nats.RootCAs(c.TLSCAFile))
	}
	if c.TLSCertFile != "" {
		opts = append(opts, nats.ClientCert(c.TLSCertFile, c.TLSKeyFile))
	}
	return opts, nil
}

// streamConfig is the stream create_stream makes.
func (c Config) streamConfig() jetstream.StreamConfig {
	sc := jetstream.StreamConfig{
		Name:       c.Stream,
		Subjects:   []string{c.Subject},
		Replicas:   max(c.Replicas, 1),
		MaxAge:     c.MaxAge,
		Duplicates: c.DuplicateWindow,
		MaxMsgSize: int32(min(c.MaxMessageBytes, 1<<31-1)),
		// Fast batches (batch_publish): when the stream as created does
		// not allow them (a server before 2.14), ensureStream falls back
		// to a PubAck per record.
		AllowBatchPublish: c.batchPublish(),
	}
	if strings.EqualFold(c.Storage, "memory") {
		sc.Storage = jetstream.MemoryStorage
	}
	switch strings.ToLower(c.Retention) {
	case "interest":
		sc.Retention = jetstream.InterestPolicy
	case "workqueue":
		sc.Retention = jetstream.WorkQueuePolicy
	}
	return sc
}

// ensureStream creates the stream (create_stream) or checks that it
// exists and captures the subject (openStream), once; until it succeeds
// every Send fails retryably.
func (s *Sink) ensureStream(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready {
		return nil
	}
	// A server whose JetStream is not ready (no meta leader yet) may not
	// answer at all: each attempt is bounded, and the record retried.
	ctx, cancel := context.WithTimeout(ctx, s.cfg.PublishTimeout)
	defer cancel()
	st, err := s.openStream(ctx)
	if err != nil {
		return s.streamError(err)
	}
	info := st.CachedInfo()
	if s.cfg.batchPublish() {
		switch {
		case info != nil && info.Config.Replicas > 1:
			// A fast batch counts a resent record as stored when the
			// leader still holds its first copy in flight to the
			// replicas, where a single publish is refused and retried:
			// were the leader to die then, the record would be lost.
			// Replicated streams keep a PubAck per record.
			s.logger.Info("nats sink: replicated stream: publishing with a PubAck per message (fast batches only on single-replica streams)",
				"stream", s.cfg.Stream, "replicas", info.Config.Replicas)
		case info != nil && info.Config.AllowBatchPublish:
			if s.batches == nil {
				if s.batches, err = newBatchPublisher(s.nc); err != nil {
					return fmt.Errorf("nats sink: %w", err)
				}
			}
		default:
			s.logger.Warn("nats sink: the stream does not allow batched publishing (allow_batched; nats-server 2.14 or later): publishing with a PubAck per message",
				"stream", s.cfg.Stream)
		}
	}
	s.ready = true
	return nil
}

// streamError says what is wrong when the stream cannot be checked or
// created, in the words of the fix: without a connection nats.go reports
// whatever the request ran into (with no reconnect buffer, "outbound
// buffer limit exceeded"), which names neither the servers nor the
// refusal; a missing stream is created by the operator or create_stream.
func (s *Sink) streamError(err error) error {
	if !s.nc.IsConnected() {
		why := "no server answers"
		if last := s.nc.LastError(); last != nil {
			why = last.Error()
		}
		return fmt.Errorf("nats sink: stream %s: not connected to %s (%s): %w",
			s.cfg.Stream, strings.Join(s.cfg.Servers, ","), why, err)
	}
	var bad *StreamSettingsError
	if errors.As(err, &bad) {
		return bad // says it all
	}
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("nats sink: stream %s does not exist: create it capturing %s (nats stream add), or set create_stream = true (create_stream=yes in the URL): %w",
			s.cfg.Stream, s.cfg.Subject, err)
	}
	if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
		// A server without JetStream answers a stream request with "no
		// responders", which says nothing of JetStream.
		return fmt.Errorf("nats sink: stream %s: no JetStream answers on %s: a server without JetStream (nats-server -js, or a jetstream block in its configuration, and for this account), or a cluster still electing its leader: %w",
			s.cfg.Stream, strings.Join(s.cfg.Servers, ","), err)
	}
	return fmt.Errorf("nats sink: stream %s: %w", s.cfg.Stream, err)
}

// Send publishes recs as one fast batch (sendBatched) or, when the stream
// does not take fast batches (batch_publish = false, an older server),
// asynchronously one by one, in order, many in flight at once but at
// most one per key (session), and waits for each one's PubAck; see
// sinks.Sink. A record whose key has an earlier record of the batch
// awaiting its PubAck is published when that PubAck arrives, and not at
// all if it fails: a record lost inside a cluster node that dies can then
// never be overtaken by a later record of its session (sent again, it is
// stored before them). When a publish fails (disconnected), no record is
// published after it: they fail retryably with it and are sent again, in
// order, after it.
func (s *Sink) Send(ctx context.Context, recs []*detail.Record, results []error) {
	if len(recs) == 0 {
		return
	}
	defer s.recheckStream(results)
	if err := ctx.Err(); err != nil {
		fill(results, err)
		return
	}
	if !s.nc.IsConnected() {
		// Said here with its cause: a publish would fail with "outbound
		// buffer limit exceeded" (no reconnect buffer).
		fill(results, s.conn.notConnected())
		return
	}
	if err := s.ensureStream(ctx); err != nil {
		fill(results, err)
		return
	}
	if s.batches != nil {
		s.sendBatched(ctx, recs, results)
		return
	}
	b := batch{s: s, results: results, futures: make([]jetstream.PubAckFuture, len(recs))}
	var m stream.Message
	last := make(map[string]int, len(recs)) // key → its latest record published or waiting
	for i, rec := range recs {
		if err := ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if b.stopped != nil {
			results[i] = b.notSent()
			continue
		}
		if err := s.enc.Encode(rec, &m); err != nil {
			results[i] = fmt.Errorf("nats sink: %w", err)
			continue
		}
		msg := b.message(&m)
		if j, ok := last[m.Key]; ok && b.pending(j) {
			// Published when record j's PubAck arrives.
			b.wait(j, i, msg, m.ID)
			last[m.Key] = i
			continue
		}
		if b.publish(i, msg, m.ID) {
			last[m.Key] = i
		}
	}
	for i := range b.futures {
		f := b.futures[i]
		if f == nil {
			continue // not published: its result is set
		}
		select {
		case <-f.Ok():
			results[i] = nil
		case err := <-f.Err():
			results[i] = s.classify(err)
		case <-ctx.Done():
			results[i] = ctx.Err()
		}
		b.release(ctx, i)
	}
}

// batch is the state of one Send: the records waiting for an earlier
// record of their key, and what stops publishing.
type batch struct {
	s       *Sink
	results []error
	futures []jetstream.PubAckFuture
	arena   stream.Arena
	// next[i]-1 is the record waiting for record i's PubAck (0: none);
	// waiting[k] its message and identity.
	next    []int
	waiting map[int]waitingMsg
	stopped error // the failure that stopped publishing this batch
}

type waitingMsg struct {
	msg *nats.Msg
	id  string
}

// message is the NATS message of m. The client keeps it until its PubAck:
// its bytes come from the batch's arena, never reused while the batch is
// out.
func (b *batch) message(m *stream.Message) *nats.Msg {
	msg := &nats.Msg{Subject: b.s.cfg.Subject, Data: b.arena.Copy(m.Value), Header: make(nats.Header, len(m.Headers)+2)}
	values := make([]string, len(m.Headers))
	for k, h := range m.Headers {
		if !sentOnJetStream(h.Name) {
			continue
		}
		values[k] = h.Value
		msg.Header[h.Name] = values[k : k+1 : k+1]
	}
	return msg
}

// sentOnJetStream reports whether the stream record's header name is sent
// on JetStream: all but Radrelay-Id and Radrelay-Schema-Version, which
// would repeat in every stored message what it holds already. The
// record's identity is the Nats-Msg-Id header, which the stream
// de-duplicates on (Radrelay-Id, the same 32 hex digits, is for Kafka's
// consumers); the schema version is the value's schema_version (the
// header is for Kafka's consumers, which may filter on headers without
// parsing the value). The server parses every header line of every
// message, scans the whole header block for each of a dozen of its own
// headers (Nats-*), and copies, checksums, writes and stores it: the two
// are 75 bytes and two lines of every message (docs/streams.md,
// "Headers"; docs/benchmarks.md, "Seventh session").
func sentOnJetStream(name string) bool {
	return name != stream.HeaderID && name != stream.HeaderSchema
}

// pending reports whether record j is published and awaiting its PubAck,
// or waiting to be published.
func (b *batch) pending(j int) bool {
	return b.futures[j] != nil && b.results[j] == nil || b.waiting != nil && b.isWaiting(j)
}

func (b *batch) isWaiting(j int) bool { _, ok := b.waiting[j]; return ok }

// wait makes record i wait for record j's PubAck.
func (b *batch) wait(j, i int, msg *nats.Msg, id string) {
	if b.next == nil {
		b.next = make([]int, len(b.futures))
		b.waiting = map[int]waitingMsg{}
	}
	b.next[j] = i + 1
	b.waiting[i] = waitingMsg{msg, id}
}

// publish publishes record i and reports whether it is in flight. A
// retryable failure stops the batch.
func (b *batch) publish(i int, msg *nats.Msg, id string) bool {
	// No retry inside the client: it would republish a message after the
	// ones behind it (no responders while a leader is elected); the tailer
	// retries it, in order.
	f, err := b.s.js.PublishMsgAsync(msg, jetstream.WithMsgID(id), b.s.expectStream, noRetry)
	if err != nil {
		b.results[i] = b.s.classify(err)
		if !sinks.IsPermanent(b.results[i]) {
			b.stopped = err
		}
		return false
	}
	b.futures[i] = f
	return true
}

func (b *batch) notSent() error {
	// Publishing the records after one that could not be sent would store
	// them before it when it is retried.
	return fmt.Errorf("nats sink: not sent after an earlier record failed: %w", b.stopped)
}

// release publishes the record that waited for record i, now resolved:
// when i is delivered, or failed permanently (it will never be stored,
// so it cannot be overtaken). When i failed retryably, its key's waiting
// records fail with it, to be sent again after it.
func (b *batch) release(ctx context.Context, i int) {
	for b.next != nil && b.next[i] > 0 {
		k := b.next[i] - 1
		w := b.waiting[k]
		delete(b.waiting, k)
		err := b.results[i]
		switch {
		case ctx.Err() != nil:
			b.results[k] = ctx.Err()
		case b.stopped != nil:
			b.results[k] = b.notSent()
		case err != nil && !sinks.IsPermanent(err):
			b.results[k] = fmt.Errorf("nats sink: not sent after an earlier record of its key failed: %w", err)
		default:
			if b.publish(k, w.msg, w.id) {
				return // k's own PubAck releases the next
			}
		}
		i = k // k is resolved (failed): release the one after it
	}
}

// classify wraps a publish error: permanent when the message is too large
// for the server or the stream, else retryable (no responders while a
// leader is elected, a timeout, a lost connection).
func (s *Sink) classify(err error) error {
	if err == nil {
		return nil
	}
	var apiErr *jetstream.APIError
	if errors.Is(err, nats.ErrMaxPayload) || errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeMessageTooLarge {
		return sinks.Permanent(fmt.Errorf("nats sink: %w: %w", stream.ErrTooLarge, err))
	}
	if errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeStoreFailed {
		// A stream at its max_bytes or max_msgs with discard new: the
		// server's words name neither the stream nor the fix.
		return fmt.Errorf("nats sink: stream %s cannot store more (%s): raise its max_bytes / max_msgs, or let it discard old messages; retrying: %w",
			s.cfg.Stream, apiErr.Description, err)
	}
	return fmt.Errorf("nats sink: %w", err)
}

func fill(results []error, err error) {
	for i := range results {
		results[i] = err
	}
}

// Close closes the connection; every Send has returned, so nothing is in
// flight.
func (s *Sink) Close() error {
	s.nc.Close()
	return nil
}
