package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/radrelay/radrelay/sinks"
	"github.com/radrelay/radrelay/sinks/route"
	"github.com/radrelay/radrelay/tailer"
)

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
	FailureReminder *duration        `toml:"failure_reminder"`
	Input           []toml.Primitive `toml:"input"`
	Sink            []toml.Primitive `toml:"sink"`
	Listen          []toml.Primitive `toml:"listen"`
}

type fileInput struct {
	Glob    string `toml:"glob"`
	Mode    string `toml:"mode"`
	StartAt string `toml:"start_at"`
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

// Options say how a configuration is read.
type Options struct {
	// Replay: the file configures "radrelay replay", whose inputs come
	// from the command line: inputs and state_dir are not needed.
	Replay bool
	// Offline skips the checks of what the configuration refers to on
	// this machine (secret files, environment variables, dictionaries):
	// for a file meant for another machine, such as an example.
	Offline bool
}

// Load reads the configuration file name and checks it as Parse does.
func Load(name string, opts Options) (*Config, error) {
	src, err := os.ReadFile(name)
	if err != nil {
		msg := err.Error()
		if u := errors.Unwrap(err); u != nil {
			msg = u.Error()
		}
		return nil, Errors{{File: name, Msg: "cannot read the configuration: " + msg}}
	}
	return Parse(name, string(src), opts)
}

// Parse decodes and checks a configuration (Check). The error, if any, is
// Errors: every problem found, each at its line.
func Parse(name, src string, opts Options) (*Config, error) {
	p := &parser{collector: collector{file: name}}
	cfg := p.parse(src, opts.Replay)
	if cfg != nil {
		cfg.Offline = opts.Offline
	}
	if cfg != nil {
		p.errs = append(p.errs, cfg.check()...)
	}
	if len(p.errs) > 0 {
		return nil, p.errs.sorted()
	}
	return cfg, nil
}

type parser struct {
	collector
	lines keyLines
}

// lastKeyRE finds the key in the decoder's type errors ("toml: line 3 (last
// key "sink.batch_size"): incompatible types: ...").
var lastKeyRE = regexp.MustCompile(`^toml: (?:line \d+ )?\(last key "([^"]*)"\): `)

// decodeMessage splits an error of the decoder into the key it names and
// its message in the words of the configuration.
func decodeMessage(err error) (key, msg string) {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return pe.LastKey, friendlyTypes(pe.Message)
	}
	msg = err.Error()
	if m := lastKeyRE.FindStringSubmatch(msg); m != nil {
		key, msg = m[1], strings.TrimPrefix(msg, m[0])
	} else {
		msg = strings.TrimPrefix(msg, "toml: ")
	}
	return key, friendlyTypes(msg)
}

var typeMismatchRE = regexp.MustCompile(`incompatible types: TOML value has type (\S+); destination has type (\S+)`)

// friendlyTypes rewrites the decoder's type mismatch in the words of the
// configuration: "wrong type: a string, where an integer is expected".
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

// decodeKey decodes the single key k with value v (from a table decoded
// into a map) into the struct *target, leaving its other fields alone, so
// that one value of a wrong type neither hides the others nor moves them.
// The error names the key path inside v (e.g. "servers.address").
func decodeKey(target any, k string, v any) error {
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(map[string]any{k: v}); err != nil {
		return fmt.Errorf("toml: (last key %q): %v", k, err)
	}
	_, err := toml.Decode(buf.String(), target)
	return err
}

