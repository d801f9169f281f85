package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/radrelay/radrelay/internal/freeradiustest"
	"github.com/radrelay/radrelay/internal/pgtest"
)

// postgres measures the postgres sink (live sessions and history) through
// the binary, on one durable PostgreSQL 15 (fsync and synchronous_commit
// on, as in production):
//
//  1. radrelay replay of the corpus into an empty database;
//  2. the same into a radacct already holding prefillRows sessions;
//  3. FreeRADIUS 3.2 buffered-sql (detail reader, stock sql module and
//     queries) and radrelay replay on the corpus's first versusRecords
//     records, each into a fresh database of the same server;
//  4. radrelay run in consume mode draining the corpus from a spool.
func (h *harness) postgres(t *testing.T) {
	settings := []string{
		// Statements slower than this are logged: the run reports them.
		"log_min_duration_statement=250",
	}
	if extra := os.Getenv(envPGSettings); extra != "" {
		settings = append(settings, strings.Split(extra, ",")...)
	}
	srv, err := pgtest.StartServer(pgtest.Options{Durable: true, Settings: settings})
	if err != nil {
		pgtest.Unavailable(t, err.Error())
	}
	t.Cleanup(func() {
		// Keep the server's log for a look at slow statements.
		if b, err := os.ReadFile(srv.LogPath()); err == nil {
			os.WriteFile(filepath.Join(h.dir, "postgres.log"), b, 0o644)
		}
		srv.Close()
	})
	n := int64(h.stats.Records)
	inputs := fmt.Sprintf("corpus %s (%.0f MB, FreeRADIUS-written); durable PostgreSQL 15 (fsync, synchronous_commit on)", h.stats, float64(h.bytes)/1e6)

	// 1. From an empty database.
	dsn := createDB(t, srv, "e2e_empty")
	h.replayPG(t, srv, dsn, "replay, empty radacct", n, h.stats.Sessions, 0, inputs)

	// 2. Into a radacct that already holds prefillRows sessions.
	dsn = createDB(t, srv, "e2e_prefilled")
	args := []string{"sql", "init", "--dsn", dsn}
	if out, err := runBinary(h.bin, args...); err != nil {
		t.Fatalf("radrelay %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	start := time.Now()
	prefill(t, dsn, h.sz.prefillRows)
	h.rep.logf("postgres: prefilled radacct of e2e_prefilled with %d closed sessions of earlier days in %s (INSERT ... SELECT generate_series, then VACUUM ANALYZE and CHECKPOINT)",
		h.sz.prefillRows, time.Since(start).Round(time.Second))
	h.replayPG(t, srv, dsn, fmt.Sprintf("replay, radacct holding %s rows", thousands(int64(h.sz.prefillRows))), n, h.stats.Sessions, h.sz.prefillRows, inputs)

	// 3. Side by side with FreeRADIUS buffered-sql.
	h.versusBufferedSQL(t, srv)

	// 4. radrelay run, consume mode.
	h.consumePG(t, srv, inputs)

	if slow := slowStatements(srv.LogPath()); slow != "" {
		h.rep.logf("postgres: statements slower than 250 ms in the server log:\n%s", slow)
	} else {
		h.rep.logf("postgres: no statement took longer than 250 ms (log_min_duration_statement)")
	}
}

// withAdmin runs f with a connection to srv as its superuser (for the
// harness's own statements, a minute for them all), closed when f returns.
func withAdmin(t *testing.T, srv *pgtest.Server, f func(context.Context, *pgx.Conn)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, srv.AdminDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	f(ctx, conn)
}

func createDB(t *testing.T, srv *pgtest.Server, name string) string {
	withAdmin(t, srv, func(ctx context.Context, conn *pgx.Conn) {
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE template0 ENCODING 'UTF8'"); err != nil {
			t.Fatal(err)
		}
	})
	return srv.DSN(name)
}

func runBinary(bin string, args ...string) ([]byte, error) {
	return exec.Command(bin, args...).CombinedOutput()
}

// prefill inserts rows closed sessions of the days before the corpus, on
// the corpus's NASes, with FreeRADIUS's column values, and analyzes.
func prefill(t *testing.T, dsn string, rows int) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, `INSERT INTO radacct (acctsessionid, acctuniqueid, username, realm, nasipaddress,
		nasportid, nasporttype, acctstarttime, acctupdatetime, acctstoptime, acctinterval, acctsessiontime,
		acctauthentic, connectinfo_start, connectinfo_stop, acctinputoctets, acctoutputoctets,
		calledstationid, callingstationid, acctterminatecause, servicetype, framedprotocol, framedipaddress)
	SELECT to_hex(i), md5('prefill' || i), 'user' || lpad((i % 20000)::text, 5, '0') || '@isp.example', NULL,
		('10.20.' || (i % 40) || '.1')::inet, '0/1/0:100.' || (i % 4096), 'Ethernet',
		s, s + interval '10 minutes', s + interval '25 minutes', 600, 1500,
		'RADIUS', '', '', (i::bigint * 7919) % 4000000000, (i::bigint * 104729) % 40000000000,
		'', '02:00:00:' || to_hex(i % 256), 'User-Request', 'Framed-User', 'PPP',
		('100.64.' || (i % 256) || '.' || (1 + i % 254))::inet
	FROM (SELECT i, timestamptz '2026-11-23 00:00:00+00' - (i * interval '2 seconds') - interval '1 hour' AS s
	      FROM generate_series(1, $1::int) i) g`, rows)
	if err != nil {
		t.Fatalf("prefilling radacct: %v", err)
	}
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE radacct"); err != nil {
		t.Fatal(err)
	}
	// A radacct of a million rows on a real server was checkpointed long
	// ago. Without this, the prefill's own ~550 MB of WAL sets off a
	// checkpoint during the measured replay (max_wal_size is 1 GB), which
	// writes the prefill's ~200 MB of dirty pages and makes the replay's
	// figure depend on where that checkpoint falls: 0.5-0.9 CPU-seconds of
	// PostgreSQL more in an A/B of the same binary (docs/benchmarks.md).
	if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
		t.Fatal(err)
	}
}

