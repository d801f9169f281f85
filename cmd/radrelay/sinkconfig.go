package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/radrelay/radrelay/sinks"
	"github.com/radrelay/radrelay/sinks/file"
	"github.com/radrelay/radrelay/sinks/postgres"
	"github.com/radrelay/radrelay/sinks/radius"
)

// sinkType is what radrelay knows of one type of sink: how to read its
// type-specific keys from a [[sink]] table, how to read its URL form (--to),
// and how to open it. The sink packages own their Config types; this file
// only connects them to the configuration and the command line.
type sinkType struct {
	// decode decodes the [[sink]] table into the package's Config value.
	decode func(md *toml.MetaData, p toml.Primitive) (any, error)
	// fromURL parses the URL form into the package's Config value.
	fromURL func(raw string) (any, error)
	// open opens the sink with a Config value from decode or fromURL.
	open func(ctx context.Context, env openEnv, options any) (sinks.Sink, error)
	// effective returns a Config value with the defaults the sink applies
	// filled in, for validate --print.
	effective func(env openEnv, options any) any
	// window and batch are the type's default max_outstanding and
	// batch_size, 0 for defaultMaxOutstanding and the window: what suits
	// the destination (PostgreSQL wants thousands of rows per transaction;
	// a RADIUS sink, hundreds of requests in flight, in several batches at
	// once).
	window, batch int
}

// defaultWindow is the default max_outstanding of a sink of type k, which
// may be nil.
func (k *sinkType) defaultWindow() int {
	if k == nil || k.window == 0 {
		return defaultMaxOutstanding
	}
	return k.window
}

// defaultBatch is the default batch_size of a sink of type k, which may be nil.
func (k *sinkType) defaultBatch() int {
	if k == nil || k.batch == 0 {
		return k.defaultWindow()
	}
	return k.batch
}

// openEnv is what a sink may need besides its own configuration.
type openEnv struct {
	logger     *slog.Logger
	dictionary string // the dictionary path of the configuration, "" for the default
}

func (k *sinkType) available() bool { return k != nil && k.open != nil }

// sinkTypes maps a type name (the [[sink]] type key and the URL scheme) to
// its sink. An entry with a nil value is a type this build does not have:
// using it is the error "sink type X is not available in this build".
//
// WIRING A SINK PACKAGE: add its types here. sinkOf makes the entry from the
// package's ConfigFromURL and a New of the form
// func(ctx, Config, *slog.Logger) (sinks.Sink, error); the [[sink]] table
// decodes into the same Config type (its toml tags are the keys).
var sinkTypes = map[string]*sinkType{
	"detail":   fileSinkType("detail"),
	"jsonl":    fileSinkType("jsonl"),
	"csv":      fileSinkType("csv"),
	"radius":   radiusSinkType(),
	"postgres": withWindow(sinkOf(postgres.ConfigFromURL, postgres.New), postgres.DefaultBatchSize, 0),
}

// withWindow sets the default max_outstanding and batch_size of k (0: the
// window).
func withWindow(k *sinkType, window, batch int) *sinkType {
	k.window, k.batch = window, batch
	return k
}

// fileSinkType is sinks/file for one of its formats: the [[sink]] type names
// the format.
func fileSinkType(format string) *sinkType {
	k := &sinkType{}
	*k = *sinkOf(file.ConfigFromURL, func(_ context.Context, c file.Config, _ *slog.Logger) (sinks.Sink, error) {
		return file.New(c)
	})
	k.open = func(_ context.Context, env openEnv, options any) (sinks.Sink, error) {
		c := options.(file.Config)
		if c.Format == file.FormatJSONL {
			// JSON lines carry typed values, as "radrelay cat --format json".
			d, err := loadDictionary(env.dictionary)
			if err != nil {
				return nil, err
			}
			c.Values = d.JSONValue
		}
		return file.New(c)
	}
	decode := k.decode
	k.decode = func(md *toml.MetaData, p toml.Primitive) (any, error) {
		v, err := decode(md, p)
		if err != nil {
			return nil, err
		}
		c := v.(file.Config)
		if c.Format != "" && !strings.EqualFold(c.Format, format) {
			return nil, fmt.Errorf("format %q contradicts type %q (leave format out: the type names it)", c.Format, format)
		}
		c.Format = format
		if c.Path == "" {
			return nil, fmt.Errorf("a %s sink needs path (a file name, a template such as /var/log/radrelay/detail-%%Y%%m%%d, or - for standard output)", format)
		}
		return c, nil
	}
	return k
}

// radiusSinkType is sinks/radius; the global dictionary is the default of
// each radius sink's own dictionary key.
func radiusSinkType() *sinkType {
	k := sinkOf(radius.ConfigFromURL, radius.New)
	k.open = func(ctx context.Context, env openEnv, options any) (sinks.Sink, error) {
		c := options.(radius.Config)
		if c.Dictionary == "" {
			c.Dictionary = env.dictionary
		}
		return radius.New(ctx, c, env.logger)
	}
	effective := k.effective
	k.effective = func(env openEnv, options any) any {
		c := effective(env, options).(radius.Config)
		if c.Dictionary == "" {
			c.Dictionary = env.dictionary
		}
		return c
	}
	// Measured against FreeRADIUS (docs/benchmarks.md): the sink takes
	// four batches at once (radius.Sink.ConcurrentSends), so a batch of a
	// quarter of the window keeps requests flowing while a late one is
	// answered; the sink's adaptive window protects the server from too many.
	return withWindow(k, 1024, 256)
}

// urlSchemeAliases are URL schemes that name another type.
var urlSchemeAliases = map[string]string{"postgresql": "postgres"}

