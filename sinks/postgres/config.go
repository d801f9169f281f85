package postgres

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/radrelay/radrelay/sinks"
)

// Config configures the PostgreSQL sink. In radrelay's configuration file it
// is a [[sink]] table with type = "postgres":
//
//	[[sink]]
//	type = "postgres"
//	dsn_file = "/etc/radrelay/pg.dsn"   # or dsn = "postgres://..." or dsn_env = "RADRELAY_PG_DSN"
//	live_sessions = true                # radacct, as FreeRADIUS keeps it
//	history = true                      # every record, partitioned by month
//	transaction_size = 5000
//	statement_timeout = "60s"
//
// Unset booleans take their defaults (live_sessions, history and
// create_schema are on), so the zero Config with a DSN is a working one.
type Config struct {
	// DSN is a libpq connection string, URL ("postgres://user@host/db") or
	// keyword form ("host=... dbname=..."). Prefer DSNFile or DSNEnv for a DSN
	// with a password. Exactly one of DSN, DSNFile and DSNEnv is needed.
	DSN string `toml:"dsn"`
	// DSNFile names a file holding the DSN (surrounding space trimmed).
	DSNFile string `toml:"dsn_file"`
	// DSNEnv names an environment variable holding the DSN.
	DSNEnv string `toml:"dsn_env"`

	// LiveSessions keeps the FreeRADIUS-compatible live-session table
	// (default true), named LiveTable (default "radacct").
	LiveSessions *bool  `toml:"live_sessions"`
	LiveTable    string `toml:"live_table"`
	// History appends every record to the history table (default true),
	// named HistoryTable (default "radrelay_history").
	History      *bool  `toml:"history"`
	HistoryTable string `toml:"history_table"`
	// HistoryAttributesType is the type of the history's attributes
	// column when the sink (or "radrelay sql init") creates the table:
	// "json" (the default) or "jsonb". A json column keeps the text as
	// radrelay writes it, in the record's order; jsonb parses it into
	// PostgreSQL's binary form on every insert, which costs about 7% of
	// the database's CPU per record (docs/benchmarks.md) and gives @>, ?
	// and GIN without a cast. An existing table keeps its type: the sink
	// writes either.
	HistoryAttributesType string `toml:"history_attributes_type"`
	// PartitionsAhead is how many monthly history partitions beyond the
	// current month are created ahead (default 1).
	PartitionsAhead int `toml:"partitions_ahead"`

	// CreateSchema creates or upgrades the tables at start (default true);
	// when false they must exist ("radrelay sql init", or FreeRADIUS's schema.sql
	// for radacct).
	CreateSchema *bool `toml:"create_schema"`
	// StoreClass also writes the Class attribute into radacct.class. Stock
	// FreeRADIUS 3.2 queries leave the column NULL unless their "class"
	// section is uncommented, so the default is false.
	StoreClass bool `toml:"store_class"`

	// TransactionSize is the most records written in one transaction
	// (default 5000). It is the sink's own setting, apart from the tailer's
	// batch_size (records handed to the sink in one Send, which the sink
	// splits into transactions of this size).
	TransactionSize int `toml:"transaction_size"`
	// Connections is how many connections write one transaction's worth
	// of records at once (default 2): the records are split by session
	// (a hash of Acct-Unique-Session-Id), so every session's records are
	// written in order on one connection, while the database works on
	// the other sessions on another. 1 writes everything on one
	// connection, one transaction at a time.
	Connections int `toml:"connections"`
	// StatementTimeout bounds each statement (default 60s); a timeout is
	// retried by the tailer.
	StatementTimeout time.Duration `toml:"statement_timeout"`
	// ConnectTimeout bounds connecting (default 10s).
	ConnectTimeout time.Duration `toml:"connect_timeout"`

	// CloseStaleEvery, when set, closes stale live sessions (see
	// CloseStale) this often while the sink runs (default: never).
	CloseStaleEvery time.Duration `toml:"close_stale_every"`
	// StaleAfter is how long a session without a known interim interval
	// may go without a record before it is stale (default 2h); a session
	// with one is stale after three intervals.
	StaleAfter time.Duration `toml:"stale_after"`
	// StaleCause is the acctterminatecause of a session closed as stale
	// (default "Stale-Session"). A later Interim-Update of such a session
	// reopens it; its real Stop closes it with the real cause.
	StaleCause string `toml:"stale_cause"`

	// DetectReboots closes the open sessions of a NAS that rebooted
	// without sending Accounting-On (default false): a Start reusing the
	// Acct-Session-Id of an open session of its NAS shows the reboot, and
	// the NAS's sessions that started before that session's last record
	// are closed at their own last record (see reboot.go and
	// docs/postgres.md). Leave it off for a NAS whose Acct-Session-Ids are
	// not unique among its live sessions.
	DetectReboots bool `toml:"detect_reboots"`
	// RebootCause is the acctterminatecause of a session closed by
	// reboot detection (default "NAS-Reboot").
	RebootCause string `toml:"reboot_cause"`
	// OpenSessionsEvery is how often the sink counts the open sessions of
	// each NAS for its metrics and "radrelay status" (default 1m), with one
	// grouped query on the open-session index.
	OpenSessionsEvery time.Duration `toml:"open_sessions_every"`
}

