// Package kafka is the sink that produces accounting records to a Kafka
// topic, as messages of the stream-record contract (package sinks/stream),
// with franz-go: an idempotent producer, acks=all, compressed batches. A
// record is delivered when its produce promise succeeds (every in-sync
// replica has it). It is a thin adapter: what a message holds is
// sinks/stream's, exercised for real by the JetStream sink's tests.
package kafka

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultDeliveryTimeout bounds how long one record may wait for its
// acknowledgement before it fails (retryably; the tailer sends it again).
const DefaultDeliveryTimeout = 30 * time.Second

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
	// Linger is how long a partition's batch may wait for more records.
	Linger time.Duration `toml:"linger"`
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
	rest, ok := strings.CutPrefix(raw, "kafka://")
	if !ok {
		if len(raw) >= 8 && strings.EqualFold(raw[:8], "kafka://") {
			rest = raw[8:]
		} else {
			return c, fmt.Errorf("kafka sink URL: want kafka://broker:9092/TOPIC")
		}
	}
	hosts, pathQuery, _ := strings.Cut(rest, "/")
	path, query, _ := strings.Cut(pathQuery, "?")
	if strings.Contains(hosts, "@") {
		return c, fmt.Errorf("kafka sink URL: no user or password in the URL (it shows in ps): use sasl_user with sasl_password_file or sasl_password_env")
	}
	if hosts == "" {
		return c, fmt.Errorf("kafka sink URL: no broker: want kafka://broker:9092/TOPIC")
	}
	c.Brokers = strings.Split(hosts, ",")
	topic, err := url.PathUnescape(path)
	if err != nil {
		return c, fmt.Errorf("kafka sink URL: topic: %w", err)
	}
	c.Topic = topic
	vals, err := url.ParseQuery(query)
	if err != nil {
		return c, fmt.Errorf("kafka sink URL: options: %w", err)
	}
	for k, v := range vals {
		val := v[len(v)-1]
		var perr error
		switch k {
		case "key":
			c.Key = val
		case "max_message_bytes":
			c.MaxMessageBytes, perr = strconv.Atoi(val)
		case "compression":
			c.Compression = val
		case "delivery_timeout":
			c.DeliveryTimeout, perr = time.ParseDuration(val)
		case "linger":
			c.Linger, perr = time.ParseDuration(val)
		case "tls":
			switch strings.ToLower(val) {
			case "yes", "true", "1", "on":
				c.TLS = true
			case "no", "false", "0", "off":
			default:
				perr = fmt.Errorf("want yes or no")
			}
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
			return c, fmt.Errorf("kafka sink URL: %s is not accepted in a URL (it shows in ps): use sasl_password_file or sasl_password_env", k)
		default:
			return c, fmt.Errorf("kafka sink URL: unknown option %q", k)
		}
		if perr != nil {
			return c, fmt.Errorf("kafka sink URL: %s=%q: not a valid value", k, val)
		}
	}
	return c, nil
}
