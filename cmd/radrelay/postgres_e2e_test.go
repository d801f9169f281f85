package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/radrelay/radrelay/internal/pgtest"
	"github.com/radrelay/radrelay/sinks/sinktest"
)

// TestReplayIntoPostgres loads history into a real PostgreSQL through
// "radrelay replay -c" with a postgres sink whose DSN comes from a file
// (examples/sql-history.toml's shape): one radacct row per session, one
// history row per record. It starts its own throwaway server (or uses
// RADRELAY_TEST_PG_DSN) and skips when PostgreSQL is not installed, unless
// RADRELAY_REQUIRE_SERVERS=1.
func TestReplayIntoPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: -short")
	}
	dsn := postgresDatabase(t)

	dir := t.TempDir()
	const sessions = 100
	src := writeDetail(t, filepath.Join(dir, "detail-20261123"), sinktest.Records(3*sessions))
	dsnFile := writeDSNFile(t, dir, dsn)
	cfg := filepath.Join(dir, "sql.toml")
	// raise_delay_time = false (the default, spelled out): a raised
	// Acct-Delay-Time would change the record on every replay.
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
raise_delay_time = false

[[sink]]
name = "sql"
type = "postgres"
dsn_file = %q
max_outstanding = 1000
batch_size = 500
`, dsnFile)), 0o644)

	if code, _, stderr := runCLI(t, "validate", "--replay", "-c", cfg); code != 0 {
		t.Fatalf("validate: status %d\n%s", code, stderr)
	}
	code, _, stderr := runCLI(t, "replay", "-c", cfg, "--quarantine", filepath.Join(dir, "q"), src)
	if code != 0 {
		t.Fatalf("replay: status %d\n%s", code, stderr)
	}
	// Again: a replay is idempotent for the database.
	if code, _, stderr := runCLI(t, "replay", "-c", cfg, "--quarantine", filepath.Join(dir, "q"), src); code != 0 {
		t.Fatalf("second replay: status %d\n%s", code, stderr)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var rows, closed int
	if err := conn.QueryRow(ctx, "SELECT count(*), count(acctstoptime) FROM radacct").Scan(&rows, &closed); err != nil {
		t.Fatal(err)
	}
	if rows != sessions || closed != sessions {
		t.Errorf("radacct has %d rows (%d closed), want %d sessions, all stopped", rows, closed, sessions)
	}
	var history int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM radrelay_history").Scan(&history); err != nil {
		t.Fatal(err)
	}
	if history != 3*sessions {
		t.Errorf("radrelay_history has %d rows, want %d (one per record, none twice)", history, 3*sessions)
	}
}

// postgresDatabase starts a throwaway PostgreSQL server for the test (or
// uses RADRELAY_TEST_PG_DSN's) and returns the DSN of a new database on
// it. Without PostgreSQL the test is skipped, or fails when
// RADRELAY_REQUIRE_SERVERS=1.
func postgresDatabase(t *testing.T) string {
	t.Helper()
	srv, err := pgtest.StartServer(pgtest.Options{})
	if err != nil {
		pgtest.Unavailable(t, err.Error())
	}
	t.Cleanup(func() { srv.Close() })
	return srv.NewDatabase(t)
}

// writeDSNFile writes dsn to dir/postgres.dsn (mode 0600), as a postgres
// sink's dsn_file, and returns its path.
func writeDSNFile(t *testing.T, dir, dsn string) string {
	t.Helper()
	p := filepath.Join(dir, "postgres.dsn")
	if err := os.WriteFile(p, []byte(dsn+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
