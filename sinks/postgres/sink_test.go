package postgres

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/internal/pgtest"
	"github.com/radrelay/radrelay/sinks"
	"github.com/radrelay/radrelay/sinks/sinktest"
)

var pg *pgtest.Server

func TestMain(m *testing.M) { pgtest.Main(m, &pg) }

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// openSink opens a sink on dsn with cfg's other settings and closes it in cleanup.
func openSink(t testing.TB, dsn string, cfg Config) *Sink {
	t.Helper()
	cfg.DSN = dsn
	s, err := newSink(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func connect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// sendAll sends recs and returns the outcomes.
func sendAll(s sinks.Sink, recs []*detail.Record) []error {
	results := make([]error, len(recs))
	s.Send(context.Background(), recs, results)
	return results
}

func mustSend(t testing.TB, s sinks.Sink, recs []*detail.Record) {
	t.Helper()
	for i, err := range sendAll(s, recs) {
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
}

// dumpLive returns every radacct row but radacctid, as JSON, ordered by acctuniqueid.
func dumpLive(t testing.TB, conn *pgx.Conn, table string) []string {
	t.Helper()
	return queryStrings(t, conn, `SELECT (to_jsonb(r) - 'radacctid')::text FROM `+table+` r ORDER BY acctuniqueid`)
}

// queryStrings returns the one text column of the rows sql selects.
func queryStrings(t testing.TB, conn *pgx.Conn, sql string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), sql)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestConformance(t *testing.T) {
	var mu sync.Mutex
	var dsn string
	sinktest.Run(t, sinktest.Harness{
		New: func(t *testing.T) sinks.Sink {
			d := pg.NewDatabase(t)
			mu.Lock()
			dsn = d
			mu.Unlock()
			s, err := New(context.Background(), Config{DSN: d}, testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Delivered: func(t *testing.T) []string {
			mu.Lock()
			d := dsn
			mu.Unlock()
			return queryStrings(t, connect(t, d), `SELECT coalesce(acctsessionid, '') FROM radrelay_history ORDER BY id`)
		},
	})
}

// base is the event time of the semantic tests' first record.
const base = 1795435200 // 2026-11-23 12:00:00 UTC

// acctRec makes a record of session sid (user alice on NAS 192.0.2.1 unless
// kv says otherwise) with the given status and Event-Timestamp; kv are
// name, value pairs added or replacing defaults ("-Name" removes one).
func acctRec(status, sid string, event int64, kv ...string) *detail.Record {
	attrs := []detail.Attribute{
		{Name: "User-Name", Value: "alice", Quoted: true},
		{Name: "NAS-IP-Address", Value: "192.0.2.1"},
		{Name: "NAS-Port", Value: "7"},
		{Name: "NAS-Port-Type", Value: "Ethernet"},
		{Name: "Acct-Session-Id", Value: sid, Quoted: true},
		{Name: "Event-Timestamp", Value: strconv.FormatInt(event, 10)},
	}
	if status != "" {
		attrs = append(attrs, detail.Attribute{Name: "Acct-Status-Type", Value: status})
	}
	for i := 0; i+1 < len(kv); i += 2 {
		name, value := kv[i], kv[i+1]
		remove := strings.HasPrefix(name, "-")
		name = strings.TrimPrefix(name, "-")
		found := false
		for j := range attrs {
			if attrs[j].Name == name {
				found = true
				if remove {
					attrs = append(attrs[:j], attrs[j+1:]...)
				} else {
					attrs[j].Value = value
				}
				break
			}
		}
		if !found && !remove {
			attrs = append(attrs, detail.Attribute{Name: name, Value: value, Quoted: !isNumber(value)})
		}
	}
	return &detail.Record{Attrs: attrs, Timestamp: event + 1, HasTimestamp: true, File: "test", Line: int(event - base + 1)}
}

func isNumber(s string) bool { _, err := strconv.ParseInt(s, 10, 64); return err == nil }

// row is what the semantic tests check of a radacct row.
type row struct {
	start, update, stop *int64
	sessionTime         *int64
	interval            *int64
	in, out             int64
	cause, ciStart      *string
}

func p(n int64) *int64    { return &n }
func ps(s string) *string { return &s }

func readRow(t *testing.T, conn *pgx.Conn, sid string) (row, bool) {
	t.Helper()
	var r row
	var in, out *int64
	err := conn.QueryRow(context.Background(), `SELECT extract(epoch from acctstarttime)::bigint,
		extract(epoch from acctupdatetime)::bigint, extract(epoch from acctstoptime)::bigint,
		acctsessiontime, acctinterval, acctinputoctets, acctoutputoctets, acctterminatecause, connectinfo_start
		FROM radacct WHERE acctsessionid = $1`, sid).Scan(&r.start, &r.update, &r.stop, &r.sessionTime,
		&r.interval, &in, &out, &r.cause, &r.ciStart)
	if err == pgx.ErrNoRows {
		return r, false
	}
	if err != nil {
		t.Fatal(err)
	}
	if in != nil {
		r.in = *in
	}
	if out != nil {
		r.out = *out
	}
	return r, true
}

func fmtp[T any](v *T) string {
	if v == nil {
		return "NULL"
	}
	return fmt.Sprint(*v)
}

func (r row) String() string {
	return fmt.Sprintf("start=%s update=%s stop=%s time=%s interval=%s in=%d out=%d cause=%s ci_start=%s",
		fmtp(r.start), fmtp(r.update), fmtp(r.stop), fmtp(r.sessionTime), fmtp(r.interval), r.in, r.out, fmtp(r.cause), fmtp(r.ciStart))
}

// TestSemantics checks each status type and out-of-order case against what
// FreeRADIUS 3.2's stock PostgreSQL queries leave in radacct, sending the
// records one per Send and all in one Send (where they collapse per session).
func TestSemantics(t *testing.T) {
	const gw = 1 << 32
	tests := []struct {
		name string
		recs []*detail.Record
		want map[string]*row // session id -> row (nil: no row)
	}{{
		name: "start",
		recs: []*detail.Record{acctRec("Start", "s", base, "Connect-Info", "100Mbps")},
		want: map[string]*row{"s": {start: p(base), update: p(base), sessionTime: p(0), ciStart: ps("100Mbps")}},
	}, {
		name: "start interim with gigawords",
		recs: []*detail.Record{
			acctRec("Start", "s", base),
			acctRec("Interim-Update", "s", base+60, "Acct-Session-Time", "60", "Acct-Input-Octets", "100", "Acct-Input-Gigawords", "1", "Acct-Output-Octets", "5"),
		},
		want: map[string]*row{"s": {start: p(base), update: p(base + 60), sessionTime: p(60), interval: p(60), in: gw + 100, out: 5, ciStart: ps("")}},
	}, {
		name: "start interim interim stop",
		recs: []*detail.Record{
			acctRec("Start", "s", base),
			acctRec("Interim-Update", "s", base+60, "Acct-Session-Time", "60"),
			acctRec("Interim-Update", "s", base+150, "Acct-Session-Time", "150"),
			acctRec("Stop", "s", base+200, "Acct-Session-Time", "200", "Acct-Output-Octets", "9", "Acct-Terminate-Cause", "User-Request"),
		},
		want: map[string]*row{"s": {start: p(base), update: p(base + 200), stop: p(base + 200), sessionTime: p(200), interval: p(90), out: 9, cause: ps("User-Request"), ciStart: ps("")}},
	}, {
		name: "interim without start",
		recs: []*detail.Record{acctRec("Interim-Update", "s", base+300, "Acct-Session-Time", "300", "Acct-Input-Octets", "7")},
		want: map[string]*row{"s": {start: p(base + 300), update: p(base + 300), sessionTime: p(300), in: 7, ciStart: ps("")}},
	}, {
		name: "stop without start",
		recs: []*detail.Record{acctRec("Stop", "s", base+300, "Acct-Session-Time", "300", "Acct-Terminate-Cause", "Lost-Carrier")},
		want: map[string]*row{"s": {start: p(base), update: p(base + 300), stop: p(base + 300), sessionTime: p(300), cause: ps("Lost-Carrier"), ciStart: ps("")}},
	}, {
		name: "stop without session time computes it",
		recs: []*detail.Record{acctRec("Start", "s", base), acctRec("Stop", "s", base+42)},
		want: map[string]*row{"s": {start: p(base), update: p(base + 42), stop: p(base + 42), sessionTime: p(42), cause: ps(""), ciStart: ps("")}},
	}, {
		name: "retransmitted stop updates the closed row",
		recs: []*detail.Record{
			acctRec("Start", "s", base),
			acctRec("Stop", "s", base+100, "Acct-Session-Time", "100"),
			acctRec("Stop", "s", base+110, "Acct-Session-Time", "100", "Acct-Delay-Time", "10"),
		},
		want: map[string]*row{"s": {start: p(base), update: p(base + 110), stop: p(base + 110), sessionTime: p(100), cause: ps(""), ciStart: ps("")}},
	}, {
		name: "interim after stop is ignored",
		recs: []*detail.Record{
			acctRec("Start", "s", base),
			acctRec("Stop", "s", base+100, "Acct-Session-Time", "100"),
			acctRec("Interim-Update", "s", base+120, "Acct-Session-Time", "120", "Acct-Input-Octets", "99"),
		},
		want: map[string]*row{"s": {start: p(base), update: p(base + 100), stop: p(base + 100), sessionTime: p(100), cause: ps(""), ciStart: ps("")}},
	}, {
		name: "start after stop resets start and update time",
		recs: []*detail.Record{
			acctRec("Start", "s", base),
			acctRec("Stop", "s", base+100, "Acct-Session-Time", "100"),
			acctRec("Start", "s", base+5, "Connect-Info", "again"),
		},
		want: map[string]*row{"s": {start: p(base + 5), update: p(base + 5), stop: p(base + 100), sessionTime: p(100), cause: ps(""), ciStart: ps("again")}},
	}, {
		name: "accounting-on closes that NAS's sessions started before it",
		recs: []*detail.Record{
			acctRec("Start", "a", base),
			acctRec("Start", "b", base+10, "NAS-IP-Address", "192.0.2.2"),
			acctRec("Start", "c", base+20),
			acctRec("Accounting-On", "", base+30),
			acctRec("Start", "d", base+40),
		},
		want: map[string]*row{
			"a": {start: p(base), update: p(base + 30), stop: p(base + 30), sessionTime: p(30), cause: ps("NAS-Reboot"), ciStart: ps("")},
			"b": {start: p(base + 10), update: p(base + 10), sessionTime: p(0), ciStart: ps("")},
			"c": {start: p(base + 20), update: p(base + 30), stop: p(base + 30), sessionTime: p(10), cause: ps("NAS-Reboot"), ciStart: ps("")},
			"d": {start: p(base + 40), update: p(base + 40), sessionTime: p(0), ciStart: ps("")},
		},
	}, {
		name: "accounting-off with a cause, numeric status",
		recs: []*detail.Record{
			acctRec("1", "a", base),
			acctRec("8", "", base+30, "Acct-Terminate-Cause", "Admin-Reboot"),
		},
		want: map[string]*row{"a": {start: p(base), update: p(base + 30), stop: p(base + 30), sessionTime: p(30), cause: ps("Admin-Reboot"), ciStart: ps("")}},
	}, {
		name: "no status type and unknown status type change nothing",
		recs: []*detail.Record{acctRec("", "a", base), acctRec("Failed", "b", base)},
		want: map[string]*row{"a": nil, "b": nil},
	}, {
		name: "event time falls back to the Timestamp line",
		recs: []*detail.Record{acctRec("Start", "s", base, "-Event-Timestamp", "")},
		want: map[string]*row{"s": {start: p(base + 1), update: p(base + 1), sessionTime: p(0), ciStart: ps("")}},
	}, {
		name: "event timestamp as FreeRADIUS prints dates",
		recs: []*detail.Record{acctRec("Start", "s", base, "Event-Timestamp", "Nov 23 2026 12:00:00 UTC")},
		want: map[string]*row{"s": {start: p(base), update: p(base), sessionTime: p(0), ciStart: ps("")}},
	}}
	for _, tc := range tests {
		for _, mode := range []string{"one-by-one", "one-batch"} {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				dsn := pg.NewDatabase(t)
				s := openSink(t, dsn, Config{})
				if mode == "one-batch" {
					mustSend(t, s, tc.recs)
				} else {
					for _, r := range tc.recs {
						mustSend(t, s, []*detail.Record{r})
					}
				}
				conn := connect(t, dsn)
				for sid, want := range tc.want {
					got, ok := readRow(t, conn, sid)
					if want == nil {
						if ok {
							t.Errorf("session %s: got row %v, want none", sid, got)
						}
						continue
					}
					if !ok {
						t.Errorf("session %s: no row", sid)
						continue
					}
					if got.String() != want.String() {
						t.Errorf("session %s:\n got %v\nwant %v", sid, got, want)
					}
				}
				var n int
				conn.QueryRow(context.Background(), "SELECT count(*) FROM radrelay_history").Scan(&n)
				if n != len(tc.recs) {
					t.Errorf("history holds %d records, want %d", n, len(tc.recs))
				}
			})
		}
	}
}

// TestUniqueIDComputed checks Acct-Unique-Session-Id when the record has
// none: FreeRADIUS's acct_unique MD5, or the one from an "ai:" Class.
func TestUniqueIDComputed(t *testing.T) {
	dsn := pg.NewDatabase(t)
	s := openSink(t, dsn, Config{})
	r1 := acctRec("Start", "s1", base, "NAS-Identifier", "bras")
	r2 := acctRec("Start", "s2", base, "Class", "0x61693a"+hex.EncodeToString([]byte("0123456789abcdef0123456789abcdef")))
	r2.Attrs[len(r2.Attrs)-1].Quoted = false
	r3 := acctRec("Start", "s3", base, "Acct-Unique-Session-Id", "given")
	mustSend(t, s, []*detail.Record{r1, r2, r3})
	sum := md5.Sum([]byte("alice,s1,192.0.2.1,bras,,7"))
	sum2 := md5.Sum([]byte("0123456789abcdef0123456789abcdef,s2"))
	want := map[string]string{"s1": hex.EncodeToString(sum[:]), "s2": hex.EncodeToString(sum2[:]), "s3": "given"}
	conn := connect(t, dsn)
	for sid, w := range want {
		var got string
		if err := conn.QueryRow(context.Background(), "SELECT acctuniqueid FROM radacct WHERE acctsessionid = $1", sid).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != w {
			t.Errorf("%s: acctuniqueid %s, want %s", sid, got, w)
		}
	}
}

// TestValuesStoredExactly checks that values reach the table unchanged
// (no FreeRADIUS-style =XX escaping of quotes, commas, backslashes).
func TestValuesStoredExactly(t *testing.T) {
	dsn := pg.NewDatabase(t)
	s := openSink(t, dsn, Config{})
	names := []string{`o'brien\x, "quoted" =5C; DROP TABLE radacct;--`, "日本語@exämple", "bad-\xff-utf8-\x00-nul"}
	var recs []*detail.Record
	for i, n := range names {
		recs = append(recs, acctRec("Start", fmt.Sprint("s", i), base, "User-Name", n))
	}
	mustSend(t, s, recs)
	conn := connect(t, dsn)
	want := []string{names[0], names[1], "bad-=FF-utf8-=00-nul"}
	for i, w := range want {
		var got, hist string
		if err := conn.QueryRow(context.Background(), "SELECT username FROM radacct WHERE acctsessionid = $1", fmt.Sprint("s", i)).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != w {
			t.Errorf("username %q, want %q", got, w)
		}
		if err := conn.QueryRow(context.Background(), "SELECT attributes->>'User-Name' FROM radrelay_history WHERE acctsessionid = $1", fmt.Sprint("s", i)).Scan(&hist); err != nil {
			t.Fatal(err)
		}
		if hist != w {
			t.Errorf("history User-Name %q, want %q", hist, w)
		}
	}
}

// TestIdempotentReplay sends the same records twice, in different batch
// sizes: the tables must be the same as after the first pass.
func TestIdempotentReplay(t *testing.T) {
	dsn := pg.NewDatabase(t)
	s := openSink(t, dsn, Config{})
	recs := sinktest.Records(900)
	mustSend(t, s, recs)
	conn := connect(t, dsn)
	first := dumpLive(t, conn, "radacct")
	for lo := 0; lo < len(recs); lo += 77 {
		mustSend(t, s, recs[lo:min(lo+77, len(recs))])
	}
	second := dumpLive(t, conn, "radacct")
	if strings.Join(first, "\n") != strings.Join(second, "\n") {
		t.Errorf("radacct changed on replay")
	}
	var n int
	conn.QueryRow(context.Background(), "SELECT count(*) FROM radrelay_history").Scan(&n)
	if n != len(recs) {
		t.Errorf("history holds %d records after a replay, want %d", n, len(recs))
	}
	if len(first) != 300 {
		t.Errorf("radacct has %d sessions, want 300", len(first))
	}
}

// TestTwoWriters feeds the same records through two sinks at once (two
// radrelay instances on one database) and compares with one writer.
func TestTwoWriters(t *testing.T) {
	recs := sinktest.Records(1500)
	dsn := pg.NewDatabase(t)
	writers := []*Sink{openSink(t, dsn, Config{TransactionSize: 100}), openSink(t, dsn, Config{TransactionSize: 100})}
	sendConcurrently(t, writers, recs, func(i int) int { return 50 + i*33 })
	checkAsOneWriter(t, dsn, recs)
}

// sendConcurrently sends recs through every writer at once, each in its
// own goroutine and in parts of step(i) records, and fails the test on any
// record's error.
func sendConcurrently(t *testing.T, writers []*Sink, recs []*detail.Record, step func(i int) int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(writers))
	for i, s := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := step(i)
			for lo := 0; lo < len(recs); lo += n {
				part := recs[lo:min(lo+n, len(recs))]
				for j, err := range sendAll(s, part) {
					if err != nil {
						errs <- fmt.Errorf("writer %d record %d: %w", i, lo+j, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// checkAsOneWriter checks that dsn holds what one writer sending recs
// leaves: the same radacct, and every record once in the history.
func checkAsOneWriter(t *testing.T, dsn string, recs []*detail.Record) {
	t.Helper()
	refDSN := pg.NewDatabase(t)
	mustSend(t, openSink(t, refDSN, Config{Connections: 1}), recs)
	want := dumpLive(t, connect(t, refDSN), "radacct")
	conn := connect(t, dsn)
	if got := dumpLive(t, conn, "radacct"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("two writers left a different radacct than one (%d vs %d rows)", len(got), len(want))
	}
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM radrelay_history").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(recs) {
		t.Errorf("history holds %d records, want %d", n, len(recs))
	}
}

// TestContentErrorQuarantined makes the database reject one record of a
// batch (a CHECK constraint): that record gets a permanent error with the
// reason, the others land.
func TestContentErrorQuarantined(t *testing.T) {
	dsn := pg.NewDatabase(t)
	s := openSink(t, dsn, Config{})
	conn := connect(t, dsn)
	if _, err := conn.Exec(context.Background(), `ALTER TABLE radacct ADD CONSTRAINT no_mallory CHECK (username <> 'mallory')`); err != nil {
		t.Fatal(err)
	}
	var recs []*detail.Record
	for i := range 40 {
		user := "alice"
		if i == 17 {
			user = "mallory"
		}
		recs = append(recs, acctRec("Start", fmt.Sprint("s", i), base+int64(i), "User-Name", user))
	}
	recs = append(recs, acctRec("Start", "badip", base, "Framed-IP-Address", "300.1.2.3"))
	results := sendAll(s, recs)
	for i, err := range results {
		switch {
		case i == 17 || i == 40:
			if !sinks.IsPermanent(err) {
				t.Errorf("record %d: got %v, want a permanent error", i, err)
			} else {
				t.Logf("record %d: %v", i, err)
			}
		case err != nil:
			t.Errorf("record %d: %v", i, err)
		}
	}
	if !strings.Contains(fmt.Sprint(results[17]), "no_mallory") || !strings.Contains(fmt.Sprint(results[17]), "test:18") {
		t.Errorf("the error should name the record and the reason: %v", results[17])
	}
	var n int
	conn.QueryRow(context.Background(), "SELECT count(*) FROM radacct").Scan(&n)
	if n != 39 {
		t.Errorf("radacct has %d rows, want 39", n)
	}
}

// TestRetryableFailures simulates a full disk (SQLSTATE 53100 from a
// trigger) and a statement timeout: every record gets a plain, retryable
// error naming the problem, and once the problem is gone a retry lands all.
func TestRetryableFailures(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"disk full", `RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = '53100'`, "out of disk space"},
		{"statement timeout", `PERFORM pg_sleep(5)`, "timed out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := pg.NewDatabase(t)
			// The schema first, without the short timeout: under load
			// creating it can take longer than 300 ms, and the trigger
			// below needs radacct.
			openSink(t, dsn, Config{}).Close()
			s := openSink(t, dsn, Config{StatementTimeout: 300_000_000})
			conn := connect(t, dsn)
			ctx := context.Background()
			_, err := conn.Exec(ctx, `CREATE TABLE failing (on_ boolean); INSERT INTO failing VALUES (true);
				CREATE FUNCTION fail() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN IF (SELECT on_ FROM failing) THEN `+tc.body+`; END IF; RETURN NEW; END $$;
				CREATE TRIGGER fail BEFORE INSERT ON radacct FOR EACH ROW EXECUTE FUNCTION fail();`)
			if err != nil {
				t.Fatal(err)
			}
			recs := sinktest.Records(30)
			for i, err := range sendAll(s, recs) {
				if err == nil || sinks.IsPermanent(err) {
					t.Fatalf("record %d: got %v, want a retryable error", i, err)
				}
				if i == 0 {
					t.Logf("error: %v", err)
					if !strings.Contains(err.Error(), tc.want) {
						t.Errorf("error %q does not say %q", err, tc.want)
					}
				}
			}
			conn.Exec(ctx, `UPDATE failing SET on_ = false`)
			mustSend(t, s, recs)
			if got := dumpLive(t, conn, "radacct"); len(got) != 10 {
				t.Errorf("radacct has %d rows, want 10", len(got))
			}
		})
	}
}

// TestDatabaseRestart stops the database mid-stream and at start: Send
// returns retryable errors while it is down and everything lands after it is
// back, with the same result as an uninterrupted run.
func TestDatabaseRestart(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{})
	recs := sinktest.Records(600)
	ctx := context.Background()
	admin := connect(t, srv.AdminDSN)
	admin.Exec(ctx, "CREATE DATABASE ref")
	admin.Exec(ctx, "CREATE DATABASE restart")
	admin.Close(ctx)
	mustSend(t, openSink(t, srv.DSN("ref"), Config{}), recs)
	want := dumpLive(t, connect(t, srv.DSN("ref")), "radacct")

	// Down at start: New succeeds, Send fails retryably.
	if err := srv.StopPostgres(); err != nil {
		t.Fatal(err)
	}
	s := openSink(t, srv.DSN("restart"), Config{TransactionSize: 100})
	for i, err := range sendAll(s, recs[:200]) {
		if err == nil || sinks.IsPermanent(err) {
			t.Fatalf("record %d with the database down: got %v, want a retryable error", i, err)
		}
	}
	if err := srv.StartPostgres(); err != nil {
		t.Fatal(err)
	}
	mustSend(t, s, recs[:200])
	// Restarted mid-stream: the pool's connections are dead.
	if err := srv.StopPostgres(); err != nil {
		t.Fatal(err)
	}
	if err := srv.StartPostgres(); err != nil {
		t.Fatal(err)
	}
	rest := recs[200:]
	for attempt := 0; len(rest) > 0; attempt++ {
		if attempt > 5 {
			t.Fatalf("records still failing after %d retries", attempt)
		}
		results := sendAll(s, rest)
		n := 0
		for n < len(results) && results[n] == nil {
			n++
		}
		for _, err := range results[n:] {
			if err == nil || sinks.IsPermanent(err) {
				t.Fatalf("after a failed record: %v (want retryable errors for all later records)", err)
			}
		}
		if n < len(results) {
			t.Logf("attempt %d: %d written, then: %v", attempt, n, results[n])
		}
		rest = rest[n:]
	}
	got := dumpLive(t, connect(t, srv.DSN("restart")), "radacct")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("after restarts radacct differs from an uninterrupted run (%d vs %d rows)", len(got), len(want))
	}
}