// Defaults.
const (
	DefaultLiveTable    = "radacct"
	DefaultHistoryTable = "radrelay_history"
	// DefaultHistoryAttributesType is the attributes column's type of a
	// history table the sink creates.
	DefaultHistoryAttributesType = "json"
	DefaultTransactionSize       = 10000
	DefaultConnections           = 2
	DefaultStatementTimeout      = 60 * time.Second
	DefaultConnectTimeout        = 10 * time.Second
)

func (c Config) liveEnabled() bool    { return c.LiveSessions == nil || *c.LiveSessions }
func (c Config) historyEnabled() bool { return c.History == nil || *c.History }
func (c Config) createSchema() bool   { return c.CreateSchema == nil || *c.CreateSchema }

func (c Config) liveTable() string {
	if c.LiveTable == "" {
		return DefaultLiveTable
	}
	return c.LiveTable
}

func (c Config) historyTable() string {
	if c.HistoryTable == "" {
		return DefaultHistoryTable
	}
	return c.HistoryTable
}

func (c Config) historyAttributesType() string {
	if c.HistoryAttributesType == "" {
		return DefaultHistoryAttributesType
	}
	return strings.ToLower(c.HistoryAttributesType)
}

func (c Config) partitionsAhead() int {
	if c.PartitionsAhead <= 0 {
		return 1
	}
	return c.PartitionsAhead
}

func (c Config) batchSize() int {
	if c.TransactionSize <= 0 {
		return DefaultTransactionSize
	}
	return c.TransactionSize
}

func (c Config) connections() int {
	if c.Connections <= 0 {
		return DefaultConnections
	}
	return c.Connections
}

func (c Config) statementTimeout() time.Duration {
	if c.StatementTimeout <= 0 {
		return DefaultStatementTimeout
	}
	return c.StatementTimeout
}

func (c Config) staleAfter() time.Duration {
	if c.StaleAfter <= 0 {
		return DefaultStaleAfter
	}
	return c.StaleAfter
}

func (c Config) staleCause() string {
	if c.StaleCause == "" {
		return DefaultStaleCause
	}
	return c.StaleCause
}

func (c Config) rebootCause() string {
	if c.RebootCause == "" {
		return DefaultRebootCause
	}
	return c.RebootCause
}

func (c Config) openSessionsEvery() time.Duration {
	if c.OpenSessionsEvery <= 0 {
		return DefaultOpenSessionsEvery
	}
	return c.OpenSessionsEvery
}

func (c Config) connectTimeout() time.Duration {
	if c.ConnectTimeout <= 0 {
		return DefaultConnectTimeout
	}
	return c.ConnectTimeout
}

// WithDefaults returns c with every unset key at the value the sink uses,
// for showing an effective configuration ("radrelay validate --print").
func (c Config) WithDefaults() Config {
	on := func(b *bool) *bool {
		v := b == nil || *b
		return &v
	}
	c.LiveSessions, c.History, c.CreateSchema = on(c.LiveSessions), on(c.History), on(c.CreateSchema)
	c.LiveTable, c.HistoryTable = c.liveTable(), c.historyTable()
	c.HistoryAttributesType = c.historyAttributesType()
	c.PartitionsAhead, c.TransactionSize = c.partitionsAhead(), c.batchSize()
	c.Connections = c.connections()
	c.StatementTimeout, c.ConnectTimeout = c.statementTimeout(), c.connectTimeout()
	c.StaleAfter, c.StaleCause = c.staleAfter(), c.staleCause()
	c.RebootCause, c.OpenSessionsEvery = c.rebootCause(), c.openSessionsEvery()
	return c
}

// maxHistoryNameLen is the longest history table name whose partition
// names (name + "_pYYYYMM") fit PostgreSQL's 63-byte identifiers.
const maxHistoryNameLen = 63 - len("_pYYYYMM")

