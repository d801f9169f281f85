package kafka

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/radrelay/radrelay/sinks"
	"github.com/radrelay/radrelay/sinks/stream"
)

// Type is the Kafka sink as the configuration knows it: [[sink]] type =
// "kafka" or a kafka:// URL.
var Type = &sinks.Type{
	Name:      "kafka",
	Schemes:   []string{"kafka"},
	NewConfig: func() sinks.Config { return new(Config) },
	FromURL:   sinks.URLParser(ConfigFromURL),
	// One batch at a time (records produced in order keep their order
	// per partition; the producer is idempotent), and a window of two
	// batches, so the next batch is read and parsed while this one is
	// produced: 81k -> 96k records/s into kfake, docs/benchmarks.md.
	Window: 8192,
	Batch:  4096,
}

func init() { sinks.Register(Type) }

// Validate implements sinks.Config.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, sinks.Errorf("brokers", "no broker: want e.g. [\"kafka1.example.net:9092\"]"))
	}
	for _, b := range c.Brokers {
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			errs = append(errs, sinks.Errorf("brokers", "%q: want host:port", b))
		}
	}
	if c.Topic == "" {
		errs = append(errs, sinks.Errorf("topic", "no topic"))
	} else if len(c.Topic) > 249 || strings.Trim(c.Topic, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != "" {
		errs = append(errs, sinks.Errorf("topic", "%q: want letters, digits, '.', '_' and '-' (at most 249)", c.Topic))
	}
	if _, err := stream.ParseKey(c.Key); err != nil {
		errs = append(errs, sinks.Errorf("key", "%v", err))
	}
	if c.MaxMessageBytes < 0 {
		errs = append(errs, sinks.Errorf("max_message_bytes", "cannot be negative"))
	}
	if _, err := codec(c.Compression); err != nil {
		errs = append(errs, sinks.Errorf("compression", "%v", err))
	}
	if c.DeliveryTimeout < 0 || c.Linger < 0 {
		errs = append(errs, sinks.Errorf("delivery_timeout", "durations cannot be negative"))
	}
	if c.Linger > time.Minute {
		errs = append(errs, sinks.Errorf("linger", "%s: at most 1m (a Send waits for its records; 0 sends them at once)", c.Linger))
	}
	if c.Producers < 0 || c.Producers > MaxProducers {
		errs = append(errs, sinks.Errorf("producers", "%d: want 1 to %d (0: as many as cores, at most 4)", c.Producers, MaxProducers))
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, sinks.Errorf("tls_cert_file", "tls_cert_file and tls_key_file go together"))
	}
	switch strings.ToUpper(c.SASLMechanism) {
	case "":
		if c.SASLUser != "" || c.SASLPasswordFile != "" || c.SASLPasswordEnv != "" {
			errs = append(errs, sinks.Errorf("sasl_mechanism", "sasl_user and its password need sasl_mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)"))
		}
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if c.SASLUser == "" {
			errs = append(errs, sinks.Errorf("sasl_user", "SASL needs a user"))
		}
		if (c.SASLPasswordFile == "") == (c.SASLPasswordEnv == "") {
			errs = append(errs, sinks.Errorf("sasl_password_file", "SASL needs exactly one of sasl_password_file and sasl_password_env"))
		}
	default:
		errs = append(errs, sinks.Errorf("sasl_mechanism", "%q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.SASLMechanism))
	}
	return errors.Join(errs...)
}

// CheckEnvironment implements sinks.EnvironmentChecker.
func (c *Config) CheckEnvironment() error {
	return stream.CheckEnvironment([][2]string{
		{"sasl_password_file", c.SASLPasswordFile},
		{"tls_ca_file", c.TLSCAFile}, {"tls_cert_file", c.TLSCertFile}, {"tls_key_file", c.TLSKeyFile},
	}, "sasl_password_env", c.SASLPasswordEnv)
}

// Effective implements sinks.Config.
func (c *Config) Effective() sinks.Config { d := c.WithDefaults(); return &d }

// Redacted implements sinks.Config: passwords are only named (file or
// variable), never held.
func (c *Config) Redacted() sinks.Config {
	r := *c
	r.Brokers = append([]string(nil), c.Brokers...)
	return &r
}

// Open implements sinks.Config.
func (c *Config) Open(ctx context.Context, env sinks.Env) (sinks.Sink, error) {
	return Open(ctx, *c, env)
}
