package config

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"

	"github.com/radrelay/radrelay/dictionary"
	"github.com/radrelay/radrelay/sinks"
	"github.com/radrelay/radrelay/sinks/route"
)

// Check makes every check of a configuration that "radrelay run" makes
// before it opens a connection or an output (it reads the secret files and
// dictionaries the configuration names): the same for a file (Parse calls
// it) and for flags. The error, if any, is Errors, sorted by line.
func (cfg *Config) Check() error {
	if errs := cfg.check(); len(errs) > 0 {
		return errs.sorted()
	}
	return nil
}

// line returns the line of a global key, 0 for flags.
func (cfg *Config) line(key string) int { return cfg.lines.find(key, -1) }

// sinkLine returns the line of a common key of sink s.
func (cfg *Config) sinkLine(s *Sink, key string) int {
	if s.elem < 0 {
		return 0
	}
	return cfg.lines.find("sink."+key, s.elem)
}

func (cfg *Config) check() Errors {
	c := &collector{file: cfg.File}
	fromFile := cfg.File != ""
	switch cfg.LogFormat {
	case "text", "json":
	default:
		c.errorf(cfg.line("log_format"), "log_format %q is not text or json", cfg.LogFormat)
	}
	if _, err := ParseLogLevel(cfg.LogLevel); err != nil {
		c.errorf(cfg.line("log_level"), "log_level: %v", err)
	}
	if cfg.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(cfg.MetricsListen); err != nil {
			c.errorf(cfg.line("metrics_listen"), "metrics_listen %q is not HOST:PORT (e.g. \"127.0.0.1:9813\" or \":9813\")", cfg.MetricsListen)
		}
	}
	if cfg.ReadyMaxBacklog < 0 {
		c.errorf(cfg.line("ready_max_backlog"), "ready_max_backlog must be 0 or more bytes")
	}
	if cfg.FailureReminder <= 0 && !cfg.badKeys["failure_reminder"] {
		c.errorf(cfg.line("failure_reminder"), "failure_reminder must be more than 0s")
	}
	if cfg.PollInterval <= 0 && !cfg.badKeys["poll_interval"] {
		c.errorf(cfg.line("poll_interval"), "poll_interval must be more than 0s")
	}
	if cfg.ShutdownTimeout <= 0 && !cfg.badKeys["shutdown_timeout"] {
		c.errorf(cfg.line("shutdown_timeout"), "shutdown_timeout must be more than 0s")
	}
	if cfg.Dictionary != "" && !cfg.badKeys["dictionary"] && !cfg.Offline {
		if err := dictionary.Builtin().LoadFile(cfg.Dictionary); err != nil {
			c.errorf(cfg.line("dictionary"), "dictionary: %v", err)
		}
	}
	needState := false
	cfg.checkListen(c)
	if len(cfg.Listen) > 0 && !cfg.Replay {
		needState = len(cfg.Sinks) > 0 || cfg.sinkTables > 0
	}
	if len(cfg.Inputs) == 0 && cfg.listenTables == 0 && len(cfg.Listen) == 0 && fromFile && !cfg.Replay {
		c.errorf(0, "no [[input]]: say which detail files to read, e.g.\n\n  [[input]]\n  glob = \"/var/log/freeradius/radacct/*/detail-*\"\n  mode = \"follow\"\n\n(a file for \"radrelay replay -c\", which takes its files from the command line? check it with \"radrelay validate --replay -c FILE\")")
	}
	if cfg.Replay {
		cfg.Inputs = nil // replay reads the files it is given
	}
	seenGlob := map[string]int{}
	for _, in := range cfg.Inputs {
		where := func(key string) int {
			if in.Line == 0 {
				return 0
			}
			return cfg.lines.find("input."+key, in.elem)
		}
		if in.Glob == "" {
			c.errorf(in.Line, "input has no glob")
			continue
		}
		if _, err := filepath.Match(in.Glob, ""); err != nil {
			c.errorf(where("glob"), "input: glob %q: %v", in.Glob, err)
		}
		if prev, dup := seenGlob[in.Glob]; dup {
			if in.Line > 0 {
				c.errorf(in.Line, "input: glob %q is already read by the input at line %d", in.Glob, prev)
			} else {
				c.errorf(0, "input: glob %q is given twice", in.Glob)
			}
		}
		seenGlob[in.Glob] = in.Line
		needState = true
	}
	if needState && cfg.StateDir == "" && !cfg.badKeys["state_dir"] {
		if fromFile {
			c.errorf(cfg.line("state_dir"), "state_dir is required to consume or follow files: it holds each sink's progress (e.g. state_dir = \"/var/lib/radrelay\")")
		} else {
			c.errorf(0, "no --state DIR: radrelay keeps each sink's progress there (e.g. --state /var/lib/radrelay)")
		}
	}
	// With a listener and no sink radrelay only spools: an [[input]] would
	// be ignored without a word, its files never read.
	inputsNeedSinks := len(cfg.Inputs) > 0 && len(cfg.Sinks) == 0 && cfg.sinkTables == 0
	if inputsNeedSinks && (len(cfg.Listen) > 0 || cfg.listenTables > 0) {
		if fromFile {
			c.errorf(0, "no [[sink]] for the [[input]]: without sinks radrelay only spools what its [[listen]] receives, and the inputs would never be read; add a [[sink]] or remove the [[input]]")
		} else {
			c.errorf(0, "no --to for --input: without --to radrelay only spools what --listen receives, and the inputs would never be read")
		}
	}
	if len(cfg.Sinks) == 0 && cfg.sinkTables == 0 && len(cfg.Listen) == 0 && cfg.listenTables == 0 {
		if fromFile {
			c.errorf(0, "no [[sink]]: say where records go, e.g.\n\n  [[sink]]\n  name = \"copy\"\n  type = \"detail\"\n  path = \"/var/log/radrelay/detail\"")
		} else {
			c.errorf(0, "no sink: give --to SINK-URL (e.g. --to jsonl:- or --to detail:/var/log/radrelay/detail)")
		}
	}
	names := map[string]int{}
	for i := range cfg.Sinks {
		cfg.checkSink(c, &cfg.Sinks[i], names)
	}
	written := map[string]string{}
	for i := range cfg.Sinks {
		cfg.checkSharedOutput(c, &cfg.Sinks[i], written)
	}
	return c.errs
}