func (p *parser) parse(src string, replay bool) *Config {
	p.lines = locateKeys(src)
	var top map[string]any
	_, err := toml.Decode(src, &top)
	if err != nil {
		key, msg := decodeMessage(err)
		line := 0
		var pe toml.ParseError
		if errors.As(err, &pe) {
			line = pe.Position.Line
		}
		if key != "" {
			p.errorf(line, "%s: %s", key, msg)
		} else {
			p.errorf(line, "%s", msg)
		}
		return nil
	}
	cfg := New()
	cfg.File, cfg.Replay, cfg.lines = p.file, replay, p.lines
	var g fileGlobals
	known := knownKeys(reflect.TypeOf(fileGlobals{}))
	for _, k := range sortedKeys(top) {
		switch k {
		case "input", "sink", "listen":
			continue
		}
		if !contains(known, k) {
			p.unknownKey("", k, p.lines.find(k, -1), known)
			continue
		}
		if err := decodeKey(&g, k, top[k]); err != nil {
			_, msg := decodeMessage(err)
			p.errorf(p.lines.find(k, -1), "%s: %s", k, msg)
			if cfg.badKeys == nil {
				cfg.badKeys = map[string]bool{}
			}
			cfg.badKeys[k] = true
		}
	}
	cfg.StateDir, cfg.QuarantineDir, cfg.Dictionary = g.StateDir, g.QuarantineDir, g.Dictionary
	cfg.LogFormat, cfg.LogLevel = or(g.LogFormat, DefaultLogFormat), or(g.LogLevel, DefaultLogLevel)
	cfg.LogFile, cfg.MetricsListen, cfg.ReadyMaxBacklog = g.LogFile, g.MetricsListen, g.ReadyMaxBacklog
	if g.ShutdownTimeout != nil {
		cfg.ShutdownTimeout = g.ShutdownTimeout.Duration
	}
	if g.PollInterval != nil {
		cfg.PollInterval = g.PollInterval.Duration
	}
	if g.RaiseDelayTime != nil {
		cfg.RaiseDelayTime = *g.RaiseDelayTime
	}
	if g.FailureReminder != nil {
		cfg.FailureReminder = g.FailureReminder.Duration
	}

	for i, t := range tables(top["input"]) {
		if in, ok := p.parseInput(t, i, replay); ok {
			cfg.Inputs = append(cfg.Inputs, in)
		}
	}
	if v, ok := top["input"]; ok && tables(v) == nil && v != nil {
		p.errorf(p.lines.find("input", -1), "input: wrong type: want [[input]] tables")
	}
	cfg.listenTables = len(tables(top["listen"]))
	for i, t := range tables(top["listen"]) {
		if l, ok := p.parseListen(t, i); ok {
			cfg.Listen = append(cfg.Listen, l)
		}
	}
	if v, ok := top["listen"]; ok && tables(v) == nil && v != nil {
		p.errorf(p.lines.find("listen", -1), "listen: wrong type: want [[listen]] tables")
	}
	sinkTables := tables(top["sink"])
	if _, ok := top["sink"]; ok && sinkTables == nil {
		p.errorf(p.lines.find("sink", -1), "sink: wrong type: want [[sink]] tables")
	}
	cfg.sinkTables = len(sinkTables)
	for i, t := range sinkTables {
		if sc, ok := p.parseSink(t, i); ok {
			cfg.Sinks = append(cfg.Sinks, sc)
		}
	}
	return cfg
}

