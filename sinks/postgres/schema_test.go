package postgres

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/radrelay/radrelay/detail"
)

// lockedBuffer is a bytes.Buffer safe for a logger's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// attributesType is the type of the history's attributes column.
func attributesType(t *testing.T, dsn string) string {
	t.Helper()
	var typ string
	if err := connect(t, dsn).QueryRow(context.Background(), `SELECT format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = 'radrelay_history'::regclass AND attname = 'attributes'`).Scan(&typ); err != nil {
		t.Fatal(err)
	}
	return typ
}

// TestHistoryAttributesType checks the type of the attributes column a
// new history table gets (json by default, jsonb on request), that a
// table an older radrelay created with jsonb keeps its type and is
// written as before, that a history_attributes_type the existing table
// does not have is reported, and that the documented ways of searching
// attributes work on both types.
func TestHistoryAttributesType(t *testing.T) {
	ctx := context.Background()
	recs := awkwardRecords()[:8]
	recs = append(recs, acctRec("Start", "gin1", base+100, "NAS-Port-Type", "Virtual"))

	t.Run("new table: json, in the record's order", func(t *testing.T) {
		dsn := pg.NewDatabase(t)
		s := openSink(t, dsn, Config{})
		if got := attributesType(t, dsn); got != "json" {
			t.Fatalf("attributes %s, want json", got)
		}
		if got := historyFormat(s.history.format.Load()); got != historyBinaryJSON {
			t.Fatalf("format %d, want binary json", got)
		}
		mustSend(t, s, recs)
		conn := connect(t, dsn)
		var text, user string
		if err := conn.QueryRow(ctx, `SELECT attributes::text, attributes->>'User-Name' FROM radrelay_history
			WHERE acctsessionid = 'gin1'`).Scan(&text, &user); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(text, `{"User-Name":"alice","NAS-IP-Address":"192.0.2.1",`) || user != "alice" {
			t.Errorf("attributes %s (User-Name %q): want the record's attributes in its order", text, user)
		}
		// GIN and @> through the cast docs/postgres.md gives.
		if _, err := conn.Exec(ctx, `CREATE INDEX radrelay_history_attrs_gin ON radrelay_history USING gin ((attributes::jsonb) jsonb_path_ops)`); err != nil {
			t.Fatal(err)
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
			t.Fatal(err)
		}
		const q = `SELECT acctsessionid FROM radrelay_history WHERE attributes::jsonb @> '{"NAS-Port-Type": "Virtual"}'`
		var plan strings.Builder
		rows, err := tx.Query(ctx, "EXPLAIN "+q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var line string
			rows.Scan(&line)
			plan.WriteString(line + "\n")
		}
		if !strings.Contains(plan.String(), "radrelay_history_p") || !strings.Contains(plan.String(), "Bitmap Index Scan") {
			t.Errorf("the GIN index on attributes::jsonb is not used:\n%s", plan.String())
		}
		var sid string
		if err := tx.QueryRow(ctx, q).Scan(&sid); err != nil || sid != "gin1" {
			t.Errorf("@> found %q, %v", sid, err)
		}
	})

	t.Run("new table: jsonb on request", func(t *testing.T) {
		dsn := pg.NewDatabase(t)
		s := openSink(t, dsn, Config{HistoryAttributesType: "jsonb"})
		if got := attributesType(t, dsn); got != "jsonb" {
			t.Fatalf("attributes %s, want jsonb", got)
		}
		mustSend(t, s, recs)
		var sid string
		if err := connect(t, dsn).QueryRow(ctx, `SELECT acctsessionid FROM radrelay_history
			WHERE attributes @> '{"NAS-Port-Type": "Virtual"}'`).Scan(&sid); err != nil || sid != "gin1" {
			t.Errorf("@> found %q, %v", sid, err)
		}
	})

	t.Run("table of an older radrelay keeps jsonb", func(t *testing.T) {
		// What radrelay made before json became the default: the same
		// migration with jsonb, recorded as schema version 1.
		dsn := pg.NewDatabase(t)
		old := openSink(t, dsn, Config{HistoryAttributesType: "jsonb"})
		mustSend(t, old, recs[:4])
		old.Close()
		var logs lockedBuffer
		cfg := Config{DSN: dsn}
		s, err := newSink(ctx, cfg, slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if got := historyFormat(s.history.format.Load()); got != historyBinaryJSONB {
			t.Fatalf("format %d, want binary jsonb", got)
		}
		mustSend(t, s, recs[4:])
		if got := attributesType(t, dsn); got != "jsonb" {
			t.Errorf("attributes %s after the upgrade, want jsonb kept", got)
		}
		if strings.Contains(logs.String(), "history_attributes_type") {
			t.Errorf("warned without history_attributes_type set:\n%s", logs.String())
		}
		if n := len(dumpHistory(t, connect(t, dsn))); n != len(recs) {
			t.Errorf("%d history rows, want %d", n, len(recs))
		}
		var version int
		if err := connect(t, dsn).QueryRow(ctx, `SELECT version FROM radrelay_schema_version WHERE store = 'history:radrelay_history'`).Scan(&version); err != nil || version != len(historyMigrations) {
			t.Errorf("schema version %d, %v", version, err)
		}

		// Asking for json on that table: said, not done.
		s2, err := newSink(ctx, Config{DSN: dsn, HistoryAttributesType: "json"}, slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		if !strings.Contains(logs.String(), "history_attributes_type applies when the history table is created") ||
			!strings.Contains(logs.String(), "ALTER attributes TYPE json USING attributes::json") {
			t.Errorf("no warning about the existing table's type:\n%s", logs.String())
		}
		if got := attributesType(t, dsn); got != "jsonb" {
			t.Errorf("attributes %s, want jsonb kept", got)
		}
	})

	t.Run("both types give the same rows", func(t *testing.T) {
		var dumps [2][]string
		for i, typ := range []string{"json", "jsonb"} {
			dsn := pg.NewDatabase(t)
			mustSend(t, openSink(t, dsn, Config{HistoryAttributesType: typ}), recs)
			dumps[i] = dumpHistory(t, connect(t, dsn))
		}
		if strings.Join(dumps[0], "\n") != strings.Join(dumps[1], "\n") {
			t.Errorf("json and jsonb histories differ:\n%s\n---\n%s", strings.Join(dumps[0], "\n"), strings.Join(dumps[1], "\n"))
		}
	})
}

// TestHistoryIndexMayBeDropped checks what docs/postgres.md promises a
// site that only archives: a secondary index of the history dropped from
// the parent table stays dropped (the sink's start-up does not make it
// again, nor do the partitions it creates later), and records are still
// stored.
func TestHistoryIndexMayBeDropped(t *testing.T) {
	ctx := context.Background()
	dsn := pg.NewDatabase(t)
	openSink(t, dsn, Config{}).Close()
	conn := connect(t, dsn)
	if _, err := conn.Exec(ctx, "DROP INDEX radrelay_history_user_idx"); err != nil {
		t.Fatal(err)
	}
	s := openSink(t, dsn, Config{})
	// A month without a partition yet: the sink creates it.
	const old = 1546300800 // 2019-01-01 00:00:00 UTC
	mustSend(t, s, []*detail.Record{acctRec("Start", "d1", old), acctRec("Stop", "d1", old+60)})
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM radrelay_history WHERE acctsessionid = 'd1'`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d history rows of the session, %v; want 2", n, err)
	}
	rows, err := conn.Query(ctx, `SELECT tablename || ': ' || indexdef FROM pg_indexes
		WHERE tablename LIKE 'radrelay_history%' AND indexdef LIKE '%username%'`)
	if err != nil {
		t.Fatal(err)
	}
	left, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("the dropped index came back:\n%s", strings.Join(left, "\n"))
	}
	var session int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE tablename = 'radrelay_history_p201901' AND indexdef LIKE '%(acctuniqueid)%'`).Scan(&session); err != nil || session != 1 {
		t.Errorf("the new partition has %d session indexes, %v; want 1", session, err)
	}
}
