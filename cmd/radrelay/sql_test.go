package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/radrelay/radrelay/internal/pgtest"
)

func runSQLCommand(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := runMain(&env{stdout: &out, stderr: &errOut}, append([]string{"sql"}, args...))
	return code, out.String(), errOut.String()
}

func TestSQLInitAndExpire(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{})
	dsn := srv.AdminDSN
	code, out, errOut := runSQLCommand(t, "init", "--dsn", dsn)
	if code != 0 {
		t.Fatalf("sql init: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "live:radacct: upgraded from version 0 to 1") || !strings.Contains(out, "history:radrelay_history: upgraded") {
		t.Errorf("sql init said:\n%s", out)
	}
	code, out, errOut = runSQLCommand(t, "init", "--dsn", dsn)
	if code != 0 || !strings.Contains(out, "live:radacct: schema version 1, up to date") {
		t.Errorf("second sql init: exit %d:\n%s%s", code, out, errOut)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, table := range []string{"radacct", "nasreload", "radrelay_history"} {
		var ok bool
		conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&ok)
		if !ok {
			t.Errorf("table %s missing after sql init", table)
		}
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE radrelay_history_p202001 PARTITION OF radrelay_history
		FOR VALUES FROM ('2020-01-01 00:00:00+00') TO ('2020-02-01 00:00:00+00')`); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runSQLCommand(t, "expire", "--dsn", dsn, "--before", "2021-01-01")
	if code != 0 || !strings.Contains(out, "dropped radrelay_history_p202001") {
		t.Errorf("sql expire: exit %d:\n%s%s", code, out, errOut)
	}
	var n int
	conn.QueryRow(ctx, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'radrelay_history'::regclass").Scan(&n)
	if n != 2 {
		t.Errorf("%d history partitions left, want the current and the next month's", n)
	}
	if typ := historyAttributesType(t, dsn); typ != "json" {
		t.Errorf("sql init made attributes %s, want json by default", typ)
	}

	// --history-attributes-type jsonb, on a database of its own.
	dsn = srv.NewDatabase(t)
	if code, _, errOut := runSQLCommand(t, "init", "--dsn", dsn, "--history-attributes-type", "jsonb"); code != 0 {
		t.Fatalf("sql init --history-attributes-type jsonb: exit %d: %s", code, errOut)
	}
	if typ := historyAttributesType(t, dsn); typ != "jsonb" {
		t.Errorf("sql init --history-attributes-type jsonb made attributes %s", typ)
	}
	if code, _, errOut := runSQLCommand(t, "init", "--dsn", srv.NewDatabase(t), "--history-attributes-type", "xml"); code == 0 || !strings.Contains(errOut, "history_attributes_type") {
		t.Errorf("sql init --history-attributes-type xml: exit %d: %s", code, errOut)
	}
}

// historyAttributesType is the type of radrelay_history.attributes in dsn.
func historyAttributesType(t *testing.T, dsn string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var typ string
	if err := conn.QueryRow(ctx, `SELECT format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = 'radrelay_history'::regclass AND attname = 'attributes'`).Scan(&typ); err != nil {
		t.Fatal(err)
	}
	return typ
}

func TestSQLUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"frobnicate"}, {"init"}, {"expire", "--dsn", "postgres://x@127.0.0.1:1/db"},
		{"close-stale", "--dsn", "postgres://x@127.0.0.1:1/db", "--after", "-1h", "--dry-run"},
		{"close-stale", "--dsn", "postgres://x@127.0.0.1:1/db", "--after", "0"},
		{"status", "--dsn", "postgres://x@127.0.0.1:1/db", "--after", "-5m"}} {
		code, _, errOut := runSQLCommand(t, args...)
		if code != 2 {
			t.Errorf("sql %q: exit %d, want 2 (%s)", args, code, errOut)
		}
	}
}

// TestSQLAfterMustBePositive: --after 0 or a negative duration used to
// mean the 2h default without a word (and "sql status" printed the value
// given next to counts made with 2h); it is a usage error, checked before
// connecting.
func TestSQLAfterMustBePositive(t *testing.T) {
	for _, args := range [][]string{
		{"sql", "close-stale", "--dsn", "postgres://x@127.0.0.1:1/db", "--after", "0"},
		{"sql", "close-stale", "--dsn", "postgres://x@127.0.0.1:1/db", "--after", "-5h", "--dry-run"},
		{"sql", "status", "--dsn", "postgres://x@127.0.0.1:1/db", "--after", "0s"},
	} {
		code, _, errOut := runBinary(t, nil, args...)
		if code != 2 || !strings.Contains(errOut, "want a positive duration") {
			t.Errorf("%q: exit %d, want 2 and a clear error; stderr: %s", args, code, errOut)
		}
	}
	// --no-live was ignored by "sql status", which read radacct anyway.
	for _, args := range [][]string{
		{"sql", "status", "--dsn", "postgres://x@127.0.0.1:1/db", "--no-live"},
	} {
		code, _, errOut := runBinary(t, nil, args...)
		if code != 2 || !strings.Contains(errOut, "drop --no-live") {
			t.Errorf("%q: exit %d, want 2 and a clear error; stderr: %s", args, code, errOut)
		}
	}
}

func TestSQLDoesNotPrintPassword(t *testing.T) {
	code, out, errOut := runSQLCommand(t, "init", "--dsn", "postgres://u:s3cret-pw@127.0.0.1:1/db?connect_timeout=2", "--timeout", "5s")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if strings.Contains(out+errOut, "s3cret-pw") {
		t.Errorf("the password was printed: %s%s", out, errOut)
	}
	t.Log(errOut)
}

// TestSQLCloseStale runs "radrelay sql status" and "close-stale" as a
// process: status counts open and stale sessions per NAS; --dry-run
// lists a session without a record for longer than --after and closes
// nothing; without it the session is closed at its last record and
// printed; a second run closes nothing.
func TestSQLCloseStale(t *testing.T) {
	dsn := postgresDatabase(t)
	if code, _, errOut := runBinary(t, nil, "sql", "init", "--dsn", dsn); code != 0 {
		t.Fatalf("sql init: exit %d: %s", code, errOut)
	}
	// Nothing yet: said plainly, no table header over nothing.
	code, out, errOut := runBinary(t, nil, "sql", "status", "--dsn", dsn)
	if code != 0 || !strings.HasPrefix(out, "no open sessions\n") || strings.Contains(out, "oldest last record") || !strings.Contains(out, "0 sessions closed as stale") {
		t.Errorf("sql status of an empty database: exit %d\n%s%s", code, out, errOut)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO radacct (acctsessionid, acctuniqueid, username, nasipaddress, acctstarttime, acctupdatetime, acctsessiontime)
		VALUES ('old', 'u-old', 'alice', '192.0.2.1', now() - interval '5 hours', now() - interval '4 hours', 3600),
		       ('new', 'u-new', 'bob', '192.0.2.1', now() - interval '10 minutes', NULL, 0)`); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runBinary(t, nil, "sql", "status", "--dsn", dsn, "--after", "3h")
	if code != 0 || !regexp.MustCompile(`(?m)^192\.0\.2\.1 +2 +1  `).MatchString(out) ||
		!strings.Contains(out, "2 open sessions on 1 NAS, 1 stale") || !strings.Contains(out, "0 sessions closed as stale (cause Stale-Session)") {
		t.Fatalf("sql status: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runBinary(t, nil, "sql", "close-stale", "--dsn", dsn, "--after", "3h", "--dry-run")
	if code != 0 || !strings.Contains(out, `stale u-old session "old" user "alice" NAS 192.0.2.1`) || !strings.Contains(out, "1 stale sessions (dry run: none closed)") || strings.Contains(out, "u-new") {
		t.Fatalf("close-stale --dry-run: exit %d\n%s%s", code, out, errOut)
	}
	var open int
	conn.QueryRow(ctx, "SELECT count(*) FROM radacct WHERE acctstoptime IS NULL").Scan(&open)
	if open != 2 {
		t.Fatalf("after a dry run %d sessions are open, want 2", open)
	}
	code, out, errOut = runBinary(t, nil, "sql", "close-stale", "--dsn", dsn, "--after", "3h")
	if code != 0 || !strings.Contains(out, `closed u-old session "old"`) || !strings.Contains(out, "1 stale sessions closed (cause Stale-Session)") {
		t.Fatalf("close-stale: exit %d\n%s%s", code, out, errOut)
	}
	var stoppedAtLastRecord bool
	if err := conn.QueryRow(ctx, `SELECT acctstoptime = acctupdatetime AND acctterminatecause = 'Stale-Session' AND acctsessiontime = 3600
		FROM radacct WHERE acctsessionid = 'old'`).Scan(&stoppedAtLastRecord); err != nil || !stoppedAtLastRecord {
		t.Errorf("the stale session is not closed at its last record with the stale cause (%v)", err)
	}
	code, out, _ = runBinary(t, nil, "sql", "close-stale", "--dsn", dsn, "--after", "3h")
	if code != 0 || !strings.Contains(out, "0 stale sessions closed") {
		t.Errorf("second close-stale: exit %d\n%s", code, out)
	}
	code, out, errOut = runBinary(t, nil, "sql", "status", "--dsn", dsn)
	if code != 0 || !strings.Contains(out, "1 open session on 1 NAS, 0 stale") || !strings.Contains(out, "1 session closed as stale (cause Stale-Session)") {
		t.Errorf("sql status after closing: exit %d\n%s%s", code, out, errOut)
	}
}

// TestSubSecondStaleDurations: staleness is counted in whole seconds, so a
// --after, stale_after or close_stale_every under one second (every open
// session stale at once; closing them hundreds of times a second) was
// accepted silently; so was an open_sessions_every under one second (a
// query over every open session, many times a second). It is a usage
// error naming the flag or key (and its line), from "sql", "validate" and
// "run" alike, before anything connects.
func TestSubSecondStaleDurations(t *testing.T) {
	for _, args := range [][]string{
		{"sql", "close-stale", "--dsn", "postgres://x@127.0.0.1:1/db", "--after", "500ms"},
		{"sql", "status", "--dsn", "postgres://x@127.0.0.1:1/db", "--after", "999ms"},
	} {
		code, _, errOut := runBinary(t, nil, args...)
		if code != 2 || !strings.Contains(errOut, "--after "+args[len(args)-1]+" is less than a second") {
			t.Errorf("%q: exit %d, want 2 and an error naming --after; stderr: %s", args, code, errOut)
		}
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "radrelay.toml")
	os.WriteFile(conf, []byte(`state_dir = "`+filepath.Join(dir, "state")+`"
[[input]]
glob = "`+filepath.Join(dir, "detail-*")+`"
mode = "follow"
[[sink]]
name = "sql"
type = "postgres"
dsn = "postgres://x@127.0.0.1:1/db"
close_stale_every = "500ms"
stale_after = "10ms"
open_sessions_every = "100ms"
`), 0o600)
	for _, verb := range []string{"validate", "run"} {
		code, _, errOut := runBinary(t, nil, verb, "-c", conf)
		if code != 2 || !strings.Contains(errOut, "close_stale_every") || !strings.Contains(errOut, "500ms is less than a second") ||
			!strings.Contains(errOut, "stale_after") || !strings.Contains(errOut, "10ms is less than a second") {
			t.Errorf("%s: exit %d, want 2 and errors naming close_stale_every and stale_after; stderr: %s", verb, code, errOut)
		}
		if !strings.Contains(errOut, "radrelay.toml:11: sink \"sql\": open_sessions_every: 100ms is less than a second") {
			t.Errorf("%s: exit %d, want an error naming open_sessions_every and its line 11; stderr: %s", verb, code, errOut)
		}
	}
}
