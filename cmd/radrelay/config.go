package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/radrelay/radrelay/sinks/route"
	"github.com/radrelay/radrelay/tailer"
)

// Defaults of the configuration file; docs/configuration.md lists them too.
const (
	// defaultMaxOutstanding is the window (and batch) of a sink whose type
	// sets none (sinkType.window).
	defaultMaxOutstanding  = 256
	defaultShutdownTimeout = 30 * time.Second
	defaultPollInterval    = time.Second
	defaultRetryInitial    = time.Second
	defaultRetryMax        = time.Minute
	defaultLogFormat       = "text"
	defaultLogLevel        = "info"
)

// Config is a radrelay configuration, from a file or from command-line flags,
// with defaults applied and checked.
type Config struct {
	File string // the file it came from, "" for flags

	StateDir      string
	QuarantineDir string
	Dictionary    string
	LogFormat     string // text | json
	LogLevel      string // debug | info | warn | error
	LogFile       string // "" = stderr
	MetricsListen string // "" = no metrics endpoint
	// ReadyMaxBacklog: /readyz still answers ready while a failing sink
	// has at most this many bytes behind (0: a failing sink is not ready).
	ReadyMaxBacklog int64
	ShutdownTimeout time.Duration
	PollInterval    time.Duration
	RaiseDelayTime  bool

	Inputs []InputConfig
	Sinks  []SinkConfig
}

// InputConfig is one [[input]] table.
type InputConfig struct {
	Glob string
	Mode tailer.Mode
	line int
}

// SinkConfig is one [[sink]] table (or one --to URL).
type SinkConfig struct {
	Name           string
	Type           string
	URL            string // when given as a URL; the redacted form is shown
	MaxOutstanding int
	BatchSize      int
	Retry          tailer.RetryPolicy
	Filter         route.Config

	// Options is the type-specific configuration (the sink package's
	// Config value), decoded by the sink type's registry entry.
	Options any
	kind    *sinkType
	line    int
}

// duration is a time.Duration written as a string with a unit ("30s", "5m").
// A bare integer is refused: "shutdown_timeout = 30" would otherwise mean 30 ns.
type duration struct{ time.Duration }

func (d *duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration: write a number with a unit, e.g. \"30s\", \"5m\", \"1h\"", b)
	}
	if v < 0 {
		return fmt.Errorf("%q: a duration cannot be negative", b)
	}
	d.Duration = v
	return nil
}

func (d duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// The shapes decoded from the file. Pointers tell "unset" from zero.
type fileGlobals struct {
	StateDir        string           `toml:"state_dir"`
	QuarantineDir   string           `toml:"quarantine_dir"`
	Dictionary      string           `toml:"dictionary"`
	LogFormat       string           `toml:"log_format"`
	LogLevel        string           `toml:"log_level"`
	LogFile         string           `toml:"log_file"`
	MetricsListen   string           `toml:"metrics_listen"`
	ReadyMaxBacklog int64            `toml:"ready_max_backlog"`
	ShutdownTimeout *duration        `toml:"shutdown_timeout"`
	PollInterval    *duration        `toml:"poll_interval"`
	RaiseDelayTime  *bool            `toml:"raise_delay_time"`
	Input           []toml.Primitive `toml:"input"`
	Sink            []toml.Primitive `toml:"sink"`
}

type fileInput struct {
	Glob string `toml:"glob"`
	Mode string `toml:"mode"`
}

type fileRetry struct {
	Initial     *duration `toml:"initial"`
	Max         *duration `toml:"max"`
	MaxAttempts int       `toml:"max_attempts"`
	MaxDuration duration  `toml:"max_duration"`
}

// fileSink holds the keys every [[sink]] has; the rest belong to its type.
type fileSink struct {
	Name           string       `toml:"name"`
	Type           string       `toml:"type"`
	URL            string       `toml:"url"`
	MaxOutstanding *int         `toml:"max_outstanding"`
	BatchSize      *int         `toml:"batch_size"`
	Retry          fileRetry    `toml:"retry"`
	Filter         route.Config `toml:"filter"`
}

// ConfigError is one problem of a configuration, at a line of its file.
type ConfigError struct {
	File string
	Line int // 0 when the problem has no single line
	Msg  string
}

func (e ConfigError) Error() string {
	switch {
	case e.File != "" && e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	case e.File != "":
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return e.Msg
}

// ConfigErrors is every problem found in a configuration, in line order.
type ConfigErrors []ConfigError

func (es ConfigErrors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// loadConfig reads and checks the configuration file name (for replay: a
// file whose inputs are ignored).
func loadConfig(name string, replay bool) (*Config, error) {
	src, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("reading the configuration: %w", err)
	}
	return parseConfig(name, string(src), replay)
}

// parseConfig decodes and checks a configuration. The error, if any, is a
// ConfigErrors listing every problem found, each naming its line.
func parseConfig(name, src string, replay bool) (*Config, error) {
	p := &configParser{file: name, lines: locateKeys(src), replay: replay}
	cfg := p.parse(src)
	if len(p.errs) > 0 {
		sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].Line < p.errs[j].Line })
		return nil, p.errs
	}
	return cfg, nil
}