// walAndCheckpoints reads the server's WAL position and its count of
// checkpoints (timed and requested), to report what a replay wrote and
// whether a checkpoint fell into it.
func walAndCheckpoints(t *testing.T, srv *pgtest.Server) (lsn string, checkpoints int64) {
	withAdmin(t, srv, func(ctx context.Context, conn *pgx.Conn) {
		if err := conn.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text, checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter").Scan(&lsn, &checkpoints); err != nil {
			t.Fatal(err)
		}
	})
	return lsn, checkpoints
}

// walSince is the WAL written since lsn, in MiB.
func walSince(t *testing.T, srv *pgtest.Server, lsn string) float64 {
	var b float64
	withAdmin(t, srv, func(ctx context.Context, conn *pgx.Conn) {
		if err := conn.QueryRow(ctx, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::float8", lsn).Scan(&b); err != nil {
			t.Fatal(err)
		}
	})
	return b / (1 << 20)
}

// replayPG runs radrelay replay of the corpus into dsn and reports the rate
// overall, over the first and the last tenth, and the CPU split.
func (h *harness) replayPG(t *testing.T, srv *pgtest.Server, dsn, what string, n int64, sessions, prefilled int, inputs string) {
	// Let the backends of earlier connections (the prefill's) exit, so
	// that their CPU time is not counted as this run's.
	time.Sleep(time.Second)
	load := loadavg()
	lsn, checkpoints := walAndCheckpoints(t, srv)
	pgCPU := procCPU(srv.PID())
	args := []string{"replay", "--to", dsn, "--quarantine", t.TempDir(), h.corpus}
	p := h.startRadrelay(t, nil, args...)
	r := p.wait(t, false, 30*time.Minute)
	if r.code != 0 {
		t.Fatalf("radrelay %s: exit status %d\n%s", cmdline(args...), r.code, p.stderrText())
	}
	time.Sleep(200 * time.Millisecond) // let the backends exit so their CPU time is counted
	pgUsed := procCPU(srv.PID()) - pgCPU
	_, checkpointsAfter := walAndCheckpoints(t, srv)
	wal := walSince(t, srv, lsn)
	first, last := p.deciles(n)
	checkRows(t, dsn, sessions+prefilled, n)
	h.rep.add(figure{
		scenario: "postgres",
		what:     "`radrelay replay` live + history, " + what,
		value:    rate(n, r.wall),
		target:   "≥ 40,000 records/s",
		inputs: fmt.Sprintf("%s; wall clock of the whole command (start-up and schema check included); radrelay CPU %s, PostgreSQL CPU %s, peak RSS (VmHWM) %.0f MiB; WAL %.0f MiB, checkpoints started during the run %d; load %s → %s",
			inputs, r.cpu.Round(10*time.Millisecond), pgUsed.Round(10*time.Millisecond), float64(r.maxRSS)/(1<<20), wal, checkpointsAfter-checkpoints, load, loadavg()),
		command: "radrelay " + cmdline(args...),
	})
	ratio := "?"
	if first > 0 {
		ratio = fmt.Sprintf("%.0f%%", 100*last/first)
	}
	h.rep.add(figure{
		scenario: "postgres",
		what:     "last 10% vs first 10% of the records, " + what,
		value:    fmt.Sprintf("%s (%s vs %s records/s)", ratio, thousands(int64(last)), thousands(int64(first))),
		target:   "≥ 80%",
		inputs:   "from radrelay's delivered counter (--metrics) sampled every 50 ms; the first tenth from the first record read",
		command:  "radrelay " + cmdline(args...),
	})
}

