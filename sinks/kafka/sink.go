package kafka

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks"
	"github.com/radrelay/radrelay/sinks/stream"
)

// Sink produces records to a Kafka topic; see the package comment.
type Sink struct {
	enc *stream.Encoder
	// producers share the records by key (producerOf): franz-go
	// compresses a broker's requests on one goroutine per client.
	producers []*kgo.Client
	linger    bool // a linger is configured: flush at the end of a Send
	topic     string
	conn      *connState // shared by the producers: one log line per condition
	logger    *slog.Logger
	// stopCheck ends the check of the brokers started by Open; checked is
	// closed when it has ended.
	stopCheck context.CancelFunc
	checked   chan struct{}
	// batches are reused across Sends (one at a time per sink, but a
	// pool keeps that from being a rule of this code).
	batches sync.Pool
}

func codec(name string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(name) {
	case "", "zstd":
		return kgo.ZstdCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "none":
		return kgo.NoCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("%q is not zstd, lz4, snappy, gzip or none", name)
}

// Open makes the producer and starts a check of the brokers in the
// background (checkBrokers); it never waits for a broker: one briefly down
// must not stop radrelay from starting.
func Open(_ context.Context, cfg Config, env sinks.Env) (*Sink, error) {
	cfg = cfg.WithDefaults()
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	conn := newConnState(logger, cfg)
	dict, err := stream.Dictionary(env)
	if err != nil {
		return nil, err
	}
	enc, err := stream.NewEncoder(stream.Options{Key: cfg.Key, MaxBytes: cfg.MaxMessageBytes, Dictionary: dict})
	if err != nil {
		return nil, fmt.Errorf("kafka sink: key: %w", err)
	}
	cc, err := codec(cfg.Compression)
	if err != nil {
		return nil, fmt.Errorf("kafka sink: compression: %w", err)
	}
	// One compressor for every producer: one pool of encoders (a zstd
	// encoder holds a few MB of tables) rather than one per producer.
	comp, err := kgo.DefaultCompressor(cc)
	if err != nil {
		return nil, fmt.Errorf("kafka sink: compression: %w", err)
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.DefaultProduceTopic(cfg.Topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), // with the idempotent producer, franz-go's default
		kgo.ProducerBatchCompression(cc),
		kgo.RecordDeliveryTimeout(cfg.DeliveryTimeout),
		// A batch never exceeds the message limit either: a broker rejects
		// a whole batch over its message.max.bytes, and the small records
		// batched with a large one would fail with it.
		kgo.ProducerBatchMaxBytes(int32(min(cfg.MaxMessageBytes, 1<<30))),
		kgo.MaxBufferedRecords(1 << 16),
		kgo.ClientID("radrelay"),
		kgo.WithHooks(conn),
		// Dials through conn, which notes each attempt under way: a
		// record that times out before the attempt fails (a
		// delivery_timeout under the 10 s dial or read timeout) says
		// what it waits for.
		kgo.Dialer(conn.dialer(nil, 0)),
		// Always set: franz-go's own default is 10ms, which every Send
		// (waiting for all its records) paid at its end.
		kgo.ProducerLinger(cfg.Linger),
	}
	if comp != nil { // nil: no compression, as ProducerBatchCompression says
		opts = append(opts, kgo.WithCompressor(comp))
	}
	if cfg.TLS || cfg.TLSCAFile != "" || cfg.TLSCertFile != "" {
		tc, err := cfg.tlsConfig()
		if err != nil {
			return nil, err
		}
		timeout := cmp.Or(cfg.handshakeTimeout, tlsHandshakeTimeout)
		opts = append(opts, kgo.Dialer(conn.dialer(tc, timeout)))
	}
	if cfg.SASLMechanism != "" {
		pw, err := cfg.password()
		if err != nil {
			return nil, err
		}
		switch strings.ToUpper(cfg.SASLMechanism) {
		case "PLAIN":
			opts = append(opts, kgo.SASL(plain.Auth{User: cfg.SASLUser, Pass: pw}.AsMechanism()))
		case "SCRAM-SHA-256":
			opts = append(opts, kgo.SASL(scram.Auth{User: cfg.SASLUser, Pass: pw}.AsSha256Mechanism()))
		case "SCRAM-SHA-512":
			opts = append(opts, kgo.SASL(scram.Auth{User: cfg.SASLUser, Pass: pw}.AsSha512Mechanism()))
		}
	}
	sk := &Sink{enc: enc, topic: cfg.Topic, linger: cfg.Linger > 0, conn: conn, logger: logger, checked: make(chan struct{})}
	for range cfg.Producers {
		client, err := kgo.NewClient(opts...)
		if err != nil {
			for _, p := range sk.producers {
				p.Close()
			}
			return nil, fmt.Errorf("kafka sink: %w", err)
		}
		sk.producers = append(sk.producers, client)
	}
	sk.batches.New = func() any { return new(batch) }
	var ctx context.Context
	ctx, sk.stopCheck = context.WithTimeout(context.Background(), cfg.DeliveryTimeout)
	go func() {
		defer close(sk.checked)
		sk.checkBrokers(ctx)
	}()
	return sk, nil
}

func (c Config) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.TLSCAFile != "" {
		pem, err := os.ReadFile(c.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka sink: tls_ca_file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka sink: tls_ca_file %s holds no PEM certificate", c.TLSCAFile)
		}
	}
	if c.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka sink: tls_cert_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// password reads the SASL password; its errors never quote it.
func (c Config) password() (string, error) {
	if c.SASLPasswordEnv != "" {
		pw := os.Getenv(c.SASLPasswordEnv)
		if pw == "" {
			return "", fmt.Errorf("kafka sink: sasl_password_env: %s is not set", c.SASLPasswordEnv)
		}
		return pw, nil
	}
	b, err := os.ReadFile(c.SASLPasswordFile)
	if err != nil {
		return "", fmt.Errorf("kafka sink: sasl_password_file: %w", err)
	}
	pw, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimRight(pw, "\r"), nil
}

// Send produces recs in order, all in flight at once, and waits for every
// promise; see sinks.Sink.
//
// Encoding a record (its JSON document, key, identity and headers) is most
// of the CPU a record costs, and the tailer sends one batch at a time: the
// batch is encoded in pieces on every core, and each piece is produced, in
// order, as soon as it and every piece before it are encoded, so that
// franz-go batches and compresses the first ones while the rest are encoded.
func (s *Sink) Send(ctx context.Context, recs []*detail.Record, results []error) {
	if len(recs) == 0 {
		return
	}
	if err := ctx.Err(); err != nil {
		for i := range results {
			results[i] = err
		}
		return
	}
	// The batch's records, headers and bytes, reused from an earlier
	// Send; each stays untouched until its promise.
	pieces := (len(recs) + encodePiece - 1) / encodePiece
	b := s.batches.Get().(*batch)
	defer s.batches.Put(b)
	b.reset(len(recs), pieces)
	records, failed := b.records, b.failed // failed: not encodable, results says why
	encoded := make([]chan struct{}, pieces)
	for p := range encoded {
		encoded[p] = make(chan struct{})
	}
	var next atomic.Int64 // the next piece to encode
	workers := min(runtime.GOMAXPROCS(0), pieces)
	for range workers {
		go func() {
			var m stream.Message
			for {
				p := int(next.Add(1) - 1)
				if p >= pieces {
					return
				}
				lo, hi := p*encodePiece, min((p+1)*encodePiece, len(recs))
				s.encode(recs[lo:hi], records[lo:hi], results[lo:hi], failed[lo:hi], &m, &b.pieces[p])
				close(encoded[p])
			}
		}()
	}
	var wg sync.WaitGroup
	for p := range pieces {
		<-encoded[p]
		for i := p * encodePiece; i < min((p+1)*encodePiece, len(recs)); i++ {
			if failed[i] {
				continue
			}
			wg.Add(1)
			p := s.producers[producerOf(records[i].Key, len(s.producers))]
			p.Produce(ctx, &records[i], func(_ *kgo.Record, err error) {
				results[i] = s.classify(err)
				wg.Done()
			})
		}
	}
	if s.linger {
		// Nothing more comes before every promise of this Send: the
		// last batches need not wait out their linger. (Flush waits
		// for every record buffered, which are this Send's.)
		for _, p := range s.producers {
			wg.Add(1)
			go func() {
				p.Flush(ctx) //nolint:errcheck // only ctx's error; the promises say what failed
				wg.Done()
			}()
		}
	}
	wg.Wait()
	for _, err := range results {
		if errors.Is(err, kerr.UnknownTopicID) {
			// The topic was deleted and created again (a new id):
			// franz-go keeps the old id, failing every record, until the
			// topic is purged from the client; then the retried records
			// load the new one.
			for _, p := range s.producers {
				p.PurgeTopicsFromClient(s.topic)
			}
			break
		}
	}
}

// encodePiece is how many records of a batch one goroutine encodes at a
// time: small enough that producing starts early, large enough that handing
// pieces out costs nothing.
const encodePiece = 256

// A batch is what one Send hands franz-go: its records, their headers and
// their bytes, reused by the next Send once every promise of this one has
// run (franz-go no longer reads a record after its promise), so that a
// steady stream allocates almost nothing per record.
type batch struct {
	records []kgo.Record
	failed  []bool
	pieces  []piece
}

// A piece is the headers and bytes of one piece of a batch (encoded by one
// goroutine).
type piece struct {
	headers []kgo.RecordHeader
	arena   stream.Arena
}

// reset readies b for n records in the given number of pieces.
func (b *batch) reset(n, pieces int) {
	if cap(b.records) < n {
		b.records, b.failed = make([]kgo.Record, n), make([]bool, n)
	}
	b.records, b.failed = b.records[:n], b.failed[:n]
	clear(b.records) // franz-go set partitions, offsets, timestamps
	clear(b.failed)
	for len(b.pieces) < pieces {
		b.pieces = append(b.pieces, piece{})
	}
	for i := range b.pieces {
		pc := &b.pieces[i]
		clear(pc.headers) // drop references to the last batch's bytes
		pc.headers = pc.headers[:0]
		pc.arena.Reset()
	}
}

// encode turns recs into records (values encoded straight into the piece's
// arena, keys and headers copied into it); a record that cannot be encoded
// is marked failed, with its error in results.
func (s *Sink) encode(recs []*detail.Record, records []kgo.Record, results []error, failed []bool, m *stream.Message, pc *piece) {
	a := &pc.arena
	headers := pc.headers
	if cap(headers) < len(recs)*6 {
		headers = make([]kgo.RecordHeader, 0, len(recs)*6)
	}
	defer func() { pc.headers = headers }()
	for i, rec := range recs {
		// Room for a message a quarter larger than the last one.
		m.Value = a.Room(len(m.Value) + len(m.Value)/4 + 256)
		if err := s.enc.Encode(rec, m); err != nil {
			results[i], failed[i] = fmt.Errorf("kafka sink: %w", err), true
			continue
		}
		r := &records[i]
		r.Value = a.Keep(m.Value) // before anything else takes from the arena
		r.Key = a.CopyString(m.Key)
		start := len(headers)
		for _, h := range m.Headers {
			headers = append(headers, kgo.RecordHeader{Key: h.Name, Value: a.CopyString(h.Value)})
		}
		r.Headers = headers[start:len(headers):len(headers)]
	}
}

// classify: a record too large for the broker is permanent; anything else
// (a broker down, a leader moving, a timeout) is retryable. A record that
// timed out while a broker cannot be connected to says why (franz-go's
// last error is e.g. "EOF" for a refused SASL password).
func (s *Sink) classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, kgo.ErrRecordTimeout) {
		if cause := s.conn.cause(); cause != "" {
			return fmt.Errorf("kafka sink: %s: %w", cause, err)
		}
	}
	return classify(err)
}