type configParser struct {
	// replay: the file configures "radrelay replay", which takes its files
	// from the command line: inputs and state_dir are not needed.
	replay bool
	file   string
	lines  keyLines
	errs   ConfigErrors
	// badKeys are global keys whose value could not be decoded: the
	// checks of their values are skipped, so one mistake is reported once.
	badKeys map[string]bool
	// sinkTables counts the [[sink]] tables, decodable or not.
	sinkTables int
}

func (p *configParser) errorf(line int, format string, args ...any) {
	p.errs = append(p.errs, ConfigError{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// lastKeyRE finds the key in the decoder's type errors ("toml: line 3 (last
// key "sink.batch_size"): incompatible types: ...").
var lastKeyRE = regexp.MustCompile(`^toml: (?:line \d+ )?\(last key "([^"]*)"\): `)

// decodeError reports an error of the TOML decoder for element elem of an
// array of tables (-1 outside one), at the line of the key it names. label
// ("sink \"copy\": ") replaces the array's name in the key.
func (p *configParser) decodeError(err error, elem int, label string) {
	key, msg, line := "", "", 0
	var pe toml.ParseError
	if errors.As(err, &pe) {
		key, msg, line = pe.LastKey, pe.Message, pe.Position.Line
	} else {
		msg = err.Error()
		if m := lastKeyRE.FindStringSubmatch(msg); m != nil {
			key, msg = m[1], strings.TrimPrefix(msg, m[0])
		} else {
			msg = strings.TrimPrefix(msg, "toml: ")
		}
	}
	if key != "" {
		if l := p.lines.find(key, elem); l > 0 {
			line = l
		}
	}
	msg = friendlyTypes(msg)
	if label != "" {
		if i := strings.IndexByte(key, '.'); i >= 0 {
			key = key[i+1:]
		}
		p.errorf(line, "%s%s: %s", label, key, msg)
		return
	}
	if key == "" {
		p.errorf(line, "%s", msg)
		return
	}
	p.errorf(line, "%s: %s", key, msg)
}

var typeMismatchRE = regexp.MustCompile(`incompatible types: TOML value has type (\S+); destination has type (\S+)`)

// friendlyTypes rewrites the decoder's type mismatch in the words of the
// configuration: "wrong type: a string where an integer is expected".
func friendlyTypes(msg string) string {
	words := map[string]string{
		"string": "a string", "int64": "an integer", "integer": "an integer", "float64": "a number",
		"bool": "a boolean (true or false)", "boolean": "a boolean (true or false)",
		"[]any": "an array", "[]map[string]any": "an array of tables", "map[string]any": "a table",
		"slice": "an array", "array": "an array", "map": "a table", "struct": "a table",
		"time.Time": "a date",
	}
	word := func(t string) string {
		if w, ok := words[t]; ok {
			return w
		}
		return t
	}
	return typeMismatchRE.ReplaceAllStringFunc(msg, func(m string) string {
		sub := typeMismatchRE.FindStringSubmatch(m)
		return fmt.Sprintf("wrong type: %s, where %s is expected", word(sub[1]), word(sub[2]))
	})
}

func (p *configParser) parse(src string) *Config {
	// Each top-level key is decoded on its own, so that one wrong type
	// does not hide the problems after it.
	var top map[string]toml.Primitive
	md, err := toml.Decode(src, &top)
	if err != nil {
		p.decodeError(err, -1, "")
		return nil
	}
	var g fileGlobals
	fields := fieldsByKey(&g)
	for _, key := range md.Keys() {
		if len(key) != 1 {
			continue
		}
		prim, ok := top[key[0]]
		if !ok {
			continue
		}
		field, ok := fields[key[0]]
		if !ok {
			p.unknownKey("", key[0], p.lines.find(key[0], -1), knownKeys(reflect.TypeOf(fileGlobals{})))
			continue
		}
		if err := md.PrimitiveDecode(prim, field); err != nil {
			p.decodeError(err, -1, "")
			if p.badKeys == nil {
				p.badKeys = map[string]bool{}
			}
			p.badKeys[key[0]] = true
		}
	}
	cfg := &Config{
		File:            p.file,
		StateDir:        g.StateDir,
		QuarantineDir:   g.QuarantineDir,
		Dictionary:      g.Dictionary,
		LogFormat:       or(g.LogFormat, defaultLogFormat),
		LogLevel:        or(g.LogLevel, defaultLogLevel),
		LogFile:         g.LogFile,
		MetricsListen:   g.MetricsListen,
		ReadyMaxBacklog: g.ReadyMaxBacklog,
		ShutdownTimeout: defaultShutdownTimeout,
		PollInterval:    defaultPollInterval,
	}
	if g.ShutdownTimeout != nil {
		cfg.ShutdownTimeout = g.ShutdownTimeout.Duration
	}
	if g.PollInterval != nil {
		cfg.PollInterval = g.PollInterval.Duration
	}
	if g.RaiseDelayTime != nil {
		cfg.RaiseDelayTime = *g.RaiseDelayTime
	}

	for i, prim := range g.Input {
		var in fileInput
		if err := md.PrimitiveDecode(prim, &in); err != nil {
			p.decodeError(err, i, "input: ")
			continue
		}
		line := p.lines.table("input", i)
		ic := InputConfig{Glob: in.Glob, line: line}
		switch strings.ToLower(or(in.Mode, "consume")) {
		case "consume":
			ic.Mode = tailer.Consume
		case "follow":
			ic.Mode = tailer.Follow
		default:
			p.errorf(p.lines.find("input.mode", i), "input: mode %q is not consume or follow", in.Mode)
		}
		cfg.Inputs = append(cfg.Inputs, ic)
	}

	p.sinkTables = len(g.Sink)
	for i, prim := range g.Sink {
		if sc, ok := p.parseSink(&md, prim, i); ok {
			cfg.Sinks = append(cfg.Sinks, sc)
		}
	}

	for _, key := range md.Undecoded() {
		if key[0] == "sink" {
			continue // checked per sink, against the keys of its type
		}
		if key[0] != "input" || len(key) == 1 {
			continue // top-level keys are checked above
		}
		p.unknownKey("input: ", strings.Join(key[1:], "."), p.lines.nextUndecoded(key.String()), knownKeys(reflect.TypeOf(fileInput{})))
	}
	p.check(cfg)
	return cfg
}

func (p *configParser) unknownKey(label, key string, line int, known []string) {
	last := key[strings.LastIndexByte(key, '.')+1:]
	if s := suggest(last, known); s != "" {
		p.errorf(line, "%sunknown key %q (did you mean %q?)", label, key, s)
		return
	}
	p.errorf(line, "%sunknown key %q", label, key)
}

func (p *configParser) parseSink(md *toml.MetaData, prim toml.Primitive, i int) (SinkConfig, bool) {
	line := p.lines.table("sink", i)
	var named struct {
		Name any `toml:"name"`
	}
	_ = md.PrimitiveDecode(prim, &named)
	label := fmt.Sprintf("sink %q", fmt.Sprint(named.Name))
	if named.Name == nil {
		label = "sink"
	}
	var fs fileSink
	if err := md.PrimitiveDecode(prim, &fs); err != nil {
		p.decodeError(err, i, label+": ")
		return SinkConfig{}, false
	}
	if fs.Name == "" {
		label = "sink"
		p.errorf(line, "sink has no name (every sink needs a unique, stable name: it keys the sink's progress)")
	} else if !validSinkName(fs.Name) {
		p.errorf(p.lines.find("sink.name", i), "%s: name may only contain letters, digits, '.', '_' and '-'", label)
	}
	sc := SinkConfig{
		Name:   fs.Name,
		Type:   fs.Type,
		Filter: fs.Filter,
		line:   line,
		Retry: tailer.RetryPolicy{
			Initial:     defaultRetryInitial,
			Max:         defaultRetryMax,
			MaxAttempts: fs.Retry.MaxAttempts,
			MaxDuration: fs.Retry.MaxDuration.Duration,
		},
	}
	if fs.Retry.Initial != nil {
		sc.Retry.Initial = fs.Retry.Initial.Duration
	}
	if fs.Retry.Max != nil {
		sc.Retry.Max = fs.Retry.Max.Duration
	}

	// The keys this table holds, to find the ones neither the common
	// shape nor the sink type knows.
	var raw map[string]any
	_ = md.PrimitiveDecode(prim, &raw)

	switch {
	case fs.URL != "":
		kind, typ, err := sinkTypeOfURL(fs.URL)
		if err != nil {
			p.errorf(p.lines.find("sink.url", i), "%s: url: %v", label, err)
			break
		}
		if fs.Type != "" && fs.Type != typ {
			p.errorf(p.lines.find("sink.type", i), "%s: type %q contradicts url, which is a %q sink", label, fs.Type, typ)
		}
		sc.Type, sc.kind, sc.URL = typ, kind, fs.URL
		if kind.available() {
			opts, err := kind.fromURL(fs.URL)
			if err != nil {
				p.errorf(p.lines.find("sink.url", i), "%s: url: %s", label, redactSecrets(err.Error(), fs.URL))
			}
			sc.Options = opts
		}
		var optionsType reflect.Type
		if sc.Options != nil {
			optionsType = reflect.TypeOf(sc.Options)
		}
		p.checkSinkKeys(raw, optionsType, i, label, "url")
	case fs.Type == "":
		p.errorf(line, "%s: no type (one of %s) and no url", label, strings.Join(sinkTypeNames(), ", "))
	default:
		kind, ok := sinkTypes[fs.Type]
		if !ok {
			p.errorf(p.lines.find("sink.type", i), "%s: unknown type %q (known: %s)", label, fs.Type, strings.Join(sinkTypeNames(), ", "))
			break
		}
		sc.kind = kind
		if !kind.available() {
			// The keys cannot be checked without the sink's package;
			// opening it reports that it is missing.
			break
		}
		opts, err := kind.decode(md, prim)
		if err != nil {
			p.decodeError(err, i, label+": ")
			break
		}
		sc.Options = opts
		p.checkSinkKeys(raw, reflect.TypeOf(opts), i, label, "")
	}

	// The window's defaults depend on the type of the sink.
	sc.MaxOutstanding = sc.kind.defaultWindow()
	if fs.MaxOutstanding != nil {
		sc.MaxOutstanding = *fs.MaxOutstanding
	}
	sc.BatchSize = max(min(sc.kind.defaultBatch(), sc.MaxOutstanding), 1)
	if fs.BatchSize != nil {
		sc.BatchSize = *fs.BatchSize
	}
	return sc, true
}

// checkSinkKeys reports the keys of a [[sink]] table that neither the common
// sink keys nor the sink type's Config (options) know. With url set, every
// type-specific key is a contradiction.
func (p *configParser) checkSinkKeys(raw map[string]any, options reflect.Type, i int, label, exclusive string) {
	common := keyTree(reflect.TypeOf(fileSink{}))
	typed := keyTree(options)
	var walk func(m map[string]any, prefix string, c, t *keyNode)
	walk = func(m map[string]any, prefix string, c, t *keyNode) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			full := prefix + k
			cc, tc := c.child(k), t.child(k)
			if cc == nil && tc == nil {
				known := append(c.names(), t.names()...)
				p.unknownKey(label+": ", full, p.lines.find("sink."+full, i), known)
				continue
			}
			if cc == nil && exclusive != "" {
				p.errorf(p.lines.find("sink."+full, i), "%s: %s cannot be set together with %s (the URL carries the sink's settings)", label, full, exclusive)
				continue
			}
			if cc.any() || tc.any() {
				continue
			}
			switch sub := m[k].(type) {
			case map[string]any:
				walk(sub, full+".", cc, tc)
			case []map[string]any: // an array of tables, e.g. [[sink.servers]]
				for _, elem := range sub {
					walk(elem, full+".", cc, tc)
				}
			}
		}
	}
	walk(raw, "", common, typed)
}

// check finds contradictions in a decoded configuration.
func (p *configParser) check(cfg *Config) {
	where := func(key string) int { return p.lines.find(key, -1) }
	switch cfg.LogFormat {
	case "text", "json":
	default:
		p.errorf(where("log_format"), "log_format %q is not text or json", cfg.LogFormat)
	}
	if _, err := parseLogLevel(cfg.LogLevel); err != nil {
		p.errorf(where("log_level"), "log_level: %v", err)
	}
	if cfg.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(cfg.MetricsListen); err != nil {
			p.errorf(where("metrics_listen"), "metrics_listen %q is not HOST:PORT (e.g. \"127.0.0.1:9813\" or \":9813\")", cfg.MetricsListen)
		}
	}
	if cfg.ReadyMaxBacklog < 0 {
		p.errorf(where("ready_max_backlog"), "ready_max_backlog must be 0 or more bytes")
	}
	if cfg.PollInterval == 0 && !p.badKeys["poll_interval"] {
		p.errorf(where("poll_interval"), "poll_interval must be more than 0s")
	}
	if len(cfg.Inputs) == 0 && p.file != "" && !p.replay {
		p.errorf(0, "no [[input]]: say which detail files to read, e.g.\n\n  [[input]]\n  glob = \"/var/log/freeradius/radacct/*/detail-*\"")
	}
	if p.replay {
		cfg.Inputs = nil // replay reads the files it is given
	}
	needState := false
	seenGlob := map[string]int{}
	for i, in := range cfg.Inputs {
		if in.Glob == "" {
			p.errorf(in.line, "input has no glob")
			continue
		}
		if _, err := filepath.Match(in.Glob, ""); err != nil {
			p.errorf(p.lines.find("input.glob", i), "input: glob %q: %v", in.Glob, err)
		}
		if prev, dup := seenGlob[in.Glob]; dup {
			p.errorf(in.line, "input: glob %q is already read by the input at line %d", in.Glob, prev)
		}
		seenGlob[in.Glob] = in.line
		needState = true
	}
	if needState && cfg.StateDir == "" && !p.badKeys["state_dir"] {
		p.errorf(where("state_dir"), "state_dir is required to consume or follow files: it holds each sink's progress (e.g. state_dir = \"/var/lib/radrelay\")")
	}
	if len(cfg.Sinks) == 0 && p.file != "" && p.sinkTables == 0 {
		p.errorf(0, "no [[sink]]: say where records go, e.g.\n\n  [[sink]]\n  name = \"copy\"\n  type = \"detail\"\n  path = \"/var/log/radrelay/detail\"")
	}
	names := map[string]int{}
	for i, s := range cfg.Sinks {
		label := fmt.Sprintf("sink %q", s.Name)
		if prev, dup := names[s.Name]; dup && s.Name != "" {
			p.errorf(s.line, "%s: the name is already used by the sink at line %d (names key each sink's progress and must be unique)", label, prev)
		}
		names[s.Name] = s.line
		if s.MaxOutstanding < 1 {
			p.errorf(p.lines.find("sink.max_outstanding", i), "%s: max_outstanding must be at least 1", label)
		}
		if s.BatchSize < 1 {
			p.errorf(p.lines.find("sink.batch_size", i), "%s: batch_size must be at least 1", label)
		} else if s.MaxOutstanding >= 1 && s.BatchSize > s.MaxOutstanding {
			p.errorf(p.lines.find("sink.batch_size", i), "%s: batch_size %d is larger than max_outstanding %d", label, s.BatchSize, s.MaxOutstanding)
		}
		if s.Retry.Initial <= 0 {
			p.errorf(p.lines.find("sink.retry.initial", i), "%s: retry.initial must be more than 0s", label)
		}
		if s.Retry.Max < s.Retry.Initial {
			p.errorf(p.lines.find("sink.retry.max", i), "%s: retry.max (%v) is shorter than retry.initial (%v)", label, s.Retry.Max, s.Retry.Initial)
		}
		if s.Retry.MaxAttempts < 0 {
			p.errorf(p.lines.find("sink.retry.max_attempts", i), "%s: retry.max_attempts cannot be negative (0 retries forever)", label)
		}
		if _, err := route.New(s.Filter); err != nil {
			for _, e := range strings.Split(err.Error(), "\n") {
				key := "sink.filter." + strings.SplitN(e, ":", 2)[0]
				line := p.lines.find(key, i)
				if line == 0 {
					line = p.lines.find("sink.filter", i)
				}
				p.errorf(line, "%s: filter.%s", label, e)
			}
		}
	}
}

