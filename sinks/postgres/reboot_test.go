package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks"
)

// rebootRecords sends, through a real FreeRADIUS 3.2 (radclient →
// FreeRADIUS → detail file), the accounting of a NAS (192.0.2.1) that
// numbers its sessions 00000001, 00000002, ... and reboots at base+1000
// without sending Accounting-On, and returns what FreeRADIUS wrote:
//
//	base       Start 00000001 alice port 1
//	base+10    Start 00000002 bob port 2
//	base+600   Interim 00000001 (alice's last record before the reboot)
//	base+610   Interim 00000002 (bob's)
//	base+900   Start 00000003 carol port 3 (after alice's last record)
//	base       Start 00000001 zoe on another NAS (192.0.2.2)
//	(reboot at base+1000)
//	base+1100  Start 00000001 alice port 1: same Acct-Unique-Session-Id
//	base+1200  Start 00000002 erin port 5
//	base+1300  Start 00000003 frank port 6
//	base+650   Stop 00000002 bob, late (Lost-Carrier, 640 s)
func rebootRecords(t *testing.T) []*detail.Record {
	t.Helper()
	var rq requests
	req := func(status, nas, sid, user string, port int, event int64, kv ...string) {
		rq.add(fmt.Sprintf("Acct-Status-Type = %s\nUser-Name = \"%s\"\nNAS-IP-Address = %s\nNAS-Port = %d\nAcct-Session-Id = \"%s\"\nEvent-Timestamp = %d\n",
			status, user, nas, port, sid, event), kv...)
	}
	const nas, other = "192.0.2.1", "192.0.2.2"
	req("Start", nas, "00000001", "alice", 1, base)
	req("Start", nas, "00000002", "bob", 2, base+10)
	req("Interim-Update", nas, "00000001", "alice", 1, base+600, "Acct-Session-Time", "600", "Acct-Input-Octets", "1000")
	req("Interim-Update", nas, "00000002", "bob", 2, base+610, "Acct-Session-Time", "600", "Acct-Input-Octets", "2000")
	req("Start", nas, "00000003", "carol", 3, base+900)
	req("Start", other, "00000001", "zoe", 1, base)
	req("Start", nas, "00000001", "alice", 1, base+1100)
	req("Start", nas, "00000002", "erin", 5, base+1200)
	req("Start", nas, "00000003", "frank", 6, base+1300)
	req("Stop", nas, "00000002", "bob", 2, base+650, "Acct-Session-Time", "640", "Acct-Input-Octets", "2500", "Acct-Terminate-Cause", "Lost-Carrier")
	// One request at a time: the records must arrive in this order.
	return rq.viaFreeRADIUS(t)
}

