//go:build linux

package main

import (
	"strings"
	"testing"
)

// TestSQLWithoutSchema: "sql status" and "sql close-stale" against a
// database "sql init" never ran on exit 1 with PostgreSQL's error and a hint
// naming the missing table and "radrelay sql init"; once it ran, no hint.
func TestSQLWithoutSchema(t *testing.T) {
	dsn := postgresDatabase(t)
	for _, tc := range []struct {
		args  []string
		table string
	}{
		{[]string{"sql", "status", "--dsn", dsn}, "radacct"},
		{[]string{"sql", "close-stale", "--dsn", dsn}, "radacct"},
		{[]string{"sql", "close-stale", "--dsn", dsn, "--dry-run"}, "radacct"},
		{[]string{"sql", "status", "--dsn", dsn, "--live-table", "sessions"}, "sessions"},
	} {
		code, out, errOut := radrelayOutput(t, tc.args...)
		want := "\nhint: table " + tc.table + ` does not exist in this database: create it with "radrelay sql init" (same --dsn and --live-table)`
		if code != 1 || !strings.Contains(errOut, `ERROR: relation "`+tc.table+`" does not exist (SQLSTATE 42P01)`) || !strings.Contains(errOut, want) {
			t.Errorf("%q on an empty database: exit %d, want 1 and %q\n%s%s", tc.args[:2], code, want, out, errOut)
		}
	}
	if code, _, errOut := radrelayOutput(t, "sql", "init", "--dsn", dsn); code != 0 {
		t.Fatalf("sql init: exit %d: %s", code, errOut)
	}
	if code, out, errOut := radrelayOutput(t, "sql", "status", "--dsn", dsn); code != 0 || strings.Contains(errOut, "hint:") {
		t.Errorf("sql status after sql init: exit %d\n%s%s", code, out, errOut)
	}
}