// fieldsByKey maps the toml tag of each field of *v to a pointer to it.
func fieldsByKey(v any) map[string]any {
	rv := reflect.ValueOf(v).Elem()
	m := map[string]any{}
	for i := 0; i < rv.NumField(); i++ {
		if tag := rv.Type().Field(i).Tag.Get("toml"); tag != "" {
			m[tag] = rv.Field(i).Addr().Interface()
		}
	}
	return m
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

var sinkNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func validSinkName(s string) bool { return len(s) <= 100 && sinkNameRE.MatchString(s) }

// tailerConfig is the part of cfg the tailer takes, without the sinks.
func (cfg *Config) tailerConfig() tailer.Config {
	quarantine := cfg.QuarantineDir
	if quarantine == "" && cfg.StateDir != "" {
		quarantine = filepath.Join(cfg.StateDir, "quarantine")
	}
	tc := tailer.Config{
		StateDir:        cfg.StateDir,
		QuarantineDir:   quarantine,
		RaiseDelayTime:  cfg.RaiseDelayTime,
		PollInterval:    cfg.PollInterval,
		ShutdownTimeout: cfg.ShutdownTimeout,
	}
	for _, in := range cfg.Inputs {
		tc.Inputs = append(tc.Inputs, tailer.Input{Glob: in.Glob, Mode: in.Mode})
	}
	return tc
}

// ---- where keys are in the source ----

// keyLine is one key or table header of the source: its dotted path (array
// elements not numbered), the index of the element of the top-level array of
// tables it is in (-1 outside one), and its line.
type keyLine struct {
	path string
	elem int
	line int
	used bool
}

type keyLines []*keyLine

// find returns the line of key path in element elem (any element when elem
// is -1); failing that, the line of its closest enclosing table; 0 if none.
func (kl keyLines) find(path string, elem int) int {
	for p := path; p != ""; {
		for _, k := range kl {
			if k.path == p && (elem < 0 || k.elem == elem) {
				return k.line
			}
		}
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			break
		}
		p = p[:i]
	}
	if elem >= 0 {
		return kl.table(strings.SplitN(path, ".", 2)[0], elem)
	}
	return 0
}

