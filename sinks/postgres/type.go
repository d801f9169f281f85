package postgres

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/radrelay/radrelay/sinks"
)

// Type is the postgres sink as the configuration knows it: [[sink]] type =
// "postgres" or a postgres:// (postgresql://) URL.
var Type = &sinks.Type{
	Name:      "postgres",
	Schemes:   []string{"postgres", "postgresql"},
	NewConfig: func() sinks.Config { return new(Config) },
	FromURL:   sinks.URLParser(ConfigFromURL),
	RedactURL: RedactDSN,
	// PostgreSQL wants thousands of rows per transaction, handed over whole;
	// a window of two transactions lets the tailer read and parse the next
	// one while the database writes this one (Send is still called for one
	// batch at a time, so per-session order holds).
	Window: 2 * DefaultTransactionSize,
	Batch:  DefaultTransactionSize,
}

func init() { sinks.Register(Type) }

// errDSNSyntax is the error for a DSN that does not parse. The DSN and the
// driver's message (which quotes it) are not shown: they may hold a password.
var errDSNSyntax = errors.New("postgres sink: the DSN does not parse as a postgres:// URL or as keyword=value pairs (it is not shown: it may hold a password)")

// ParseDSN parses a DSN for a connection of its own ("radrelay sql"). Its
// error never quotes the DSN, nor the driver's message (which does).
func ParseDSN(dsn string) (*pgx.ConnConfig, error) {
	c, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, errDSNSyntax
	}
	return c, nil
}

// RedactError is err's message without any password dsn holds.
func RedactError(err error, dsn string) string { return redactError(err, dsn) }

// dsnField is the key that gives the DSN.
func (c Config) dsnField() string {
	switch {
	case c.DSNFile != "":
		return "dsn_file"
	case c.DSNEnv != "":
		return "dsn_env"
	}
	return "dsn"
}

// Validate implements sinks.Config.
func (c *Config) Validate() error { return c.validate() }

// CheckEnvironment implements sinks.EnvironmentChecker: the DSN readable
// from where it is and parsable (nothing is connected).
func (c *Config) CheckEnvironment() error {
	if c.validate() != nil {
		return nil // which DSN to read is not known
	}
	dsn, err := c.ResolveDSN()
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "postgres sink: ")
		msg = strings.TrimPrefix(strings.TrimPrefix(msg, "dsn_file: "), "dsn_env: ")
		return sinks.Errorf(c.dsnField(), "%s", msg)
	}
	if _, err := pgxpool.ParseConfig(dsn); err != nil {
		return sinks.Errorf(c.dsnField(), "%v", errDSNSyntax)
	}
	return nil
}

// Effective implements sinks.Config.
func (c *Config) Effective() sinks.Config {
	d := c.WithDefaults()
	return &d
}

// Redacted implements sinks.Config: a password in dsn becomes "xxxxx".
func (c *Config) Redacted() sinks.Config {
	r := *c
	if r.DSN != "" {
		r.DSN = RedactDSN(r.DSN)
	}
	return &r
}

// Warnings implements sinks.Warner: a password written into the DSN is
// visible to whoever reads the configuration file or, for a --to URL, ps.
func (c *Config) Warnings() []error {
	if c.DSN != "" && hasInlinePassword(c.DSN) {
		return []error{sinks.Errorf("dsn", "the DSN holds a password, visible to anyone who can read the configuration or the command line (ps): put the DSN in a file named by dsn_file, in an environment variable named by dsn_env, or the password in PGPASSFILE")}
	}
	return nil
}

// Open implements sinks.Config.
func (c *Config) Open(ctx context.Context, env sinks.Env) (sinks.Sink, error) {
	s, err := New(ctx, *c, env.Logger)
	if err != nil {
		return nil, err // not a nil *Sink in a non-nil interface
	}
	return s, nil
}
