//go:build linux

package main

// Issue 11, the tailer's part, through the built binary: a second instance on
// one state directory, a read-only state directory, compressed and binary
// files in the glob, an unreadable file, a garbage flood, an oversized record
// and a dead sink with a retry budget.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// hRecord is record i as FreeRADIUS writes it; "h%06d" identifies it.
func hRecord(i int) []byte {
	return fmt.Appendf(nil, "Mon Nov 23 11:57:39 2026\n"+
		"\tUser-Name = \"user%d@example.net\"\n"+
		"\tAcct-Status-Type = Interim-Update\n"+
		"\tAcct-Session-Id = \"h%06d\"\n"+
		"\tNAS-IP-Address = 10.0.0.1\n"+
		"\tTimestamp = 1795435059\n\n", i, i)
}

func hRecords(from, to int) []byte {
	var b []byte
	for i := from; i < to; i++ {
		b = append(b, hRecord(i)...)
	}
	return b
}

func hWrite(t *testing.T, path string, data []byte, mode os.FileMode, age time.Duration) {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, mode)
	at := time.Now().Add(-age)
	os.Chtimes(path, at, at)
}

// hIDs counts the record ids (h%06d) in radrelay's JSON-lines output.
func hIDs(out string) map[string]int {
	m := map[string]int{}
	for _, l := range strings.Split(out, "\n") {
		if i := strings.Index(l, `"h0`); i >= 0 {
			m[l[i+1:i+8]]++
		}
	}
	return m
}

func checkIDs(t *testing.T, got map[string]int, from, to int) {
	t.Helper()
	bad := 0
	for i := from; i < to; i++ {
		if id := fmt.Sprintf("h%06d", i); got[id] != 1 {
			if bad++; bad <= 5 {
				t.Errorf("record %s delivered %d times, want once", id, got[id])
			}
		}
	}
	if len(got) != to-from {
		t.Errorf("%d distinct records delivered, want %d", len(got), to-from)
	}
}