// table returns the line of the elem-th [[name]] header.
func (kl keyLines) table(name string, elem int) int {
	for _, k := range kl {
		if k.path == name && k.elem == elem {
			return k.line
		}
	}
	return 0
}

// nextUndecoded returns the line of the first occurrence of path not yet
// returned: MetaData.Undecoded lists repeated keys (one per array element) in
// source order.
func (kl keyLines) nextUndecoded(path string) int {
	for _, k := range kl {
		if k.path == path && !k.used {
			k.used = true
			return k.line
		}
	}
	return kl.find(path, -1)
}

var tableHeaderRE = regexp.MustCompile(`^\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(#.*)?$`)

// locateKeys scans TOML source for table headers and "key = value" lines. It
// is deliberately simple (the decoder has already checked the syntax): it
// skips multi-line strings, and keys inside inline tables are found at the
// line of the inline table.
func locateKeys(src string) keyLines {
	var out keyLines
	table := "" // current table path
	elem := -1  // element index within the current top-level array
	count := map[string]int{}
	inMulti := "" // the delimiter of an open multi-line string
	for n, line := range strings.Split(src, "\n") {
		lineNo := n + 1
		if inMulti != "" {
			if strings.Count(line, inMulti)%2 == 1 {
				inMulti = ""
			}
			continue
		}
		trim := strings.TrimSpace(line)
		if trim == "" || trim[0] == '#' {
			continue
		}
		if m := tableHeaderRE.FindStringSubmatch(line); m != nil && trim[0] == '[' {
			table = strings.Join(splitKey(m[2]), ".")
			top := strings.SplitN(table, ".", 2)[0]
			if m[1] == "[[" && !strings.Contains(table, ".") {
				elem = count[table]
				count[table]++
			} else if _, isArray := count[top]; !isArray {
				elem = -1
			}
			out = append(out, &keyLine{path: table, elem: elem, line: lineNo})
			continue
		}
		eq := keyEnd(trim)
		if eq < 0 {
			continue
		}
		key := strings.Join(splitKey(trim[:eq]), ".")
		if table != "" {
			key = table + "." + key
		}
		out = append(out, &keyLine{path: key, elem: elem, line: lineNo})
		value := trim[eq+1:]
		for _, d := range []string{`"""`, `'''`} {
			if strings.Count(value, d)%2 == 1 {
				inMulti = d
			}
		}
	}
	return out
}