// checkRows checks that radacct holds sessions rows and the history records rows.
func checkRows(t *testing.T, dsn string, sessions int, records int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var live, hist int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM radacct").Scan(&live); err != nil {
		t.Fatal(err)
	}
	if live != int64(sessions) {
		t.Errorf("radacct holds %d rows, want %d", live, sessions)
	}
	if records < 0 {
		return
	}
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM radrelay_history").Scan(&hist); err != nil {
		t.Fatal(err)
	}
	if hist != records {
		t.Errorf("radrelay_history holds %d rows, want %d", hist, records)
	}
}

// versusBufferedSQL loads the corpus's first versusRecords records with
// FreeRADIUS 3.2 buffered-sql and with radrelay replay (three times, each
// into a fresh database; the median counts) on the same server.
func (h *harness) versusBufferedSQL(t *testing.T, srv *pgtest.Server) {
	n := h.sz.versusRecords
	path := filepath.Join(t.TempDir(), "detail-versus")
	if err := os.WriteFile(path, h.records(t, n), 0o644); err != nil {
		t.Fatal(err)
	}
	sessions := countSessions(t, path)

	load := loadavg()
	frDSN := createDB(t, srv, "e2e_freeradius")
	conn, err := pgx.Connect(context.Background(), frDSN)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(context.Background(), freeradiustest.StockSchema(t)); err != nil {
		t.Fatalf("FreeRADIUS schema.sql: %v", err)
	}
	conn.Close(context.Background())
	pgCPU := procCPU(srv.PID())
	fr := freeradiustest.StartBufferedSQL(t, srv.Host, srv.Port, "e2e_freeradius", false)
	frTime := fr.Load(t, path, 30*time.Minute)
	fr.Stop()
	frPG := procCPU(srv.PID()) - pgCPU
	checkRows(t, frDSN, sessions, -1)
	frRate := float64(n) / frTime.Seconds()
	h.rep.logf("postgres: FreeRADIUS buffered-sql loaded %d records in %s (%s; PostgreSQL CPU %s; load %s → %s)",
		n, frTime.Round(10*time.Millisecond), rate(int64(n), frTime), frPG.Round(10*time.Millisecond), load, loadavg())

	var rates []float64
	var args []string
	for i := 0; i < 3; i++ {
		dsn := createDB(t, srv, fmt.Sprintf("e2e_versus_%d", i))
		args = []string{"replay", "--to", dsn, "--quarantine", t.TempDir(), path}
		p := h.startRadrelay(t, nil, args...)
		r := p.wait(t, false, 10*time.Minute)
		if r.code != 0 {
			t.Fatalf("radrelay %s: exit status %d\n%s", cmdline(args...), r.code, p.stderrText())
		}
		checkRows(t, dsn, sessions, int64(n))
		rates = append(rates, float64(n)/r.wall.Seconds())
		h.rep.logf("postgres: radrelay replay loaded the same %d records in %s (%s, CPU %s)", n, r.wall.Round(time.Millisecond), rate(int64(n), r.wall), r.cpu.Round(10*time.Millisecond))
	}
	sort.Float64s(rates)
	med := rates[1]
	h.rep.add(figure{
		scenario: "postgres",
		what:     fmt.Sprintf("radrelay replay vs FreeRADIUS buffered-sql, first %s records", thousands(int64(n))),
		value:    fmt.Sprintf("%.1f× (%s vs %s records/s)", med/frRate, thousands(int64(med)), thousands(int64(frRate))),
		target:   "≥ 25×",
		inputs: fmt.Sprintf("same %d records (%d sessions), same durable server, fresh database each; FreeRADIUS 3.2: detail reader (load_factor 100, poll_interval 1) → preprocess, acct_unique → stock sql module and queries.conf into its stock schema.sql, timed from the file landing in the spool until FreeRADIUS deleted it; radrelay: live + history, median of 3 runs (%s records/s), whole command timed; load %s → %s",
			n, sessions, strings.Join(fmtRates(rates), ", "), load, loadavg()),
		command: "radrelay " + cmdline(args...),
	})
}

