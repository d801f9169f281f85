package main

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRunModeIsRequired: run without --mode stops before it touches a file,
// with the two modes explained, and the spool is left as it was.
func TestRunModeIsRequired(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "radacct")
	os.Mkdir(spool, 0o700)
	hWrite(t, filepath.Join(spool, "detail-20261123"), hRecords(0, 5), 0o600, time.Hour)
	code, _, stderr := runBin(t, os.Args[0], nil, "run", "--input", filepath.Join(spool, "detail-*"),
		"--to", "jsonl:-", "--state", filepath.Join(dir, "state"))
	if code != 2 || !strings.Contains(stderr, "--mode is required") ||
		!strings.Contains(stderr, "\n  consume  ") || !strings.Contains(stderr, "\n  follow   ") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(spool, "detail-20261123")); err != nil {
		t.Errorf("the detail file is gone: %v", err)
	}
}

// TestRunFollowStartAtEnd: with --start-at end a first start skips what the
// files hold (down to the last whole record), delivers what is written
// after, and reads a file that appears later from its start.
func TestRunFollowStartAtEnd(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "radacct")
	os.Mkdir(spool, 0o700)
	first := filepath.Join(spool, "detail-20261122")
	whole := hRecords(0, 20)
	partial := hRecord(20)
	hWrite(t, first, append(whole, partial[:30]...), 0o600, time.Hour)
	p := startProc(t, os.Args[0], nil, "run", "--mode", "follow", "--start-at", "end", "--log-format", "json", "--log-level", "debug",
		"--input", filepath.Join(spool, "detail-*"), "--to", "jsonl:-", "--state", filepath.Join(dir, "state"))
	p.waitLog(t, "reading only what is written from now on", 1)
	f, err := os.OpenFile(first, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(partial[30:])
	f.Write(hRecords(21, 30))
	f.Close()
	os.WriteFile(filepath.Join(spool, "detail-20261123"), hRecords(100, 110), 0o600)
	p.waitRecords(t, 20)
	if code := p.stop(t); code != 0 {
		t.Errorf("exit status %d", code)
	}
	// Durations are text in JSON, and the stop is said once at info.
	if n := p.count(`"timeout":"30s"`); n != 1 {
		t.Errorf("%d lines with \"timeout\":\"30s\", want 1 (the tailer's debug line)", n)
	}
	if n := countWith(p.lines, `"level":"INFO"`, "stopping: "); n != 1 {
		t.Errorf("%d info lines about stopping, want 1:\n%s", n, strings.Join(p.lines, "\n"))
	}
	for _, l := range p.lines {
		if regexp.MustCompile(`"[a-z_]+":[0-9]{9,}[,}]`).MatchString(l) {
			t.Errorf("a duration in nanoseconds: %s", l)
		}
	}
	got := hIDs(p.outBuf.String())
	for id := range got {
		n, _ := strconv.Atoi(strings.TrimPrefix(id, "h"))
		if n < 20 {
			t.Errorf("record %s was there before the first start and was delivered", id)
		}
	}
	if len(got) != 20 {
		t.Errorf("%d records delivered, want 20 (h000020-h000029 and h000100-h000109): %v", len(got), got)
	}
}

// TestValidateReplayFiles: the replay example fails a plain validate with a
// hint to use --replay, and passes with it without warning about a
// state_dir replay does not use.
func TestValidateReplayFiles(t *testing.T) {
	code, _, stderr := runBin(t, os.Args[0], nil, "validate", "-c", "../../examples/replay-files.toml")
	if code != 2 || !strings.Contains(stderr, `check it with "radrelay validate --replay -c FILE"`) {
		t.Errorf("validate without --replay: exit %d, stderr:\n%s", code, stderr)
	}
	code, _, stderr = runBin(t, os.Args[0], nil, "validate", "--replay", "-c", "testdata/config/good-minimal.toml")
	if code != 0 || strings.Contains(stderr, "state_dir") && strings.Contains(stderr, "warning") ||
		!strings.Contains(stderr, "valid for replay (1 sink;") {
		t.Errorf("validate --replay: exit %d, stderr:\n%s", code, stderr)
	}
	code, _, stderr = runBin(t, os.Args[0], nil, "validate", "-c", "testdata/config/good-minimal.toml")
	if code != 0 || !strings.Contains(stderr, "valid (1 input, 1 sink)") {
		t.Errorf("validate: exit %d, stderr:\n%s", code, stderr)
	}
}

