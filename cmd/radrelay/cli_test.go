package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/radrelay/radrelay/config"
)

// runCLI runs radrelay in-process and returns its exit status, stdout and stderr.
func runCLI(t testing.TB, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runMain(&env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr}, args)
	return code, stdout.String(), stderr.String()
}

func TestUsageTexts(t *testing.T) {
	for _, name := range []string{"run", "replay", "validate"} {
		code, out, _ := runCLI(t, name, "--help")
		if code != 0 {
			t.Errorf("%s --help: status %d", name, code)
		}
		for _, want := range []string{"Usage:", "Examples:", "Exit status:", "Options:"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s --help has no %q section", name, want)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"good", []string{"-c", "testdata/config/good-full.toml"}, 0, "testdata/config/good-full.toml: valid (2 inputs, 2 sinks)"},
		{"positional file", []string{"testdata/config/good-minimal.toml"}, 0, "valid (1 input, 1 sink)"},
		{"bad", []string{"-c", "testdata/config/bad-unknown-keys.toml"}, 2, `bad-unknown-keys.toml:2: unknown key "metrics_listn"`},
		{"missing file", []string{"-c", "testdata/config/nonexistent.toml"}, 2, "no such file"},
		{"no file", nil, 2, "give one configuration file"},
		{"secret file missing", []string{"-c", "testdata/config/env-missing-secret.toml"}, 2,
			`env-missing-secret.toml:11: sink "mirror": secret_file: open /nonexistent/radrelay-test.secret: no such file or directory`},
		{"replay file", []string{"--replay", "-c", "testdata/config/good-minimal.toml"}, 0, "valid for replay (1 sink; [[input]] and state_dir are not used by replay)"},
		{"warnings", []string{"-c", "testdata/config/good-full.toml"}, 0, `good-full.toml: warning: input "/srv/other/detail-*": no directory matches /srv/other yet`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, append([]string{"validate"}, tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("status %d, stderr:\n%s\nwant status %d and %q", code, stderr, tc.code, tc.stderr)
			}
		})
	}
}

func TestValidatePrintRedacts(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte("s3cr3t-value\n"), 0o600)
	name := filepath.Join(dir, "r.toml")
	os.WriteFile(name, []byte(`state_dir = "/s"
[[input]]
glob = "/d/*"
mode = "consume"
[[sink]]
name = "x"
type = "memory"
store = "x"
secret_file = "`+secret+`"
secret = "plain-s3cr3t"
[sink.filter]
realm = ["example.net"]
`), 0o644)
	code, out, stderr := runCLI(t, "validate", "--print", "-c", name)
	if code != 0 {
		t.Fatalf("status %d: %s", code, stderr)
	}
	for _, want := range []string{`state_dir = "/s"`, `max_outstanding = 256`, `secret_file = "` + secret + `"`, `realm = ["example.net"]`, `initial = "1s"`} {
		if !strings.Contains(out, want) {
			t.Errorf("--print output has no %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+stderr, "s3cr3t") {
		t.Error("a secret was printed")
	}
	if !strings.Contains(stderr, `r.toml:5: warning: sink "x": secret: the secret is written in the configuration file; prefer secret_file or secret_env`) {
		t.Errorf("no warning about the secret in the file:\n%s", stderr)
	}
	if !strings.Contains(out, `secret = "xxxxx"`) {
		t.Errorf("the plain secret is not shown redacted:\n%s", out)
	}
}

func TestRunUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"run"}, "no input: give --input GLOB"},
		{[]string{"run", "--input", "/d/*", "--mode", "consume"}, "no --state DIR"},
		{[]string{"run", "--input", "/d/*", "--mode", "consume", "--state", "/s"}, "no sink: give --to SINK-URL"},
		{[]string{"run", "--input", "/d/*", "--mode", "consume", "--state", "/s", "--to", "nowhere"}, "not a sink URL"},
		{[]string{"run", "--input", "/d/*", "--state", "/s", "--to", "memory:x", "--mode", "tail"}, `--mode "tail" is not consume or follow`},
		{[]string{"run", "--input", "/d/*", "--state", "/s", "--to", "memory:x"}, "--mode is required, say how the files are read:\n" + config.ModeChoices},
		{[]string{"run", "--input", "/d/*", "--mode", "consume", "--start-at", "end", "--state", "/s", "--to", "memory:x"}, "--start-at end needs --mode follow"},
		{[]string{"run", "--input", "/d/*", "--mode", "consume", "--state", "/s", "--to", "memory:x", "--max-outstanding", "4", "--batch-size", "8"}, "batch_size 8 is larger than max_outstanding 4"},
		{[]string{"run", "-c", "testdata/config/good-minimal.toml", "--to", "memory:x"}, "with -c, the configuration file describes"},
		{[]string{"run", "-c", "testdata/config/bad-types.toml"}, "bad-types.toml:1: state_dir: wrong type"},
		{[]string{"run", "extra"}, `unexpected argument "extra"`},
		{[]string{"run", "-c", "testdata/config/good-minimal.toml", "--log-format", "xml"}, `--log-format "xml" is not text or json`},
		{[]string{"run", "-c", "testdata/config/good-minimal.toml", "--metrics", "9813"}, `--metrics "9813" is not HOST:PORT`},
		{[]string{"run", "--mode", "follow", "--input", "in/detail*", "--state", "/s", "--to", "detail:in/detail-out"}, `sink "detail-in-detail-out": path: the files it writes match the input "in/detail*"`},
		{[]string{"run", "--input", "/d/*", "--mode", "consume", "--state", "/s", "--to", "detail:/var/x-%Q"}, `sink "detail-var-x-Q": path: file name template "/var/x-%Q": unknown field %Q`},
		{[]string{"replay", "--to", "detail:testdata/config/good-minimal.toml", "testdata/config/good-minimal.toml"}, `path: it writes testdata/config/good-minimal.toml, which this replay reads`},
		{[]string{"replay", "--to", "memory:x"}, "no files to replay"},
		{[]string{"replay", "--to", "memory:x", "/nonexistent/detail"}, "no such file"},
		{[]string{"replay", "--to", "memory:x", "."}, "is not a regular file"},
		{[]string{"replay", "testdata/config/good-minimal.toml"}, "no sink: give --to"},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("%q: status %d, stderr:\n%s\nwant status 2 and %q", tc.args, code, stderr, tc.stderr)
		}
	}
}

