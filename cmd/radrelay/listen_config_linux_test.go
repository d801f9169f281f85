//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/radrelay/radrelay/internal/freeradiustest"
)

// TestListenFileTemplate: [[listen]] file_template names the spool's files
// (spool only: they stay), the tailer finds them by the glob made from it
// (with a sink: they are relayed), and validate rejects templates that
// cannot name them, at their line.
func TestListenFileTemplate(t *testing.T) {
	dir := t.TempDir()
	secret := writeSecret(t, dir, "s3cret")
	conf := func(name, template, extra string) string {
		p := filepath.Join(dir, name+".toml")
		os.WriteFile(p, []byte(fmt.Sprintf(`%s
[[listen]]
udp = ["127.0.0.1:0"]
spool_dir = %q
file_template = %q
  [[listen.client]]
  address = "127.0.0.0/8"
  secret_file = %q
`, extra, filepath.Join(dir, name+"-spool"), template, secret)), 0o600)
		return p
	}
	t.Run("spool only", func(t *testing.T) {
		_, sc := startRadrelay(t, "run", "-c", conf("only", "acct-%Y-%m-%d.log", ""))
		addr := listenAddr(t, sc)
		freeradiustest.SendAccounting(t, addr, "s3cret", interopPackets, 3)
		files, _ := filepath.Glob(filepath.Join(dir, "only-spool", "127.0.0.1", "*"))
		want := regexp.MustCompile(`/acct-\d{4}-\d{2}-\d{2}\.log$`)
		if len(files) != 1 || !want.MatchString(files[0]) {
			t.Fatalf("spool files %q, want one acct-YYYY-MM-DD.log", files)
		}
		if n := len(spooled(t, files[0])); n != 3 {
			t.Fatalf("%d records in %s, want 3", n, files[0])
		}
	})
	t.Run("relayed", func(t *testing.T) {
		out := filepath.Join(dir, "out.detail")
		_, sc := startRadrelay(t, "run", "-c", conf("relay", "%Y%m%d.acct", fmt.Sprintf(`state_dir = %q
[[sink]]
name = "copy"
type = "detail"
path = %q
`, filepath.Join(dir, "state"), out)))
		addr := listenAddr(t, sc)
		freeradiustest.SendAccounting(t, addr, "s3cret", interopPackets, 3)
		deadline := time.Now().Add(60 * time.Second)
		for len(spooled(t, out)) != 3 {
			if time.Now().After(deadline) {
				t.Fatal("the sink never got the 3 records from a spool named by file_template")
			}
			time.Sleep(50 * time.Millisecond) // polling a file another process writes
		}
	})
	for _, bad := range []struct{ template, want string }{
		{"a/detail-%Y%m%d", "without '/'"},
		{"%{User-Name}-%Y", "%{Attribute}"},
		{"detail-%Q", "unknown field %Q"},
		{"detail-*", "no glob characters"},
		{"detail.work", "uses itself"},
	} {
		t.Run("invalid "+bad.template, func(t *testing.T) {
			p := conf("bad", bad.template, "")
			code, _, stderr := runBinary(t, nil, "validate", "-c", p)
			if code != 2 || !strings.Contains(stderr, p+":2: listen: file_template") || !strings.Contains(stderr, bad.want) {
				t.Fatalf("status %d, want 2 and %s:2: listen: file_template ... %s in:\n%s", code, p, bad.want, stderr)
			}
		})
	}
}

// TestListenSpoolOnlyReopensLog: in spool-only mode (no sink) SIGHUP
// reopens --log-file, as a run with sinks does, and radrelay keeps
// acknowledging.
func TestListenSpoolOnlyReopensLog(t *testing.T) {
	dir := t.TempDir()
	logFile := filepath.Join(dir, "radrelay.log")
	cmd, _ := startRadrelay(t, "run", "--listen", "127.0.0.1:0", "--client", "127.0.0.0/8:"+writeSecret(t, dir, "s3cret"),
		"--spool", filepath.Join(dir, "spool"), "--log-file", logFile)
	waitLog := func(path, text string) string {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			b, _ := os.ReadFile(path)
			if strings.Contains(string(b), text) {
				return string(b)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never says %q:\n%s", path, text, b)
			}
			time.Sleep(20 * time.Millisecond) // polling a file another process writes
		}
	}
	m := listeningRE.FindStringSubmatch(waitLog(logFile, "listening for accounting"))
	if m == nil {
		t.Fatal("no address in the log")
	}
	if err := os.Rename(logFile, logFile+".1"); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	waitLog(logFile, "reopened the log file")
	freeradiustest.SendAccounting(t, m[1], "s3cret", interopPackets, 3)
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("radrelay exited with %v after SIGTERM", err)
	}
	rotated, _ := os.ReadFile(logFile + ".1")
	if strings.Contains(string(rotated), "reopened") || strings.Contains(string(rotated), "radrelay run stopped") {
		t.Errorf("radrelay kept writing to the rotated file:\n%s", rotated)
	}
	waitLog(logFile, "radrelay run stopped")
	if n := len(spooled(t, filepath.Join(dir, "spool", "*", "detail-*"))); n != 3 {
		t.Errorf("%d records spooled after SIGHUP, want 3", n)
	}
}

// TestListenSpoolOnlyNewcomerHints: what a newcomer trying the listener for
// the first time sees. validate says it found the listener (not only "0
// inputs"); a spool-only run given --state says the directory is not used
// and where the counters are; radrelay status on that directory says why
// it is empty.
func TestListenSpoolOnlyNewcomerHints(t *testing.T) {
	dir := t.TempDir()
	secret := writeSecret(t, dir, "s3cret")
	conf := filepath.Join(dir, "listen.toml")
	os.WriteFile(conf, []byte(fmt.Sprintf(`[[listen]]
udp = ["127.0.0.1:0"]
spool_dir = %q
  [[listen.client]]
  address = "127.0.0.0/8"
  secret_file = %q
`, filepath.Join(dir, "spool"), secret)), 0o600)
	code, _, stderr := runBinary(t, nil, "validate", "-c", conf)
	if code != 0 || !strings.Contains(stderr, "valid (1 listener, spool only, 0 inputs, 0 sinks)") {
		t.Fatalf("validate: status %d, want 0 and the listener counted in:\n%s", code, stderr)
	}

	state := filepath.Join(dir, "state")
	_, sc := startRadrelay(t, "run", "--listen", "127.0.0.1:0", "--client", "127.0.0.0/8:"+secret,
		"--spool", filepath.Join(dir, "spool"), "--state", state)
	waitLine(t, sc, "spool only: the state directory is not used")
	code, _, stderr = runBinary(t, nil, "status", "--state", state)
	if code == 0 || !strings.Contains(stderr, "a spool-only run, --listen without --to, keeps none") {
		t.Fatalf("status: status %d, want non-zero and why the directory is empty in:\n%s", code, stderr)
	}
}
