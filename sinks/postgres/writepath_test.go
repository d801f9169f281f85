package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks/sinktest"
)

// dumpHistory returns every history row but id and inserted_at, as JSON
// (attributes as jsonb, whatever the column's type), in a fixed order.
func dumpHistory(t testing.TB, conn *pgx.Conn) []string {
	t.Helper()
	return queryStrings(t, conn, `SELECT (to_jsonb(h) - 'id' - 'inserted_at' || jsonb_build_object('attributes', h.attributes::jsonb))::text
		FROM radrelay_history h ORDER BY event_time, fingerprint`)
}

// awkwardRecords are records whose history values take every branch of the
// binary COPY encoder: NULLs, quotes, control bytes, invalid UTF-8 and NUL,
// IPv6 and prefixes, tags, repeated attributes, no Event-Timestamp, no
// file or line, an Acct-Status-Type radrelay does not know.
func awkwardRecords() []*detail.Record {
	recs := []*detail.Record{
		acctRec("Start", "a1", base, "User-Name", `o'brien\x, "quoted" =5C`, "Framed-IP-Address", "10.1.2.3"),
		acctRec("Interim-Update", "a1", base+60, "User-Name", `o'brien\x, "quoted" =5C`, "Reply-Message", "ctl\x01\x7f\ttab\n\r",
			"Acct-Session-Time", "60", "Acct-Input-Octets", "4294967295", "Acct-Input-Gigawords", "2"),
		acctRec("Stop", "a2", base+5, "User-Name", "日本語@exämple", "NAS-IP-Address", "", "NAS-IPv6-Address", "2001:db8::1",
			"Framed-IPv6-Prefix", "2001:db8:1::/48", "Framed-IP-Address", "::ffff:192.0.2.7", "Acct-Terminate-Cause", "User-Request"),
		acctRec("Start", "a3", base+7, "User-Name", "bad-\xff-utf8-\x00-nul", "-NAS-Port", "", "Realm", "example.net"),
		acctRec("Failed", "a4", base+9, "-User-Name", ""),
		acctRec("", "a5", base+11),
	}
	tagged := acctRec("Start", "a6", base+13)
	tagged.Attrs = append(tagged.Attrs,
		detail.Attribute{Name: "Tunnel-Type", HasTag: true, Tag: 1, Value: "VLAN"},
		detail.Attribute{Name: "Tunnel-Type", HasTag: true, Tag: 2, Value: "GRE"},
		detail.Attribute{Name: "Class", Value: "0x01"},
		detail.Attribute{Name: "Class", Value: "0x02"},
		detail.Attribute{Name: "Cisco-AVPair", Value: "a=1", Quoted: true},
		detail.Attribute{Name: "Cisco-AVPair", Value: "b=\"2\"", Quoted: true},
		detail.Attribute{Name: "Class", Value: "0x03"})
	recs = append(recs, tagged)
	noEvent := acctRec("Start", "a7", base+15, "-Event-Timestamp", "")
	noEvent.File, noEvent.Line = "", 0
	recs = append(recs, noEvent)
	// Enough ordinary records for the batch to be split over connections.
	return append(recs, sinktest.Records(3000)...)
}

