package nats

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/radrelay/radrelay/sinks"
	"github.com/radrelay/radrelay/sinks/stream"
)

// Type is the JetStream sink as the configuration knows it: [[sink]] type =
// "nats" or a nats:// (tls://) URL.
var Type = &sinks.Type{
	Name: "nats",
	// tls:// is the URL of a NATS server over TLS (docs/streams.md); no
	// other sink has a URL of that scheme.
	Schemes:   []string{"nats", "tls"},
	NewConfig: func() sinks.Config { return new(Config) },
	FromURL:   sinks.URLParser(ConfigFromURL),
	// One batch at a time (a fast batch: the next waits for this one's
	// PubAck, so that the stream keeps the file's order; or with a PubAck
	// per record, where a session's next record also waits for the
	// PubAck of the one before it), and room in the window for the next
	// batch: it is read and parsed while this one is published and
	// stored, so that the server has it at once when this one's PubAck
	// comes (with a window of one batch, the server sat idle while
	// radrelay read each batch).
	Window: 8192,
	Batch:  4096,
}

func init() { sinks.Register(Type) }

var streamName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// literalSubject reports whether s is a subject a message can be published
// on: tokens separated by dots, no wildcards, nothing that would break the
// protocol line (the connection skips its own check, see options).
func literalSubject(s string) bool {
	return s != "" && !strings.ContainsAny(s, " \t\r\n*>") && !strings.HasPrefix(s, ".") && !strings.HasSuffix(s, ".") && !strings.Contains(s, "..")
}

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
		} else if err := checkHostPort(s[strings.Index(s, "://")+3:]); err != nil {
			// Found here, not when the client first dials: a server
			// that can never be reached is a configuration error.
			errs = append(errs, sinks.Errorf("servers", "server %d (%q): %v", i+1, s, err))
		}
	}
	switch {
	case c.Subject == "":
		errs = append(errs, sinks.Errorf("subject", "no subject: want e.g. radius.accounting"))
	case !literalSubject(c.Subject):
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
	if d := c.WithDefaults().DuplicateWindow; c.CreateStream && c.MaxAge > 0 && d > c.MaxAge {
		// The server refuses such a stream: create_stream would fail
		// (retryably) for ever.
		errs = append(errs, sinks.Errorf("duplicate_window", "%v is longer than max_age %v: a stream cannot remember message ids longer than it keeps messages", d, c.MaxAge))
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

// checkHostPort checks a server's host[:port] (the port may be left out:
// 4222).
func checkHostPort(hp string) error {
	hp, _, _ = strings.Cut(hp, "/")
	if hp == "" {
		return errors.New("no host: want nats://host:port")
	}
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		if strings.Contains(err.Error(), "missing port") {
			return nil // nats://host: the default port
		}
		return fmt.Errorf("want host:port")
	}
	if host == "" {
		return errors.New("no host: want nats://host:port")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 1 to 65535", port)
	}
	return nil
}

// CheckEnvironment implements sinks.EnvironmentChecker: the files it reads
// are readable and the token variable is set.
func (c *Config) CheckEnvironment() error {
	err := stream.CheckEnvironment([][2]string{
		{"credentials_file", c.CredentialsFile}, {"nkey_file", c.NKeyFile}, {"token_file", c.TokenFile},
		{"tls_ca_file", c.TLSCAFile}, {"tls_cert_file", c.TLSCertFile}, {"tls_key_file", c.TLSKeyFile},
	}, "token_env", c.TokenEnv)
	if c.NKeyFile != "" {
		// The seed is read when the sink opens: a file without one
		// would stop radrelay run there. (nkeys' errors quote no key.)
		if _, serr := nats.NkeyOptionFromSeed(c.NKeyFile); serr != nil && !errors.Is(serr, os.ErrNotExist) && !errors.Is(serr, os.ErrPermission) {
			err = errors.Join(err, sinks.Errorf("nkey_file", "%v", serr))
		}
	}
	return err
}

// Effective implements sinks.Config. The stream settings that create_stream
// applies only when they are set (storage, retention, duplicate_window)
// stay unset: an unset one means "the existing stream's own, radrelay's
// default on a stream it creates", and the printed configuration, fed back
// to radrelay, must mean the same (a printed storage = "file" would be a
// setting a memory stream cannot take).
func (c *Config) Effective() sinks.Config {
	d := c.WithDefaults()
	d.Storage, d.Retention, d.DuplicateWindow = c.Storage, c.Retention, c.DuplicateWindow
	return &d
}

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
