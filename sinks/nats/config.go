// Package nats is the sink that publishes accounting records to a NATS
// JetStream stream, as messages of the stream-record contract (package
// sinks/stream). A batch of records is published as one JetStream fast
// batch (batch.go): the stream stores a prefix of it, in order, and one
// PubAck says how long; a record is delivered when that PubAck covers it.
// A stream that takes no fast batches gets a PubAck per record, many in
// flight. Every message has an id derived from its content, so the
// stream's de-duplication drops the copies an at-least-once restart sends
// again.
package nats

import (
	"strconv"
	"time"

	"github.com/radrelay/radrelay/sinks/stream"
)

// Defaults.
const (
	DefaultMaxPending      = 4096
	DefaultPublishTimeout  = 10 * time.Second
	DefaultDuplicateWindow = 2 * time.Minute
)

// Config configures a JetStream sink: the keys of its [[sink]] table.
type Config struct {
	// Servers are the NATS URLs (nats://host:4222, tls://host:4222).
	Servers []string `toml:"servers"`
	// Subject is where every record is published; Stream is the stream that
	// captures it.
	Subject string `toml:"subject"`
	Stream  string `toml:"stream"`
	// CreateStream creates the stream (or updates its settings) at start,
	// with Storage, Replicas, Retention, MaxAge and DuplicateWindow.
	CreateStream bool   `toml:"create_stream"`
	Storage      string `toml:"storage"` // file (default) or memory
	// Replicas, 1 to 5; 0 (not set): 1 for a stream create_stream makes,
	// and an existing stream's own count kept (an operator who did not ask
	// for a count must not have their R3 stream scaled down).
	Replicas        int           `toml:"replicas,omitempty"`
	Retention       string        `toml:"retention"` // limits (default), interest, workqueue
	MaxAge          time.Duration `toml:"max_age"`   // 0: keep for ever
	DuplicateWindow time.Duration `toml:"duplicate_window"`
	// Key, MaxMessageBytes: the stream-record contract (sinks/stream).
	Key             string `toml:"key"`
	MaxMessageBytes int    `toml:"max_message_bytes"`
	// BatchPublish publishes each batch of records as a JetStream fast
	// batch (one PubAck per batch; the stream must allow it, which
	// create_stream does); false, a replicated stream (see Open) or a
	// stream that does not allow it publishes with a PubAck per record.
	// Default true.
	BatchPublish *bool `toml:"batch_publish"`
	// MaxPending is how many publishes may await their PubAck at once;
	// PublishTimeout how long one may wait before it is retried.
	MaxPending     int           `toml:"max_pending"`
	PublishTimeout time.Duration `toml:"publish_timeout"`
	// Authentication: a credentials file (JWT and NKey seed), an NKey seed
	// file, or a token (from a file or a variable); at most one.
	CredentialsFile string `toml:"credentials_file"`
	NKeyFile        string `toml:"nkey_file"`
	TokenFile       string `toml:"token_file"`
	TokenEnv        string `toml:"token_env"`
	// TLS: a CA bundle to verify the servers with, and a client
	// certificate; TLS is used when any is set or a URL is tls://.
	TLSCAFile   string `toml:"tls_ca_file"`
	TLSCertFile string `toml:"tls_cert_file"`
	TLSKeyFile  string `toml:"tls_key_file"`
}

// WithDefaults returns c with every unset key at the value the sink uses.
func (c Config) WithDefaults() Config {
	if c.Storage == "" {
		c.Storage = "file"
	}
	if c.Retention == "" {
		c.Retention = "limits"
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = DefaultDuplicateWindow
	}
	if c.Key == "" {
		c.Key = "Acct-Unique-Session-Id"
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = 1 << 20
	}
	if c.MaxPending == 0 {
		c.MaxPending = DefaultMaxPending
	}
	if c.PublishTimeout == 0 {
		c.PublishTimeout = DefaultPublishTimeout
	}
	on := c.batchPublish()
	c.BatchPublish = &on
	return c
}

// batchPublish is batch_publish with its default (true).
func (c Config) batchPublish() bool { return c.BatchPublish == nil || *c.BatchPublish }

// ConfigFromURL parses the URL form:
//
//	nats://host:4222/SUBJECT?stream=NAME
//	nats://h1:4222,h2:4222/radius.acct?stream=RADIUS&create_stream=yes&replicas=3
//	tls://host:4222/radius.acct?stream=RADIUS&tls_ca_file=/etc/radrelay/ca.pem
//
// Every key of the [[sink]] table but the token may be given as a query
// parameter; a secret is never accepted in the URL (no user:password, no
// token): use credentials_file, nkey_file, token_file or token_env.
func ConfigFromURL(raw string) (Config, error) {
	var c Config
	u, err := stream.ParseURL(urlForm, raw)
	if err != nil {
		return c, err
	}
	for _, h := range u.Hosts {
		c.Servers = append(c.Servers, u.Scheme+"://"+h)
	}
	c.Subject = u.Name
	err = u.EachOption(func(k, val string) error {
		var err error
		switch k {
		case "stream":
			c.Stream = val
		case "create_stream":
			c.CreateStream, err = stream.ParseBool(val)
		case "storage":
			c.Storage = val
		case "replicas":
			c.Replicas, err = strconv.Atoi(val)
		case "retention":
			c.Retention = val
		case "max_age":
			c.MaxAge, err = time.ParseDuration(val)
		case "duplicate_window":
			c.DuplicateWindow, err = time.ParseDuration(val)
		case "key":
			c.Key = val
		case "max_message_bytes":
			c.MaxMessageBytes, err = strconv.Atoi(val)
		case "batch_publish":
			var on bool
			on, err = stream.ParseBool(val)
			c.BatchPublish = &on
		case "max_pending":
			c.MaxPending, err = strconv.Atoi(val)
		case "publish_timeout":
			c.PublishTimeout, err = time.ParseDuration(val)
		case "credentials_file":
			c.CredentialsFile = val
		case "nkey_file":
			c.NKeyFile = val
		case "token_file":
			c.TokenFile = val
		case "token_env":
			c.TokenEnv = val
		case "tls_ca_file":
			c.TLSCAFile = val
		case "tls_cert_file":
			c.TLSCertFile = val
		case "tls_key_file":
			c.TLSKeyFile = val
		case "token", "password", "user":
			return &stream.RefusedOption{Reason: "use token_file or token_env"}
		default:
			return stream.ErrUnknownOption
		}
		return err
	})
	return c, err
}

// urlForm is the nats sink's URL form; any scheme nats.go takes (nats,
// tls, ws, wss) is passed on.
var urlForm = stream.URLForm{
	Sink:     "nats",
	Example:  "nats://host:4222/SUBJECT?stream=NAME",
	Host:     "server",
	Path:     "subject",
	NoSecret: "no user, password or token in the URL (it shows in ps): use credentials_file, nkey_file, token_file or token_env",
}
