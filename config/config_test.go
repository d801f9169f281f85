package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/radrelay/radrelay/sinks/all"
	"github.com/radrelay/radrelay/tailer"
)

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
	files, _ := filepath.Glob("../cmd/radrelay/testdata/config/*.toml")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, src string) {
		cfg, err := Parse("fuzz.toml", src, Options{})
		if err == nil && cfg == nil {
			t.Fatal("nil configuration without an error")
		}
		if err != nil {
			var ce Errors
			if !errors.As(err, &ce) || len(ce) == 0 {
				t.Fatalf("error is not a non-empty Errors: %T %v", err, err)
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
	cfg, err := Parse("t.toml", src, Options{Replay: true, Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]int{
		"copy":         {tailer.DefaultMaxOutstanding, tailer.DefaultMaxOutstanding},
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