// binary returns how to run radrelay unprivileged: as root, a copy of the
// test binary that user nobody may execute, and nobody's credentials; else
// the test binary itself.
func unprivileged(t *testing.T) (string, *syscall.Credential) {
	t.Helper()
	if os.Geteuid() != 0 {
		return os.Args[0], nil
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("SKIP: running as root and there is no user nobody to run radrelay unprivileged: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir := openDir(t)
	bin := filepath.Join(dir, "radrelay.test")
	src, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, src, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// openDir is a temporary directory every user may write (for radrelay run
// as nobody).
func openDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "radrelay-hardening-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// proc is a running radrelay with its stderr lines (kept) and stdout.
type proc struct {
	cmd    *exec.Cmd
	errs   *bufio.Scanner
	lines  []string
	out    *bufio.Scanner
	outBuf strings.Builder
}

func startProc(t *testing.T, bin string, cred *syscall.Credential, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "RADRELAY_TEST_AS_MAIN=1")
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A deadlock bound: a radrelay that never logs what the test waits
	// for is killed, its stderr ends and the test fails.
	watchdog := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
	t.Cleanup(func() {
		watchdog.Stop()
		cmd.Process.Kill()
		cmd.Wait()
	})
	p := &proc{cmd: cmd, errs: bufio.NewScanner(stderr), out: bufio.NewScanner(stdout)}
	p.errs.Buffer(nil, 1<<20)
	p.out.Buffer(nil, 1<<20)
	return p
}

// waitLog reads stderr until a line contains want, n times in all; it
// fails the test at the end of stderr or after lineWait.
func (p *proc) waitLog(t *testing.T, want string, n int) {
	t.Helper()
	deadline := time.NewTimer(lineWait)
	defer deadline.Stop()
	for p.count(want) < n {
		if !scanBefore(t, p.errs, deadline.C, fmt.Sprintf("%s (%d times)", want, n), p.lines) {
			t.Fatalf("radrelay never logged %q %d times; it logged:\n%s", want, n, strings.Join(p.lines, "\n"))
		}
		p.lines = append(p.lines, p.errs.Text())
	}
}

func (p *proc) count(want string) int {
	n := 0
	for _, l := range p.lines {
		if strings.Contains(l, want) {
			n++
		}
	}
	return n
}

// waitRecords reads stdout until n records arrived.
func (p *proc) waitRecords(t *testing.T, n int) {
	t.Helper()
	deadline := time.NewTimer(lineWait)
	defer deadline.Stop()
	for len(hIDs(p.outBuf.String())) < n {
		if !scanBefore(t, p.out, deadline.C, fmt.Sprintf("%d records on stdout", n), p.lines) {
			t.Fatalf("stdout ended after %d records, want %d; stderr:\n%s", len(hIDs(p.outBuf.String())), n, strings.Join(p.lines, "\n"))
		}
		p.outBuf.WriteString(p.out.Text() + "\n")
	}
}

// stop sends SIGTERM and returns the exit status, reading the rest of the
// output.
func (p *proc) stop(t *testing.T) int {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for p.out.Scan() {
			p.outBuf.WriteString(p.out.Text() + "\n")
		}
	}()
	for p.errs.Scan() {
		p.lines = append(p.lines, p.errs.Text())
	}
	wg.Wait()
	return exitStatus(t, p.cmd)
}

// runBin runs radrelay to its end and returns its status and output.
func runBin(t *testing.T, bin string, cred *syscall.Credential, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a deadlock bound
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "RADRELAY_TEST_AS_MAIN=1")
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("radrelay %s did not end within 2 minutes; stderr:\n%s", args[0], tail(stderr.String(), 4000))
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// A second radrelay on the same state directory exits 2 naming the first
// one's pid, instead of delivering everything a second time (issue 11 item 3).
func TestTailerSecondInstanceExitsTwo(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "radacct")
	os.Mkdir(spool, 0o700)
	hWrite(t, filepath.Join(spool, "detail-1"), hRecords(0, 10), 0o600, 0)
	state := filepath.Join(dir, "state")
	first := startProc(t, os.Args[0], nil, "run", "--mode", "follow", "--input", filepath.Join(spool, "detail-*"),
		"--to", "jsonl:-", "--state", state)
	first.waitRecords(t, 10)
	code, _, stderr := runBin(t, os.Args[0], nil, "run", "--mode", "follow", "--input", filepath.Join(spool, "detail-*"),
		"--to", "jsonl:"+filepath.Join(dir, "second.jsonl"), "--state", state)
	if code != 2 {
		t.Errorf("second instance: exit status %d, want 2; stderr:\n%s", code, stderr)
	}
	if want := fmt.Sprintf("in use by process %d", first.cmd.Process.Pid); !strings.Contains(stderr, want) {
		t.Errorf("second instance's error does not say %q:\n%s", want, stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "second.jsonl")); len(b) > 0 {
		t.Errorf("the second instance delivered %d bytes", len(b))
	}
	// The second instance did not publish its status over the first's.
	if code, out, _ := runBin(t, os.Args[0], nil, "status", "--state", state); code != 0 ||
		!strings.Contains(out, fmt.Sprintf("running, pid %d", first.cmd.Process.Pid)) {
		t.Errorf("status after a second instance was refused: exit %d\n%s", code, out)
	}
	if code := first.stop(t); code != 0 {
		t.Errorf("first instance: exit status %d after SIGTERM", code)
	}
}

