package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/radrelay/radrelay/tailer"
)

var validateFlags struct {
	config string
	print  bool
	replay bool
}

func init() {
	register(&command{
		name:    "validate",
		summary: "check a configuration file and exit",
		usage: `Usage:
  radrelay validate [--print] [--replay] -c FILE

Validate reads a configuration file, checks it as "radrelay run -c FILE"
would, and exits. Every problem is reported on a line of its own, as
FILE:LINE: message, so an editor can jump to it: syntax errors, unknown keys
(with the closest known key), values of the wrong type, and contradictions
such as two sinks with one name, a batch_size larger than max_outstanding,
or consume/follow inputs without a state_dir.

It also checks what the file refers to on this machine: that secret and DSN
files are readable and that named environment variables are set (without
printing them), that the dictionary exists, and that each sink type is
available in this build. It does not connect to any server.

With --print, the effective configuration (defaults filled in, secrets
replaced by "xxxxx") is written to stdout as TOML. With --replay, the file
is checked as "radrelay replay -c FILE" reads it: inputs and state_dir are
not required.

Exit status: 0 when the configuration is valid, 1 when it is not, 2 for a
usage error.

Examples:
  radrelay validate -c /etc/radrelay/radrelay.toml
  radrelay validate --print -c examples/radius-backup.toml
  ExecStartPre=/usr/bin/radrelay validate -c /etc/radrelay/radrelay.toml   (systemd)`,
		flags: func(fs *flag.FlagSet) {
			validateFlags.config, validateFlags.print, validateFlags.replay = "", false, false
			fs.StringVar(&validateFlags.config, "c", "", "the configuration `FILE` to check")
			fs.StringVar(&validateFlags.config, "config", "", "same as -c `FILE`")
			fs.BoolVar(&validateFlags.print, "print", false, "print the effective configuration, secrets redacted")
			fs.BoolVar(&validateFlags.replay, "replay", false, "check the file as radrelay replay -c reads it")
		},
		run: runValidate,
	})
}

func runValidate(e *env, args []string) int {
	f := &validateFlags
	if f.config == "" && len(args) == 1 {
		f.config, args = args[0], nil
	}
	if f.config == "" || len(args) > 0 {
		fmt.Fprintln(e.stderr, "radrelay validate: give one configuration file: radrelay validate -c FILE")
		return 2
	}
	cfg, err := loadConfig(f.config, f.replay)
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		return 1
	}
	if problems := checkEnvironment(cfg); len(problems) > 0 {
		fmt.Fprintln(e.stderr, problems)
		return 1
	}
	for _, w := range environmentWarnings(cfg) {
		fmt.Fprintf(e.stderr, "%s: warning: %s\n", cfg.File, w)
	}
	for _, s := range cfg.Sinks {
		for _, key := range plainSecrets(s.Options) {
			fmt.Fprintf(e.stderr, "%s:%d: warning: sink %q: %s is written in the configuration file; prefer %s_file or %s_env (a file readable only by radrelay, or the environment)\n",
				cfg.File, s.line, s.Name, key, baseKey(key), baseKey(key))
		}
	}
	if f.print {
		if err := printConfig(e.stdout, cfg); err != nil {
			fmt.Fprintf(e.stderr, "radrelay validate: %v\n", err)
			return 1
		}
	}
	fmt.Fprintf(e.stderr, "%s: valid (%d inputs, %d sinks)\n", f.config, len(cfg.Inputs), len(cfg.Sinks))
	return 0
}

// secretRefRE matches the configuration keys that name where a secret is:
// secret_file, dsn_env, password_file, ...
var secretRefRE = regexp.MustCompile(`(?i)^(secret|password|passwd|dsn|token|key)_(file|env)$`)