// TestHistoryBinaryCopyMatchesGeneric writes the same records through the
// binary COPY encoder (the table radrelay creates, with attributes json,
// and one with jsonb) and through pgx's CopyFrom (a table whose
// column types someone changed): the rows must be the same.
func TestHistoryBinaryCopyMatchesGeneric(t *testing.T) {
	recs := awkwardRecords()
	type variant struct {
		name  string
		cfg   Config
		alter string
		want  historyFormat
	}
	var dumps [][]string
	for _, v := range []variant{
		{"binary json", Config{}, "", historyBinaryJSON},
		{"binary jsonb", Config{HistoryAttributesType: "jsonb"}, "", historyBinaryJSONB},
		{"generic", Config{}, "ALTER TABLE radrelay_history ALTER source_line TYPE bigint", historyGeneric},
	} {
		dsn := pg.NewDatabase(t)
		if v.alter != "" {
			openSink(t, dsn, v.cfg).Close() // creates the schema
			if _, err := connect(t, dsn).Exec(context.Background(), v.alter); err != nil {
				t.Fatal(err)
			}
		}
		s := openSink(t, dsn, v.cfg)
		if got := historyFormat(s.history.format.Load()); got != v.want {
			t.Fatalf("%s: format %d, want %d", v.name, got, v.want)
		}
		mustSend(t, s, recs)
		d := dumpHistory(t, connect(t, dsn))
		if len(d) != len(recs) {
			t.Fatalf("%s: %d history rows, want %d", v.name, len(d), len(recs))
		}
		dumps = append(dumps, d)
	}
	for i := 1; i < len(dumps); i++ {
		for j := range dumps[0] {
			if dumps[i][j] != dumps[0][j] {
				t.Errorf("row %d differs:\n%s\n%s", j, dumps[0][j], dumps[i][j])
				break
			}
		}
	}
}

// TestConnectionsGiveTheSameTables writes the same records on one and on
// three connections, in batches that are split by session, with an
// Accounting-On in one of them: the tables must be the same.
func TestConnectionsGiveTheSameTables(t *testing.T) {
	recs := awkwardRecords()
	on := acctRec("Accounting-On", "", base+20, "-Acct-Session-Id", "", "-User-Name", "")
	recs = append(recs[:600], append([]*detail.Record{on}, recs[600:]...)...)
	var live, hist [][]string
	for _, n := range []int{1, 3} {
		dsn := pg.NewDatabase(t)
		s := openSink(t, dsn, Config{Connections: n, TransactionSize: 1000})
		for lo := 0; lo < len(recs); lo += 1000 {
			mustSend(t, s, recs[lo:min(lo+1000, len(recs))])
		}
		if split := s.splitBatches.Load(); n > 1 && split < 2 {
			t.Errorf("%d batches split over %d connections, want the 2 without Accounting-On", split, n)
		}
		conn := connect(t, dsn)
		live = append(live, dumpLive(t, conn, "radacct"))
		hist = append(hist, dumpHistory(t, conn))
	}
	if strings.Join(live[0], "\n") != strings.Join(live[1], "\n") {
		t.Errorf("radacct differs between one and three connections (%d vs %d rows)", len(live[0]), len(live[1]))
	}
	if strings.Join(hist[0], "\n") != strings.Join(hist[1], "\n") {
		t.Errorf("history differs between one and three connections (%d vs %d rows)", len(hist[0]), len(hist[1]))
	}
}

// TestTwoWritersSplitBatches is TestTwoWriters with batches large enough to
// be split over connections: four transactions at a time copy into the
// history without its lock, and whichever meets a record another copied
// retries with lookup; every record must land once and radacct must be
// what one writer makes.
func TestTwoWritersSplitBatches(t *testing.T) {
	recs := sinktest.Records(4500)
	dsn := pg.NewDatabase(t)
	writers := []*Sink{openSink(t, dsn, Config{TransactionSize: 1000}), openSink(t, dsn, Config{TransactionSize: 1000})}
	sendConcurrently(t, writers, recs, func(i int) int { return 600 + i*333 })
	for i, s := range writers {
		if s.splitBatches.Load() == 0 {
			t.Errorf("writer %d never split a batch over its connections", i)
		}
	}
	checkAsOneWriter(t, dsn, recs)
}

