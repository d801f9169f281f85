package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/radrelay/radrelay/detail"
)

// sessionRecord is an accounting record of a session on a NAS at event.
func sessionRecord(status, nas, sid, user string, port int, event int64) *detail.Record {
	return &detail.Record{Attrs: []detail.Attribute{
		{Name: "Acct-Status-Type", Value: status},
		{Name: "User-Name", Value: user, Quoted: true},
		{Name: "NAS-IP-Address", Value: nas},
		{Name: "NAS-Port", Value: strconv.Itoa(port)},
		{Name: "Acct-Session-Id", Value: sid, Quoted: true},
		{Name: "Event-Timestamp", Value: strconv.FormatInt(event, 10)},
	}, Timestamp: event, HasTimestamp: true}
}

// TestPostgresSessionMetrics runs "radrelay run --metrics" with a postgres
// sink that closes stale sessions and detects NAS reboots, on a real
// PostgreSQL, and checks what an operator sees: the open sessions per NAS
// and the sessions closed as stale and by reboot detection, in /metrics,
// in "radrelay status" and in "radrelay sql status".
func TestPostgresSessionMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: -short")
	}
	dsn := postgresDatabase(t)

	dir := t.TempDir()
	spool := filepath.Join(dir, "radacct")
	os.Mkdir(spool, 0o700)
	now := time.Now().Unix()
	const old = 1795435200 // 2026-11-23 12:00:00 UTC: stale after stale_after = 1h
	writeDetail(t, filepath.Join(spool, "detail-20261206"), []*detail.Record{
		sessionRecord("Start", "192.0.2.3", "old", "olga", 1, old),
		sessionRecord("Start", "192.0.2.1", "00000001", "alice", 1, now-100),
		sessionRecord("Start", "192.0.2.1", "00000002", "bob", 2, now-90),
		sessionRecord("Interim-Update", "192.0.2.1", "00000001", "alice", 1, now-50),
		sessionRecord("Start", "192.0.2.2", "x1", "xavier", 1, now-30),
		sessionRecord("Start", "192.0.2.2", "x2", "yann", 2, now-30),
		// 192.0.2.1 rebooted without Accounting-On: its session ids start over.
		sessionRecord("Start", "192.0.2.1", "00000001", "carol", 9, now-10),
	})
	dsnFile := writeDSNFile(t, dir, dsn)
	state := filepath.Join(dir, "state")
	conf := filepath.Join(dir, "radrelay.toml")
	os.WriteFile(conf, []byte(fmt.Sprintf(`state_dir = %q

[[input]]
glob = %q
mode = "follow"

[[sink]]
name = "sql"
type = "postgres"
dsn_file = %q
detect_reboots = true
close_stale_every = "1s"
stale_after = "1h"
open_sessions_every = "1s"
`, state, filepath.Join(spool, "detail-*"), dsnFile)), 0o600)

	cmd, stderr := startRadrelay(t, "run", "-c", conf, "--metrics", "127.0.0.1:0", "--log-format", "json")
	base := "http://" + logLine(t, stderr, "serving metrics and status")["addr"].(string)
	rebootLog := logLine(t, stderr, "postgres sink: NAS rebooted without Accounting-On (a Start reused the Acct-Session-Id of an open session); closed its older sessions")
	if rebootLog["nas"] != "192.0.2.1" || rebootLog["closed"] != float64(2) {
		t.Errorf("reboot log: %v, want NAS 192.0.2.1 and 2 sessions closed", rebootLog)
	}
	go io.Copy(io.Discard, stdoutOf(stderr))

	want := []string{
		`radrelay_postgres_open_sessions{nas="192.0.2.1",sink="sql"} 1`,
		`radrelay_postgres_open_sessions{nas="192.0.2.2",sink="sql"} 2`,
		`radrelay_postgres_sessions_closed_total{reason="reboot",sink="sql"} 2`,
		`radrelay_postgres_sessions_closed_total{reason="stale",sink="sql"} 1`,
		`radrelay_postgres_open_sessions_counted_timestamp_seconds{sink="sql"} `,
	}
	var metrics string
	// Another process: poll with a deadline until the counts show.
	for deadline := time.Now().Add(60 * time.Second); ; {
		_, metrics = httpGet(t, base+"/metrics")
		missing := 0
		for _, w := range want {
			if !strings.Contains(metrics, w) {
				missing++
			}
		}
		if missing == 0 && !strings.Contains(metrics, `nas="192.0.2.3"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics never showed %q (and no open session of 192.0.2.3):\n%s", want, metrics)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, family := range []string{"# TYPE radrelay_postgres_open_sessions gauge", "# TYPE radrelay_postgres_sessions_closed_total counter"} {
		if !strings.Contains(metrics, family) {
			t.Errorf("no %q in /metrics", family)
		}
	}

	// The status page lists them too.
	if code, page := httpGet(t, base+"/"); code != 200 || !strings.Contains(page, `<table id="sessions">`) ||
		!strings.Contains(page, "<td>sql</td><td>192.0.2.2</td><td class=\"num\">2</td>") ||
		!strings.Contains(page, "<td class=\"num\">1 / 2</td>") {
		t.Errorf("status page (%d) has no sessions table with 2 open on 192.0.2.2 and 1 / 2 closed:\n%s", code, page)
	}

	// radrelay status, once the status published every second caught up.
	for deadline := time.Now().Add(60 * time.Second); ; {
		code, out, _ := radrelayOutput(t, "status", "--state", state, "--json")
		var rep statusReport
		if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil {
			t.Fatalf("status --json: exit %d, %v\n%s", code, err, out)
		}
		if len(rep.Sinks) == 1 && rep.Sinks[0].Sessions != nil && rep.Sinks[0].Sessions.Open == 3 &&
			rep.Sinks[0].Sessions.StaleClosed == 1 && rep.Sinks[0].Sessions.RebootClosed == 2 {
			if s := rep.Sinks[0].Sessions; s.OpenByNAS["192.0.2.1"] != 1 || s.OpenByNAS["192.0.2.2"] != 2 || s.CountedAt == nil {
				t.Errorf("status --json sessions: %+v", s)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status --json never showed 3 open sessions, 1 closed stale, 2 by reboot:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, out, errOut := radrelayOutput(t, "status", "--state", state)
	for _, w := range []string{"sink sql (postgres): delivering", "sessions:       3 sessions open on 2 NASes (counted ", "closed:         1 stale, 2 by NAS reboot detection (this run)"} {
		if code != 0 || !strings.Contains(out, w) {
			t.Errorf("status (exit %d, %s) has no %q:\n%s", code, errOut, w, out)
		}
	}
	code, out, errOut = radrelayOutput(t, "sql", "status", "--dsn-file", dsnFile)
	for _, w := range []string{"3 open sessions on 2 NASes", "1 session closed as stale", "2 sessions closed with cause NAS-Reboot (by NAS reboot detection"} {
		if code != 0 || !strings.Contains(out, w) {
			t.Errorf("sql status (exit %d, %s) has no %q:\n%s", code, errOut, w, out)
		}
	}

	cmd.Process.Signal(syscall.SIGTERM)
	if code := exitStatus(t, cmd); code != 0 {
		t.Errorf("exit status %d after SIGTERM", code)
	}
}