// checkEnvironment checks what cfg refers to on this machine: secret files
// readable, environment variables set, the dictionary present, sink types
// available. It never reads a secret into a message.
func checkEnvironment(cfg *Config) ConfigErrors {
	var errs ConfigErrors
	add := func(line int, format string, args ...any) {
		errs = append(errs, ConfigError{File: cfg.File, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	if cfg.Dictionary != "" {
		if _, err := os.Stat(cfg.Dictionary); err != nil {
			add(0, "dictionary: %v", err)
		}
	}
	for _, s := range cfg.Sinks {
		if !s.kind.available() {
			add(s.line, "sink %q: %v", s.Name, errUnavailable(s.Type))
			continue
		}
		for key, value := range secretRefs(s.Options) {
			if value == "" {
				continue
			}
			if strings.HasSuffix(key, "_env") {
				if _, ok := os.LookupEnv(value); !ok {
					add(s.line, "sink %q: %s: environment variable %s is not set", s.Name, key, value)
				}
				continue
			}
			fh, err := os.Open(value)
			if err != nil {
				add(s.line, "sink %q: %s: %v", s.Name, key, err)
				continue
			}
			fh.Close()
		}
	}
	return errs
}

// secretRefs returns the *_file and *_env keys of a sink's Config value that
// name secrets, with their values (paths and variable names, not secrets),
// looking into nested tables and arrays of tables ("servers[1].secret_file").
func secretRefs(options any) map[string]string {
	out := map[string]string{}
	walkStringKeys(options, func(key, value string) {
		if secretRefRE.MatchString(baseKey(key)) {
			out[key] = value
		}
	})
	return out
}

// walkStringKeys calls fn with the dotted TOML key and the value of every
// string field of a sink's Config value, nested tables and arrays of tables
// included ("servers[1].secret_file").
func walkStringKeys(options any, fn func(key, value string)) {
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
			if v.IsNil() {
				return
			}
			v = v.Elem()
		}
		switch v.Kind() {
		case reflect.Slice:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i), fmt.Sprintf("%s[%d].", strings.TrimSuffix(prefix, "."), i))
			}
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				f := v.Type().Field(i)
				if !f.IsExported() {
					continue
				}
				key := strings.Split(f.Tag.Get("toml"), ",")[0]
				fv := v.Field(i)
				switch fv.Kind() {
				case reflect.String:
					fn(prefix+key, fv.String())
				case reflect.Struct, reflect.Slice, reflect.Pointer:
					walk(fv, prefix+key+".")
				}
			}
		}
	}
	walk(reflect.ValueOf(options), "")
}

// environmentWarnings notes what may be a mistake on this machine but may
// also be fine (directories made later, by a package or by radrelay itself).
func environmentWarnings(cfg *Config) []string {
	var ws []string
	for _, in := range cfg.Inputs {
		if dirs, _ := filepath.Glob(filepath.Dir(in.Glob)); len(dirs) == 0 {
			ws = append(ws, fmt.Sprintf("input %q: no directory matches %s yet", in.Glob, filepath.Dir(in.Glob)))
		}
	}
	// Two inputs taking the same file would deliver it twice (and, in
	// consume mode, fight over its work file).
	owner := map[string]string{}
	for _, in := range cfg.Inputs {
		matches, _ := filepath.Glob(in.Glob)
		for _, m := range matches {
			if prev, ok := owner[m]; ok && prev != in.Glob {
				ws = append(ws, fmt.Sprintf("inputs %q and %q both match %s: its records would be read twice", prev, in.Glob, m))
				break
			}
			owner[m] = in.Glob
		}
	}
	for _, d := range []struct{ key, dir string }{{"state_dir", cfg.StateDir}, {"quarantine_dir", cfg.QuarantineDir}} {
		if d.dir == "" {
			continue
		}
		st, err := os.Stat(d.dir)
		switch {
		case err == nil && !st.IsDir():
			ws = append(ws, fmt.Sprintf("%s %s is not a directory", d.key, d.dir))
		case err == nil && writable(d.dir) != nil:
			ws = append(ws, fmt.Sprintf("%s %s is not writable by this user", d.key, d.dir))
		case errors.Is(err, fs.ErrNotExist):
			ws = append(ws, fmt.Sprintf("%s %s does not exist yet (radrelay creates it)", d.key, d.dir))
		}
	}
	return ws
}