// keyEnd returns the index of the '=' that ends the key of a key/value line,
// or -1.
func keyEnd(s string) int {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else if c == '\\' && quote == '"' {
				i++
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '=':
			return i
		case c == '[' || c == '{' || c == ',' || c == ']':
			return -1
		}
	}
	return -1
}

// splitKey splits a dotted TOML key, removing quotes.
func splitKey(s string) []string {
	var parts []string
	var b strings.Builder
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				b.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '.':
			parts = append(parts, strings.TrimSpace(b.String()))
			b.Reset()
		case c == ' ' || c == '\t':
		default:
			b.WriteByte(c)
		}
	}
	return append(parts, strings.TrimSpace(b.String()))
}

// ---- the keys a Go type accepts ----

// keyNode is the set of keys a struct type accepts; anyKey marks a map (any
// key goes).
type keyNode struct {
	children map[string]*keyNode
	anyKey   bool
}

func (n *keyNode) child(k string) *keyNode {
	if n == nil {
		return nil
	}
	if n.anyKey {
		return &keyNode{anyKey: true}
	}
	return n.children[strings.ToLower(k)]
}

func (n *keyNode) any() bool { return n != nil && n.anyKey }

func (n *keyNode) names() []string {
	if n == nil {
		return nil
	}
	var s []string
	for k := range n.children {
		s = append(s, k)
	}
	return s
}

