// Package config is radrelay's configuration: the model of a configuration
// file (global settings, [[input]] and [[sink]] tables), its parsing with
// every problem reported at its line, the checks that "radrelay validate"
// and "radrelay run" both make before anything is opened, and the opening
// of the sinks it describes.
//
// The configuration of each sink's type belongs to the sink's package (see
// sinks.Type); this package only knows the keys every sink has (name, type,
// url, max_outstanding, batch_size, retry, filter).
package config

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/radrelay/radrelay/listener"
	"github.com/radrelay/radrelay/sinks"
	"github.com/radrelay/radrelay/sinks/route"
	"github.com/radrelay/radrelay/tailer"
)

// Defaults of the settings this package owns; docs/configuration.md lists
// them. The tailer's own defaults (shutdown_timeout, poll_interval, retry)
// are its constants, used here.
const (
	DefaultLogFormat = "text"
	DefaultLogLevel  = "info"
	// DefaultReplayQuarantine is where a replay without a quarantine
	// directory or a state directory puts the records it cannot deliver.
	DefaultReplayQuarantine = "radrelay-quarantine"
)

// Config is a radrelay configuration, from a file or from command-line flags,
// with defaults applied.
type Config struct {
	File string // the file it came from, "" for flags

	StateDir      string
	QuarantineDir string // "" for the tailer's default (in StateDir)
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
	// FailureReminder: how often a sink that stays down is logged again.
	FailureReminder time.Duration

	Inputs []Input
	Sinks  []Sink
	// Listen are the accounting servers ([[listen]]) whose spools are
	// relayed like inputs.
	Listen []Listen

	// Replay: the configuration is read by "radrelay replay", which takes
	// its files from the command line: inputs and state_dir are not needed.
	Replay bool
	// Offline: Check does not look at what the configuration refers to on
	// this machine (see Options).
	Offline bool
	// ReplayFiles are the files a replay reads (from its command line): a
	// sink may not write into them either.
	ReplayFiles []string

	lines keyLines // where the keys of File are, nil for flags
	// badKeys are global keys whose value could not be decoded: the checks
	// of their values are skipped, so one mistake is reported once.
	badKeys map[string]bool
	// sinkTables counts the [[sink]] tables, decodable or not; listenTables
	// the [[listen]] tables.
	sinkTables   int
	listenTables int
}

// New returns a configuration with every default set and nothing in it,
// for a configuration made from flags.
func New() *Config {
	return &Config{
		LogFormat:       DefaultLogFormat,
		LogLevel:        DefaultLogLevel,
		ShutdownTimeout: tailer.DefaultShutdownTimeout,
		PollInterval:    tailer.DefaultPollInterval,
		FailureReminder: tailer.DefaultFailureReminder,
	}
}

// ModeChoices explains the two modes, in the error of a run that names
// none: consume deletes the files, so it is never taken by default.
const ModeChoices = `  consume  rename each file to a work file, read it, and DELETE it once every sink has it (as FreeRADIUS's radrelay)
  follow   read the files in place and never change them; the position is kept in the state directory`

// Input is one [[input]] table (or --input).
type Input struct {
	Glob string
	Mode tailer.Mode
	// StartAtEnd (start_at = "end", follow only): the files found at the
	// first start, when the state directory knows none, are read from
	// their end; files appearing later are read whole.
	StartAtEnd bool
	Line       int // its line in the file, 0 for a flag
	elem       int
}

// Sink is one [[sink]] table (or one --to URL).
type Sink struct {
	Name           string
	Type           string
	URL            string // when given as a URL; show it with RedactedURL
	MaxOutstanding int
	BatchSize      int
	Retry          tailer.RetryPolicy
	Filter         route.Config

	// Options is the type-specific configuration, the sink package's
	// Config; nil when it could not be decoded.
	Options sinks.Config
	Kind    *sinks.Type
	Line    int // its line in the file, 0 for a flag
	elem    int // its index among the [[sink]] tables, -1 for a flag
	// badKeys are keys whose value could not be decoded: the checks of
	// their values are skipped, so one mistake is reported once.
	badKeys map[string]bool
}