// plainSecrets returns the keys of a sink's Config value that hold a secret
// itself (secret, dsn, password) and are set.
func plainSecrets(options any) []string {
	var keys []string
	walkStringKeys(options, func(key, value string) {
		if value != "" && sensitiveKeyRE.MatchString(baseKey(key)) {
			keys = append(keys, key)
		}
	})
	return keys
}

// baseKey is the last part of a dotted key ("servers[0].secret" → "secret").
func baseKey(key string) string { return key[strings.LastIndexByte(key, '.')+1:] }

// effectiveOptions returns the sink's options with the defaults its type
// applies filled in.
func (s *SinkConfig) effectiveOptions(cfg *Config) any {
	if s.kind == nil || s.kind.effective == nil {
		return s.Options
	}
	return s.kind.effective(openEnv{dictionary: cfg.Dictionary}, s.Options)
}

// printConfig writes the effective configuration as TOML, secrets redacted.
func printConfig(w io.Writer, cfg *Config) error {
	top := map[string]any{
		"state_dir":         cfg.StateDir,
		"quarantine_dir":    cfg.tailerConfig().QuarantineDir,
		"dictionary":        cfg.Dictionary,
		"log_format":        cfg.LogFormat,
		"log_level":         cfg.LogLevel,
		"log_file":          cfg.LogFile,
		"metrics_listen":    cfg.MetricsListen,
		"ready_max_backlog": cfg.ReadyMaxBacklog,
		"shutdown_timeout":  cfg.ShutdownTimeout.String(),
		"poll_interval":     cfg.PollInterval.String(),
		"raise_delay_time":  cfg.RaiseDelayTime,
	}
	var inputs []map[string]any
	for _, in := range cfg.Inputs {
		mode := "consume"
		if in.Mode == tailer.Follow {
			mode = "follow"
		}
		inputs = append(inputs, map[string]any{"glob": in.Glob, "mode": mode})
	}
	if len(inputs) > 0 {
		top["input"] = inputs
	}
	var sinkTables []map[string]any
	for _, s := range cfg.Sinks {
		t := map[string]any{}
		if s.Options != nil {
			var buf bytes.Buffer
			if err := toml.NewEncoder(&buf).Encode(s.effectiveOptions(cfg)); err == nil {
				toml.Decode(buf.String(), &t)
			}
		}
		t["name"] = s.Name
		t["type"] = s.Type
		if s.URL != "" {
			t["url"] = redactURL(s.URL)
		}
		t["max_outstanding"] = s.MaxOutstanding
		t["batch_size"] = s.BatchSize
		t["retry"] = map[string]any{
			"initial": s.Retry.Initial.String(), "max": s.Retry.Max.String(),
			"max_attempts": s.Retry.MaxAttempts, "max_duration": s.Retry.MaxDuration.String(),
		}
		if !s.Filter.IsZero() {
			var buf bytes.Buffer
			toml.NewEncoder(&buf).Encode(s.Filter)
			f := map[string]any{}
			toml.Decode(buf.String(), &f)
			t["filter"] = f
		}
		redactTable(t)
		sinkTables = append(sinkTables, t)
	}
	if len(sinkTables) > 0 {
		top["sink"] = sinkTables
	}
	fmt.Fprintf(w, "# effective configuration of %s: defaults filled in, secrets redacted\n", cfg.File)
	return toml.NewEncoder(w).Encode(top)
}

// redactTable replaces the values of secret-carrying keys (secret, password,
// dsn, ...) in t and its sub-tables; *_file and *_env keys are kept.
func redactTable(t map[string]any) {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch v := t[k].(type) {
		case map[string]any:
			redactTable(v)
		case []map[string]any:
			for _, sub := range v {
				redactTable(sub)
			}
		case string:
			if sensitiveKeyRE.MatchString(k) && v != "" {
				t[k] = "xxxxx"
			} else if strings.Contains(v, "://") {
				t[k] = redactURL(v)
			}
		case time.Duration:
			t[k] = v.String()
		}
	}
}

// writable reports whether this process may write into dir.
func writable(dir string) error {
	return syscall.Access(dir, 2 /* W_OK */)
}
