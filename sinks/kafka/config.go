// Package kafka is the sink that produces accounting records to a Kafka
// topic, as messages of the stream-record contract (package sinks/stream),
// with franz-go: an idempotent producer, acks=all, compressed batches. A
// record is delivered when its produce promise succeeds (every in-sync
// replica has it). It is a thin adapter: what a message holds is
// sinks/stream's, exercised for real by the JetStream sink's tests.
package kafka

import (
	"runtime"
	"strconv"
	"time"

	"github.com/radrelay/radrelay/sinks/stream"
)

// DefaultDeliveryTimeout bounds how long one record may wait for its
// acknowledgement before it fails (retryably; the tailer sends it again).
const DefaultDeliveryTimeout = 30 * time.Second

// MaxProducers bounds the producers key.
const MaxProducers = 16

// DefaultProducers is the number of producers when none is configured: as
// many as radrelay has cores (GOMAXPROCS), at most 4. franz-go serializes
// and compresses every produce request to a broker on that connection's
// one goroutine: with fewer brokers than cores (a single broker, as a test
// cluster) one core compresses all the records while the others wait
// (docs/benchmarks.md, "The Kafka producer's one goroutine per broker").
func DefaultProducers() int { return min(runtime.GOMAXPROCS(0), 4) }

// Config configures a Kafka sink: the keys of its [[sink]] table.
type Config struct {
	// Brokers are the seed brokers, host:port.
	Brokers []string `toml:"brokers"`
	// Topic is where every record goes; a record's partition follows its key.
	Topic string `toml:"topic"`
	// Key, MaxMessageBytes: the stream-record contract (sinks/stream).
	Key             string `toml:"key"`
	MaxMessageBytes int    `toml:"max_message_bytes"`
	// Compression of record batches: zstd (default), lz4, snappy, gzip, none.
	Compression string `toml:"compression"`
	// DeliveryTimeout: see DefaultDeliveryTimeout.
	DeliveryTimeout time.Duration `toml:"delivery_timeout"`
	// Linger is how long a partition's batch may wait for more records
	// (0, the default: a Send waits for all its records, so lingering
	// would only hold back its last batches).
	Linger time.Duration `toml:"linger"`
	// Producers is how many producers (franz-go clients, each with its
	// own connection to every broker) share the records, by key; 0 means
	// DefaultProducers.
	Producers int `toml:"producers"`
	// TLS: set tls (or any file) to connect with TLS.
	TLS         bool   `toml:"tls"`
	TLSCAFile   string `toml:"tls_ca_file"`
	TLSCertFile string `toml:"tls_cert_file"`
	TLSKeyFile  string `toml:"tls_key_file"`
	// SASL: mechanism PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, with a user and
	// a password from a file (first line) or a variable.
	SASLMechanism    string `toml:"sasl_mechanism"`
	SASLUser         string `toml:"sasl_user"`
	SASLPasswordFile string `toml:"sasl_password_file"`
	SASLPasswordEnv  string `toml:"sasl_password_env"`

	// handshakeTimeout replaces tlsHandshakeTimeout in tests (0: that).
	handshakeTimeout time.Duration
}

// WithDefaults returns c with every unset key at the value the sink uses.
func (c Config) WithDefaults() Config {
	if c.Key == "" {
		c.Key = "Acct-Unique-Session-Id"
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = 1 << 20
	}
	if c.Compression == "" {
		c.Compression = "zstd"
	}
	if c.DeliveryTimeout == 0 {
		c.DeliveryTimeout = DefaultDeliveryTimeout
	}
	if c.Producers == 0 {
		c.Producers = DefaultProducers()
	}
	return c
}

// ConfigFromURL parses the URL form:
//
//	kafka://broker1:9092,broker2:9092/TOPIC
//	kafka://broker1:9093/radius-acct?tls=yes&sasl_mechanism=SCRAM-SHA-512&sasl_user=radrelay&sasl_password_file=/etc/radrelay/kafka.pw
//
// Every key of the [[sink]] table but a password may be a query parameter.
func ConfigFromURL(raw string) (Config, error) {
	var c Config
	u, err := stream.ParseURL(urlForm, raw)
	if err != nil {
		return c, err
	}
	c.Brokers, c.Topic = u.Hosts, u.Name
	err = u.EachOption(func(k, val string) error {
		var err error
		switch k {
		case "key":
			c.Key = val
		case "max_message_bytes":
			c.MaxMessageBytes, err = strconv.Atoi(val)
		case "compression":
			c.Compression = val
		case "delivery_timeout":
			c.DeliveryTimeout, err = time.ParseDuration(val)
		case "linger":
			c.Linger, err = time.ParseDuration(val)
		case "producers":
			c.Producers, err = strconv.Atoi(val)
		case "tls":
			c.TLS, err = stream.ParseBool(val)
		case "tls_ca_file":
			c.TLSCAFile = val
		case "tls_cert_file":
			c.TLSCertFile = val
		case "tls_key_file":
			c.TLSKeyFile = val
		case "sasl_mechanism":
			c.SASLMechanism = val
		case "sasl_user":
			c.SASLUser = val
		case "sasl_password_file":
			c.SASLPasswordFile = val
		case "sasl_password_env":
			c.SASLPasswordEnv = val
		case "password", "sasl_password":
			return &stream.RefusedOption{Reason: "use sasl_password_file or sasl_password_env"}
		default:
			return stream.ErrUnknownOption
		}
		return err
	})
	return c, err
}

// urlForm is the kafka sink's URL form.
var urlForm = stream.URLForm{
	Sink:     "kafka",
	Example:  "kafka://broker:9092/TOPIC",
	Schemes:  []string{"kafka"},
	Host:     "broker",
	Path:     "topic",
	NoSecret: "no user or password in the URL (it shows in ps): use sasl_user with sasl_password_file or sasl_password_env",
}