// rebootRows lists radacct as "user start-stop cause session-time octets
// renamed", times relative to base ("open" for no stop), by start time.
func rebootRows(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT username, acctuniqueid ~ '-[0-9]+$',
		extract(epoch FROM acctstarttime)::bigint - $1, coalesce((extract(epoch FROM acctstoptime)::bigint - $1)::text, 'open'),
		coalesce(acctterminatecause, ''), acctsessiontime, acctinputoctets
		FROM radacct ORDER BY acctstarttime, username`, int64(base))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var user, stop, cause string
	var renamed bool
	var start, st, in int64
	if _, err := pgx.ForEachRow(rows, []any{&user, &renamed, &start, &stop, &cause, &st, &in}, func() error {
		r := fmt.Sprintf("%s %d-%s %s %d %d", user, start, stop, cause, st, in)
		if renamed {
			r += " renamed"
		}
		out = append(out, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// sendRetrying sends recs as the tailer would: a retryable failure (two
// writers deadlocking, say) is tried again, a bounded number of times.
func sendRetrying(t *testing.T, s sinks.Sink, recs []*detail.Record) error {
	t.Helper()
	var last error
	for range 20 {
		last = nil
		for i, err := range sendAll(s, recs) {
			if err != nil {
				if sinks.IsPermanent(err) {
					return fmt.Errorf("record %d: %w", i, err)
				}
				last = err
			}
		}
		if last == nil {
			return nil
		}
	}
	return last
}

// TestRebootWithoutAccountingOn: with detect_reboots, the Start that
// reuses the Acct-Session-Id of alice's open session shows the NAS
// rebooted after alice's last record (base+600): the NAS's sessions that
// started by then (alice, bob) are closed at their own last record with
// cause NAS-Reboot; carol, who started after it, is left open (she might
// have started after the reboot) until frank's Start reuses her id. The
// new alice session is a row of its own (the old one renamed); the other
// NAS, the post-reboot sessions and everything of a NAS without a reboot
// are untouched; bob's late Stop puts his row to the truth. The same rows
// result whether the records come in one batch, one by one, or through
// two sinks at once; and a replay changes nothing. Without
// detect_reboots, radacct is what FreeRADIUS's queries make: the old
// sessions stay open.
func TestRebootWithoutAccountingOn(t *testing.T) {
	recs := rebootRecords(t)
	want := []string{
		"alice 0-600 NAS-Reboot 600 1000 renamed",
		"zoe 0-open  0 0",
		"bob 10-650 Lost-Carrier 640 2500",
		"carol 900-900 NAS-Reboot 0 0",
		"alice 1100-open  0 0",
		"erin 1200-open  0 0",
		"frank 1300-open  0 0",
	}
	for _, how := range []string{"one batch", "one by one", "two sinks"} {
		t.Run(how, func(t *testing.T) {
			dsn := pg.NewDatabase(t)
			cfg := Config{DetectReboots: true}
			s := openSink(t, dsn, cfg)
			switch how {
			case "one batch":
				mustSend(t, s, recs)
			case "one by one":
				for _, r := range recs {
					mustSend(t, s, []*detail.Record{r})
				}
			case "two sinks":
				s2 := openSink(t, dsn, cfg)
				var wg sync.WaitGroup
				errs := make([]error, 2)
				for i, s := range []*Sink{s, s2} {
					wg.Go(func() {
						step := 2 + i
						for lo := 0; lo < len(recs) && errs[i] == nil; lo += step {
							errs[i] = sendRetrying(t, s, recs[lo:min(lo+step, len(recs))])
						}
					})
				}
				wg.Wait()
				for i, err := range errs {
					if err != nil {
						t.Fatalf("sink %d: %v", i, err)
					}
				}
			}
			conn := connect(t, dsn)
			got := rebootRows(t, conn)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("radacct (user start-stop cause session-time octets):\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if how != "two sinks" {
				if n := s.RebootClosed(); n != 3 {
					t.Errorf("RebootClosed = %d, want 3 (alice, bob, carol)", n)
				}
			}
			// A replay (the history recognises every record) changes nothing.
			mustSend(t, s, recs)
			if again := rebootRows(t, conn); strings.Join(again, "\n") != strings.Join(want, "\n") {
				t.Errorf("a replay changed radacct:\n%s", strings.Join(again, "\n"))
			}
			var hist int
			if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM radrelay_history").Scan(&hist); err != nil || hist != len(recs) {
				t.Errorf("history holds %d records (%v), want %d", hist, err, len(recs))
			}
		})
	}

	t.Run("off", func(t *testing.T) {
		dsn := pg.NewDatabase(t)
		s := openSink(t, dsn, Config{})
		mustSend(t, s, recs)
		got := rebootRows(t, connect(t, dsn))
		// FreeRADIUS's queries: alice's second Start moves her open row's
		// start; carol and the old sessions stay open.
		wantOff := []string{
			"zoe 0-open  0 0",
			"bob 10-650 Lost-Carrier 640 2500",
			"carol 900-open  0 0",
			"alice 1100-open  600 1000",
			"erin 1200-open  0 0",
			"frank 1300-open  0 0",
		}
		if strings.Join(got, "\n") != strings.Join(wantOff, "\n") {
			t.Errorf("without detect_reboots:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantOff, "\n"))
		}
	})
}

// TestRebootIndexUsed: the reboot probe reads the partial index on
// (nasipaddress, acctsessionid) of open sessions, not the table.
func TestRebootIndexUsed(t *testing.T) {
	dsn := pg.NewDatabase(t)
	openSink(t, dsn, Config{DetectReboots: true})
	conn := connect(t, dsn)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, `INSERT INTO radacct (acctsessionid, acctuniqueid, nasipaddress, acctstarttime, acctstoptime)
		SELECT lpad(i::text, 8, '0'), md5(i::text), ('10.0.' || (i % 200) || '.1')::inet, to_timestamp(0),
			CASE WHEN i % 10 = 0 THEN NULL ELSE to_timestamp(1) END
		FROM generate_series(1, 20000) i`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "ANALYZE radacct"); err != nil {
		t.Fatal(err)
	}
	var plan strings.Builder
	rows, err := conn.Query(ctx, `EXPLAIN SELECT 1 FROM radacct r WHERE r.acctstoptime IS NULL
		AND r.nasipaddress = '10.0.10.1'::inet AND r.acctsessionid = '00000010'
		AND coalesce(r.acctupdatetime, r.acctstarttime) < to_timestamp(5)`)
	if err != nil {
		t.Fatal(err)
	}
	var line string
	if _, err := pgx.ForEachRow(rows, []any{&line}, func() error { plan.WriteString(line + "\n"); return nil }); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan.String(), "radacct_nas_session_open") {
		t.Errorf("the reboot probe does not use radacct_nas_session_open:\n%s", plan.String())
	}
}

// TestRepeatedStartIsNoReboot: a NAS that sends a session's Start again
// (a new request with a later Event-Timestamp, nothing else recorded in
// between) is not rebooting: nothing is closed, in one batch or apart.
func TestRepeatedStartIsNoReboot(t *testing.T) {
	for _, oneByOne := range []bool{false, true} {
		dsn := pg.NewDatabase(t)
		s := openSink(t, dsn, Config{DetectReboots: true})
		recs := []*detail.Record{
			acctRec("Start", "A", base, "User-Name", "ann"),
			acctRec("Start", "B", base+10),
			acctRec("Start", "B", base+15),
		}
		if oneByOne {
			for _, r := range recs {
				mustSend(t, s, []*detail.Record{r})
			}
		} else {
			mustSend(t, s, recs)
		}
		var open int
		if err := connect(t, dsn).QueryRow(context.Background(), "SELECT count(*) FROM radacct WHERE acctstoptime IS NULL").Scan(&open); err != nil || open != 2 {
			t.Errorf("one by one %v: %d open sessions (%v), want 2: a repeated Start closed sessions", oneByOne, open, err)
		}
		if n := s.RebootClosed(); n != 0 {
			t.Errorf("one by one %v: RebootClosed = %d", oneByOne, n)
		}
	}
}