// checkSharedOutput refuses two sinks that append to one file: their
// records interleave (a detail sink and a jsonl sink made a file neither
// format reads), and each one's repair of a short write could cut the
// other's records. written maps each output path seen to its sink.
func (cfg *Config) checkSharedOutput(c *collector, s *Sink, written map[string]string) {
	out, ok := s.Options.(sinks.Outputs)
	if !ok {
		return
	}
	for _, p := range out.OutputPaths() {
		if p == "" || p == "-" {
			continue // standard output
		}
		key := cfg.resolvePath(absPath(p))
		if prev, dup := written[key]; dup && prev != s.Name {
			c.errorf(cfg.fieldLine(s, "path"), "sink %q: path: sink %q writes %s too: two sinks appending to one file mix their records (give each sink its own file)", s.Name, prev, p)
			continue
		}
		written[key] = s.Name
	}
}

func (cfg *Config) checkSink(c *collector, s *Sink, names map[string]int) {
	label := fmt.Sprintf("sink %q", s.Name)
	if s.Name == "" {
		label = "sink"
		c.errorf(s.Line, "sink has no name (every sink needs a unique, stable name: it keys the sink's progress)")
	} else if !ValidSinkName(s.Name) {
		c.errorf(cfg.sinkLine(s, "name"), "%s: name may only contain letters, digits, '.', '_' and '-'", label)
	}
	if prev, dup := names[s.Name]; dup && s.Name != "" {
		if s.Line > 0 {
			c.errorf(s.Line, "%s: the name is already used by the sink at line %d (names key each sink's progress and must be unique)", label, prev)
		} else {
			c.errorf(0, "%s: two sinks have this name (names key each sink's progress and must be unique; name them with NAME=URL)", label)
		}
	}
	names[s.Name] = s.Line
	if s.MaxOutstanding < 1 && !s.badKeys["max_outstanding"] {
		c.errorf(cfg.sinkLine(s, "max_outstanding"), "%s: max_outstanding must be at least 1", label)
	}
	if s.badKeys["batch_size"] || s.badKeys["max_outstanding"] {
		// its value is not known
	} else if s.BatchSize < 1 {
		c.errorf(cfg.sinkLine(s, "batch_size"), "%s: batch_size must be at least 1", label)
	} else if s.MaxOutstanding >= 1 && s.BatchSize > s.MaxOutstanding {
		c.errorf(cfg.sinkLine(s, "batch_size"), "%s: batch_size %d is larger than max_outstanding %d", label, s.BatchSize, s.MaxOutstanding)
	}
	if s.badKeys["retry"] {
		// reported
	} else if s.Retry.Initial <= 0 {
		c.errorf(cfg.sinkLine(s, "retry.initial"), "%s: retry.initial must be more than 0s", label)
	}
	if s.Retry.Max < s.Retry.Initial && !s.badKeys["retry"] {
		c.errorf(cfg.sinkLine(s, "retry.max"), "%s: retry.max (%v) is shorter than retry.initial (%v)", label, s.Retry.Max, s.Retry.Initial)
	}
	if s.Retry.MaxAttempts < 0 {
		c.errorf(cfg.sinkLine(s, "retry.max_attempts"), "%s: retry.max_attempts cannot be negative (0 retries forever)", label)
	}
	if _, err := route.New(s.Filter); err != nil {
		for _, e := range strings.Split(err.Error(), "\n") {
			line := cfg.sinkLine(s, "filter."+strings.SplitN(e, ":", 2)[0])
			c.errorf(line, "%s: filter.%s", label, e)
		}
	}
	if s.Options == nil {
		return
	}
	errs := s.Options.Validate()
	if env, ok := s.Options.(sinks.EnvironmentChecker); ok && !cfg.Offline {
		errs = errors.Join(errs, env.CheckEnvironment())
	}
	for _, fe := range sinks.FieldErrors(errs) {
		top, _, _ := strings.Cut(fe.Field, ".")
		top, _, _ = strings.Cut(top, "[")
		if s.badKeys[top] {
			continue // its value could not be decoded: reported already
		}
		c.errorf(cfg.fieldLine(s, fe.Field), "%s: %s", label, fe.Error())
	}
	cfg.checkOutputs(c, s, label)
}