// A state directory radrelay cannot write: run exits 1 at once with an
// error naming it, as --help documents, instead of looping on "cannot
// persist progress" (issue 11 item 8).
func TestTailerReadOnlyStateDirExitsOne(t *testing.T) {
	bin, cred := unprivileged(t)
	dir := openDir(t)
	spool := filepath.Join(dir, "radacct")
	os.Mkdir(spool, 0o777)
	hWrite(t, filepath.Join(spool, "detail-1"), hRecords(0, 10), 0o644, 0)
	state := filepath.Join(dir, "state")
	os.Mkdir(state, 0o555)
	os.Chmod(state, 0o555)
	code, _, stderr := runBin(t, bin, cred, "run", "--mode", "follow", "--input", filepath.Join(spool, "detail-*"),
		"--to", "jsonl:"+filepath.Join(dir, "out.jsonl"), "--state", state)
	if code != 1 {
		t.Errorf("exit status %d, want 1; stderr:\n%s", code, tail(stderr, 4000))
	}
	if !strings.Contains(stderr, "not writable") || !strings.Contains(stderr, state) {
		t.Errorf("the error does not say the state directory is not writable:\n%s", tail(stderr, 4000))
	}
	if strings.Contains(stderr, "cannot persist progress") {
		t.Errorf("radrelay started and failed to save progress:\n%s", tail(stderr, 4000))
	}
	// One clear error: no warning about the status file as well.
	if n := strings.Count(stderr, "level=WARN") + strings.Count(stderr, "level=ERROR"); n != 1 {
		t.Errorf("%d warnings and errors, want the one error:\n%s", n, tail(stderr, 4000))
	}
}

func compressGzip(data []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

// A logrotate-compressed archive and a binary file in the glob: consume never
// claims, renames or deletes them, follow skips them; each is warned about
// once (issue 11 item 2).
func TestTailerLeavesArchivesAlone(t *testing.T) {
	for _, mode := range []string{"consume", "follow"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			spool := filepath.Join(dir, "radacct")
			os.Mkdir(spool, 0o700)
			gz := compressGzip(hRecords(1000, 1050))
			bin := append([]byte("\x7fELF\x02\x01\x01\x00\x00\x00"), hRecords(2000, 2010)...)
			hWrite(t, filepath.Join(spool, "detail-20261121.gz"), gz, 0o600, 3*time.Hour)
			hWrite(t, filepath.Join(spool, "detail-20261122.core"), bin, 0o600, 2*time.Hour)
			hWrite(t, filepath.Join(spool, "detail-20261123"), hRecords(0, 50), 0o600, time.Hour)
			p := startProc(t, os.Args[0], nil, "run", "--mode", mode, "--input", filepath.Join(spool, "detail-*"),
				"--to", "jsonl:-", "--state", filepath.Join(dir, "state"), "--log-level", "debug")
			p.waitRecords(t, 50)
			if mode == "consume" {
				p.waitLog(t, "work file delivered to every sink; deleted", 1)
			}
			if code := p.stop(t); code != 0 {
				t.Errorf("exit status %d", code)
			}
			checkIDs(t, hIDs(p.outBuf.String()), 0, 50)
			for name, want := range map[string][]byte{"detail-20261121.gz": gz, "detail-20261122.core": bin} {
				got, err := os.ReadFile(filepath.Join(spool, name))
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s was changed, moved or deleted: %v", name, err)
				}
				if n := countWith(p.lines, "left alone", name); n != 1 {
					t.Errorf("%s: %d warnings, want 1:\n%s", name, n, strings.Join(p.lines, "\n"))
				}
			}
			if _, err := os.Stat(filepath.Join(spool, "detail.work")); err == nil {
				t.Error("a work file was left behind")
			}
			if q, _ := filepath.Glob(filepath.Join(dir, "state", "quarantine", "*")); len(q) > 0 {
				t.Errorf("something was quarantined: %v", q)
			}
		})
	}
}

// countWith counts the lines holding every one of subs.
func countWith(lines []string, subs ...string) int {
	n := 0
next:
	for _, l := range lines {
		for _, s := range subs {
			if !strings.Contains(l, s) {
				continue next
			}
		}
		n++
	}
	return n
}

