package config

import (
	"bytes"
	"fmt"
	"io"

	"github.com/BurntSushi/toml"

	"github.com/radrelay/radrelay/listener"
	"github.com/radrelay/radrelay/tailer"
)

// Print writes the effective configuration as TOML: defaults filled in,
// every secret redacted by the sink that holds it.
func (cfg *Config) Print(w io.Writer) error {
	top := map[string]any{
		"state_dir":         cfg.StateDir,
		"quarantine_dir":    cfg.EffectiveQuarantineDir(),
		"dictionary":        cfg.Dictionary,
		"log_format":        cfg.LogFormat,
		"log_level":         cfg.LogLevel,
		"log_file":          cfg.LogFile,
		"metrics_listen":    cfg.MetricsListen,
		"ready_max_backlog": cfg.ReadyMaxBacklog,
		"shutdown_timeout":  cfg.ShutdownTimeout.String(),
		"poll_interval":     cfg.PollInterval.String(),
		"raise_delay_time":  cfg.RaiseDelayTime,
		"failure_reminder":  cfg.FailureReminder.String(),
	}
	var inputs []map[string]any
	for _, in := range cfg.Inputs {
		mode := "consume"
		if in.Mode == tailer.Follow {
			mode = "follow"
		}
		inp := map[string]any{"glob": in.Glob, "mode": mode}
		if in.StartAtEnd {
			inp["start_at"] = "end"
		}
		inputs = append(inputs, inp)
	}
	if len(inputs) > 0 {
		top["input"] = inputs
	}
	var listens []map[string]any
	for _, l := range cfg.Listen {
		t := map[string]any{}
		if err := asTable(l, t); err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		if l.Attributes == "" {
			t["attributes"] = "default-site"
		}
		if l.FileTemplate == "" {
			t["file_template"] = listener.DefaultFileTemplate
		}
		if len(l.RadSec) > 0 {
			// The defaults the RadSec server applies, not the zeros that
			// stand for them.
			if l.MaxConnections <= 0 {
				t["max_connections"] = listener.DefaultRadSecMaxConnections
			}
			if l.IdleTimeout.Duration <= 0 {
				t["idle_timeout"] = listener.DefaultRadSecIdleTimeout.String()
			}
			if l.TLSMinVersion == "" {
				t["tls_min_version"] = "1.2"
			}
		}
		listens = append(listens, t)
	}
	if len(listens) > 0 {
		top["listen"] = listens
	}
	var sinkTables []map[string]any
	for _, s := range cfg.Sinks {
		t := map[string]any{}
		if s.Options != nil && s.URL == "" {
			if err := asTable(s.Options.Redacted().Effective(), t); err != nil {
				return fmt.Errorf("sink %q: %w", s.Name, err)
			}
		}
		t["name"] = s.Name
		t["type"] = s.Type
		if s.URL != "" {
			t["url"] = s.RedactedURL()
		}
		t["max_outstanding"] = s.MaxOutstanding
		t["batch_size"] = s.BatchSize
		t["retry"] = map[string]any{
			"initial": s.Retry.Initial.String(), "max": s.Retry.Max.String(),
			"max_attempts": s.Retry.MaxAttempts, "max_duration": s.Retry.MaxDuration.String(),
		}
		if !s.Filter.IsZero() {
			f := map[string]any{}
			if err := asTable(s.Filter, f); err != nil {
				return fmt.Errorf("sink %q: filter: %w", s.Name, err)
			}
			t["filter"] = f
		}
		sinkTables = append(sinkTables, t)
	}
	if len(sinkTables) > 0 {
		top["sink"] = sinkTables
	}
	fmt.Fprintf(w, "# effective configuration of %s: defaults filled in, secrets redacted\n", cfg.File)
	return toml.NewEncoder(w).Encode(top)
}

// asTable encodes v as TOML and decodes it into t: the keys v's toml tags
// give, with durations as strings ("2s").
func asTable(v any, t map[string]any) error {
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(v); err != nil {
		return err
	}
	_, err := toml.Decode(buf.String(), &t)
	return err
}