// validate checks everything but the DSN's content and reachability, and
// returns every problem as a *sinks.FieldError.
func (c Config) validate() error {
	var errs []error
	if !c.liveEnabled() && !c.historyEnabled() {
		errs = append(errs, sinks.Errorf("history", "live_sessions and history are both off: nothing to store"))
	}
	if _, err := parseTableName(c.liveTable()); err != nil {
		errs = append(errs, sinks.Errorf("live_table", "%v", err))
	}
	if h, err := parseTableName(c.historyTable()); err != nil {
		errs = append(errs, sinks.Errorf("history_table", "%v", err))
	} else if len(h.name) > maxHistoryNameLen {
		// Monthly partitions are named <name>_pYYYYMM, and PostgreSQL
		// cuts names at 63 bytes: two months would get one name.
		errs = append(errs, sinks.Errorf("history_table", "%q is %d bytes long; at most %d, so that its monthly partitions (%s_pYYYYMM) fit PostgreSQL's 63-byte names",
			h.name, len(h.name), maxHistoryNameLen, h.name))
	}
	if t := c.historyAttributesType(); t != "json" && t != "jsonb" {
		errs = append(errs, sinks.Errorf("history_attributes_type", "%q: want \"json\" or \"jsonb\"", c.HistoryAttributesType))
	}
	if c.liveEnabled() && c.historyEnabled() && strings.EqualFold(c.liveTable(), c.historyTable()) {
		errs = append(errs, sinks.Errorf("history_table", "live_table and history_table must differ"))
	}
	if c.CloseStaleEvery > 0 && !c.liveEnabled() {
		errs = append(errs, sinks.Errorf("close_stale_every", "closes live sessions: needs live_sessions = true"))
	}
	// Staleness is counted in whole seconds: a stale_after under one
	// would make every open session stale at once, and closing stale
	// sessions more than once a second only loads the database.
	for _, d := range []struct {
		key, example string
		v            time.Duration
	}{{"close_stale_every", "5m", c.CloseStaleEvery}, {"stale_after", "2h", c.StaleAfter}} {
		if d.v > 0 && d.v < time.Second {
			errs = append(errs, sinks.Errorf(d.key, "%s is less than a second (staleness is counted in whole seconds): want e.g. %q", d.v, d.example))
		}
	}
	// One grouped query over the open-session index each time: more than
	// once a second only loads the database (the gauge is read by scrapes
	// and by the status file, published every second).
	if c.OpenSessionsEvery > 0 && c.OpenSessionsEvery < time.Second {
		errs = append(errs, sinks.Errorf("open_sessions_every", "%s is less than a second (each count is a query over every open session, and the status it feeds is published every second): want e.g. %q", c.OpenSessionsEvery, "1m"))
	}
	if c.DetectReboots && !c.liveEnabled() {
		errs = append(errs, sinks.Errorf("detect_reboots", "closes live sessions: needs live_sessions = true"))
	}
	n := 0
	for _, s := range []string{c.DSN, c.DSNFile, c.DSNEnv} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		errs = append(errs, sinks.Errorf("dsn", "set exactly one of dsn, dsn_file and dsn_env"))
	}
	for _, d := range []struct {
		key string
		v   int64
	}{{"transaction_size", int64(c.TransactionSize)}, {"connections", int64(c.Connections)}, {"partitions_ahead", int64(c.PartitionsAhead)}, {"statement_timeout", int64(c.StatementTimeout)}, {"connect_timeout", int64(c.ConnectTimeout)},
		{"close_stale_every", int64(c.CloseStaleEvery)}, {"stale_after", int64(c.StaleAfter)}, {"open_sessions_every", int64(c.OpenSessionsEvery)}} {
		if d.v < 0 {
			errs = append(errs, sinks.Errorf(d.key, "cannot be negative"))
		}
	}
	return errors.Join(errs...)
}

// ResolveDSN returns the DSN from DSN, DSNFile or DSNEnv.
func (c Config) ResolveDSN() (string, error) {
	switch {
	case c.DSN != "":
		return c.DSN, nil
	case c.DSNFile != "":
		b, err := os.ReadFile(c.DSNFile)
		if err != nil {
			return "", fmt.Errorf("postgres sink: dsn_file: %w", err)
		}
		dsn := strings.TrimSpace(string(b))
		if dsn == "" {
			return "", fmt.Errorf("postgres sink: dsn_file %s is empty", c.DSNFile)
		}
		return dsn, nil
	case c.DSNEnv != "":
		dsn := strings.TrimSpace(os.Getenv(c.DSNEnv))
		if dsn == "" {
			return "", fmt.Errorf("postgres sink: dsn_env: environment variable %s is empty or unset", c.DSNEnv)
		}
		return dsn, nil
	}
	return "", errors.New("postgres sink: set one of dsn, dsn_file and dsn_env")
}