// RedactedURL is the sink's URL fit for a log, "" when it has none.
func (s *Sink) RedactedURL() string {
	if s.URL == "" {
		return ""
	}
	if s.Kind != nil && s.Kind.RedactURL != nil {
		return s.Kind.RedactURL(s.URL)
	}
	return s.URL
}

// defaultWindow and defaultBatch are the max_outstanding and batch_size of
// a sink of type k (nil when unknown) that sets neither.
func defaultWindow(k *sinks.Type) int {
	if k == nil || k.Window == 0 {
		return tailer.DefaultMaxOutstanding
	}
	return k.Window
}

func defaultBatch(k *sinks.Type, window int) int {
	b := window
	if k != nil && k.Batch != 0 {
		b = k.Batch
	}
	return max(min(b, window), 1)
}

// DefaultWindows describes the default max_outstanding and batch_size of
// every sink type, for help texts: "csv 256/256, ..., radius 1024/256".
func DefaultWindows() string {
	var parts []string
	for _, name := range sinks.TypeNames() {
		k, _ := sinks.Lookup(name)
		w := defaultWindow(k)
		parts = append(parts, fmt.Sprintf("%s %d/%d", name, w, defaultBatch(k, w)))
	}
	return strings.Join(parts, ", ")
}

// SetWindow sets max_outstanding (when window > 0) and batch_size (when
// batch > 0), the batch following a smaller window as its default does.
func (s *Sink) SetWindow(window, batch int) {
	if window != 0 {
		s.MaxOutstanding = window
		if batch == 0 {
			s.BatchSize = min(s.BatchSize, max(window, 1))
		}
	}
	if batch != 0 {
		s.BatchSize = batch
	}
}

// ParseLogLevel parses a log level: debug, info, warn or error.
func ParseLogLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, &levelError{s}
}

type levelError struct{ s string }

func (e *levelError) Error() string {
	return `"` + e.s + `" is not debug, info, warn or error`
}

var sinkNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// ValidSinkName reports whether s may name a sink (it names its state file).
func ValidSinkName(s string) bool { return len(s) <= 100 && sinkNameRE.MatchString(s) }

// TailerConfig is the part of cfg the tailer takes, without the sinks.
func (cfg *Config) TailerConfig() tailer.Config {
	tc := tailer.Config{
		StateDir:        cfg.StateDir,
		QuarantineDir:   cfg.QuarantineDir,
		RaiseDelayTime:  cfg.RaiseDelayTime,
		PollInterval:    cfg.PollInterval,
		ShutdownTimeout: cfg.ShutdownTimeout,
		FailureReminder: cfg.FailureReminder,
	}
	for _, in := range cfg.Inputs {
		tc.Inputs = append(tc.Inputs, tailer.Input{Glob: in.Glob, Mode: in.Mode, StartAtEnd: in.StartAtEnd})
	}
	for _, l := range cfg.Listen {
		lc := listener.Config{SpoolDir: l.SpoolDir, FileTemplate: l.FileTemplate}
		tc.Inputs = append(tc.Inputs, tailer.Input{Glob: lc.InputGlob(), Mode: tailer.Consume, ReadAhead: true})
	}
	return tc
}

// EffectiveQuarantineDir is where quarantined records go: quarantine_dir,
// else the tailer's default in the state directory, else (replay without
// either) DefaultReplayQuarantine.
func (cfg *Config) EffectiveQuarantineDir() string {
	switch {
	case cfg.QuarantineDir != "":
		return cfg.QuarantineDir
	case cfg.StateDir != "":
		return tailer.DefaultQuarantineDir(cfg.StateDir)
	case cfg.Replay:
		return DefaultReplayQuarantine
	}
	return ""
}

// absPath is p made absolute (p itself when that fails).
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
