package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// A sink that stays down is never silent: one line when it starts failing
// (with the cause), a reminder every failure_reminder while it stays down
// (how long, how many records wait), and one line when it recovers (how
// long it was down, how many records waited). Issue 13, item 4.
func TestSinkDownRemindedAndRecovered(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "detail-20261123")
	hWrite(t, in, hRecords(0, 1), 0o600, 0) // one record: how many wait does not depend on batching
	down := filepath.Join(dir, "down")
	os.WriteFile(down, nil, 0o600)
	conf := filepath.Join(dir, "radrelay.toml")
	os.WriteFile(conf, []byte(fmt.Sprintf(`
quarantine_dir = %q
failure_reminder = "20ms"
[[sink]]
name = "mem"
type = "memory"
store = "down"
down_while = %q
[sink.retry]
initial = "5ms"
max = "10ms"
`, filepath.Join(dir, "q"), down)), 0o600)
	p := startProc(t, os.Args[0], nil, "replay", "-c", conf, "--log-level", "info", in)
	p.waitLog(t, "sink is failing; retrying with backoff until it recovers", 1)
	p.waitLog(t, "sink still failing", 2)
	os.Remove(down)
	p.waitLog(t, "sink recovered: delivering again", 1)
	for p.errs.Scan() {
		p.lines = append(p.lines, p.errs.Text())
	}
	if status := exitStatus(t, p.cmd); status != 0 {
		t.Errorf("exit %d, want 0:\n%s", status, strings.Join(p.lines, "\n"))
	}
	log := strings.Join(p.lines, "\n")
	for _, re := range []string{
		`level=WARN msg="sink is failing; retrying with backoff until it recovers" sink=mem err=.*memory sink: down`,
		`level=WARN msg="sink still failing" sink=mem down_for=\S+ records_waiting=1 err=.*memory sink: down`,
		`level=INFO msg="sink recovered: delivering again" sink=mem down_for=\S+ records_waited=1`,
	} {
		if !regexp.MustCompile(re).MatchString(log) {
			t.Errorf("no line matching %s in:\n%s", re, log)
		}
	}
	if n := strings.Count(log, "sink is failing"); n != 1 {
		t.Errorf("%d lines say the sink starts failing, want 1 (one outage):\n%s", n, log)
	}
	if n := strings.Count(log, "sink recovered"); n != 1 {
		t.Errorf("%d recovery lines, want 1:\n%s", n, log)
	}
}
