package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/radrelay/radrelay/detail"
)

// TestCountersNeverShrink sends sessions whose counters go down through a
// real FreeRADIUS 3.2 (radclient → FreeRADIUS → detail file) and loads
// what FreeRADIUS wrote: a 32-bit counter without Gigawords that wraps
// keeps counting past 4 GiB; a 64-bit counter (with Gigawords) that drops
// was reset, and the total counted so far is kept. FreeRADIUS's stock
// queries would store the last value as it came (100 and 10 here).
func TestCountersNeverShrink(t *testing.T) {
	var rq requests
	req := func(status, sid string, event int64, kv ...string) {
		rq.add(fmt.Sprintf("Acct-Status-Type = %s\nUser-Name = \"alice\"\nNAS-IP-Address = 192.0.2.1\nNAS-Port = 7\nAcct-Session-Id = \"%s\"\nEvent-Timestamp = %d\n", status, sid, event), kv...)
	}
	req("Start", "wrap", base)
	req("Interim-Update", "wrap", base+600, "Acct-Input-Octets", "4000000000", "Acct-Output-Octets", "7")
	req("Interim-Update", "wrap", base+1200, "Acct-Input-Octets", "100", "Acct-Output-Octets", "9")
	req("Stop", "wrap", base+1500, "Acct-Input-Octets", "300", "Acct-Output-Octets", "10", "Acct-Session-Time", "1500")
	req("Start", "reset", base)
	req("Interim-Update", "reset", base+600, "Acct-Input-Octets", "5000", "Acct-Input-Gigawords", "1")
	req("Interim-Update", "reset", base+1200, "Acct-Input-Octets", "10", "Acct-Input-Gigawords", "0")
	req("Stop", "reset", base+1500, "Acct-Input-Octets", "20", "Acct-Input-Gigawords", "0", "Acct-Session-Time", "1500")
	// One request at a time: the records of a session must arrive in order.
	recs := rq.viaFreeRADIUS(t)

	dsn := pg.NewDatabase(t)
	s := openSink(t, dsn, Config{})
	mustSend(t, s, recs)
	conn := connect(t, dsn)
	const gw = int64(1) << 32
	for sid, want := range map[string][2]int64{"wrap": {gw + 300, 10}, "reset": {gw + 5000, 0}} {
		var in, out int64
		if err := conn.QueryRow(context.Background(), "SELECT acctinputoctets, acctoutputoctets FROM radacct WHERE acctsessionid = $1", sid).Scan(&in, &out); err != nil {
			t.Fatalf("session %s: %v", sid, err)
		}
		if in != want[0] || out != want[1] {
			t.Errorf("session %s: input %d output %d octets, want %d and %d", sid, in, out, want[0], want[1])
		}
	}
}

