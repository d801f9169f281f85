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
	return c.errs
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
		for _, f := range cfg.ReplayFiles {
			if absPath(f) == abs {
				c.errorf(cfg.fieldLine(s, "path"), "%s: path: it writes %s, which this replay reads: the sink would read its own output, without end", label, f)
			}
		}
		for _, in := range cfg.Inputs {
			if m, _ := filepath.Match(absPath(in.Glob), abs); m {
				c.errorf(cfg.fieldLine(s, "path"), "%s: path: the files it writes match the input %q: the sink would read its own output, without end (write outside the input globs)", label, in.Glob)
			}
		}
	}
}