// sinkOf makes the registry entry of a sink package from its URL parser and
// its constructor; the [[sink]] table decodes into the same Config type, and
// a WithDefaults method of that type, if any, gives the effective values.
func sinkOf[C any](fromURL func(string) (C, error), open func(context.Context, C, *slog.Logger) (sinks.Sink, error)) *sinkType {
	return &sinkType{
		decode: func(md *toml.MetaData, p toml.Primitive) (any, error) {
			var c C
			err := md.PrimitiveDecode(p, &c)
			return c, err
		},
		fromURL: func(raw string) (any, error) { return fromURL(raw) },
		open: func(ctx context.Context, env openEnv, options any) (sinks.Sink, error) {
			c, ok := options.(C)
			if !ok {
				return nil, fmt.Errorf("internal error: sink options are %T, want %T", options, c)
			}
			return open(ctx, c, env.logger)
		},
		effective: func(_ openEnv, options any) any {
			if c, ok := options.(interface{ WithDefaults() C }); ok {
				return c.WithDefaults()
			}
			return options
		},
	}
}

func sinkTypeNames() []string {
	names := make([]string, 0, len(sinkTypes))
	for n := range sinkTypes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// errUnavailable is the error for a sink type this build does not have.
func errUnavailable(typ string) error {
	return fmt.Errorf("sink type %s is not available in this build", typ)
}

// sinkTypeOfURL returns the sink type of a sink URL ("detail:/path",
// "jsonl:-", "radius://host:port?secret_file=...", "postgres://...").
func sinkTypeOfURL(raw string) (*sinkType, string, error) {
	i := strings.IndexByte(raw, ':')
	if i <= 0 {
		return nil, "", fmt.Errorf("%q is not a sink URL (TYPE:WHERE, e.g. jsonl:-, detail:/var/log/copy/detail, radius://10.0.0.2:1813?secret_file=/etc/radrelay/secret)", redactURL(raw))
	}
	typ := strings.ToLower(raw[:i])
	if alias, ok := urlSchemeAliases[typ]; ok {
		typ = alias
	}
	kind, ok := sinkTypes[typ]
	if !ok {
		return nil, "", fmt.Errorf("unknown sink type %q in %q (known: %s)", typ, redactURL(raw), strings.Join(sinkTypeNames(), ", "))
	}
	return kind, typ, nil
}

var nameEqualsRE = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9._-]*)=`)

// sinkFromArg makes a sink from a --to argument: a sink URL, optionally
// preceded by "NAME=" to give the sink a name (otherwise one is made from
// the URL).
func sinkFromArg(arg string) (SinkConfig, error) {
	name, raw := "", arg
	if m := nameEqualsRE.FindStringSubmatch(arg); m != nil && !strings.Contains(m[1], ":") {
		name, raw = m[1], arg[len(m[0]):]
	}
	kind, typ, err := sinkTypeOfURL(raw)
	if err != nil {
		return SinkConfig{}, err
	}
	if name == "" {
		name = nameFromURL(typ, raw)
	}
	sc := SinkConfig{
		Name: name, Type: typ, URL: raw, kind: kind,
		MaxOutstanding: kind.defaultWindow(),
		BatchSize:      kind.defaultBatch(),
	}
	sc.Retry.Initial, sc.Retry.Max = defaultRetryInitial, defaultRetryMax
	if !kind.available() {
		return sc, errUnavailable(typ)
	}
	opts, err := kind.fromURL(raw)
	if err != nil {
		return sc, fmt.Errorf("--to %s: %s", redactURL(raw), redactSecrets(err.Error(), raw))
	}
	sc.Options = opts
	return sc, nil
}

var unsafeNameRE = regexp.MustCompile(`[^A-Za-z0-9._]+`)

// nameFromURL makes a stable sink name from a URL: its type and where it
// goes, without user, password or query ("radius-10.0.0.2-1813",
// "detail-var-log-copy-detail", "jsonl-stdout").
func nameFromURL(typ, raw string) string {
	where := raw[strings.IndexByte(raw, ':')+1:]
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		where = u.Host + u.Path
	} else if i := strings.IndexAny(where, "?#"); i >= 0 {
		where = where[:i]
	}
	if where == "-" {
		where = "stdout"
	}
	where = strings.Trim(unsafeNameRE.ReplaceAllString(where, "-"), "-.")
	name := typ
	if where != "" {
		name += "-" + where
	}
	if len(name) > 100 {
		name = name[len(name)-100:]
	}
	return strings.TrimLeft(name, "-.")
}

// sensitiveQueryRE matches URL query parameters that carry a secret itself
// (secret_file and secret_env only name where it is, and are kept).
var sensitiveKeyRE = regexp.MustCompile(`(?i)^(secret|password|passwd|pass|dsn|token|key)$`)

// redactURL returns raw fit for a log or an error: a password in the user
// part and secret-valued query parameters replaced by "xxxxx".
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	if u.Opaque != "" || u.User == nil && u.RawQuery == "" {
		return raw
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			if sensitiveKeyRE.MatchString(k) {
				q.Set(k, "xxxxx")
			}
		}
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// redactSecrets removes from msg the secrets raw carries (a URL's password
// and secret-valued query parameters), for errors that quote their input.
func redactSecrets(msg, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return msg
	}
	var secrets []string
	if p, ok := u.User.Password(); ok && p != "" {
		secrets = append(secrets, p, url.QueryEscape(p), url.PathEscape(p))
	}
	for k, vs := range u.Query() {
		if sensitiveKeyRE.MatchString(k) {
			secrets = append(secrets, vs...)
		}
	}
	for _, s := range secrets {
		if len(s) >= 1 {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
	}
	return msg
}