// replay reads gzip, bzip2, xz and zstd archives as they lie on disk.
func TestTailerReplayReadsArchives(t *testing.T) {
	dir := t.TempDir()
	var files []string
	add := func(name string, data []byte) {
		p := filepath.Join(dir, name)
		hWrite(t, p, data, 0o600, 0)
		files = append(files, p)
	}
	add("detail-1.gz", compressGzip(hRecords(0, 100)))
	var xb bytes.Buffer
	xw, _ := xz.NewWriter(&xb)
	xw.Write(hRecords(100, 200))
	xw.Close()
	add("detail-2.xz", xb.Bytes())
	var zb bytes.Buffer
	zw, _ := zstd.NewWriter(&zb)
	zw.Write(hRecords(200, 300))
	zw.Close()
	add("detail-3.zst", zb.Bytes())
	n := 300
	if bz, err := exec.LookPath("bzip2"); err == nil {
		c := exec.Command(bz, "-c")
		c.Stdin = bytes.NewReader(hRecords(300, 400))
		out, err := c.Output()
		if err != nil {
			t.Fatal(err)
		}
		add("detail-4.bz2", out)
		n = 400
	} else {
		t.Log("bzip2 command not installed: the bzip2 case is not covered here (archive's tests read it)")
	}
	code, out, stderr := runBin(t, os.Args[0], nil, append([]string{"replay", "--to", "jsonl:-", "--quarantine", filepath.Join(dir, "q")}, files...)...)
	if code != 0 {
		t.Errorf("exit status %d; stderr:\n%s", code, tail(stderr, 4000))
	}
	checkIDs(t, hIDs(out), 0, n)
}

// A damaged gzip archive in a replay. The policy: what decompressed before
// the damage is read as usual (each record delivered is whole: the reader
// takes only complete records), and the rest of the file is quarantined as
// one "unreadable" entry naming the file, its offset and the error; exit 1.
// A bad checksum is found only at the end of the gzip member, once every
// record has been read: the entry then holds nothing, but says so.
func TestTailerReplayDamagedGzip(t *testing.T) {
	dir := t.TempDir()
	badSum := compressGzip(hRecords(0, 100))
	badSum[len(badSum)-8] ^= 0xff // the CRC-32 of the trailer
	// Two members, as "cat a.gz b.gz" makes; the second is cut short.
	second := compressGzip(hRecords(100, 200))
	cut := append(compressGzip(hRecords(0, 100)), second[:len(second)/2]...)
	for _, tc := range []struct {
		name     string
		data     []byte
		says     string
		min, max int // records delivered: a prefix 0..n of the file's with min <= n <= max
	}{
		{"bad checksum", badSum, "gzip: invalid checksum", 100, 100},
		{"second member cut short", cut, "the archive is truncated", 100, 199},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".gz")
			hWrite(t, in, tc.data, 0o600, 0)
			q := filepath.Join(dir, "q-"+filepath.Base(in))
			code, out, stderr := runBin(t, os.Args[0], nil, "replay", "--to", "jsonl:-", "--quarantine", q, in)
			if code != 1 {
				t.Errorf("exit status %d, want 1 (the rest of the file quarantined); stderr:\n%s", code, tail(stderr, 3000))
			}
			got := hIDs(out)
			if n := len(got); n < tc.min || n > tc.max {
				t.Errorf("%d records delivered, want %d to %d", n, tc.min, tc.max)
			}
			checkIDs(t, got, 0, len(got)) // a prefix, each once
			entries, _ := readQuarantine(t, q)
			if len(entries) != 1 {
				t.Fatalf("%d quarantine entries, want 1 for the rest of the file", len(entries))
			}
			e := string(entries[0])
			for _, want := range []string{"unreadable: cannot decompress the rest of the file", tc.says, "Radrelay-Quarantine-Source = \"" + in + ":"} {
				if !strings.Contains(e, want) {
					t.Errorf("the quarantine entry does not say %q:\n%s", want, e)
				}
			}
			if countWith(strings.Split(stderr, "\n"), "level=ERROR", "cannot decompress", in) != 1 {
				t.Errorf("want one error naming %s; stderr:\n%s", in, tail(stderr, 3000))
			}
		})
	}
}