// classify is Sink.classify without the connection's state.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) {
		return sinks.Permanent(fmt.Errorf("kafka sink: %w: %w", stream.ErrTooLarge, err))
	}
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		// Retryable: the operator may create it while radrelay waits. The
		// broker's words ("does not host this topic-partition") left a
		// newcomer wondering whether radrelay should have made it.
		return fmt.Errorf("kafka sink: the topic does not exist on the brokers: create it (radrelay does not create topics): %w", err)
	}
	return fmt.Errorf("kafka sink: %w", err)
}

// Close flushes nothing (every Send waited for its records) and closes the
// producers.
func (s *Sink) Close() error {
	s.stopCheck()
	<-s.checked
	for _, p := range s.producers {
		p.Close()
	}
	return nil
}

// checkBrokers asks the brokers about the topic once, at start, so that
// what keeps radrelay from producing (no broker answers, TLS or SASL
// refused: logged by connState as franz-go meets it; the topic missing:
// logged here) is in the log before the first record waits
// delivery_timeout for it, and even when no record comes. franz-go retries
// the request within ctx. Nothing waits for the check: records are
// produced (and retried) whatever it finds.
func (s *Sink) checkBrokers(ctx context.Context) {
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(s.topic)
	req.Topics = append(req.Topics, t)
	req.AllowAutoTopicCreation = false
	resp, err := req.RequestWith(ctx, s.producers[0]) // they share the brokers
	if err != nil {
		if ctx.Err() == nil && !closing(err) && s.conn.cause() == "" {
			s.logger.Warn("kafka sink: the brokers did not answer", "err", err)
		}
		return
	}
	for _, rt := range resp.Topics {
		switch err := kerr.ErrorForCode(rt.ErrorCode); {
		case errors.Is(err, kerr.UnknownTopicOrPartition):
			s.logger.Warn("kafka sink: the topic does not exist on the brokers: create it (radrelay does not create topics); records wait until it exists", "topic", s.topic)
		case err != nil:
			s.logger.Warn("kafka sink: the brokers refuse the topic", "topic", s.topic, "err", err)
		default:
			s.logger.Info("kafka sink: the brokers answer", "topic", s.topic, "partitions", len(rt.Partitions))
		}
	}
}
