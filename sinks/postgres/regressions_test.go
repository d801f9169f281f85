package postgres

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks"
	"github.com/radrelay/radrelay/sinks/sinktest"
)

// A NAS retransmission, or a relayed copy of one Interim-Update that another
// server wrote to its own detail file: same Event-Timestamp and counters,
// only Acct-Delay-Time, the receiving server's Timestamp and the attributes
// it adds differ. It must be stored and applied once, else acctinterval
// becomes 0 (the event minus the update of the very same event).
func TestRelayedCopyOfARecordIsStoredAndAppliedOnce(t *testing.T) {
	dsn := pg.NewDatabase(t)
	s := openSink(t, dsn, Config{})
	start := acctRec("Start", "s", base)
	interim := acctRec("Interim-Update", "s", base+300, "Acct-Session-Time", "300", "Acct-Delay-Time", "0")
	interim.Attrs = append(interim.Attrs,
		detail.Attribute{Name: "Packet-Src-IP-Address", Value: "192.0.2.1"},
		detail.Attribute{Name: "Packet-Dst-Port", Value: "1813"})
	relayed := acctRec("Interim-Update", "s", base+300, "Acct-Session-Time", "300", "Acct-Delay-Time", "7")
	relayed.Timestamp += 7
	relayed.Attrs = append(relayed.Attrs,
		detail.Attribute{Name: "Proxy-State", Value: "0x3132"},
		detail.Attribute{Name: "Acct-Unique-Session-Id", Value: "0123456789abcdef", Quoted: true},
		detail.Attribute{Name: "Packet-Src-IP-Address", Value: "198.51.100.9"},
		detail.Attribute{Name: "Packet-Dst-Port", Value: "1646"})
	mustSend(t, s, []*detail.Record{start, interim})
	mustSend(t, s, []*detail.Record{relayed})
	conn := connect(t, dsn)
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM radrelay_history WHERE status_type='Interim-Update'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	var iv *int64
	if err := conn.QueryRow(context.Background(), "SELECT acctinterval FROM radacct").Scan(&iv); err != nil {
		t.Fatal(err)
	}
	if n != 1 || iv == nil || *iv != 300 {
		t.Errorf("history holds %d copies of one interim; acctinterval = %v, want 1 copy and 300", n, derefInt(iv))
	}

	// Without Event-Timestamp the receive time is the event time: two
	// records received at different times are different events.
	a := acctRec("Interim-Update", "t", base, "-Event-Timestamp", "")
	b := acctRec("Interim-Update", "t", base, "-Event-Timestamp", "")
	b.Timestamp += 60
	if fingerprint(a) == fingerprint(b) {
		t.Errorf("records without Event-Timestamp received 60 s apart have one fingerprint")
	}
}

func derefInt(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// The repeated hour at the end of daylight saving time: FreeRADIUS writes
// the zone abbreviation, which tells the two instants apart.
func TestEventTimestampZoneNameSettlesDSTAmbiguousHour(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no zone database:", err)
	}
	old := time.Local
	time.Local = loc
	defer func() { time.Local = old }()
	cest := time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC) // 02:30 CEST
	cet := time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC)  // 02:30 CET
	for _, want := range []time.Time{cest, cet} {
		v := want.In(loc).Format("Jan _2 2006 15:04:05 MST")
		got, err := parseEventTime(v)
		if err != nil {
			t.Fatal(err)
		}
		if got != want.Unix() {
			t.Errorf("parseEventTime(%q) = %v, want %v", v, time.Unix(got, 0).UTC(), want)
		}
	}
	for in, want := range map[string]int64{
		"Nov 23 2026 16:00:00 +04":   base,
		"Nov 23 2026 08:30:00 -0330": base,
		"Nov 23 2026 13:00:00 CET":   base,
	} {
		if got, err := parseEventTime(in); err != nil || got != want {
			t.Errorf("parseEventTime(%q) = %v, %v; want %v", in, time.Unix(got, 0).UTC(), err, time.Unix(want, 0).UTC())
		}
	}
}