// An unreadable file (mode 000, radrelay not its owner) is set aside with one
// error saying what to fix; the other files flow; it is tried again with
// backoff and taken once it can be read (issue 11 item 4).
func TestTailerUnreadableFileSetAside(t *testing.T) {
	for _, mode := range []string{"consume", "follow"} {
		t.Run(mode, func(t *testing.T) {
			bin, cred := unprivileged(t)
			dir := openDir(t)
			spool := filepath.Join(dir, "radacct")
			os.Mkdir(spool, 0o777)
			os.Chmod(spool, 0o777)
			bad := filepath.Join(spool, "detail-1")
			hWrite(t, bad, hRecords(0, 20), 0o000, 3*time.Hour)
			hWrite(t, filepath.Join(spool, "detail-2"), hRecords(20, 40), 0o666, 2*time.Hour)
			hWrite(t, filepath.Join(spool, "detail-3"), hRecords(40, 60), 0o666, time.Hour)
			if cred == nil {
				// Not root: a file of our own with mode 000 is unreadable too.
				os.Chmod(bad, 0)
			}
			p := startProc(t, bin, cred, "run", "--mode", mode, "--input", filepath.Join(spool, "detail-*"),
				"--to", "jsonl:-", "--state", filepath.Join(dir, "state"), "--log-level", "debug")
			p.waitRecords(t, 40)
			// Two more attempts, with backoff, without another error line.
			p.waitLog(t, "still cannot be opened", 2)
			if err := os.Chmod(bad, 0o666); err != nil {
				t.Fatal(err)
			}
			p.waitLog(t, "can be opened again", 1)
			p.waitRecords(t, 60)
			if mode == "consume" {
				p.waitLog(t, "work file delivered to every sink; deleted", 3)
			}
			if code := p.stop(t); code != 0 {
				t.Errorf("exit status %d", code)
			}
			checkIDs(t, hIDs(p.outBuf.String()), 0, 60)
			if n := countWith(p.lines, "cannot open input file", "detail-1"); n != 1 {
				t.Errorf("%d error lines about detail-1, want 1:\n%s", n, strings.Join(p.lines, "\n"))
			}
			if n := countWith(p.lines, "cannot open input file", "fix"); n != 1 {
				t.Errorf("the error does not say what to fix:\n%s", strings.Join(p.lines, "\n"))
			}
		})
	}
}

// A flood of garbage (20,000 header-only lines) between good records: one
// quarantine entry of bounded size, a side file with every byte, and a few
// log lines, not one per line (issue 11 item 6).
func TestTailerGarbageFloodIsOneEntry(t *testing.T) {
	dir := t.TempDir()
	var garbage []byte
	for i := range 20000 {
		garbage = fmt.Appendf(garbage, "Mon Nov 23 11:%02d:%02d 2026\n", i/60%60, i%60)
	}
	data := append(append(hRecords(0, 10), garbage...), hRecords(10, 20)...)
	in := filepath.Join(dir, "detail-garbage")
	hWrite(t, in, data, 0o600, 0)
	q := filepath.Join(dir, "q")
	code, out, stderr := runBin(t, os.Args[0], nil, "replay", "--to", "jsonl:-", "--quarantine", q, in)
	if code != 1 {
		t.Errorf("exit status %d, want 1 (records quarantined)", code)
	}
	checkIDs(t, hIDs(out), 0, 20)
	if n := strings.Count(stderr, "\n"); n > 20 {
		t.Errorf("%d lines of log for one garbage run, want a handful:\n%s", n, tail(stderr, 3000))
	}
	entries, side := readQuarantine(t, q)
	if len(entries) != 1 {
		t.Fatalf("%d quarantine entries, want 1", len(entries))
	}
	if len(entries[0]) > 100<<10 {
		t.Errorf("the quarantine entry is %d bytes; want it bounded", len(entries[0]))
	}
	if !bytes.Equal(side[entries[0].rawFile()], garbage) {
		t.Errorf("the side file %q does not hold the garbage byte for byte (%d bytes, want %d)",
			entries[0].rawFile(), len(side[entries[0].rawFile()]), len(garbage))
	}
}