var (
	primitiveType = reflect.TypeOf(toml.Primitive{})
	durationType  = reflect.TypeOf(duration{})
	timeDuration  = reflect.TypeOf(time.Duration(0))
)

// keyTree returns the keys t accepts when decoded by BurntSushi/toml: the
// toml tag of each field (or its name), nested structs as sub-tables.
func keyTree(t reflect.Type) *keyNode {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return nil
	}
	switch {
	case t.Kind() == reflect.Map:
		return &keyNode{anyKey: true}
	case t.Kind() != reflect.Struct || t == durationType || t == primitiveType ||
		t.Implements(reflect.TypeOf((*interface{ UnmarshalText([]byte) error })(nil)).Elem()) ||
		reflect.PointerTo(t).Implements(reflect.TypeOf((*interface{ UnmarshalText([]byte) error })(nil)).Elem()):
		return &keyNode{}
	}
	n := &keyNode{children: map[string]*keyNode{}}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("toml")
		if tag == "-" {
			continue
		}
		name := strings.Split(tag, ",")[0]
		if f.Anonymous && name == "" {
			if sub := keyTree(f.Type); sub != nil {
				for k, v := range sub.children {
					n.children[k] = v
				}
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct || ft.Kind() == reflect.Map {
			n.children[strings.ToLower(name)] = keyTree(ft)
		} else {
			n.children[strings.ToLower(name)] = &keyNode{}
		}
	}
	return n
}

// knownKeys lists the top-level keys of the given struct types, for suggestions.
func knownKeys(types ...reflect.Type) []string {
	var s []string
	for _, t := range types {
		s = append(s, keyTree(t).names()...)
	}
	return s
}

// suggest returns the known key closest to key when it is a likely typo.
func suggest(key string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(key), k); d < bestD || (d == bestD && k < best && best != "") {
			best, bestD = k, d
		}
	}
	if bestD > 2 || bestD*2 > len(key) {
		return ""
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
