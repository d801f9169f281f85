package postgres

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/radrelay/radrelay/detail"
)

// staleRow is what the stale tests look at in radacct.
type staleRow struct {
	stop        *time.Time
	sessionTime *int64
	cause       *string
}

func readStale(t *testing.T, conn *pgx.Conn, sid string) staleRow {
	t.Helper()
	var r staleRow
	if err := conn.QueryRow(context.Background(), `SELECT acctstoptime, acctsessiontime, acctterminatecause
		FROM radacct WHERE acctsessionid = $1`, sid).Scan(&r.stop, &r.sessionTime, &r.cause); err != nil {
		t.Fatalf("session %s: %v", sid, err)
	}
	return r
}

func at(ts int64) time.Time { return time.Unix(ts, 0).UTC() }

// TestCloseStale: a session that reported interims every 600 s is stale
// after three intervals without a record, one with no interval after the
// fallback (2 h); a stale session is closed at its last record with the
// stale cause and the session time it last reported; a dry run changes
// nothing; a second run closes nothing more.
func TestCloseStale(t *testing.T) {
	dsn := pg.NewDatabase(t)
	s := openSink(t, dsn, Config{})
	mustSend(t, s, []*detail.Record{
		acctRec("Start", "interims", base),
		acctRec("Interim-Update", "interims", base+600, "Acct-Session-Time", "600"),
		acctRec("Start", "quiet", base),
		acctRec("Start", "recent", base+2000),
		acctRec("Start", "stopped", base),
		acctRec("Stop", "stopped", base+60, "Acct-Session-Time", "60", "Acct-Terminate-Cause", "User-Request"),
	})
	conn := connect(t, dsn)
	ctx := context.Background()
	cfg := Config{DSN: dsn}

	now := at(base + 600 + 1801) // 3 × 600 s after the interim, 2401 s after the starts
	dry, err := CloseStale(ctx, conn, cfg, StaleOptions{Now: now, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(dry) != 1 || dry[0].SessionID != "interims" || !dry[0].LastUpdate.Equal(at(base+600)) || dry[0].NAS != "192.0.2.1" || dry[0].UserName != "alice" {
		t.Fatalf("dry run: %+v, want the session \"interims\" last updated at %v", dry, at(base+600))
	}
	if r := readStale(t, conn, "interims"); r.stop != nil {
		t.Fatalf("a dry run closed the session: %+v", r)
	}

	closed, err := CloseStale(ctx, conn, cfg, StaleOptions{Now: now})
	if err != nil || len(closed) != 1 || closed[0].SessionID != "interims" {
		t.Fatalf("CloseStale: %+v, %v; want the session \"interims\"", closed, err)
	}
	r := readStale(t, conn, "interims")
	if r.stop == nil || !r.stop.Equal(at(base+600)) || r.cause == nil || *r.cause != DefaultStaleCause || r.sessionTime == nil || *r.sessionTime != 600 {
		t.Errorf("closed row: stop %v cause %v session time %v; want stop at the last record %v, %s, 600", r.stop, r.cause, r.sessionTime, at(base+600), DefaultStaleCause)
	}
	if again, err := CloseStale(ctx, conn, cfg, StaleOptions{Now: now}); err != nil || len(again) != 0 {
		t.Errorf("second run closed %+v (%v), want nothing", again, err)
	}

	// Past the 2 h fallback: the session without interims is stale too,
	// with session time 0 (its Start's), closed at its start.
	closed, err = CloseStale(ctx, conn, cfg, StaleOptions{Now: at(base + 7201), Cause: "NAS-Lost"})
	if err != nil || len(closed) != 1 || closed[0].SessionID != "quiet" {
		t.Fatalf("after 2 h: %+v, %v; want the session \"quiet\"", closed, err)
	}
	r = readStale(t, conn, "quiet")
	if r.stop == nil || !r.stop.Equal(at(base)) || r.cause == nil || *r.cause != "NAS-Lost" || r.sessionTime == nil || *r.sessionTime != 0 {
		t.Errorf("closed row: stop %v cause %v session time %v", r.stop, r.cause, r.sessionTime)
	}
	for _, sid := range []string{"recent", "stopped"} {
		r := readStale(t, conn, sid)
		if (sid == "recent") != (r.stop == nil) || (r.cause != nil && *r.cause != "User-Request") {
			t.Errorf("session %s was touched: %+v", sid, r)
		}
	}
}

// TestLateRecordsCorrectAStaleClose: an Interim-Update that arrives for a
// session closed as stale reopens it (the session was alive), and its real
// Stop closes it with the real cause and times; the history keeps every
// record. An interim after a real Stop still does not reopen it.
func TestLateRecordsCorrectAStaleClose(t *testing.T) {
	dsn := pg.NewDatabase(t)
	s := openSink(t, dsn, Config{})
	conn := connect(t, dsn)
	ctx := context.Background()
	mustSend(t, s, []*detail.Record{
		acctRec("Start", "late", base),
		acctRec("Interim-Update", "late", base+600, "Acct-Session-Time", "600"),
	})
	if closed, err := CloseStale(ctx, conn, Config{DSN: dsn}, StaleOptions{Now: at(base + 5000)}); err != nil || len(closed) != 1 {
		t.Fatalf("CloseStale: %+v, %v", closed, err)
	}
	mustSend(t, s, []*detail.Record{acctRec("Interim-Update", "late", base+1200, "Acct-Session-Time", "1200")})
	if r := readStale(t, conn, "late"); r.stop != nil || r.cause != nil || r.sessionTime == nil || *r.sessionTime != 1200 {
		t.Fatalf("after a late interim: stop %v cause %v session time %v; want the session open again with 1200 s", r.stop, r.cause, r.sessionTime)
	}
	mustSend(t, s, []*detail.Record{acctRec("Stop", "late", base+1500, "Acct-Session-Time", "1500", "Acct-Terminate-Cause", "Lost-Carrier")})
	r := readStale(t, conn, "late")
	if r.stop == nil || !r.stop.Equal(at(base+1500)) || r.cause == nil || *r.cause != "Lost-Carrier" || *r.sessionTime != 1500 {
		t.Fatalf("after the real Stop: stop %v cause %v session time %v", r.stop, r.cause, r.sessionTime)
	}
	mustSend(t, s, []*detail.Record{acctRec("Interim-Update", "late", base+1800, "Acct-Session-Time", "1800")})
	if r := readStale(t, conn, "late"); r.stop == nil || *r.sessionTime != 1500 {
		t.Errorf("an interim after the real Stop reopened the session: %+v", r)
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM radrelay_history WHERE acctsessionid = 'late'").Scan(&n); err != nil || n != 5 {
		t.Errorf("history holds %d records of the session (%v), want 5", n, err)
	}
}

// TestReopenedSessionKeepsItsInterval: an Interim-Update that reopens a
// session closed as stale comes after the silence that closed it; taking
// that gap as the session's interim interval made it stale only after three
// such gaps (hours instead of 15 minutes here). It keeps its interval.
func TestReopenedSessionKeepsItsInterval(t *testing.T) {
	dsn := pg.NewDatabase(t)
	s := openSink(t, dsn, Config{})
	conn := connect(t, dsn)
	ctx := context.Background()
	mustSend(t, s, []*detail.Record{
		acctRec("Start", "gap", base),
		acctRec("Interim-Update", "gap", base+300, "Acct-Session-Time", "300"),
	})
	if closed, err := CloseStale(ctx, conn, Config{DSN: dsn}, StaleOptions{Now: at(base + 5000)}); err != nil || len(closed) != 1 {
		t.Fatalf("CloseStale: %+v, %v", closed, err)
	}
	mustSend(t, s, []*detail.Record{acctRec("Interim-Update", "gap", base+4000, "Acct-Session-Time", "4000")})
	var interval int64
	if err := conn.QueryRow(ctx, "SELECT acctinterval FROM radacct WHERE acctsessionid = 'gap' AND acctstoptime IS NULL").Scan(&interval); err != nil || interval != 300 {
		t.Fatalf("reopened session: interval %d (%v), want 300", interval, err)
	}
	if closed, err := CloseStale(ctx, conn, Config{DSN: dsn}, StaleOptions{Now: at(base + 4000 + 901)}); err != nil || len(closed) != 1 {
		t.Errorf("three intervals after the reopening interim: closed %+v, %v; want the session closed again", closed, err)
	}
}

// TestLateStopOfAReusedIDLeavesTheNewSessionOpen: a NAS rebooted without
// Accounting-On and gave the same user, port and Acct-Session-Id to a new
// session (reboot detection closed the old one, renamed); a Stop of the old
// session arriving late (relayed by a second server) used to close the new,
// live session with a stop time before its start.
func TestLateStopOfAReusedIDLeavesTheNewSessionOpen(t *testing.T) {
	dsn := pg.NewDatabase(t)
	s := openSink(t, dsn, Config{DetectReboots: true})
	conn := connect(t, dsn)
	mustSend(t, s, []*detail.Record{
		acctRec("Start", "0001", base),
		acctRec("Interim-Update", "0001", base+300, "Acct-Session-Time", "300", "Acct-Input-Octets", "5000"),
		acctRec("Start", "0001", base+2000),
		acctRec("Interim-Update", "0001", base+2300, "Acct-Session-Time", "300", "Acct-Input-Octets", "100"),
	})
	mustSend(t, s, []*detail.Record{acctRec("Stop", "0001", base+400, "Acct-Session-Time", "400", "Acct-Input-Octets", "6000", "Acct-Terminate-Cause", "User-Request")})
	var open, in int64
	if err := conn.QueryRow(context.Background(), "SELECT count(*), max(acctinputoctets) FROM radacct WHERE acctsessionid = '0001' AND acctstoptime IS NULL AND acctstarttime = $1", at(base+2000)).Scan(&open, &in); err != nil || open != 1 || in != 100 {
		t.Errorf("new session: %d open rows with %d input octets (%v), want 1 with 100", open, in, err)
	}
}

// TestCloseStaleConcurrently: two instances closing at once close every
// stale session exactly once between them.
func TestCloseStaleConcurrently(t *testing.T) {
	dsn := pg.NewDatabase(t)
	s := openSink(t, dsn, Config{})
	var recs []*detail.Record
	for i := range 2500 {
		recs = append(recs, acctRec("Start", "s"+time.Duration(i).String(), base))
	}
	mustSend(t, s, recs)
	var wg sync.WaitGroup
	counts := make([]int, 2)
	for i := range counts {
		conn := connect(t, dsn)
		wg.Add(1)
		go func() {
			defer wg.Done()
			closed, err := CloseStale(context.Background(), conn, Config{DSN: dsn}, StaleOptions{Now: at(base + 7201)})
			if err != nil {
				t.Error(err)
			}
			counts[i] = len(closed)
		}()
	}
	wg.Wait()
	if counts[0]+counts[1] != len(recs) {
		t.Errorf("the two runs closed %d and %d sessions, want %d in all", counts[0], counts[1], len(recs))
	}
}

// TestSinkClosesStaleSessionsPeriodically: with close_stale_every the
// sink runs CloseStale by itself (against the database's clock).
func TestSinkClosesStaleSessionsPeriodically(t *testing.T) {
	dsn := pg.NewDatabase(t)
	s := openSink(t, dsn, Config{CloseStaleEvery: time.Second, StaleAfter: time.Hour})
	mustSend(t, s, []*detail.Record{acctRec("Start", "old", base), acctRec("Start", "now", time.Now().Unix())})
	conn := connect(t, dsn)
	deadline := time.Now().Add(30 * time.Second)
	for s.StaleClosed() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no stale session closed within 30 s with close_stale_every = 1s")
		}
		time.Sleep(10 * time.Millisecond) // waiting for the sink's own ticker
	}
	if r := readStale(t, conn, "old"); r.stop == nil {
		t.Error("the stale session is open")
	}
	if r := readStale(t, conn, "now"); r.stop != nil {
		t.Error("the current session was closed")
	}
}