// A 1 MB record is quarantined with every byte (a side file the entry names),
// not only its first 64 KB (issue 11 item 7).
func TestTailerOversizedRecordKeptWhole(t *testing.T) {
	dir := t.TempDir()
	huge := []byte("Mon Nov 23 11:57:39 2026\n\tUser-Name = \"" + strings.Repeat("x", 1<<20) + "\"\n\tAcct-Session-Id = \"big\"\n\n")
	data := append(append(hRecords(0, 2), huge...), hRecords(2, 4)...)
	in := filepath.Join(dir, "detail-huge")
	hWrite(t, in, data, 0o600, 0)
	q := filepath.Join(dir, "q")
	code, out, _ := runBin(t, os.Args[0], nil, "replay", "--to", "jsonl:-", "--quarantine", q, in)
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	checkIDs(t, hIDs(out), 0, 4)
	entries, side := readQuarantine(t, q)
	if len(entries) != 1 {
		t.Fatalf("%d quarantine entries, want 1", len(entries))
	}
	if got := side[entries[0].rawFile()]; !bytes.Equal(got, huge) {
		t.Errorf("side file %q holds %d bytes, want the %d bytes of the record", entries[0].rawFile(), len(got), len(huge))
	}
}

type qEntry string

func (e qEntry) rawFile() string {
	const key = "\tRadrelay-Quarantine-Raw-File = \""
	i := strings.Index(string(e), key)
	if i < 0 {
		return ""
	}
	rest := string(e)[i+len(key):]
	v, err := strconv.Unquote(`"` + rest[:strings.IndexByte(rest, '\n')])
	if err != nil {
		return rest[:strings.IndexByte(rest, '"')]
	}
	return v
}

// readQuarantine returns the entries of the quarantine files in q and the
// content of every side file, by path.
func readQuarantine(t *testing.T, q string) ([]qEntry, map[string][]byte) {
	t.Helper()
	var entries []qEntry
	side := map[string][]byte{}
	files, _ := filepath.Glob(filepath.Join(q, "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f, ".raw") {
			side[f] = b
			continue
		}
		for _, e := range strings.Split(string(b), "\n\n") {
			if strings.TrimSpace(e) != "" {
				entries = append(entries, qEntry(e))
			}
		}
	}
	return entries, side
}