func fmtRates(r []float64) []string {
	s := make([]string, len(r))
	for i, v := range r {
		s[i] = thousands(int64(v))
	}
	return s
}

// countSessions counts the distinct (Acct-Session-Id, NAS-IP-Address)
// pairs of a detail file's Start, Interim-Update and Stop records.
func countSessions(t *testing.T, path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, rec := range splitRecords(data) {
		s := string(rec)
		if strings.Contains(s, "Acct-Status-Type = Accounting-") {
			continue
		}
		seen[attr(s, "Acct-Session-Id")+"/"+attr(s, "NAS-IP-Address")] = true
	}
	return len(seen)
}

func attr(rec, name string) string {
	i := strings.Index(rec, "\t"+name+" = ")
	if i < 0 {
		return ""
	}
	v := rec[i+len(name)+4:]
	if j := strings.IndexByte(v, '\n'); j >= 0 {
		v = v[:j]
	}
	return v
}

// consumePG runs radrelay run in consume mode on a spool holding the corpus,
// until every record is delivered.
func (h *harness) consumePG(t *testing.T, srv *pgtest.Server, inputs string) {
	n := int64(h.stats.Records)
	dir := t.TempDir()
	spool := filepath.Join(dir, "spool")
	os.MkdirAll(spool, 0o755)
	copyFile(t, h.corpus, filepath.Join(spool, "detail-20261123"))
	dsn := createDB(t, srv, "e2e_consume")
	load := loadavg()
	args := []string{"run", "--mode", "consume", "--input", filepath.Join(spool, "detail-*"), "--state", filepath.Join(dir, "state"), "--to", dsn}
	p := h.startRadrelay(t, nil, args...)
	done := p.waitDelivered(t, n, 30*time.Minute)
	elapsed := done.Sub(p.start)
	r := p.wait(t, true, time.Minute)
	checkRows(t, dsn, h.stats.Sessions, n)
	first, last := p.deciles(n)
	h.rep.add(figure{
		scenario: "postgres",
		what:     "`radrelay run` consume mode, live + history, empty radacct",
		value:    rate(n, elapsed),
		target:   "(measure)",
		inputs: fmt.Sprintf("%s; from start until the delivered counter reached every record; first/last tenth %s / %s records/s; radrelay CPU %s, peak RSS (VmHWM) %.0f MiB; load %s → %s",
			inputs, thousands(int64(first)), thousands(int64(last)), r.cpu.Round(10*time.Millisecond), float64(r.maxRSS)/(1<<20), load, loadavg()),
		command: "radrelay " + cmdline(args...),
	})
}

// slowStatements returns the slow-statement lines of the server log, the
// statement cut short, at most 20 of them.
func slowStatements(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var out []string
	total := 0
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.Contains(l, "duration:") {
			continue
		}
		total++
		if len(out) < 20 {
			if len(l) > 200 {
				l = l[:200] + "..."
			}
			out = append(out, l)
		}
	}
	if total == 0 {
		return ""
	}
	return fmt.Sprintf("%d statements; the first %d:\n%s", total, len(out), strings.Join(out, "\n"))
}