// tables returns v as an array of tables, nil when it is not one.
func tables(v any) []map[string]any {
	switch t := v.(type) {
	case []map[string]any:
		return t
	case []any:
		out := make([]map[string]any, 0, len(t))
		for _, e := range t {
			m, ok := e.(map[string]any)
			if !ok {
				return nil
			}
			out = append(out, m)
		}
		return out
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (p *parser) unknownKey(label, key string, line int, known []string) {
	last := key[strings.LastIndexByte(key, '.')+1:]
	if s := suggest(last, known); s != "" {
		p.errorf(line, "%sunknown key %q (did you mean %q?)", label, key, s)
		return
	}
	p.errorf(line, "%sunknown key %q", label, key)
}

func (p *parser) parseInput(t map[string]any, i int, replay bool) (Input, bool) {
	line := p.lines.table("input", i)
	var in fileInput
	known := knownKeys(reflect.TypeOf(fileInput{}))
	ok := true
	for _, k := range sortedKeys(t) {
		if !contains(known, k) {
			p.unknownKey("input: ", k, p.lines.find("input."+k, i), known)
			continue
		}
		if err := decodeKey(&in, k, t[k]); err != nil {
			_, msg := decodeMessage(err)
			p.errorf(p.lines.find("input."+k, i), "input: %s: %s", k, msg)
			ok = false
		}
	}
	ic := Input{Glob: in.Glob, Line: line, elem: i}
	switch strings.ToLower(in.Mode) {
	case "consume":
		ic.Mode = tailer.Consume
	case "follow":
		ic.Mode = tailer.Follow
	case "":
		if replay {
			break // replay ignores [[input]]
		}
		p.errorf(line, "input: mode is required, say how the files are read:\n%s", ModeChoices)
	default:
		p.errorf(p.lines.find("input.mode", i), "input: mode %q is not consume or follow:\n%s", in.Mode, ModeChoices)
	}
	switch strings.ToLower(in.StartAt) {
	case "", "beginning":
	case "end":
		if ic.Mode != tailer.Follow {
			p.errorf(p.lines.find("input.start_at", i), "input: start_at = \"end\" needs mode = \"follow\" (consume reads every file whole)")
		}
		ic.StartAtEnd = true
	default:
		p.errorf(p.lines.find("input.start_at", i), "input: start_at %q is not \"beginning\" or \"end\"", in.StartAt)
	}
	return ic, ok
}

func (p *parser) parseSink(t map[string]any, i int) (Sink, bool) {
	line := p.lines.table("sink", i)
	label := "sink"
	if n, ok := t["name"]; ok {
		label = fmt.Sprintf("sink %q", fmt.Sprint(n))
	}
	where := func(key string) int { return p.lines.find("sink."+key, i) }
	common := keyTree(reflect.TypeOf(fileSink{}))

	// The keys every sink has, one at a time.
	var fs fileSink
	bad := map[string]bool{}
	for _, k := range sortedKeys(t) {
		if common.child(k) == nil {
			continue
		}
		if err := decodeKey(&fs, k, t[k]); err != nil {
			key, msg := decodeMessage(err)
			if key == "" {
				key = k
			}
			p.errorf(where(key), "%s: %s: %s", label, key, msg)
			bad[k], bad[key] = true, true
		}
	}
	sc := Sink{
		Name: fs.Name, Type: fs.Type, Filter: fs.Filter, Line: line, elem: i, badKeys: bad,
		Retry: tailer.RetryPolicy{
			Initial:     tailer.DefaultRetryInitial,
			Max:         tailer.DefaultRetryMax,
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

	// The sink's type, and its own keys.
	exclusive := ""
	switch {
	case fs.URL != "":
		exclusive = "url"
		kind, typ, err := typeOfURL(fs.URL)
		if err != nil {
			p.errorf(where("url"), "%s: url: %v", label, err)
			break
		}
		if fs.Type != "" && fs.Type != typ {
			p.errorf(where("type"), "%s: type %q contradicts url, which is a %q sink", label, fs.Type, typ)
		}
		sc.Type, sc.Kind, sc.URL = typ, kind, fs.URL
		if kind.FromURL == nil {
			p.errorf(where("url"), "%s: url: a %s sink has no URL form", label, typ)
			break
		}
		opts, err := kind.FromURL(fs.URL)
		if err != nil {
			for _, fe := range sinks.FieldErrors(err) {
				p.errorf(where("url"), "%s: url: %v", label, fe)
			}
			break
		}
		sc.Options = opts
	case fs.Type == "":
		if _, isString := t["type"].(string); isString || t["type"] == nil {
			p.errorf(line, "%s: no type (one of %s) and no url", label, strings.Join(sinks.TypeNames(), ", "))
		}
	default:
		kind, known := sinks.Lookup(fs.Type)
		if !known {
			p.errorf(where("type"), "%s: unknown type %q (known: %s)", label, fs.Type, strings.Join(sinks.TypeNames(), ", "))
			break
		}
		sc.Kind = kind
		sc.Options = kind.NewConfig()
		for _, k := range sortedKeys(t) {
			if common.child(k) != nil || keyTree(reflect.TypeOf(sc.Options)).child(k) == nil {
				continue
			}
			if !p.decodeOption(sc.Options, kind, k, t[k], i, label) {
				bad[k] = true
			}
		}
	}
	var optionsType reflect.Type
	if sc.Options != nil {
		optionsType = reflect.TypeOf(sc.Options)
	}
	p.checkSinkKeys(t, optionsType, i, label, exclusive, sc.Kind != nil)

	window := defaultWindow(sc.Kind)
	sc.MaxOutstanding = window
	if fs.MaxOutstanding != nil {
		sc.MaxOutstanding = *fs.MaxOutstanding
	}
	sc.BatchSize = defaultBatch(sc.Kind, max(sc.MaxOutstanding, 1))
	if fs.BatchSize != nil {
		sc.BatchSize = *fs.BatchSize
	}
	return sc, true
}

// decodeOption decodes key k of a sink's own configuration. An array of
// tables is tried element by element first, so that a wrong type is
// reported at its element.
func (p *parser) decodeOption(target sinks.Config, kind *sinks.Type, k string, v any, i int, label string) bool {
	report := func(err error, elem int) {
		key, msg := decodeMessage(err)
		if key == "" {
			key = k
		}
		field := key
		if elem >= 0 {
			field = fmt.Sprintf("%s[%d]%s", k, elem, strings.TrimPrefix(key, k))
		}
		p.errorf(p.lines.field("sink", i, field), "%s: %s: %s", label, field, msg)
	}
	if elems := tables(v); elems != nil {
		bad := false
		for j, e := range elems {
			if err := decodeKey(kind.NewConfig(), k, []map[string]any{e}); err != nil {
				report(err, j)
				bad = true
			}
		}
		if bad {
			return false
		}
	}
	if err := decodeKey(target, k, v); err != nil {
		report(err, -1)
		return false
	}
	return true
}

// checkSinkKeys reports the keys of a [[sink]] table that neither the common
// sink keys nor the sink type's Config (options) know. With url set, every
// type-specific key is a contradiction. Without a known type, only the
// common keys are checked.
func (p *parser) checkSinkKeys(raw map[string]any, options reflect.Type, i int, label, exclusive string, typed bool) {
	common := keyTree(reflect.TypeOf(fileSink{}))
	own := keyTree(options)
	var walk func(m map[string]any, prefix, field string, c, t *keyNode)
	walk = func(m map[string]any, prefix, field string, c, t *keyNode) {
		for _, k := range sortedKeys(m) {
			full, fieldPath := prefix+k, field+k
			cc, tc := c.child(k), t.child(k)
			if cc == nil && tc == nil {
				if !typed && exclusive == "" {
					continue // the type is unknown: its keys cannot be checked
				}
				known := append(c.names(), t.names()...)
				p.unknownKey(label+": ", full, p.lines.field("sink", i, fieldPath), known)
				continue
			}
			if cc == nil && exclusive != "" {
				p.errorf(p.lines.field("sink", i, fieldPath), "%s: %s cannot be set together with %s (the URL carries the sink's settings)", label, full, exclusive)
				continue
			}
			if cc.any() || tc.any() {
				continue
			}
			switch sub := m[k].(type) {
			case map[string]any:
				walk(sub, full+".", fieldPath+".", cc, tc)
			case []map[string]any: // an array of tables, e.g. [[sink.servers]]
				for j, elem := range sub {
					walk(elem, full+".", fmt.Sprintf("%s[%d].", fieldPath, j), cc, tc)
				}
			}
		}
	}
	walk(raw, "", "", common, own)
}