// TestAccountingOnUsesPartialIndex checks that closing a NAS's sessions
// reads the partial index of open sessions, not the whole table.
func TestAccountingOnUsesPartialIndex(t *testing.T) {
	dsn := pg.NewDatabase(t)
	off := false
	s := openSink(t, dsn, Config{History: &off})
	mustSend(t, s, sinktest.Records(6000)) // 2000 closed sessions
	var open []*detail.Record
	for i := range 5 {
		open = append(open, acctRec("Start", fmt.Sprint("open-", i), base, "NAS-IP-Address", "198.51.100.7"))
	}
	mustSend(t, s, open)
	conn := connect(t, dsn)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "ANALYZE radacct"); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, `EXPLAIN UPDATE radacct SET acctstoptime = to_timestamp($1), acctupdatetime = to_timestamp($1),
		acctsessiontime = ($1 - EXTRACT(EPOCH FROM acctstarttime)), acctterminatecause = $3
		WHERE acctstoptime IS NULL AND nasipaddress = $2::inet AND acctstarttime <= to_timestamp($1)`,
		int64(base+100), "198.51.100.7", "NAS-Reboot")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(plan, "\n")
	if !strings.Contains(text, "radacct_bulk_close") || strings.Contains(text, "Seq Scan") {
		t.Errorf("the Accounting-On update does not use radacct_bulk_close:\n%s", text)
	}
	mustSend(t, s, []*detail.Record{acctRec("Accounting-On", "", base+100, "NAS-IP-Address", "198.51.100.7")})
	var n int
	conn.QueryRow(ctx, "SELECT count(*) FROM radacct WHERE acctstoptime IS NULL").Scan(&n)
	if n != 0 {
		t.Errorf("%d sessions still open after Accounting-On", n)
	}
}
