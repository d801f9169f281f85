package main

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/radrelay/radrelay/config"
	"github.com/radrelay/radrelay/tailer"
)

var update = flag.Bool("update", false, "rewrite the golden files of the tests")

// TestConfigErrorsGolden checks the errors of every testdata/config/bad-*.toml
// against its .golden file: every problem, each at its line.
func TestConfigErrorsGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/config/bad-*.toml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test configurations: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			_, err := config.Load(file, config.Options{})
			if err == nil {
				t.Fatal("the configuration was accepted")
			}
			var ce config.Errors
			if !errors.As(err, &ce) {
				t.Fatalf("error is %T, want config.Errors: %v", err, err)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(file, ".toml") + ".golden"
			if *update {
				os.WriteFile(golden, []byte(got), 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("errors differ from %s:\n--- got\n%s--- want\n%s", golden, got, want)
			}
			for _, e := range ce {
				if e.File != file {
					t.Errorf("error %q does not name the file", e)
				}
			}
		})
	}
}

func TestConfigFull(t *testing.T) {
	cfg, err := config.Load("testdata/config/good-full.toml", config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"state_dir", cfg.StateDir, "/var/lib/radrelay"},
		{"log_format", cfg.LogFormat, "json"},
		{"log_level", cfg.LogLevel, "debug"},
		{"log_file", cfg.LogFile, "/var/log/radrelay/radrelay.log"},
		{"metrics_listen", cfg.MetricsListen, "127.0.0.1:9813"},
		{"shutdown_timeout", cfg.ShutdownTimeout, 45 * time.Second},
		{"poll_interval", cfg.PollInterval, 500 * time.Millisecond},
		{"raise_delay_time", cfg.RaiseDelayTime, true},
		{"inputs", len(cfg.Inputs), 2},
		{"input 0 mode", cfg.Inputs[0].Mode, tailer.Consume},
		{"input 1 mode", cfg.Inputs[1].Mode, tailer.Follow},
		{"sinks", len(cfg.Sinks), 2},
		{"sink 0 max_outstanding", cfg.Sinks[0].MaxOutstanding, 1000},
		{"sink 0 batch_size", cfg.Sinks[0].BatchSize, 100},
		{"sink 0 retry", cfg.Sinks[0].Retry, tailer.RetryPolicy{Initial: 2 * time.Second, Max: 16 * time.Second, MaxAttempts: 10, MaxDuration: time.Hour}},
		{"sink 0 options", *cfg.Sinks[0].Options.(*memoryConfig), memoryConfig{Store: "copy"}},
		{"sink 0 filter status", strings.Join(cfg.Sinks[0].Filter.StatusType, ","), "Start,Stop"},
		{"sink 0 filter match", cfg.Sinks[0].Filter.Match["Calling-Station-Id"], "^02-"},
		{"sink 1 type from url", cfg.Sinks[1].Type, "memory"},
		{"sink 1 options from url", *cfg.Sinks[1].Options.(*memoryConfig), memoryConfig{Store: "other"}},
		{"sink 1 inline retry", cfg.Sinks[1].Retry.Initial, 100 * time.Millisecond},
		{"sink 1 default max_outstanding", cfg.Sinks[1].MaxOutstanding, tailer.DefaultMaxOutstanding},
		{"tailer quarantine", cfg.EffectiveQuarantineDir(), "/var/lib/radrelay/quarantine"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := config.Load("testdata/config/good-minimal.toml", config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Sinks[0]
	if cfg.LogFormat != "text" || cfg.LogLevel != "info" || cfg.ShutdownTimeout != tailer.DefaultShutdownTimeout ||
		cfg.PollInterval != tailer.DefaultPollInterval || cfg.RaiseDelayTime || cfg.MetricsListen != "" {
		t.Errorf("global defaults: %+v", cfg)
	}
	if s.MaxOutstanding != tailer.DefaultMaxOutstanding || s.BatchSize != tailer.DefaultMaxOutstanding ||
		s.Retry != (tailer.RetryPolicy{Initial: tailer.DefaultRetryInitial, Max: tailer.DefaultRetryMax}) {
		t.Errorf("sink defaults: %+v", s)
	}
	if q := cfg.EffectiveQuarantineDir(); q != "/var/lib/radrelay/quarantine" {
		t.Errorf("default quarantine_dir = %q", q)
	}
	tc := cfg.TailerConfig()
	if len(tc.Inputs) != 1 || tc.Inputs[0].Mode != tailer.Consume || tc.StateDir != "/var/lib/radrelay" {
		t.Errorf("tailer config: %+v", tc)
	}
}

// TestConfigSmall covers single mistakes, each with its exact message.
func TestConfigSmall(t *testing.T) {
	const head = "state_dir = \"/s\"\n[[input]]\nglob = \"/d/*\"\nmode = \"consume\"\n"
	for _, tc := range []struct {
		name, src, want string
		replay          bool
	}{
		{"ok", head + "[[sink]]\nname = \"a\"\ntype = \"memory\"\nstore = \"x\"\n", "", false},
		{"small max_outstanding lowers default batch", head + "[[sink]]\nname = \"a\"\ntype = \"memory\"\nstore = \"x\"\nmax_outstanding = 8\n", "", false},
		{"unknown input key", head + "shutdown = 1\n", `t.toml:5: input: unknown key "shutdown"`, false},
		{"follow without state", "[[input]]\nglob = \"/d/*\"\nmode = \"follow\"\n[[sink]]\nname = \"a\"\nurl = \"memory:x\"\n",
			"t.toml: state_dir is required to consume or follow files: it holds each sink's progress (e.g. state_dir = \"/var/lib/radrelay\")", false},
		{"mode is required", "state_dir = \"/s\"\n[[input]]\nglob = \"/d/*\"\n[[sink]]\nname = \"a\"\nurl = \"memory:x\"\n",
			"t.toml:2: input: mode is required, say how the files are read:\n" + config.ModeChoices, false},
		{"replay ignores a modeless input", "[[input]]\nglob = \"/d/*\"\n[[sink]]\nname = \"a\"\nurl = \"memory:x\"\n", "", true},
		{"start_at end needs follow", head + "start_at = \"end\"\n[[sink]]\nname = \"a\"\nurl = \"memory:x\"\n",
			`t.toml:5: input: start_at = "end" needs mode = "follow" (consume reads every file whole)`, false},
		{"start_at unknown", "state_dir = \"/s\"\n[[input]]\nglob = \"/d/*\"\nmode = \"follow\"\nstart_at = \"middle\"\n[[sink]]\nname = \"a\"\nurl = \"memory:x\"\n",
			`t.toml:5: input: start_at "middle" is not "beginning" or "end"`, false},
		{"replay needs no input or state", "[[sink]]\nname = \"a\"\nurl = \"memory:x\"\n", "", true},
		{"bad url", head + "[[sink]]\nname = \"a\"\nurl = \"nowhere\"\n", `t.toml:7: sink "a": url: not a sink URL`, false},
		{"url parse error", head + "[[sink]]\nname = \"a\"\nurl = \"memory:\"\n", `t.toml:7: sink "a": url: want memory:STORE`, false},
		{"zero batch", head + "[[sink]]\nname = \"a\"\nurl = \"memory:x\"\nbatch_size = 0\n", `t.toml:8: sink "a": batch_size must be at least 1`, false},
		{"negative duration", head + "[[sink]]\nname = \"a\"\nurl = \"memory:x\"\n[sink.retry]\nmax = \"-1s\"\n",
			`t.toml:9: sink "a": retry.max: "-1s": a duration cannot be negative`, false},
		{"dotted keys", head + "[[sink]]\nname = \"a\"\nurl = \"memory:x\"\nfilter.realm = [\"x\"]\nfilter.relam = [\"y\"]\n",
			`t.toml:9: sink "a": unknown key "filter.relam" (did you mean "realm"?)`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse("t.toml", tc.src, config.Options{Replay: tc.replay})
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("unexpected error:\n%v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error:\n%v\nwant it to contain:\n%s", err, tc.want)
			}
		})
	}
}