// radrelay in a UTC container reading a detail file a FreeRADIUS in
// Europe/Berlin wrote: CET is not a name of the local zone, so the record's
// Timestamp line (the receive time) is the event time, not the wall clock
// read as UTC (an hour after the server received the record).
func TestEventTimestampInForeignZoneUsesReceiveTime(t *testing.T) {
	old := time.Local
	time.Local = time.UTC
	defer func() { time.Local = old }()
	recv := int64(base) // 2026-11-23 12:00:00 UTC = 13:00:00 CET
	rec := &detail.Record{Timestamp: recv, HasTimestamp: true, Attrs: []detail.Attribute{
		{Name: "Acct-Status-Type", Value: "Start"},
		{Name: "Event-Timestamp", Value: "Nov 23 2026 12:59:58 CET", Quoted: true},
	}}
	a, err := parseRecord(rec, false)
	if err != nil {
		t.Fatal(err)
	}
	if a.event != recv || a.foreignZone != "CET" {
		t.Errorf("event time %v (foreign zone %q), want the receive time %v", time.Unix(a.event, 0).UTC(), a.foreignZone, time.Unix(recv, 0).UTC())
	}
	rec.HasTimestamp, rec.Timestamp = false, 0
	if a, err = parseRecord(rec, false); err != nil || a.event != base+3598 {
		t.Errorf("without a Timestamp line: event %v, %v; want the wall clock read as local time", time.Unix(a.event, 0).UTC(), err)
	}
}

// docs/postgres.md promises that a record rejected by "a CHECK constraint or
// trigger of yours" is quarantined: a trigger's RAISE EXCEPTION (SQLSTATE
// P0001) must make that record permanent and let the rest of the batch in,
// not stall the stream retrying it.
func TestTriggerRejectionQuarantinesOnlyThatRecord(t *testing.T) {
	dsn := pg.NewDatabase(t)
	s := openSink(t, dsn, Config{})
	conn := connect(t, dsn)
	if _, err := conn.Exec(context.Background(), `
CREATE FUNCTION reject_bad() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN IF NEW.username = 'bad' THEN RAISE EXCEPTION 'user bad not allowed'; END IF; RETURN NEW; END $$;
CREATE TRIGGER reject_bad BEFORE INSERT OR UPDATE ON radacct FOR EACH ROW EXECUTE FUNCTION reject_bad();`); err != nil {
		t.Fatal(err)
	}
	res := sendAll(s, []*detail.Record{acctRec("Start", "a", base), acctRec("Start", "b", base, "User-Name", "bad"), acctRec("Start", "c", base)})
	if res[0] != nil || res[2] != nil {
		t.Errorf("good records of the batch were not written: %v, %v", res[0], res[2])
	}
	if res[1] == nil || !sinks.IsPermanent(res[1]) || !strings.Contains(res[1].Error(), "user bad not allowed") {
		t.Errorf("record rejected by the trigger: %v, want a permanent error with the trigger's message", res[1])
	}
}

// An operator detaches a month of the history for archiving (the usual
// PostgreSQL practice) instead of dropping it. A table of the partition's
// name still exists, so the sink cannot create the month again: it must say
// so and how to fix it, not retry a bare "no partition" error forever; once
// the table is out of the way the month is created and the record written.
func TestDetachedHistoryPartitionIsReportedAndRecreatedWhenRemoved(t *testing.T) {
	dsn := pg.NewDatabase(t)
	s := openSink(t, dsn, Config{})
	mustSend(t, s, []*detail.Record{acctRec("Start", "a", base)})
	conn := connect(t, dsn)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "ALTER TABLE radrelay_history DETACH PARTITION radrelay_history_p202611"); err != nil {
		t.Fatal(err)
	}
	var last error
	for i := 0; i < 3; i++ {
		res := sendAll(s, []*detail.Record{acctRec("Start", "b", base+10)})
		if last = res[0]; last == nil {
			t.Fatalf("attempt %d: record written into a month whose partition is detached", i)
		}
		if sinks.IsPermanent(last) {
			t.Fatalf("attempt %d: %v is permanent; the record must wait for the operator", i, last)
		}
	}
	if !strings.Contains(last.Error(), "radrelay_history_p202611") || !strings.Contains(last.Error(), "not attached") ||
		strings.Contains(last.Error(), "unavailable") {
		t.Errorf("error %q does not name the detached partition", last)
	}
	if _, err := conn.Exec(ctx, "ALTER TABLE radrelay_history_p202611 RENAME TO archive_202611"); err != nil {
		t.Fatal(err)
	}
	mustSend(t, s, []*detail.Record{acctRec("Start", "b", base+10)})
}

