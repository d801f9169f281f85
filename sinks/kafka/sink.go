package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks"
	"github.com/radrelay/radrelay/sinks/stream"
)

// Sink produces records to a Kafka topic; see the package comment.
type Sink struct {
	enc    *stream.Encoder
	client *kgo.Client
	topic  string
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

// Open makes the producer; it connects when the first record is produced.
func Open(_ context.Context, cfg Config, env sinks.Env) (*Sink, error) {
	cfg = cfg.WithDefaults()
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
	}
	if cfg.Linger > 0 {
		opts = append(opts, kgo.ProducerLinger(cfg.Linger))
	}
	if cfg.TLS || cfg.TLSCAFile != "" || cfg.TLSCertFile != "" {
		tc, err := cfg.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
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
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka sink: %w", err)
	}
	sk := &Sink{enc: enc, client: client, topic: cfg.Topic}
	sk.batches.New = func() any { return new(batch) }
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
	var wg sync.WaitGroup
	b := s.batches.Get().(*batch)
	defer s.batches.Put(b)
	b.reset(len(recs))
	m := &b.msg
	for i, rec := range recs {
		// The value is encoded straight into the batch's arena, with
		// room for a message a quarter larger than the last one.
		m.Value = b.arena.Room(len(m.Value) + len(m.Value)/4 + 256)
		if err := s.enc.Encode(rec, m); err != nil {
			results[i] = fmt.Errorf("kafka sink: %w", err)
			continue
		}
		r := &b.records[i]
		r.Value = b.arena.Keep(m.Value)
		r.Key = b.arena.CopyString(m.Key)
		start := len(b.headers)
		for _, h := range m.Headers {
			b.headers = append(b.headers, kgo.RecordHeader{Key: h.Name, Value: b.arena.CopyString(h.Value)})
		}
		r.Headers = b.headers[start:len(b.headers):len(b.headers)]
		wg.Add(1)
		s.client.Produce(ctx, r, func(_ *kgo.Record, err error) {
			results[i] = classify(err)
			wg.Done()
		})
	}
	wg.Wait()
}

// A batch is what one Send hands franz-go: its records, their headers and
// their bytes, reused by the next Send once every promise of this one has
// run (franz-go no longer reads a record after its promise), so that a
// steady stream allocates almost nothing per record.
type batch struct {
	records []kgo.Record
	headers []kgo.RecordHeader
	arena   stream.Arena
	msg     stream.Message
}

// reset readies b for n records.
func (b *batch) reset(n int) {
	if cap(b.records) < n {
		b.records = make([]kgo.Record, n)
	}
	b.records = b.records[:n]
	clear(b.records) // franz-go set partitions, offsets, timestamps
	clear(b.headers) // drop references to the last batch's bytes
	b.headers = b.headers[:0]
	b.arena.Reset()
}

// classify: a record too large for the broker is permanent; anything else
// (a broker down, a leader moving, a timeout) is retryable.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) {
		return sinks.Permanent(fmt.Errorf("kafka sink: %w: %w", stream.ErrTooLarge, err))
	}
	return fmt.Errorf("kafka sink: %w", err)
}

// Close flushes nothing (every Send waited for its records) and closes the
// client.
func (s *Sink) Close() error {
	s.client.Close()
	return nil
}
