package nats

import (
	"context"
	"errors"
	"regexp"
	"strings"

	"github.com/radrelay/radrelay/sinks"
	"github.com/radrelay/radrelay/sinks/stream"
)

// Type is the JetStream sink as the configuration knows it: [[sink]] type =
// "nats" or a nats:// (tls://) URL.
var Type = &sinks.Type{
	Name:      "nats",
	Schemes:   []string{"nats"},
	NewConfig: func() sinks.Config { return new(Config) },
	FromURL:   sinks.URLParser(ConfigFromURL),
	// One batch at a time, all of it in flight at once: a fast batch
	// (the next waits for this one's PubAck, so that the stream keeps the
	// file's order), or with a PubAck per record, where a session's next
	// record also waits for the PubAck of the one before it.
	Window: 4096,
	Batch:  4096,
}

func init() { sinks.Register(Type) }

var streamName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Validate implements sinks.Config.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Servers) == 0 {
		errs = append(errs, sinks.Errorf("servers", "no server: want e.g. [\"nats://127.0.0.1:4222\"]"))
	}
	for i, s := range c.Servers {
		low := strings.ToLower(s)
		if !strings.HasPrefix(low, "nats://") && !strings.HasPrefix(low, "tls://") {
			errs = append(errs, sinks.Errorf("servers", "server %d: want nats://host:port or tls://host:port", i+1))
		} else if strings.Contains(s, "@") {
			errs = append(errs, sinks.Errorf("servers", "server %d: no user, password or token in a server URL: use credentials_file, nkey_file, token_file or token_env", i+1))
		}
	}
	switch {
	case c.Subject == "":
		errs = append(errs, sinks.Errorf("subject", "no subject: want e.g. radius.accounting"))
	case strings.ContainsAny(c.Subject, " \t*>") || strings.HasPrefix(c.Subject, ".") || strings.HasSuffix(c.Subject, ".") || strings.Contains(c.Subject, ".."):
		errs = append(errs, sinks.Errorf("subject", "%q: want a literal subject (tokens separated by dots, no wildcards)", c.Subject))
	}
	if c.Stream == "" {
		errs = append(errs, sinks.Errorf("stream", "no stream: name the stream that captures the subject"))
	} else if !streamName.MatchString(c.Stream) {
		errs = append(errs, sinks.Errorf("stream", "%q: want letters, digits, _ and -", c.Stream))
	}
	switch strings.ToLower(c.Storage) {
	case "", "file", "memory":
	default:
		errs = append(errs, sinks.Errorf("storage", "%q is not file or memory", c.Storage))
	}
	switch strings.ToLower(c.Retention) {
	case "", "limits", "interest", "workqueue":
	default:
		errs = append(errs, sinks.Errorf("retention", "%q is not limits, interest or workqueue", c.Retention))
	}
	if c.Replicas < 0 || c.Replicas > 5 {
		errs = append(errs, sinks.Errorf("replicas", "%d: want 1 to 5", c.Replicas))
	}
	if c.MaxAge < 0 {
		errs = append(errs, sinks.Errorf("max_age", "cannot be negative"))
	}
	if c.DuplicateWindow < 0 {
		errs = append(errs, sinks.Errorf("duplicate_window", "cannot be negative"))
	}
	if _, err := stream.ParseKey(c.Key); err != nil {
		errs = append(errs, sinks.Errorf("key", "%v", err))
	}
	if c.MaxMessageBytes < 0 {
		errs = append(errs, sinks.Errorf("max_message_bytes", "cannot be negative"))
	}
	if c.MaxPending < 0 {
		errs = append(errs, sinks.Errorf("max_pending", "cannot be negative"))
	}
	if c.PublishTimeout < 0 {
		errs = append(errs, sinks.Errorf("publish_timeout", "cannot be negative"))
	}
	n := 0
	for _, s := range []string{c.CredentialsFile, c.NKeyFile, c.TokenFile, c.TokenEnv} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		errs = append(errs, sinks.Errorf("credentials_file", "credentials_file, nkey_file, token_file and token_env are alternatives: set one"))
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, sinks.Errorf("tls_cert_file", "tls_cert_file and tls_key_file go together"))
	}
	return errors.Join(errs...)
}

// CheckEnvironment implements sinks.EnvironmentChecker: the files it reads
// are readable and the token variable is set.
func (c *Config) CheckEnvironment() error {
	return stream.CheckEnvironment([][2]string{
		{"credentials_file", c.CredentialsFile}, {"nkey_file", c.NKeyFile}, {"token_file", c.TokenFile},
		{"tls_ca_file", c.TLSCAFile}, {"tls_cert_file", c.TLSCertFile}, {"tls_key_file", c.TLSKeyFile},
	}, "token_env", c.TokenEnv)
}

// Effective implements sinks.Config.
func (c *Config) Effective() sinks.Config { d := c.WithDefaults(); return &d }

// Redacted implements sinks.Config: the configuration holds no secret
// itself, only the names of the files and variables that do.
func (c *Config) Redacted() sinks.Config {
	r := *c
	r.Servers = append([]string(nil), c.Servers...)
	return &r
}

// Open implements sinks.Config.
func (c *Config) Open(ctx context.Context, env sinks.Env) (sinks.Sink, error) {
	return Open(ctx, *c, env)
}