// urlParams are the query parameters of a sink URL that configure radrelay
// rather than the connection; they are removed from the DSN.
var urlParams = map[string]func(c *Config, v string) error{
	"live_sessions": func(c *Config, v string) error { return parseBoolPtr(&c.LiveSessions, v) },
	"live_table":    func(c *Config, v string) error { c.LiveTable = v; return nil },
	"history":       func(c *Config, v string) error { return parseBoolPtr(&c.History, v) },
	"history_table": func(c *Config, v string) error { c.HistoryTable = v; return nil },
	"history_attributes_type": func(c *Config, v string) error {
		c.HistoryAttributesType = v
		return nil
	},
	"create_schema": func(c *Config, v string) error { return parseBoolPtr(&c.CreateSchema, v) },
	"store_class": func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		c.StoreClass = b
		return err
	},
	"partitions_ahead": func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		c.PartitionsAhead = n
		return err
	},
	"transaction_size": func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		c.TransactionSize = n
		return err
	},
	"connections": func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		c.Connections = n
		return err
	},
	"statement_timeout": func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		c.StatementTimeout = d
		return err
	},
	"detect_reboots": func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		c.DetectReboots = b
		return err
	},
	"reboot_cause": func(c *Config, v string) error { c.RebootCause = v; return nil },
}

func parseBoolPtr(p **bool, v string) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return err
	}
	*p = &b
	return nil
}

// ConfigFromURL makes a Config from a sink URL as "radrelay replay" takes it:
// a PostgreSQL URL (postgres:// or postgresql://) whose query may also
// carry the sink's settings, e.g.
//
//	postgres://radrelay@db.example.net/radius?sslmode=verify-full&history=false&transaction_size=2000
//
// Settings: live_sessions, live_table, history, history_table,
// history_attributes_type, create_schema,
// store_class, partitions_ahead, transaction_size, connections,
// statement_timeout (a Go duration such as 30s), detect_reboots,
// reboot_cause. Every other parameter stays in the DSN.
func ConfigFromURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse quotes its input, password included.
		return Config{}, errors.New("postgres sink URL: it does not parse as a URL (it is not shown: it may hold a password)")
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return Config{}, fmt.Errorf("postgres sink URL %s: scheme must be postgres:// or postgresql://", RedactDSN(raw))
	}
	var c Config
	q := u.Query()
	for _, k := range slices.Sorted(maps.Keys(q)) {
		vs := q[k]
		set, ok := urlParams[k]
		if !ok {
			continue
		}
		if err := set(&c, vs[len(vs)-1]); err != nil {
			return Config{}, fmt.Errorf("postgres sink URL parameter %s=%q: %v", k, vs[len(vs)-1], err)
		}
		q.Del(k)
	}
	u.RawQuery = q.Encode()
	c.DSN = u.String()
	if err := c.validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// kvPassword finds the password-bearing parameters of a keyword/value DSN
// ("host=db password=x sslpassword=y").
var kvPassword = regexp.MustCompile(`(?i)\b((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// urlSecretParams are the query parameters of a postgres:// URL that carry
// a password.
var urlSecretParams = []string{"password", "sslpassword"}

// RedactDSN returns dsn with every password replaced by "xxxxx", for
// messages. A URL that does not parse is not shown at all: where its
// password ends cannot be known.
func RedactDSN(dsn string) string {
	scheme, _, isURL := strings.Cut(dsn, "://")
	if !isURL {
		return kvPassword.ReplaceAllString(dsn, "${1}xxxxx")
	}
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return scheme + "://(a URL that does not parse, not shown)"
	}
	q := u.Query()
	changed := false
	for k := range q {
		for _, p := range urlSecretParams {
			if strings.EqualFold(k, p) {
				q.Set(k, "xxxxx")
				changed = true
			}
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// hasInlinePassword reports whether dsn itself carries a password (rather
// than leaving it to PGPASSFILE or a file).
func hasInlinePassword(dsn string) bool {
	return RedactDSN(dsn) != dsn
}

// redactError formats err without echoing a password from dsn: the whole
// DSN is replaced by its redacted form, and every password it holds (in the
// URL's user part, its password and sslpassword parameters, or keyword
// pairs) by "xxxxx", wherever the message quotes it.
func redactError(err error, dsn string) string {
	msg := err.Error()
	if strings.Contains(msg, dsn) {
		msg = strings.ReplaceAll(msg, dsn, RedactDSN(dsn))
	}
	var secrets []string
	if u, perr := url.Parse(dsn); perr == nil && strings.Contains(dsn, "://") {
		if p, ok := u.User.Password(); ok {
			secrets = append(secrets, p)
		}
		for k, vs := range u.Query() {
			for _, p := range urlSecretParams {
				if strings.EqualFold(k, p) {
					secrets = append(secrets, vs...)
				}
			}
		}
	} else {
		for _, m := range kvPassword.FindAllStringSubmatch(dsn, -1) {
			secrets = append(secrets, m[2], strings.Trim(m[2], "'"))
		}
	}
	for _, p := range secrets {
		if p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
	}
	return msg
}
