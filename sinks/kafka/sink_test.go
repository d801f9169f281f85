package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/radrelay/radrelay/dictionary"
	"github.com/radrelay/radrelay/internal/testpki"
	"github.com/radrelay/radrelay/sinks"
	"github.com/radrelay/radrelay/sinks/sinktest"
	"github.com/radrelay/radrelay/sinks/stream"
)

// No Apache Kafka broker can be installed on the machines this is built
// on; these tests run against franz-go's kfake, which speaks the Kafka
// protocol (idempotent produce, acks, SASL) but is not the real broker.

func startCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	// The producer does not create topics (an operator does); every topic
	// newTopic may name exists, with 3 partitions.
	var topics []string
	for i := 1; i <= 64; i++ {
		topics = append(topics, fmt.Sprintf("radius-acct-%d", i))
	}
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(3, topics...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

var topicSeq atomic.Int64

func newTopic() string { return fmt.Sprintf("radius-acct-%d", topicSeq.Add(1)%64+1) }

// consumed is one record read back.
type consumed struct {
	Partition   int32
	ProducerID  int64
	Compression uint8 // the batch's codec: 0 none, 3 lz4, 4 zstd
	Key         string
	Headers     map[string]string
	Value       []byte
	sinktest.Document
}

// readTopic reads every record of topic from the start, as a consumer
// would, up to the end offsets the broker reports now.
func readTopic(t testing.TB, brokers []string, topic string) []consumed {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for p := int32(0); p < 3; p++ {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = p, -1 // the end
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				t.Fatal(err)
			}
			total += rp.Offset
		}
	}
	var out []consumed
	for int64(len(out)) < total {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of the topic's %d records: %v", len(out), total, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			c := consumed{Partition: r.Partition, ProducerID: r.ProducerID, Compression: r.Attrs.CompressionType(), Key: string(r.Key), Headers: map[string]string{}, Value: r.Value}
			for _, h := range r.Headers {
				c.Headers[h.Key] = string(h.Value)
			}
			var err error
			if c.Document, err = sinktest.ParseDocument(r.Value); err != nil {
				t.Fatalf("record is not JSON: %v", err)
			}
			out = append(out, c)
		})
	}
	return out
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
	c := startCluster(t)
	var topic string
	sinktest.Run(t, sinktest.Harness{
		New: func(t *testing.T) sinks.Sink {
			topic = newTopic()
			return openSink(t, Config{Brokers: c.ListenAddrs(), Topic: topic})
		},
		Delivered: func(t *testing.T) []string {
			var ids []string
			for _, r := range readTopic(t, c.ListenAddrs(), topic) {
				ids = append(ids, r.Session)
			}
			return ids
		},
	})
}

// TestContract: key, headers and value follow sinks/stream, a session's
// records share a partition and keep their order, for every compression.
func TestContract(t *testing.T) {
	c := startCluster(t)
	for _, comp := range []string{"zstd", "lz4", "none"} {
		t.Run(comp, func(t *testing.T) {
			topic := newTopic()
			s := openSink(t, Config{Brokers: c.ListenAddrs(), Topic: topic, Compression: comp})
			// Several pieces encoded in parallel (Send): per-session
			// order holds across them.
			recs := sinktest.Records(3*encodePiece + 90)
			results := make([]error, len(recs))
			s.Send(context.Background(), recs, results)
			s.Close()
			for i, err := range results {
				if err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
			}
			got := readTopic(t, c.ListenAddrs(), topic)
			if len(got) != len(recs) {
				t.Fatalf("the topic holds %d records, want %d", len(got), len(recs))
			}
			part := map[string]int32{}
			last := map[string]int64{}
			for _, r := range got {
				if p, ok := part[r.Key]; ok && p != r.Partition {
					t.Errorf("key %s on partitions %d and %d", r.Key, p, r.Partition)
				}
				part[r.Key] = r.Partition
				if r.Time < last[r.Session] {
					t.Errorf("session %s out of order", r.Session)
				}
				last[r.Session] = r.Time
				if !strings.Contains(r.Key, r.Session) && r.Key == "" {
					t.Errorf("record of %s has key %q", r.Session, r.Key)
				}
				if r.Headers[stream.HeaderSchema] != "1" || r.Headers[stream.HeaderStatusType] == "" || !strings.HasPrefix(r.Headers[stream.HeaderSource], "sinktest:") || len(r.Headers[stream.HeaderID]) != 32 {
					t.Errorf("headers %v", r.Headers)
				}
				if want := map[string]uint8{"none": 0, "lz4": 3, "zstd": 4}[comp]; r.Compression != want {
					t.Errorf("a batch compressed with codec %d, want %d (%s)", r.Compression, want, comp)
				}
				if r.Fields["schema_version"] != float64(1) {
					t.Errorf("schema_version %v", r.Fields["schema_version"])
				}
			}
		})
	}
}

