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
	variants := []struct {
		name                string
		connections, txSize int
		send                int // records per Send
	}{
		{"one connection", 1, 1000, 1000},
		{"three connections", 3, 1000, 1000},
		// One Send of every record in transactions of 800: the writers
		// go from one transaction to the next without waiting for each
		// other, and the one with the Accounting-On is written whole
		// between them.
		{"three connections, one Send of several transactions", 3, 800, len(recs)},
	}
	for _, v := range variants {
		dsn := pg.NewDatabase(t)
		s := openSink(t, dsn, Config{Connections: v.connections, TransactionSize: v.txSize})
		for lo := 0; lo < len(recs); lo += v.send {
			mustSend(t, s, recs[lo:min(lo+v.send, len(recs))])
		}
		if split := s.splitBatches.Load(); v.connections > 1 && split < 2 {
			t.Errorf("%s: %d batches split over %d connections, want at least the 2 without Accounting-On", v.name, split, v.connections)
		}
		conn := connect(t, dsn)
		live = append(live, dumpLive(t, conn, "radacct"))
		hist = append(hist, dumpHistory(t, conn))
	}
	for i := 1; i < len(variants); i++ {
		if strings.Join(live[0], "\n") != strings.Join(live[i], "\n") {
			t.Errorf("radacct differs between %s and %s (%d vs %d rows)", variants[0].name, variants[i].name, len(live[0]), len(live[i]))
		}
		if strings.Join(hist[0], "\n") != strings.Join(hist[i], "\n") {
			t.Errorf("history differs between %s and %s (%d vs %d rows)", variants[0].name, variants[i].name, len(hist[0]), len(hist[i]))
		}
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
	// Untagged repeats (the one-pass grouping), names that share their
	// length and first and last eight bytes (keyHash's collisions),
	// and 32 and 33 attributes (the one-pass limit).
	repeats := &detail.Record{Attrs: []detail.Attribute{
		{Name: "Cisco-AVPair", Value: "a=1", Quoted: true}, {Name: "User-Name", Value: "bob"},
		{Name: "Cisco-AVPair", Value: "b=2", Quoted: true}, {Name: "Class", Value: "0x01"},
		{Name: "Acct-Input-Octets-X", Value: "1"}, {Name: "Acct-InpZt-Octets-X", Value: "2"},
		{Name: "Class", Value: "0x02"}, {Name: "cisco-avpair", Value: "c=3"}, {Name: "Cisco-AVPair", Value: "d\"4"},
	}}
	for _, size := range []int{0, 1, 32, 33} {
		r := &detail.Record{}
		for i := 0; i < size; i++ {
			r.Attrs = append(r.Attrs, detail.Attribute{Name: fmt.Sprint("Attr-With-A-Long-Name-", i%9), Value: fmt.Sprint(i)})
		}
		if got, want := attributesJSON(&acct{rec: r}), pairwiseAttributesJSON(r.Attrs); got != want {
			t.Errorf("%d attributes: got %s\nwant %s", size, got, want)
		}
	}
	if got, want := attributesJSON(&acct{rec: repeats}), pairwiseAttributesJSON(repeats.Attrs); got != want {
		t.Errorf("repeats: got %s\nwant %s", got, want)
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

// TestPreparedRecordsGiveTheSameTables: records the sink parsed as the
// tailer read them (Prepare) are stored exactly as records parsed in Send,
// a record rejected for its content included.
func TestPreparedRecordsGiveTheSameTables(t *testing.T) {
	records := func() []*detail.Record {
		recs := append(awkwardRecords(), acctRec("Interim-Update", "bad1", base+30, "Acct-Session-Time", "not-a-number"))
		return append(recs, sinktest.Records(1500)...)
	}
	var live, hist, errs [][]string
	for _, prepare := range []bool{false, true} {
		dsn := pg.NewDatabase(t)
		s := openSink(t, dsn, Config{TransactionSize: 1000})
		recs := records()
		if prepare {
			for _, r := range recs {
				s.Prepare(r)
			}
		}
		var e []string
		for lo := 0; lo < len(recs); lo += 700 {
			for i, err := range sendAll(s, recs[lo:min(lo+700, len(recs))]) {
				if err != nil {
					e = append(e, fmt.Sprintf("%d: %v", lo+i, err))
				}
			}
		}
		conn := connect(t, dsn)
		live = append(live, dumpLive(t, conn, "radacct"))
		hist = append(hist, dumpHistory(t, conn))
		errs = append(errs, e)
	}
	if len(errs[0]) != 1 {
		t.Errorf("parsed in Send: %d records rejected, want the 1 with a bad Acct-Session-Time: %q", len(errs[0]), errs[0])
	}
	if strings.Join(errs[0], "\n") != strings.Join(errs[1], "\n") {
		t.Errorf("rejections differ: parsed in Send %q, prepared %q", errs[0], errs[1])
	}
	if strings.Join(live[0], "\n") != strings.Join(live[1], "\n") {
		t.Errorf("radacct differs (%d vs %d rows)", len(live[0]), len(live[1]))
	}
	if strings.Join(hist[0], "\n") != strings.Join(hist[1], "\n") {
		t.Errorf("history differs (%d vs %d rows)", len(hist[0]), len(hist[1]))
	}
}

// TestPreparedOnlyForThisRecordAndSink: what Prepare worked out is used
// only by the sink that prepared it and only for that very record with
// its attributes as they were: a copy with other attributes (the tailer
// strips quarantine annotations or raises Acct-Delay-Time in a copy), or
// the same record with its attributes replaced, is parsed again.
func TestPreparedOnlyForThisRecordAndSink(t *testing.T) {
	s, other := &Sink{}, &Sink{}
	userName := func(s *Sink, r *detail.Record) string {
		t.Helper()
		accts, errs := s.parseAll([]*detail.Record{r})
		if errs[0] != nil {
			t.Fatal(errs[0])
		}
		return accts[0].userName
	}
	rename := func(r *detail.Record) {
		r.Attrs = append([]detail.Attribute(nil), r.Attrs...)
		r.Attrs[0].Value = "bob"
	}

	r := acctRec("Start", "p1", base)
	s.Prepare(r)
	if _, ok := s.prepared(r); !ok {
		t.Fatal("a prepared record is not taken as prepared")
	}
	if _, ok := other.prepared(r); ok {
		t.Error("another sink takes a record this one prepared as prepared")
	}

	c := *r
	rename(&c)
	if _, ok := s.prepared(&c); ok {
		t.Error("a copy of a prepared record is taken as prepared")
	}
	if got := userName(s, &c); got != "bob" {
		t.Errorf("a copy with User-Name changed to bob parsed as %q", got)
	}

	rename(r)
	if _, ok := s.prepared(r); ok {
		t.Error("a prepared record whose attributes were replaced is taken as prepared")
	}
	if got := userName(s, r); got != "bob" {
		t.Errorf("a record whose User-Name was changed to bob after Prepare parsed as %q", got)
	}
}