func TestAppendAttributesJSONMatchesPairwise(t *testing.T) {
	// The hashed comparison must group exactly as comparing every pair.
	for _, r := range awkwardRecords()[:8] {
		got := attributesJSON(&acct{rec: r})
		want := pairwiseAttributesJSON(r.Attrs)
		if got != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
	many := &detail.Record{}
	for i := 0; i < 70; i++ { // more than the stack arrays hold
		many.Attrs = append(many.Attrs, detail.Attribute{Name: fmt.Sprint("A-", i%50), Value: fmt.Sprint(i)})
	}
	if got, want := attributesJSON(&acct{rec: many}), pairwiseAttributesJSON(many.Attrs); got != want {
		t.Errorf("70 attributes: got %s\nwant %s", got, want)
	}
}

// pairwiseAttributesJSON is attributesJSON written the obvious way.
func pairwiseAttributesJSON(attrs []detail.Attribute) string {
	key := func(a detail.Attribute) string {
		if a.HasTag {
			return fmt.Sprintf("%s:%d", a.Name, a.Tag)
		}
		return a.Name
	}
	var parts []string
	done := map[string]bool{}
	for i, a := range attrs {
		k := key(a)
		if done[k] {
			continue
		}
		done[k] = true
		var vals []string
		for _, b := range attrs[i:] {
			if key(b) == k {
				vals = append(vals, string(appendJSONString(nil, text(b.Value))))
			}
		}
		v := vals[0]
		if len(vals) > 1 {
			v = "[" + strings.Join(vals, ",") + "]"
		}
		parts = append(parts, string(appendJSONString(nil, text(k)))+":"+v)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// TestRebootDetectionKeepsBatchesWhole: a Start that shows a NAS reboot
// closes the NAS's other sessions, whichever share they would be in, so
// with detect_reboots a batch is written in one transaction.
func TestRebootDetectionKeepsBatchesWhole(t *testing.T) {
	dsn := pg.NewDatabase(t)
	s := openSink(t, dsn, Config{DetectReboots: true, Connections: 2})
	mustSend(t, s, sinktest.Records(1500))
	if n := s.splitBatches.Load(); n != 0 {
		t.Errorf("%d batches split over connections with detect_reboots on, want none", n)
	}
}

// TestSessionUpdateLooksRowsUp: the staging table is never analyzed and
// holds the new rows too, so with thousands of rows staged the planner
// would join it to radacct by hashing a sequential scan of the whole table.
// The sink turns hash and merge joins off for its UPDATE (and back on):
// each staged row is looked up by radacctid.
func TestSessionUpdateLooksRowsUp(t *testing.T) {
	dsn := pg.NewDatabase(t)
	ctx := context.Background()
	s := openSink(t, dsn, Config{Connections: 1})
	conn := connect(t, dsn)
	if _, err := conn.Exec(ctx, liveStageDDL+`;
		INSERT INTO radacct (acctsessionid, acctuniqueid, nasipaddress, acctstarttime, acctstoptime)
		SELECT 'old' || i, md5('old' || i), '192.0.2.9', now() - interval '2 days', now() - interval '1 day'
		FROM generate_series(1, 30000) i;
		ANALYZE radacct;
		INSERT INTO `+liveStage+` (radacctid, acctsessionid, acctuniqueid, nasipaddress)
		SELECT CASE WHEN i % 2 = 0 THEN radacctid END, acctsessionid, acctuniqueid, nasipaddress::text
		FROM radacct r, generate_series(1, 1) i WHERE radacctid % 5 = 0`); err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	for _, q := range []string{"SET LOCAL enable_hashjoin = off", "SET LOCAL enable_mergejoin = off"} {
		if _, err := tx.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := tx.Query(ctx, "EXPLAIN "+s.live.updateSQL())
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(plan, "\n")
	if strings.Contains(text, "Seq Scan on radacct") || !strings.Contains(text, "Index Scan using radacct_pkey") {
		t.Errorf("the session UPDATE does not look rows up by radacctid:\n%s", text)
	}
	// And the statements the sink sends turn the settings back.
	if _, err := tx.Exec(ctx, "RESET enable_hashjoin; RESET enable_mergejoin"); err != nil {
		t.Fatal(err)
	}
	var on string
	if err := tx.QueryRow(ctx, "SHOW enable_hashjoin").Scan(&on); err != nil || on != "on" {
		t.Errorf("enable_hashjoin after RESET: %q, %v", on, err)
	}
}
