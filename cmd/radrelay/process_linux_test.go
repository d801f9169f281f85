//go:build linux

package main

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/radrelay/radrelay/sinks/sinktest"
)

// These tests run radrelay as a real process (the test binary re-executed
// as radrelay) and signal it for real.

func TestMain(m *testing.M) {
	if os.Getenv("RADRELAY_TEST_AS_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// startRadrelay starts radrelay with args and returns the process and a
// reader of its stderr lines.
func startRadrelay(t *testing.T, args ...string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	bin := os.Args[0]
	if b := os.Getenv("RADRELAY_BENCH_BINARY"); b != "" {
		// A/B of the benchmarks: the same tests and load generator
		// against another build of radrelay.
		bin = b
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "RADRELAY_TEST_AS_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, bufio.NewScanner(stderr)
}

// waitLine reads stderr lines until one contains want; it fails the test at
// the end of stderr or after lineWait.
func waitLine(t *testing.T, sc *bufio.Scanner, want string) {
	t.Helper()
	scanUntil(t, sc, want, func(line []byte) bool { return strings.Contains(string(line), want) })
}

// lineWait bounds each wait for a line of radrelay's output. It is a
// failure bound, never a way to synchronise: a radrelay that does not
// write the line fails the test with what it wrote, instead of hanging
// until the package's timeout.
const lineWait = 2 * time.Minute

// scanUntil reads lines of sc until match accepts one, and returns it. At the
// end of the output, or when no line was accepted within lineWait, it fails
// the test, naming want and every line seen so far.
func scanUntil(t *testing.T, sc *bufio.Scanner, want string, match func(line []byte) bool) []byte {
	t.Helper()
	deadline := time.NewTimer(lineWait)
	defer deadline.Stop()
	var seen []string
	for scanBefore(t, sc, deadline.C, want, seen) {
		if match(sc.Bytes()) {
			return sc.Bytes()
		}
		seen = append(seen, sc.Text())
	}
	t.Fatalf("radrelay never logged %q; it logged:\n%s", want, strings.Join(seen, "\n"))
	return nil
}

// scanBefore is sc.Scan, unless deadline fires first: then it fails the
// test, naming want and the lines seen. The Scan left waiting ends when
// the test's cleanup kills radrelay (its output then ends).
func scanBefore(t *testing.T, sc *bufio.Scanner, deadline <-chan time.Time, want string, seen []string) bool {
	t.Helper()
	scanned := make(chan bool, 1)
	go func() { scanned <- sc.Scan() }()
	select {
	case ok := <-scanned:
		return ok
	case <-deadline:
		t.Fatalf("radrelay did not log %q within %s; it logged:\n%s", want, lineWait, strings.Join(seen, "\n"))
		return false
	}
}

func exitStatus(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(60 * time.Second):
		t.Fatal("radrelay did not exit within a minute")
		return -1
	}
}

func TestProcessSIGTERMExitsZero(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "radacct")
	os.Mkdir(spool, 0o700)
	replayFiles(t, spool, false)
	cmd, stderr := startRadrelay(t, "run", "--input", filepath.Join(spool, "detail-*"), "--mode", "follow",
		"--to", "jsonl:"+filepath.Join(dir, "out.jsonl"), "--state", filepath.Join(dir, "state"), "--log-format", "json")
	waitLine(t, stderr, `"msg":"radrelay run starting"`)
	cmd.Process.Signal(syscall.SIGTERM)
	waitLine(t, stderr, `"msg":"stopping: `)
	go io.Copy(io.Discard, stdoutOf(stderr))
	if code := exitStatus(t, cmd); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}
}

// stdoutOf drains what is left of a scanner's reader.
func stdoutOf(sc *bufio.Scanner) io.Reader {
	r, w := io.Pipe()
	go func() {
		for sc.Scan() {
		}
		w.Close()
	}()
	return r
}

// TestProcessSecondSignalExitsAtOnce makes the drain hang (the sink writes
// to a FIFO that nobody empties), so only a second signal ends radrelay.
func TestProcessSecondSignalExitsAtOnce(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "radacct")
	os.Mkdir(spool, 0o700)
	writeDetail(t, filepath.Join(spool, "detail-20261123"), sinktest.Records(2000))
	fifo := filepath.Join(dir, "out.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("SKIP: cannot make a FIFO: %v", err)
	}
	// Open the read end first (non-blocking), shrink the pipe to one page,
	// and never read more than one byte: the sink's writes soon block.
	rfd, err := syscall.Open(fifo, syscall.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(rfd)
	const fSetPipeSize = 1031 // F_SETPIPE_SZ
	if _, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(rfd), fSetPipeSize, 4096); errno != 0 {
		t.Logf("F_SETPIPE_SZ: %v (the pipe keeps its default size)", errno)
	}
	cmd, stderr := startRadrelay(t, "run", "--input", filepath.Join(spool, "detail-*"), "--mode", "follow",
		"--to", "jsonl:"+fifo, "--state", filepath.Join(dir, "state"), "--log-format", "json",
		"--shutdown-timeout", "10m", "--max-outstanding", "512",
		// One record per write: small writes merge into the one-page pipe
		// until it is full; a batch written at once would block on the
		// second write with the pipe barely used (Linux fills a pipe page by
		// page), which the wait below could not tell from a slow start.
		"--batch-size", "1")
	waitLine(t, stderr, `"msg":"radrelay run starting"`)
	// Wait (external process: polling with a deadline) until the pipe is
	// nearly full, i.e. the sink is blocked in a write.
	deadline := time.Now().Add(60 * time.Second)
	for {
		var n int32
		if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(rfd), syscall.TIOCINQ, uintptr(unsafe.Pointer(&n))); errno != 0 {
			t.Fatalf("FIONREAD: %v", errno)
		}
		if n >= 2048 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sink wrote only %d bytes into the FIFO within a minute", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	waitLine(t, stderr, `"msg":"stopping: `)
	cmd.Process.Signal(syscall.SIGTERM)
	waitLine(t, stderr, `second signal: exiting at once`)
	go io.Copy(io.Discard, stdoutOf(stderr))
	if code := exitStatus(t, cmd); code != 143 {
		t.Errorf("exit status %d after a second SIGTERM, want 143", code)
	}
}