func TestValidateWarnsOverlappingInputs(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "detail-20261123"), nil, 0o600)
	name := filepath.Join(dir, "r.toml")
	os.WriteFile(name, []byte(fmt.Sprintf("state_dir = %q\n[[input]]\nglob = %q\nmode = \"follow\"\n[[input]]\nglob = %q\nmode = \"follow\"\n[[sink]]\nname = \"x\"\nurl = \"memory:x\"\n",
		dir, filepath.Join(dir, "detail-*"), filepath.Join(dir, "*-20261123"))), 0o644)
	code, _, stderr := runCLI(t, "validate", "-c", name)
	if code != 0 || !strings.Contains(stderr, "both match "+filepath.Join(dir, "detail-20261123")+": its records would be read twice") {
		t.Errorf("status %d, stderr:\n%s", code, stderr)
	}
}

// TestValidatePrintShowsSinkDefaults: --print shows the values each sink
// type applies to keys left out, not zeros.
func TestValidatePrintShowsSinkDefaults(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "d.toml")
	os.WriteFile(name, []byte(`state_dir = "/s"
[[input]]
glob = "/d/*"
mode = "consume"
[[sink]]
name = "backup"
type = "radius"
[[sink.servers]]
address = "192.0.2.10"
secret_env = "HOME"
[[sink]]
name = "sql"
type = "postgres"
dsn_env = "RADRELAY_TEST_DSN"
[[sink]]
name = "copy"
type = "csv"
path = "/tmp/copy.csv"
`), 0o644)
	t.Setenv("RADRELAY_TEST_DSN", "host=/run/postgresql dbname=radius")
	code, out, stderr := runCLI(t, "validate", "--print", "-c", name)
	if code != 0 {
		t.Fatalf("status %d: %s", code, stderr)
	}
	for _, want := range []string{
		`address = "192.0.2.10:1813"`, `policy = "failover"`, `acct_delay_time = "update"`, `initial_rtx = "2s"`,
		`live_table = "radacct"`, `history_table = "radrelay_history"`, `statement_timeout = "1m0s"`, `live_sessions = true`,
		`fsync = "none"`, `file_mode = "0600"`, `columns = [`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("--print output has no %q:\n%s", want, out)
		}
	}
}