// fieldLine returns the line of a key of a sink's own configuration; a sink
// given as a URL has its problems at its url key.
func (cfg *Config) fieldLine(s *Sink, field string) int {
	switch {
	case s.elem < 0:
		return 0
	case s.URL != "":
		return cfg.sinkLine(s, "url")
	case field == "":
		return s.Line
	}
	return cfg.lines.field("sink", s.elem, field)
}

// checkOutputs refuses a sink that writes files its own inputs read: it
// would read its own output, for ever.
func (cfg *Config) checkOutputs(c *collector, s *Sink, label string) {
	out, ok := s.Options.(sinks.Outputs)
	if !ok {
		return
	}
	for _, p := range out.OutputPaths() {
		abs := absPath(p)
		real := cfg.resolvePath(abs)
		for _, f := range cfg.ReplayFiles {
			if absPath(f) == abs || cfg.resolvePath(absPath(f)) == real {
				c.errorf(cfg.fieldLine(s, "path"), "%s: path: it writes %s, which this replay reads: the sink would read its own output, without end", label, f)
			}
		}
		for _, in := range cfg.Inputs {
			glob := absPath(in.Glob)
			m, _ := filepath.Match(glob, abs)
			if !m {
				// The same directory reached through a symbolic link
				// (of the input's or of the output's path) is the same
				// loop.
				m, _ = filepath.Match(cfg.resolvePath(glob), real)
			}
			if m {
				c.errorf(cfg.fieldLine(s, "path"), "%s: path: the files it writes match the input %q: the sink would read its own output, without end (write outside the input globs)", label, in.Glob)
			}
		}
	}
}

// resolvePath returns an absolute path or glob with the symbolic links of
// its longest existing, wildcard-free leading directories resolved, so
// that two spellings of one directory compare equal. Offline, or where
// nothing resolves, it returns p unchanged.
func (cfg *Config) resolvePath(p string) string {
	if cfg.Offline {
		return p
	}
	dir, rest := p, ""
	for {
		if !hasGlobMeta(dir) {
			if r, err := filepath.EvalSymlinks(dir); err == nil {
				if rest == "" {
					return r
				}
				return filepath.Join(r, rest)
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return p
		}
		if rest == "" {
			rest = filepath.Base(dir)
		} else {
			rest = filepath.Join(filepath.Base(dir), rest)
		}
		dir = parent
	}
}

// hasGlobMeta reports whether a path holds a filepath.Match wildcard.
func hasGlobMeta(p string) bool {
	return strings.ContainsAny(p, `*?[\`)
}