// TestOlderInterimDoesNotReopenAStaleClose: a stale-closed session is
// reopened only by a record later than the one it was closed at; a
// delayed interim from before (two FreeRADIUS servers writing to two
// files, say) is history, not a sign of life.
func TestOlderInterimDoesNotReopenAStaleClose(t *testing.T) {
	dsn := pg.NewDatabase(t)
	s := openSink(t, dsn, Config{})
	conn := connect(t, dsn)
	mustSend(t, s, []*detail.Record{
		acctRec("Start", "late", base),
		acctRec("Interim-Update", "late", base+1200, "Acct-Session-Time", "1200"),
	})
	if closed, err := CloseStale(context.Background(), conn, Config{DSN: dsn}, StaleOptions{Now: at(base + 9000)}); err != nil || len(closed) != 1 {
		t.Fatalf("CloseStale: %+v, %v", closed, err)
	}
	mustSend(t, s, []*detail.Record{acctRec("Interim-Update", "late", base+600, "Acct-Session-Time", "600")})
	if r := readStale(t, conn, "late"); r.stop == nil || !r.stop.Equal(at(base+1200)) || *r.sessionTime != 1200 {
		t.Errorf("an interim older than the stale close reopened or changed the session: stop %v session time %v", r.stop, *r.sessionTime)
	}
}

// TestShortIntervalIsFloored: two records seconds apart (an interim sent
// on an address change) do not make the session stale after three times
// those seconds: an interval counts as at least 60 s (RFC 2869).
func TestShortIntervalIsFloored(t *testing.T) {
	dsn := pg.NewDatabase(t)
	s := openSink(t, dsn, Config{})
	mustSend(t, s, []*detail.Record{
		acctRec("Start", "quick", base),
		acctRec("Interim-Update", "quick", base+5, "Acct-Session-Time", "5"),
	})
	conn := connect(t, dsn)
	for _, tt := range []struct {
		now  int64
		want int
	}{{base + 5 + 16, 0}, {base + 5 + 179, 0}, {base + 5 + 181, 1}} {
		got, err := CloseStale(context.Background(), conn, Config{DSN: dsn}, StaleOptions{Now: at(tt.now), DryRun: true})
		if err != nil || len(got) != tt.want {
			t.Errorf("%d s after the last record: %d stale (%v), want %d", tt.now-base-5, len(got), err, tt.want)
		}
	}
}