// A sink that never accepts anything, with a retry budget (max_duration):
// once it has failed for longer than the budget, what it is handed is
// quarantined at once, so the replay ends after about the budget instead of
// the budget (or the backoff) once per batch (issue 11 item 10).
func TestTailerDeadSinkReplayEndsAfterBudget(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("SKIP: no /dev/full to make a sink that always fails")
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "detail-1")
	hWrite(t, in, hRecords(0, 3000), 0o600, 0)
	cfg := filepath.Join(dir, "radrelay.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
quarantine_dir = %q

[[sink]]
name = "dead"
type = "jsonl"
path = "/dev/full"
batch_size = 10
[sink.retry]
initial = "10m"
max = "10m"
max_duration = "200ms"
`, filepath.Join(dir, "q"))), 0o600)
	// Without the per-sink budget every batch of 10 waits for its own
	// budget (or a 10-minute backoff): 300 batches.
	code, _, stderr := runBin(t, os.Args[0], nil, "replay", "-c", cfg, in)
	if code != 1 {
		t.Errorf("exit status %d, want 1; stderr:\n%s", code, tail(stderr, 3000))
	}
	entries, _ := readQuarantine(t, filepath.Join(dir, "q"))
	if len(entries) != 3000 {
		t.Errorf("%d records quarantined, want 3000", len(entries))
	}
	if n := strings.Count(stderr, "longer than its retry budget; records are quarantined at once"); n != 1 {
		t.Errorf("the budget warning appears %d times, want once:\n%s", n, tail(stderr, 3000))
	}
	if n := strings.Count(stderr, "\n"); n > 40 {
		t.Errorf("%d lines of log, want quarantine warnings summarised:\n%s", n, tail(stderr, 3000))
	}
}

// Two consumers (different state directories) on one spool: each record is
// delivered by exactly one of them, because a consumer delivers only from a
// file it claimed; before, one read the next files in place while the other
// claimed them (issue 11 item 3).
func TestTailerTwoConsumersNeverShareAFile(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "radacct")
	os.Mkdir(spool, 0o700)
	const files, per = 4, 500
	// The files are made aside and moved into the spool once both
	// consumers run: a consumer that finds them on its own drains the
	// spool before the other one has started (a claimed file is finished
	// as soon as nobody holds it open), and both must compete.
	staging := filepath.Join(dir, "staging")
	os.Mkdir(staging, 0o700)
	for i := range files {
		hWrite(t, filepath.Join(staging, fmt.Sprintf("detail-%d", i+1)), hRecords(i*per, (i+1)*per), 0o600, time.Duration(files-i)*time.Hour)
	}
	type result struct {
		out     strings.Builder
		deleted int
		started chan struct{} // closed at its "tailer started" line
	}
	var mu sync.Mutex
	deleted := 0
	allDeleted := make(chan struct{})
	start := func(name string) (*exec.Cmd, *result, *sync.WaitGroup) {
		cmd := exec.Command(os.Args[0], "run", "--mode", "consume", "--input", filepath.Join(spool, "detail-*"),
			"--to", "jsonl:-", "--state", filepath.Join(dir, name), "--log-level", "debug")
		cmd.Env = append(os.Environ(), "RADRELAY_TEST_AS_MAIN=1")
		stdout, _ := cmd.StdoutPipe()
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		watchdog := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
		t.Cleanup(func() { watchdog.Stop(); cmd.Process.Kill(); cmd.Wait() })
		res := &result{started: make(chan struct{})}
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			b, _ := io.ReadAll(stdout)
			res.out.Write(b)
		}()
		go func() {
			defer wg.Done()
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				if strings.Contains(sc.Text(), "tailer started") {
					close(res.started)
				}
				if strings.Contains(sc.Text(), "work file delivered to every sink; deleted") {
					mu.Lock()
					res.deleted++
					if deleted++; deleted == files {
						close(allDeleted)
					}
					mu.Unlock()
				}
			}
		}()
		return cmd, res, &wg
	}
	a, ra, wa := start("state-a")
	b, rb, wb := start("state-b")
	for _, r := range []*result{ra, rb} {
		select {
		case <-r.started:
		case <-time.After(2 * time.Minute): // only a machine far overloaded gets here
			t.Fatal("a consumer did not start within 2 minutes")
		}
	}
	for i := range files {
		name := fmt.Sprintf("detail-%d", i+1)
		if err := os.Rename(filepath.Join(staging, name), filepath.Join(spool, name)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-allDeleted:
	case <-time.After(2 * time.Minute): // a deadlock bound
		t.Fatal("the spool was not consumed within 2 minutes")
	}
	for _, c := range []*exec.Cmd{a, b} {
		c.Process.Signal(syscall.SIGTERM)
	}
	wa.Wait()
	wb.Wait()
	for _, c := range []*exec.Cmd{a, b} {
		if code := exitStatus(t, c); code != 0 {
			t.Errorf("exit status %d after SIGTERM", code)
		}
	}
	got := hIDs(ra.out.String())
	for id, n := range hIDs(rb.out.String()) {
		got[id] += n
	}
	checkIDs(t, got, 0, files*per)
	if left, _ := filepath.Glob(filepath.Join(spool, "*")); len(left) != 0 {
		t.Errorf("files left in the spool: %v", left)
	}
}
