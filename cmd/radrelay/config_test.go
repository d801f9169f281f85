package main

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
			_, err := loadConfig(file, false)
			if err == nil {
				t.Fatal("the configuration was accepted")
			}
			var ce ConfigErrors
			if !errors.As(err, &ce) {
				t.Fatalf("error is %T, want ConfigErrors: %v", err, err)
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
	cfg, err := loadConfig("testdata/config/good-full.toml", false)
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
		{"sink 0 options", cfg.Sinks[0].Options, memoryConfig{Store: "copy"}},
		{"sink 0 filter status", strings.Join(cfg.Sinks[0].Filter.StatusType, ","), "Start,Stop"},
		{"sink 0 filter match", cfg.Sinks[0].Filter.Match["Calling-Station-Id"], "^02-"},
		{"sink 1 type from url", cfg.Sinks[1].Type, "memory"},
		{"sink 1 options from url", cfg.Sinks[1].Options, memoryConfig{Store: "other"}},
		{"sink 1 inline retry", cfg.Sinks[1].Retry.Initial, 100 * time.Millisecond},
		{"sink 1 default max_outstanding", cfg.Sinks[1].MaxOutstanding, defaultMaxOutstanding},
		{"tailer quarantine", cfg.tailerConfig().QuarantineDir, "/var/lib/radrelay/quarantine"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := loadConfig("testdata/config/good-minimal.toml", false)
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Sinks[0]
	if cfg.LogFormat != "text" || cfg.LogLevel != "info" || cfg.ShutdownTimeout != defaultShutdownTimeout ||
		cfg.PollInterval != defaultPollInterval || cfg.RaiseDelayTime || cfg.MetricsListen != "" {
		t.Errorf("global defaults: %+v", cfg)
	}
	if s.MaxOutstanding != defaultMaxOutstanding || s.BatchSize != defaultMaxOutstanding ||
		s.Retry != (tailer.RetryPolicy{Initial: defaultRetryInitial, Max: defaultRetryMax}) {
		t.Errorf("sink defaults: %+v", s)
	}
	if q := cfg.tailerConfig().QuarantineDir; q != "/var/lib/radrelay/quarantine" {
		t.Errorf("default quarantine_dir = %q", q)
	}
	tc := cfg.tailerConfig()
	if len(tc.Inputs) != 1 || tc.Inputs[0].Mode != tailer.Consume || tc.StateDir != "/var/lib/radrelay" {
		t.Errorf("tailer config: %+v", tc)
	}
}

// TestConfigSmall covers single mistakes, each with its exact message.
func TestConfigSmall(t *testing.T) {
	const head = "state_dir = \"/s\"\n[[input]]\nglob = \"/d/*\"\n"
	for _, tc := range []struct {
		name, src, want string
		replay          bool
	}{
		{"ok", head + "[[sink]]\nname = \"a\"\ntype = \"memory\"\nstore = \"x\"\n", "", false},
		{"small max_outstanding lowers default batch", head + "[[sink]]\nname = \"a\"\ntype = \"memory\"\nstore = \"x\"\nmax_outstanding = 8\n", "", false},
		{"unknown input key", head + "shutdown = 1\n", `t.toml:4: input: unknown key "shutdown"`, false},
		{"follow without state", "[[input]]\nglob = \"/d/*\"\nmode = \"follow\"\n[[sink]]\nname = \"a\"\nurl = \"memory:x\"\n",
			"t.toml: state_dir is required to consume or follow files: it holds each sink's progress (e.g. state_dir = \"/var/lib/radrelay\")", false},
		{"replay needs no input or state", "[[sink]]\nname = \"a\"\nurl = \"memory:x\"\n", "", true},
		{"bad url", head + "[[sink]]\nname = \"a\"\nurl = \"nowhere\"\n", `t.toml:6: sink "a": url: "nowhere" is not a sink URL`, false},
		{"url parse error", head + "[[sink]]\nname = \"a\"\nurl = \"memory:\"\n", `t.toml:6: sink "a": url: want memory:STORE, got "memory:"`, false},
		{"zero batch", head + "[[sink]]\nname = \"a\"\nurl = \"memory:x\"\nbatch_size = 0\n", `t.toml:7: sink "a": batch_size must be at least 1`, false},
		{"negative duration", head + "[[sink]]\nname = \"a\"\nurl = \"memory:x\"\n[sink.retry]\nmax = \"-1s\"\n",
			`t.toml:8: sink "a": retry.max: "-1s": a duration cannot be negative`, false},
		{"dotted keys", head + "[[sink]]\nname = \"a\"\nurl = \"memory:x\"\nfilter.realm = [\"x\"]\nfilter.relam = [\"y\"]\n",
			`t.toml:8: sink "a": unknown key "filter.relam" (did you mean "realm"?)`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig("t.toml", tc.src, tc.replay)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("unexpected error:\n%v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error:\n%v\nwant it to contain:\n%s", err, tc.want)
			}
		})
	}
}

