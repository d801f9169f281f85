//go:build linux

package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/radrelay/radrelay/sinks/sinktest"
)

// newSecret returns a fresh secret that appears nowhere else.
func newSecret(t *testing.T) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "Sx" + hex.EncodeToString(b)
}

// TestSecretsNeverShown feeds generated secrets through every command and
// failure path that takes one (configuration keys, URLs, DSN files,
// keyword DSNs, strings that do not parse, a database that refuses
// connections) and checks that none appears in stdout, stderr, the log
// file, the metrics or validate --print.
func TestSecretsNeverShown(t *testing.T) {
	dir := t.TempDir()
	var secrets []string
	secret := func() string {
		s := newSecret(t)
		secrets = append(secrets, s)
		return s
	}
	check := func(what, text string) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(text, s) || strings.Contains(text, s[2:]) {
				t.Errorf("%s shows a secret:\n%s", what, text)
				return
			}
		}
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	input := writeDetail(t, filepath.Join(dir, "detail-20261123"), sinktest.Records(5))
	const head = "state_dir = %q\n[[input]]\nglob = %q\nmode = \"consume\"\n"
	cfgHead := fmt.Sprintf(head, filepath.Join(dir, "state"), filepath.Join(dir, "none-*"))
	retry := "[sink.retry]\ninitial = \"10ms\"\nmax = \"10ms\"\nmax_attempts = 1\n"

	type run struct {
		name string
		args []string
	}
	var runs []run
	add := func(name string, args ...string) { runs = append(runs, run{name, args}) }

	// Configuration files: inline secrets, passwords in URLs and keyword
	// DSNs, sslpassword, and strings that do not parse.
	add("validate --print, postgres URL with password and sslpassword", "validate", "--print", "-c", write("pg-url.toml", cfgHead+
		fmt.Sprintf("[[sink]]\nname = \"sql\"\ntype = \"postgres\"\ndsn = \"postgres://u:%s@127.0.0.1:1/db?sslpassword=%s\"\n", secret(), secret())))
	add("validate --print, keyword DSN", "validate", "--print", "-c", write("pg-kv.toml", cfgHead+
		fmt.Sprintf("[[sink]]\nname = \"sql\"\ntype = \"postgres\"\ndsn = \"host=127.0.0.1 port=1 password=%s sslpassword='%s'\"\n", secret(), secret())))
	add("validate, url that does not parse", "validate", "-c", write("pg-bad-url.toml", cfgHead+
		fmt.Sprintf("[[sink]]\nname = \"sql\"\nurl = \"postgres://u:Pct%%%s@127.0.0.1:1/db\"\n", secret())))
	add("validate --print, radius secret in the file", "validate", "--print", "-c", write("radius.toml", cfgHead+
		fmt.Sprintf("[[sink]]\nname = \"backup\"\ntype = \"radius\"\n[[sink.servers]]\naddress = \"127.0.0.1:1\"\nsecret = %q\n", secret())))
	add("validate, radius secret in a URL", "validate", "-c", write("radius-url.toml", cfgHead+
		fmt.Sprintf("[[sink]]\nname = \"backup\"\nurl = \"radius://127.0.0.1:1?secret=%s\"\n", secret())))
	badDSNFile := write("bad.dsn", fmt.Sprintf("postgres://radrelay:Pa%%%s!@127.0.0.1:1/radius\n", secret()))
	add("run, dsn_file that does not parse", "run", "-c", write("pg-dsn-file.toml", cfgHead+
		fmt.Sprintf("[[sink]]\nname = \"sql\"\ntype = \"postgres\"\ndsn_file = %q\n", badDSNFile)))
	// Command lines.
	add("run --to, URL that does not parse", "run", "--input", filepath.Join(dir, "none-*"), "--mode", "consume", "--state", filepath.Join(dir, "s"),
		"--to", fmt.Sprintf("pg=postgres://u:%s@[::1/db", secret()))
	add("run --to, keyword DSN", "run", "--input", filepath.Join(dir, "none-*"), "--mode", "consume", "--state", filepath.Join(dir, "s"),
		"--to", fmt.Sprintf("host=db password=%s", secret()))
	add("replay --to, radius URL with a user part", "replay", "--to", fmt.Sprintf("radius://u:%s@127.0.0.1:1?secret_file=/x", secret()), input)
	add("sql init, DSN file that does not parse", "sql", "init", "--dsn-file", badDSNFile)
	add("sql init, refused connection", "sql", "init", "--timeout", "5s", "--dsn", fmt.Sprintf("postgres://u:%s@127.0.0.1:1/db?sslpassword=%s&connect_timeout=2", secret(), secret()))
	add("sql init, refused connection, keyword DSN", "sql", "init", "--timeout", "5s", "--dsn", fmt.Sprintf("host=127.0.0.1 port=1 password=%s connect_timeout=2", secret()))
	// A database that refuses connections: the sink opens, fails each
	// record, quarantines it; everything is logged (to a file).
	logFile := filepath.Join(dir, "replay.log")
	add("replay to a database that refuses connections", "replay", "--log-level", "debug", "--log-file", logFile,
		"--quarantine", filepath.Join(dir, "q"), "-c", write("pg-refused.toml",
			fmt.Sprintf("[[sink]]\nname = \"sql\"\ntype = \"postgres\"\ndsn = \"postgres://u:%s@127.0.0.1:1/db?sslpassword=%s&connect_timeout=2\"\n", secret(), secret())+retry), input)

	for _, r := range runs {
		code, stdout, stderr := runBinary(t, nil, r.args...)
		if code == 0 && !strings.HasPrefix(r.name, "validate --print") {
			t.Errorf("%s: status 0, want a failure:\n%s", r.name, stderr)
		}
		t.Logf("%s: status %d\n%s%s", r.name, code, stdout, stderr)
		check(r.name+": stdout", stdout)
		check(r.name+": stderr", stderr)
	}
	logged, err := os.ReadFile(logFile)
	if err != nil || len(logged) == 0 {
		t.Fatalf("no log: %v", err)
	}
	check("the log file", string(logged))
	quarantined, _ := filepath.Glob(filepath.Join(dir, "q", "*"))
	for _, q := range quarantined {
		b, _ := os.ReadFile(q)
		check("the quarantine "+q, string(b))
	}

	// Metrics of a running radrelay whose sink holds a password.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd, sc := startRadrelay(t, "run", "--mode", "follow", "--input", filepath.Join(dir, "detail-*"), "--state", filepath.Join(dir, "state"),
		"--metrics", addr, "--log-level", "debug", "--shutdown-timeout", "1s",
		"--to", fmt.Sprintf("sql=postgres://u:%s@127.0.0.1:1/db?sslpassword=%s&connect_timeout=2", secret(), secret()))
	var logs strings.Builder
	scanUntil(t, sc, "serving metrics", func(line []byte) bool {
		logs.WriteString(string(line) + "\n")
		return strings.Contains(string(line), "serving metrics")
	})
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v\n%s", err, logs.String())
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	check("metrics", string(body))
	cmd.Process.Signal(syscall.SIGTERM)
	for sc.Scan() {
		logs.WriteString(sc.Text() + "\n")
	}
	exitStatus(t, cmd)
	check("run's log", logs.String())
	if !strings.Contains(logs.String(), "PGPASSFILE") {
		t.Errorf("run did not warn about the password in the URL:\n%s", logs.String())
	}
}