// TestCounterTotal: the rule on its own, case by case.
func TestCounterTotal(t *testing.T) {
	const gw = int64(1) << 32
	tests := []struct {
		name      string
		prev      *int64
		got       int64
		gigawords bool
		older     bool
		want      int64
	}{
		{"first value", nil, 5, false, false, 5},
		{"going up", i64(5), 9, true, false, 9},
		{"32-bit wrap", i64(4_000_000_000), 100, false, false, gw + 100},
		{"within a counted wrap", i64(gw + 100), 500, false, false, gw + 500},
		{"second wrap", i64(gw + 4_000_000_000), 7, false, false, 2*gw + 7},
		{"64-bit reset keeps the total", i64(gw + 5000), 10, true, false, gw + 5000},
		{"older record reporting less is no wrap", i64(2_000_000), 1_000_000, false, true, 2_000_000},
	}
	for _, tt := range tests {
		if got := *counterTotal(tt.prev, tt.got, tt.gigawords, tt.older); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}

// TestReusedSessionIDIsANewSession: a NAS that reboots and counts its
// Acct-Session-Ids from the same value again sends a Start whose
// Acct-Unique-Session-Id is that of a closed session. Written by a real
// FreeRADIUS 3.2 and loaded twice — in one batch and record by record —
// the two sessions stay two rows: the old one under "<id>-<start>", the new
// one under the id. A Start older than the stop (a late Start of the same
// session) still only moves the start time, as FreeRADIUS does.
func TestReusedSessionIDIsANewSession(t *testing.T) {
	var rq requests
	req := func(status string, event int64, kv ...string) {
		rq.add(fmt.Sprintf("Acct-Status-Type = %s\nUser-Name = \"alice\"\nNAS-IP-Address = 192.0.2.1\nNAS-Port = 7\nAcct-Session-Id = \"00000001\"\nEvent-Timestamp = %d\n", status, event), kv...)
	}
	req("Start", base)
	req("Stop", base+100, "Acct-Session-Time", "100", "Acct-Input-Octets", "11", "Acct-Terminate-Cause", "NAS-Reboot")
	rq.add(fmt.Sprintf("Acct-Status-Type = Accounting-On\nNAS-IP-Address = 192.0.2.1\nAcct-Session-Id = \"00000000\"\nEvent-Timestamp = %d\n", base+200))
	req("Start", base+300)
	req("Interim-Update", base+900, "Acct-Session-Time", "600", "Acct-Input-Octets", "22")
	req("Stop", base+1000, "Acct-Session-Time", "700", "Acct-Input-Octets", "33", "Acct-Terminate-Cause", "User-Request")
	recs := rq.viaFreeRADIUS(t)

	for _, oneByOne := range []bool{false, true} {
		dsn := pg.NewDatabase(t)
		s := openSink(t, dsn, Config{})
		if oneByOne {
			for _, r := range recs {
				mustSend(t, s, []*detail.Record{r})
			}
		} else {
			mustSend(t, s, recs)
		}
		rows, err := connect(t, dsn).Query(context.Background(), `SELECT acctuniqueid, extract(epoch FROM acctstarttime)::bigint,
			extract(epoch FROM acctstoptime)::bigint, acctinputoctets, acctterminatecause FROM radacct ORDER BY acctstarttime`)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		var uid string
		var start, stop, in int64
		var cause string
		_, err = pgx.ForEachRow(rows, []any{&uid, &start, &stop, &in, &cause}, func() error {
			got = append(got, fmt.Sprintf("%d-%d %d %s %v", start-base, stop-base, in, cause, strings.HasSuffix(uid, fmt.Sprintf("-%d", base))))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"0-100 11 NAS-Reboot true", "300-1000 33 User-Request false"}
		if strings.Join(got, "; ") != strings.Join(want, "; ") {
			t.Errorf("one by one %v: rows (start-stop octets cause renamed)\n%s\nwant\n%s", oneByOne, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// TestOutOfOrderRecordsKeepTotals: records of a session that arrive out of
// order (a delayed Interim-Update relayed by a second FreeRADIUS, written
// by a real FreeRADIUS 3.2 after a later one) neither move the row's times
// back nor look like a 32-bit counter wrap (which added 4 GiB to the
// totals); a Stop older than the last interim that reports less keeps the
// totals counted so far. FreeRADIUS's queries would store the older values.
func TestOutOfOrderRecordsKeepTotals(t *testing.T) {
	var rq requests
	req := func(status, sid string, event int64, kv ...string) {
		rq.add(fmt.Sprintf("Acct-Status-Type = %s\nUser-Name = \"olga\"\nNAS-IP-Address = 192.0.2.9\nNAS-Port = 3\nAcct-Session-Id = \"%s\"\nEvent-Timestamp = %d\n", status, sid, event), kv...)
	}
	req("Start", "late-interim", base)
	req("Interim-Update", "late-interim", base+600, "Acct-Session-Time", "600", "Acct-Input-Octets", "2000000", "Acct-Output-Octets", "3000000")
	req("Interim-Update", "late-interim", base+300, "Acct-Session-Time", "300", "Acct-Input-Octets", "1000000", "Acct-Output-Octets", "1500000")
	req("Start", "late-stop", base)
	req("Interim-Update", "late-stop", base+600, "Acct-Session-Time", "600", "Acct-Input-Octets", "2000000", "Acct-Output-Octets", "3000000")
	req("Stop", "late-stop", base+300, "Acct-Session-Time", "300", "Acct-Input-Octets", "1000000", "Acct-Output-Octets", "1500000")
	recs := rq.viaFreeRADIUS(t)

	for _, mode := range []string{"one batch", "one record per transaction"} {
		t.Run(mode, func(t *testing.T) {
			dsn := pg.NewDatabase(t)
			s := openSink(t, dsn, Config{})
			if mode == "one batch" {
				mustSend(t, s, recs)
			} else {
				for _, r := range recs {
					mustSend(t, s, []*detail.Record{r})
				}
			}
			conn := connect(t, dsn)
			for _, sid := range []string{"late-interim", "late-stop"} {
				var in, out, st int64
				var update time.Time
				if err := conn.QueryRow(context.Background(), "SELECT acctinputoctets, acctoutputoctets, acctsessiontime, acctupdatetime FROM radacct WHERE acctsessionid = $1", sid).Scan(&in, &out, &st, &update); err != nil {
					t.Fatalf("session %s: %v", sid, err)
				}
				if in != 2000000 || out != 3000000 {
					t.Errorf("session %s: input %d output %d octets, want 2000000 and 3000000", sid, in, out)
				}
				if sid == "late-interim" && (st != 600 || update.Unix() != base+600) {
					t.Errorf("session %s: session time %d, update %v; want 600 and the later interim's time", sid, st, update.UTC())
				}
			}
		})
	}
}