// TestBatchesReused: the sink reuses a batch's records, headers and bytes
// for the next Send; every record of several Sends of different sizes
// (one with a value larger than the room it was encoded into, one too
// large to send) arrives with exactly the key, headers and value the
// stream encoder makes for it.
func TestBatchesReused(t *testing.T) {
	c := startCluster(t)
	topic := newTopic()
	s := openSink(t, Config{Brokers: c.ListenAddrs(), Topic: topic, Compression: "lz4", MaxMessageBytes: 64 << 10})
	enc, err := stream.NewEncoder(stream.Options{MaxBytes: 64 << 10, Dictionary: dictionaryOf(t)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]stream.Message{} // by Radrelay-Id
	all := sinktest.Records(1300)
	sent := 0
	for i, n := range []int{150, 7, 700, 1, 300, 22} { // 700, 300: several pieces
		recs := all[sent : sent+n]
		sent += n
		if i == 2 {
			recs[5] = sinktest.Oversized(recs[5], 9000)      // past the room of the last message
			recs[600] = sinktest.Oversized(recs[600], 80000) // past the limit, in a later piece
		}
		results := make([]error, len(recs))
		s.Send(context.Background(), recs, results)
		for k, rec := range recs {
			var m stream.Message
			encErr := enc.Encode(rec, &m)
			if (encErr != nil) != (results[k] != nil) {
				t.Fatalf("send %d, record %d: %v; the encoder says %v", i, k, results[k], encErr)
			}
			if encErr == nil {
				m.Headers = append([]stream.Header(nil), m.Headers...)
				want[m.ID] = m
			}
		}
	}
	s.Close()
	got := readTopic(t, c.ListenAddrs(), topic)
	if len(got) != len(want) {
		t.Fatalf("the topic holds %d records, want %d", len(got), len(want))
	}
	for _, r := range got {
		m, ok := want[r.Headers[stream.HeaderID]]
		if !ok {
			t.Fatalf("a record with identity %q that was not sent", r.Headers[stream.HeaderID])
		}
		if r.Key != m.Key || string(r.Value) != string(m.Value) || len(r.Headers) != len(m.Headers) {
			t.Fatalf("record %s:\nkey %q value %s\nwant key %q value %s", m.ID, r.Key, r.Value, m.Key, m.Value)
		}
		for _, h := range m.Headers {
			if r.Headers[h.Name] != h.Value {
				t.Fatalf("record %s: header %s = %q, want %q", m.ID, h.Name, r.Headers[h.Name], h.Value)
			}
		}
		delete(want, m.ID)
	}
}

func dictionaryOf(t *testing.T) *dictionary.Dictionary {
	t.Helper()
	d, err := stream.Dictionary(sinks.Env{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestTooLargeIsPermanent: over the sink's limit (max_message_bytes, at most
// the broker's message.max.bytes), a record fails permanently; the others,
// batched no larger than the limit, are delivered.
func TestTooLargeIsPermanent(t *testing.T) {
	c := startCluster(t, kfake.BrokerConfigs(map[string]string{"message.max.bytes": "4096"}))
	recs := sinktest.Records(2*encodePiece + 3) // in the second of three pieces encoded in parallel
	big := encodePiece + 1
	recs[big] = sinktest.Oversized(recs[big], 8000)
	for _, limit := range []int{2048, 4096} { // below the broker's, the broker's
		topic := newTopic()
		s := openSink(t, Config{Brokers: c.ListenAddrs(), Topic: topic, MaxMessageBytes: limit, Compression: "none"})
		results := make([]error, len(recs))
		s.Send(context.Background(), recs, results)
		s.Close()
		for i, err := range results {
			if i != big && err != nil {
				t.Errorf("limit %d: small record %d failed: %v", limit, i, err)
			}
		}
		if !sinks.IsPermanent(results[big]) || !errors.Is(results[big], stream.ErrTooLarge) {
			t.Errorf("limit %d: the large record's outcome is %v, want a permanent too-large error", limit, results[big])
		}
		if got := len(readTopic(t, c.ListenAddrs(), topic)); got != len(recs)-1 {
			t.Errorf("limit %d: the topic holds %d records, want %d", limit, got, len(recs)-1)
		}
	}
}

// TestSASL: PLAIN and SCRAM authenticate against a broker that requires
// SASL; a wrong password is a retryable failure, never a delivery.
func TestSASL(t *testing.T) {
	c := startCluster(t, kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "plainuser", "plainpw"),
		kfake.Superuser("SCRAM-SHA-256", "scram256", "pw256"),
		kfake.Superuser("SCRAM-SHA-512", "scram512", "pw512"))
	dir := t.TempDir()
	for _, tc := range []struct{ mech, user, pw string }{
		{"PLAIN", "plainuser", "plainpw"}, {"SCRAM-SHA-256", "scram256", "pw256"}, {"SCRAM-SHA-512", "scram512", "pw512"},
	} {
		t.Run(tc.mech, func(t *testing.T) {
			pwFile := filepath.Join(dir, tc.user)
			if err := os.WriteFile(pwFile, []byte(tc.pw+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := Config{Brokers: c.ListenAddrs(), Topic: newTopic(), SASLMechanism: tc.mech, SASLUser: tc.user, SASLPasswordFile: pwFile}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			s := openSink(t, cfg)
			results := make([]error, 3)
			s.Send(context.Background(), sinktest.Records(3), results)
			s.Close()
			for _, err := range results {
				if err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestTLS: with tls_ca_file the sink verifies the broker and produces over
// TLS; without the CA it cannot, and the failure is retryable.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, dir, "kafka-ca")
	pair := ca.Issue(t, "kafka-broker", testpki.Options{})
	cert, err := tls.LoadX509KeyPair(pair.CertFile, pair.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	c := startCluster(t, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}}))
	for _, tc := range []struct {
		name  string
		cfg   Config
		fails bool
	}{
		{"verified", Config{TLSCAFile: ca.File}, false},
		{"unknown CA", Config{TLS: true, DeliveryTimeout: 2 * time.Second}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Brokers, cfg.Topic = c.ListenAddrs(), newTopic()
			s := openSink(t, cfg)
			results := make([]error, 3)
			s.Send(context.Background(), sinktest.Records(3), results)
			s.Close()
			for _, err := range results {
				if tc.fails && (err == nil || sinks.IsPermanent(err)) {
					t.Fatalf("outcome %v, want a retryable failure", err)
				}
				if !tc.fails && err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestMissingTopicSaysCreateIt: a topic the brokers do not have fails
// retryably (the operator may create it), with an error that says so.
func TestMissingTopicSaysCreateIt(t *testing.T) {
	c := startCluster(t)
	s := openSink(t, Config{Brokers: c.ListenAddrs(), Topic: "no-such-topic", Compression: "none"})
	defer s.Close()
	results := make([]error, 1)
	s.Send(context.Background(), sinktest.Records(1), results)
	err := results[0]
	if err == nil || sinks.IsPermanent(err) {
		t.Fatalf("outcome %v, want a retryable failure", err)
	}
	if !strings.Contains(err.Error(), "the topic does not exist on the brokers: create it") {
		t.Errorf("error %q does not say to create the topic", err)
	}
}