// TestReplayCtrlCSaysWhatItWaitsFor: a replay stuck on a RADIUS server that
// never answers says at its default log level, on the first SIGINT, what it
// waits for and for how long; the second SIGINT exits at once (130), and the
// summary tells read from delivered.
func TestReplayCtrlCSaysWhatItWaitsFor(t *testing.T) {
	dir := t.TempDir()
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte("s3cret\n"), 0o600)
	file := filepath.Join(dir, "detail-20261123")
	hWrite(t, file, hRecords(0, 20), 0o600, time.Hour)
	p := startProc(t, os.Args[0], nil, "replay",
		"--to", "backup=radius://"+silent.LocalAddr().String()+"?secret_file="+secret, file)
	// The first request reaching the server means records are in flight.
	buf := make([]byte, 4096)
	silent.SetReadDeadline(time.Now().Add(time.Minute)) // a deadlock bound
	if _, _, err := silent.ReadFrom(buf); err != nil {
		p.cmd.Process.Kill()
		for p.errs.Scan() {
			p.lines = append(p.lines, p.errs.Text())
		}
		t.Fatalf("no request reached the server: %v\n%s", err, strings.Join(p.lines, "\n"))
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	p.waitLog(t, "stopping: waiting up to 30s for ", 1)
	if p.count("a second Ctrl-C (or signal) exits at once") != 1 {
		t.Errorf("the stopping line does not say how to exit at once:\n%s", strings.Join(p.lines, "\n"))
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	for p.errs.Scan() {
		p.lines = append(p.lines, p.errs.Text())
	}
	if code := exitStatus(t, p.cmd); code != 130 {
		t.Errorf("exit status %d, want 130:\n%s", code, strings.Join(p.lines, "\n"))
	}
}

// TestSinkFailingAndRecoveredLogged: a sink that starts failing is logged
// once with its cause (not once per retry), and its recovery with how long
// it was down and how many records waited.
func TestSinkFailingAndRecoveredLogged(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "detail-20261123")
	hWrite(t, file, hRecords(0, 5), 0o600, time.Hour)
	blocker := filepath.Join(dir, "out")
	os.WriteFile(blocker, nil, 0o600) // a file where the sink needs a directory
	p := startProc(t, os.Args[0], nil, "replay", "--log-level", "info", "--quarantine", filepath.Join(dir, "q"),
		"--to", "jsonl:"+filepath.Join(blocker, "acct-%Y.jsonl"), file)
	p.waitLog(t, "sink is failing; retrying with backoff until it recovers", 1)
	if p.count("not a directory") != 1 {
		t.Errorf("the failing line does not give the cause:\n%s", strings.Join(p.lines, "\n"))
	}
	os.Remove(blocker)
	p.waitLog(t, "sink recovered: delivering again", 1)
	for p.errs.Scan() {
		p.lines = append(p.lines, p.errs.Text())
	}
	if code := exitStatus(t, p.cmd); code != 0 {
		t.Errorf("exit status %d", code)
	}
	// (5 records when they were handed over in one batch, fewer when
	// some were handed over after the recovery.)
	if countWith(p.lines, "sink recovered", "records_waited=", "down_for=") != 1 || p.count("records_waited=0") != 0 {
		t.Errorf("the recovery line does not say how many waited and for how long:\n%s", strings.Join(p.lines, "\n"))
	}
	if n := p.count("sink is failing"); n != 1 {
		t.Errorf("%d failing lines, want 1", n)
	}
}

// TestFollowLogsFoundAndResume: follow mode says at info when it finds a
// file, and at the next start where each sink resumes and what is behind.
func TestFollowLogsFoundAndResume(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "radacct")
	os.Mkdir(spool, 0o700)
	file := filepath.Join(spool, "detail-20261123")
	hWrite(t, file, hRecords(0, 10), 0o600, time.Hour)
	args := []string{"run", "--mode", "follow", "--input", filepath.Join(spool, "detail-*"),
		"--to", "jsonl:-", "--state", filepath.Join(dir, "state")}
	p := startProc(t, os.Args[0], nil, args...)
	p.waitLog(t, "file found; following it", 1)
	p.waitRecords(t, 10)
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	if n := countWith(p.lines, "level=INFO", "file found; following it", file); n != 1 {
		t.Errorf("%d info lines for the file found, want 1:\n%s", n, strings.Join(p.lines, "\n"))
	}
	more := hRecords(10, 13)
	f, _ := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
	f.Write(more)
	f.Close()
	p = startProc(t, os.Args[0], nil, args...)
	p.waitRecords(t, 3)
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	if n := countWith(p.lines, "level=INFO", "resuming where this sink stopped", "line=71", "behind_bytes="+strconv.Itoa(len(more))); n != 1 {
		t.Errorf("%d resume lines with line 71 and %d bytes behind, want 1:\n%s", n, len(more), strings.Join(p.lines, "\n"))
	}
}