func TestLocateKeys(t *testing.T) {
	src := `a = 1
# comment = 2
s = """
x = inside a multi-line string
"""
[[sink]]
name = "one"
[sink.retry]
initial = "1s"
[[sink]]
name = "two"
"quoted.key" = 1
[sink.filter.match]
"User-Name" = "x"
[metrics]
listen = ":1"
`
	kl := locateKeys(src)
	for _, tc := range []struct {
		path string
		elem int
		line int
	}{
		{"a", -1, 1},
		{"x", -1, 0},
		{"sink", 0, 6},
		{"sink.name", 0, 7},
		{"sink.retry.initial", 0, 9},
		{"sink.name", 1, 11},
		{"sink.quoted.key", 1, 12},
		{"sink.filter.match.User-Name", 1, 14},
		{"sink.retry.initial", 1, 10}, // not in element 1: its [[sink]] line
		{"metrics.listen", -1, 16},
	} {
		if got := kl.find(tc.path, tc.elem); got != tc.line {
			t.Errorf("find(%q, %d) = %d, want %d", tc.path, tc.elem, got, tc.line)
		}
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"max_outstanding", "batch_size", "state_dir", "nas"}
	for key, want := range map[string]string{
		"max_outstandng": "max_outstanding",
		"batchsize":      "batch_size",
		"stat_dir":       "state_dir",
		"nass":           "nas",
		"colour":         "",
		"x":              "",
	} {
		if got := suggest(key, known); got != want {
			t.Errorf("suggest(%q) = %q, want %q", key, got, want)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	files, _ := filepath.Glob("testdata/config/*.toml")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, src string) {
		cfg, err := parseConfig("fuzz.toml", src, false)
		if err == nil && cfg == nil {
			t.Fatal("nil configuration without an error")
		}
		if err != nil {
			var ce ConfigErrors
			if !errors.As(err, &ce) || len(ce) == 0 {
				t.Fatalf("error is not a non-empty ConfigErrors: %T %v", err, err)
			}
		}
	})
}

// TestSinkWindowDefaults: max_outstanding and batch_size default by sink
// type, and what the file says wins.
func TestSinkWindowDefaults(t *testing.T) {
	src := `
[[sink]]
name = "copy"
type = "jsonl"
path = "/tmp/x.jsonl"

[[sink]]
name = "backup"
url = "radius://127.0.0.1:1813?secret_env=SECRET"

[[sink]]
name = "sql"
type = "postgres"
dsn_env = "DSN"

[[sink]]
name = "sql-small"
type = "postgres"
dsn_env = "DSN"
max_outstanding = 100

[[sink]]
name = "radius-batch"
url = "radius://127.0.0.1:1813?secret_env=SECRET"
batch_size = 10
`
	cfg, err := parseConfig("t.toml", src, true)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]int{
		"copy":         {defaultMaxOutstanding, defaultMaxOutstanding},
		"backup":       {1024, 256},
		"sql":          {5000, 5000},
		"sql-small":    {100, 100},
		"radius-batch": {1024, 10},
	}
	for _, s := range cfg.Sinks {
		if got := [2]int{s.MaxOutstanding, s.BatchSize}; got != want[s.Name] {
			t.Errorf("sink %s: max_outstanding, batch_size = %v, want %v", s.Name, got, want[s.Name])
		}
	}
}
