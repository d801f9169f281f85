package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
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
		"sql":          {20000, 10000},
		"sql-small":    {100, 100},
		"radius-batch": {1024, 10},
	}
	for _, s := range cfg.Sinks {
		if got := [2]int{s.MaxOutstanding, s.BatchSize}; got != want[s.Name] {
			t.Errorf("sink %s: max_outstanding, batch_size = %v, want %v", s.Name, got, want[s.Name])
		}
	}
}

// TestFieldLines: a key of a sink's own configuration is found at its line,
// in the right element of a nested array of tables, and a missing key at
// its element's header.
func TestFieldLines(t *testing.T) {
	src := `[[sink]]
name = "a"
[[sink]]
name = "b"
policy = "x"
[[sink.servers]]
address = "h1"
[[sink.servers]]
secret = "s"
address = "h2"
[sink.retry]
max = "1s"
`
	kl := locateKeys(src)
	for _, tc := range []struct {
		field string
		elem  int
		line  int
	}{
		{"policy", 1, 5},
		{"servers[0].address", 1, 7},
		{"servers[1].address", 1, 10},
		{"servers[1].secret", 1, 9},
		{"servers[0].secret", 1, 6}, // not set: its [[sink.servers]] header
		{"servers[2].address", 1, 6},
		{"retry.max", 1, 12},
		{"policy", 0, 1}, // not in element 0: its [[sink]] header
	} {
		if got := kl.field("sink", tc.elem, tc.field); got != tc.line {
			t.Errorf("field(%q, %d) = %d, want %d", tc.field, tc.elem, got, tc.line)
		}
	}
}

func FuzzSinkFromArg(f *testing.F) {
	for _, s := range []string{"jsonl:-", "n=detail:/x", "radius://a:1,b:2?secret_file=/x", "postgres://u:p@h/db", "host=db password=x", "=:", "a=b=c:d", "%zz:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		sc, err := SinkFromArg(arg)
		if err == nil && !ValidSinkName(sc.Name) {
			t.Fatalf("SinkFromArg(%q) made the invalid name %q", arg, sc.Name)
		}
		if err != nil && len(arg) >= 12 && strings.Contains(err.Error(), arg) {
			t.Fatalf("SinkFromArg's error quotes its argument: %v", err)
		}
	})
}

func TestNameFromURL(t *testing.T) {
	for raw, want := range map[string]string{
		"radius://10.0.0.2:1813?secret_file=/etc/s":     "radius-10.0.0.2-1813",
		"postgres://radius:pw@db.example.net:5432/acct": "postgres-db.example.net-5432-acct",
		"postgres://u:S3cret@[::1/db":                   "postgres-1-db",
		"detail:/var/log/radrelay/detail":               "detail-var-log-radrelay-detail",
		"jsonl:-":                                       "jsonl-stdout",
		"csv:relative/acct.csv":                         "csv-relative-acct.csv",
	} {
		typ := raw[:strings.IndexByte(raw, ':')]
		if got := NameFromURL(typ, raw); got != want {
			t.Errorf("NameFromURL(%q) = %q, want %q", raw, got, want)
		}
		if !ValidSinkName(NameFromURL(typ, raw)) {
			t.Errorf("NameFromURL(%q) is not a valid sink name", raw)
		}
	}
}

// TestOutputInInputThroughSymlink: a file sink whose path reaches an input
// directory through a symbolic link (or an input glob that does) is refused
// like one spelled the same way: it would read its own output for ever.
func TestOutputInInputThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	link := filepath.Join(dir, "link")
	other := filepath.Join(dir, "other")
	for _, d := range []string{in, other} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(in, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, glob, out string
		refused         bool
	}{
		{"output through link", in + "/detail-*", link + "/detail-out", true},
		{"input through link", link + "/detail-*", in + "/detail-out", true},
		{"both plain", in + "/detail-*", in + "/detail-out", true},
		{"elsewhere", link + "/detail-*", other + "/detail-out", false},
		{"below the input dir", in + "/detail-*", link + "/sub/detail-out", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "state_dir = " + strconvQuote(filepath.Join(dir, "state")) + "\n" +
				"[[input]]\nglob = " + strconvQuote(tt.glob) + "\nmode = \"follow\"\n" +
				"[[sink]]\nname = \"copy\"\ntype = \"detail\"\npath = " + strconvQuote(tt.out) + "\n"
			_, err := Parse("t.toml", src, Options{})
			refused := err != nil && strings.Contains(err.Error(), "would read its own output")
			if refused != tt.refused {
				t.Errorf("refused = %v, want %v (err: %v)", refused, tt.refused, err)
			}
		})
	}
}

func strconvQuote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

// TestTwoSinksOneFile: two sinks appending to one file (here a detail and a
// jsonl sink, which made a file neither format reads) are refused.
func TestTwoSinksOneFile(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	src := "[[sink]]\nname = \"a\"\ntype = \"jsonl\"\npath = " + strconvQuote(out) + "\n" +
		"[[sink]]\nname = \"b\"\ntype = \"detail\"\npath = " + strconvQuote(dir+"/./out") + "\n" +
		"[[sink]]\nname = \"c\"\ntype = \"jsonl\"\npath = " + strconvQuote(filepath.Join(dir, "other")) + "\n"
	_, err := Parse("t.toml", src, Options{Replay: true})
	if err == nil || !strings.Contains(err.Error(), `sink "b": path: sink "a" writes`) {
		t.Fatalf("err = %v, want sink b refused for writing sink a's file", err)
	}
	if strings.Contains(err.Error(), `sink "c"`) {
		t.Errorf("sink c, with its own file, was refused too: %v", err)
	}
}