func TestHistoryTableNameLeavesRoomForPartitionNames(t *testing.T) {
	ok := strings.Repeat("h", 55)
	for name, valid := range map[string]bool{ok: true, "radius." + ok: true, ok + "x": false} {
		err := Config{DSN: "postgres://x@localhost/db", HistoryTable: name}.validate()
		if (err == nil) != valid {
			t.Errorf("history_table %q: validate() = %v, want valid=%v", name, err, valid)
		}
	}
}

// A history-only sink must not need the TEMP privilege (only the live
// writer stages rows in a temporary table).
func TestHistoryOnlySinkNeedsNoTempPrivilege(t *testing.T) {
	dsn := pg.NewDatabase(t)
	conn := connect(t, dsn)
	ctx := context.Background()
	var db string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"CREATE ROLE rr_notemp LOGIN",
		"REVOKE TEMP ON DATABASE " + db + " FROM PUBLIC",
		"GRANT CREATE, CONNECT ON DATABASE " + db + " TO rr_notemp",
		"GRANT ALL ON SCHEMA public TO rr_notemp",
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(q, err)
		}
	}
	t.Cleanup(func() { conn.Exec(context.Background(), "DROP OWNED BY rr_notemp; DROP ROLE rr_notemp") })
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User("rr_notemp")
	off := false
	s := openSink(t, u.String(), Config{LiveSessions: &off})
	if res := sendAll(s, []*detail.Record{acctRec("Start", "a", base)}); res[0] != nil {
		t.Errorf("history-only sink without TEMP privilege: %v", res[0])
	}
}

// With store_class the stock queries write '%{Class}', the empty string for a
// record without Class; without it class stays NULL.
func TestStoreClassWritesEmptyStringForMissingClass(t *testing.T) {
	for _, store := range []bool{true, false} {
		dsn := pg.NewDatabase(t)
		s := openSink(t, dsn, Config{StoreClass: store})
		mustSend(t, s, []*detail.Record{acctRec("Start", "a", base), acctRec("Start", "b", base, "Class", "0x6162")})
		rows, err := connect(t, dsn).Query(context.Background(), "SELECT class FROM radacct ORDER BY acctsessionid")
		if err != nil {
			t.Fatal(err)
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[*string])
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"<nil>", "<nil>"}
		if store {
			want = []string{`""`, `"0x6162"`}
		}
		for i := range want {
			g := "<nil>"
			if i < len(got) && got[i] != nil {
				g = strconv.Quote(*got[i])
			}
			if g != want[i] {
				t.Errorf("store_class=%v row %d: class = %s, want %s", store, i, g, want[i])
			}
		}
	}
}

// TestSessionLookupIsNeverACachedGenericPlan: the SELECT ... FOR UPDATE of
// the batch's sessions must be planned for its keys every time. As a
// named prepared statement PostgreSQL switches to a generic plan after five
// executions, and for "acctuniqueid = ANY($1)" that plan assumes 10 keys and
// walks the index key by key: 410 ms per 5,000-record batch in a radacct of
// a million rows, against 77 ms for the bitmap scan of a custom plan (issue
// "Performance through the binary"). The test checks the cause, not a time:
// after more than five batches, no connection of the sink holds that query
// as a prepared statement.
func TestSessionLookupIsNeverACachedGenericPlan(t *testing.T) {
	s := openSink(t, pg.NewDatabase(t), Config{})
	recs := sinktest.Records(60)
	for lo := 0; lo < len(recs); lo += 6 {
		mustSend(t, s, recs[lo:lo+6])
	}
	ctx := context.Background()
	for range 2 { // the pool's two connections, whichever is handed out
		c, err := s.pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Release()
		var n int
		if err := c.QueryRow(ctx, `SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%FOR UPDATE%' AND statement NOT LIKE '%pg_prepared_statements%'`, pgx.QueryExecModeSimpleProtocol).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("a connection of the sink holds the session lookup as a prepared statement (%d): its plan may become a generic one", n)
		}
	}
}
