package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// A record that cannot be parsed is one quarantine entry and one warning,
// whatever the number of sinks reading the file, and counted once; a restart
// does not write it again for a sink that had not reached it. The replay
// stopped by a signal still says what was read, delivered and quarantined.
// (Issue 13: it was quarantined and logged once per sink.)
func TestUnparsedRecordQuarantinedOnceForAllSinks(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("SKIP: no /dev/full to make a sink that always fails")
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "detail-20261123")
	bad := "Mon Nov 23 11:57:39 2026\n\tUser-Name = \"u\"\n\tAcct-Session-Time 300\n\tTimestamp = 1795435059\n\n"
	data := append(append(hRecord(0), bad...), hRecords(1, 4)...)
	hWrite(t, in, data, 0o600, 0)
	badLine := strings.Count(string(hRecord(0)), "\n") + 1
	badOffset := len(hRecord(0))
	q, state := filepath.Join(dir, "q"), filepath.Join(dir, "state")
	out := func(name string) string { return filepath.Join(dir, name+".jsonl") }
	config := func(cPath string) string {
		p := filepath.Join(dir, "radrelay.toml")
		os.WriteFile(p, []byte(fmt.Sprintf(`
quarantine_dir = %q
shutdown_timeout = "100ms"
[[sink]]
name = "a"
type = "jsonl"
path = %q
[[sink]]
name = "b"
type = "jsonl"
path = %q
[[sink]]
name = "c"
type = "jsonl"
path = %q
`, q, out("a"), out("b"), cPath)), 0o600)
		return p
	}

	// First run: c cannot write (it stays before the bad record); a and b
	// pass it; the replay is interrupted.
	p := startProc(t, os.Args[0], nil, "replay", "-c", config("/dev/full"), "--state", state, in)
	p.waitLog(t, "record quarantined", 1)
	p.cmd.Process.Signal(syscall.SIGINT)
	for p.errs.Scan() {
		p.lines = append(p.lines, p.errs.Text())
	}
	status := exitStatus(t, p.cmd)
	stderr := strings.Join(p.lines, "\n")
	if status != 130 {
		t.Errorf("interrupted replay: exit %d, want 130:\n%s", status, stderr)
	}
	if n := strings.Count(stderr, "record quarantined"); n != 1 {
		t.Errorf("%d quarantine warnings, want 1 for three sinks:\n%s", n, stderr)
	}
	// The summary, after the signal: read vs delivered per sink, the
	// unparseable record counted once in all.
	// (How many records were read before the signal depends on timing.)
	if !regexp.MustCompile(`read \d+ records? from 1 file`).MatchString(stderr) || !strings.Contains(stderr, "sink c: 0 delivered, 0 quarantined") ||
		!strings.Contains(stderr, "interrupted:") {
		t.Errorf("no summary after the signal:\n%s", stderr)
	}
	quarantinedIn := regexp.MustCompile(`sink [abc]: \d+ delivered, (\d+) quarantined`)
	total := 0
	for _, m := range quarantinedIn.FindAllStringSubmatch(stderr, -1) {
		n, _ := strconv.Atoi(m[1])
		total += n
	}
	if total != 1 {
		t.Errorf("quarantined counted %d times in the summary, want once:\n%s", total, stderr)
	}

	// Second run: c can write and reaches the bad record: a and b are
	// past it, so it is not quarantined again.
	code, _, stderr := runBin(t, os.Args[0], nil, "replay", "-c", config(out("c")), "--state", state, in)
	if code != 1 && code != 0 {
		t.Errorf("resumed replay: exit %d:\n%s", code, stderr)
	}
	if n := strings.Count(stderr, "record quarantined"); n != 0 {
		t.Errorf("resumed replay: %d quarantine warnings, want none (already quarantined):\n%s", n, stderr)
	}
	for _, s := range []string{"a", "b", "c"} {
		got, _ := os.ReadFile(out(s))
		checkIDs(t, hIDs(string(got)), 0, 4)
	}
	entries, _ := readQuarantine(t, q)
	if len(entries) != 1 {
		t.Fatalf("%d quarantine entries, want 1:\n%v", len(entries), entries)
	}
	e := string(entries[0])
	if want := fmt.Sprintf("Radrelay-Quarantine-Source = %q", fmt.Sprintf("%s:%d:%d", in, badLine, badOffset)); !strings.Contains(e, want) {
		t.Errorf("entry does not say where the record is (%s):\n%s", want, e)
	}
	if !strings.Contains(e, `Radrelay-Quarantine-Sink = "a,b,c"`) {
		t.Errorf("entry does not name every sink:\n%s", e)
	}
}