// TestValidatePrintKeepsStreamSettingsUnset: the nats sink's create_stream
// settings left out of the file mean "the existing stream's own", so
// --print leaves them out too. It printed storage = "file", retention and
// a 2-minute duplicate_window, and that output, fed back to radrelay, set
// them: a memory stream then stopped radrelay at start, and a longer
// duplicate window was shortened. Set ones are printed as set.
func TestValidatePrintKeepsStreamSettingsUnset(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "d.toml")
	head := `state_dir = "/s"
[[input]]
glob = "/d/*"
mode = "consume"
[[sink]]
name = "js"
type = "nats"
servers = ["nats://127.0.0.1:4222"]
subject = "radius.acct"
stream = "RADIUS"
create_stream = true
`
	for _, tc := range []struct {
		name, extra string
		want, not   []string
	}{
		{"unset", "", []string{`max_pending = 4096`, `create_stream = true`}, []string{`storage = "file"`, `retention = "limits"`, `duplicate_window = "2m0s"`}},
		{"set", "storage = \"memory\"\nretention = \"interest\"\nduplicate_window = \"10m\"\n",
			[]string{`storage = "memory"`, `retention = "interest"`, `duplicate_window = "10m0s"`}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.WriteFile(name, []byte(head+tc.extra), 0o644)
			code, out, stderr := runCLI(t, "validate", "--print", "-c", name)
			if code != 0 {
				t.Fatalf("status %d: %s", code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("--print output has no %q:\n%s", w, out)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(out, n) {
					t.Errorf("--print output has %s, which the file left to the stream:\n%s", n, out)
				}
			}
			// What it printed means the same when fed back.
			printed := filepath.Join(dir, "printed.toml")
			os.WriteFile(printed, []byte(out), 0o644)
			code, again, stderr := runCLI(t, "validate", "--print", "-c", printed)
			_, body, _ := strings.Cut(out, "\n") // its first line names the file
			_, againBody, _ := strings.Cut(again, "\n")
			if code != 0 || againBody != body {
				t.Errorf("the printed configuration, validated again: status %d, %s\nfirst:\n%s\nagain:\n%s", code, stderr, out, again)
			}
		})
	}
}

// TestDaemonDictionaryFlag: run and replay take --dictionary, as check and cat
// do; the jsonl sink types a vendor attribute only the extra file defines, and
// a bad file is a usage error naming its line.
func TestDaemonDictionaryFlag(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "detail-20261123")
	os.WriteFile(src, []byte("Mon Nov 23 10:00:00 2026\n\tUser-Name = \"a\"\n\tAcct-Status-Type = Start\n\tExample-Quota = 5\n\n"), 0o600)
	dict := filepath.Join(dir, "dictionary.example")
	os.WriteFile(dict, []byte("VENDOR Example 99999\nBEGIN-VENDOR Example\nATTRIBUTE Example-Quota 2 integer64\nEND-VENDOR Example\n"), 0o600)
	outFile := filepath.Join(dir, "out.jsonl")
	code, _, stderr := runCLI(t, "replay", "--dictionary", dict, "--to", "jsonl:"+outFile, "--quarantine", filepath.Join(dir, "q"), src)
	out, _ := os.ReadFile(outFile)
	if code != 0 || !strings.Contains(string(out), `"Example-Quota":5`) {
		t.Errorf("replay --dictionary: status %d, Example-Quota not typed:\n%s\n%s", code, out, stderr)
	}
	bad := filepath.Join(dir, "dictionary.bad")
	os.WriteFile(bad, []byte("ATTRIBUTE Broken 1 integer46\n"), 0o600)
	code, _, stderr = runCLI(t, "replay", "--dictionary", bad, "--to", "jsonl:"+outFile, src)
	if code != 2 || !strings.Contains(stderr, "dictionary.bad:1") {
		t.Errorf("replay with a bad dictionary: status %d, stderr:\n%s", code, stderr)
	}
	code, _, stderr = runCLI(t, "run", "--input", filepath.Join(dir, "none-*"), "--mode", "consume", "--state", filepath.Join(dir, "s"), "--to", "jsonl:"+outFile, "--dictionary", bad)
	if code != 2 || !strings.Contains(stderr, "dictionary.bad:1") {
		t.Errorf("run with a bad dictionary: status %d, stderr:\n%s", code, stderr)
	}
}
