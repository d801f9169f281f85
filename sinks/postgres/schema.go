package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// versionTable records which migrations ran, one row per store ("live:radacct",
// "history:radrelay_history"), so that "radrelay sql init" and create_schema
// upgrade an existing database step by step and do nothing the second time.
const versionTable = "radrelay_schema_version"

// schemaLockKey serialises migrations of concurrent radrelay instances
// (pg_advisory_xact_lock; an arbitrary constant, "RRSC").
const schemaLockKey = 0x52525343

// migration is one versioned schema step; its SQL is a template where
// {{table}} and {{name}} stand for the quoted table name and its bare name
// (for index names), and {{attributes}} for the history's attributes type
// (history_attributes_type).
type migration struct {
	version     int
	description string
	sql         string
}

// liveMigrations create FreeRADIUS 3.2's radacct (columns, types, indexes,
// index names) and nasreload. On a table FreeRADIUS created they change
// nothing (IF NOT EXISTS everywhere) except adding the columns and indexes
// that tables from older FreeRADIUS versions lack.
var liveMigrations = []migration{{
	version:     1,
	description: "FreeRADIUS 3.2 radacct and nasreload",
	sql: `
CREATE TABLE IF NOT EXISTS {{table}} (
	radacctid		bigserial PRIMARY KEY,
	acctsessionid		text NOT NULL,
	acctuniqueid		text NOT NULL UNIQUE,
	username		text,
	realm			text,
	nasipaddress		inet NOT NULL,
	nasportid		text,
	nasporttype		text,
	acctstarttime		timestamp with time zone,
	acctupdatetime		timestamp with time zone,
	acctstoptime		timestamp with time zone,
	acctinterval		bigint,
	acctsessiontime		bigint,
	acctauthentic		text,
	connectinfo_start	text,
	connectinfo_stop	text,
	acctinputoctets		bigint,
	acctoutputoctets	bigint,
	calledstationid		text,
	callingstationid	text,
	acctterminatecause	text,
	servicetype		text,
	framedprotocol		text,
	framedipaddress		inet,
	framedipv6address	inet,
	framedipv6prefix	inet,
	framedinterfaceid	text,
	delegatedipv6prefix	inet,
	class			text
);
ALTER TABLE {{table}}
	ADD COLUMN IF NOT EXISTS acctupdatetime timestamp with time zone,
	ADD COLUMN IF NOT EXISTS acctinterval bigint,
	ADD COLUMN IF NOT EXISTS framedipv6address inet,
	ADD COLUMN IF NOT EXISTS framedipv6prefix inet,
	ADD COLUMN IF NOT EXISTS framedinterfaceid text,
	ADD COLUMN IF NOT EXISTS delegatedipv6prefix inet,
	ADD COLUMN IF NOT EXISTS class text;
-- The index names are FreeRADIUS's (typo included), so a table FreeRADIUS
-- created does not get a second copy of each.
CREATE INDEX IF NOT EXISTS {{name}}_active_session_idx ON {{table}} (acctuniqueid) WHERE acctstoptime IS NULL;
CREATE INDEX IF NOT EXISTS {{name}}_bulk_close ON {{table}} (nasipaddress, acctstarttime) WHERE acctstoptime IS NULL;
CREATE INDEX IF NOT EXISTS {{name}}_start_user_idx ON {{table}} (acctstarttime, username);
CREATE INDEX IF NOT EXISTS {{name}}_calss_idx ON {{table}} (class);
CREATE TABLE IF NOT EXISTS nasreload (
	nasipaddress		inet PRIMARY KEY,
	reloadtime		timestamp with time zone NOT NULL
);
`,
}}

// historyMigrations create the append-only history, partitioned by month of
// event time. Partitions are created on demand (ensurePartitions).
//
// attributes is json unless history_attributes_type says jsonb: tables
// created before 2026-12-06 have jsonb, and keep it (the sink writes
// either; no step here rewrites a table).
var historyMigrations = []migration{{
	version:     1,
	description: "append-only accounting history partitioned by event time",
	sql: `
CREATE TABLE IF NOT EXISTS {{table}} (
	id			bigserial NOT NULL,
	event_time		timestamp with time zone NOT NULL,
	fingerprint		bytea NOT NULL,
	received_time		timestamp with time zone,
	status_type		text,
	acctuniqueid		text NOT NULL,
	acctsessionid		text,
	username		text,
	realm			text,
	nasipaddress		inet,
	nasidentifier		text,
	nasportid		text,
	framedipaddress		inet,
	acctsessiontime		bigint,
	acctinputoctets		bigint,
	acctoutputoctets	bigint,
	acctterminatecause	text,
	attributes		{{attributes}} NOT NULL,
	source_file		text,
	source_line		integer,
	inserted_at		timestamp with time zone NOT NULL DEFAULT now(),
	PRIMARY KEY (event_time, fingerprint)
) PARTITION BY RANGE (event_time);
CREATE INDEX IF NOT EXISTS {{name}}_session_idx ON {{table}} (acctuniqueid);
CREATE INDEX IF NOT EXISTS {{name}}_user_idx ON {{table}} (username, event_time);
COMMENT ON TABLE {{table}} IS 'radrelay: every accounting record, append-only; monthly partitions {{name}}_pYYYYMM, expire by dropping them';
`,
}}

var identPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$`)

// tableName is a validated, optionally schema-qualified, table name.
type tableName struct {
	schema, name string
}

func parseTableName(s string) (tableName, error) {
	if !identPattern.MatchString(s) {
		return tableName{}, fmt.Errorf("table name %q: use letters, digits and _ (optionally schema.table)", s)
	}
	s = strings.ToLower(s)
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return tableName{s[:i], s[i+1:]}, nil
	}
	return tableName{name: s}, nil
}

// quoted is the SQL form of the name.
func (t tableName) quoted() string {
	if t.schema == "" {
		return pgx.Identifier{t.name}.Sanitize()
	}
	return pgx.Identifier{t.schema, t.name}.Sanitize()
}

// sibling is the quoted name of another relation in the same schema.
func (t tableName) sibling(name string) string {
	if t.schema == "" {
		return pgx.Identifier{name}.Sanitize()
	}
	return pgx.Identifier{t.schema, name}.Sanitize()
}

// identifier is the name for pgx's CopyFrom.
func (t tableName) identifier() pgx.Identifier {
	if t.schema == "" {
		return pgx.Identifier{t.name}
	}
	return pgx.Identifier{t.schema, t.name}
}

func (t tableName) String() string {
	if t.schema == "" {
		return t.name
	}
	return t.schema + "." + t.name
}

// render is m's SQL for table t; attributes is the type of the history's
// attributes column (validated: "json" or "jsonb").
func (m migration) render(t tableName, attributes string) string {
	return strings.NewReplacer("{{table}}", t.quoted(), "{{name}}", t.name, "{{attributes}}", attributes).Replace(m.sql)
}

// MigrationResult tells what Migrate did to one store.
type MigrationResult struct {
	Store       string // "live:radacct", "history:radrelay_history"
	From, To    int    // schema version before and after
	Description []string
}

// Migrate creates or upgrades the schema of the stores cfg enables, in one
// transaction, serialised against other radrelay instances. Running it again
// changes nothing.
func Migrate(ctx context.Context, conn *pgx.Conn, cfg Config) ([]MigrationResult, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", schemaLockKey); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+versionTable+` (
		store text PRIMARY KEY,
		version integer NOT NULL,
		updated_at timestamp with time zone NOT NULL DEFAULT now())`); err != nil {
		return nil, fmt.Errorf("creating %s: %w", versionTable, err)
	}
	var results []MigrationResult
	apply := func(kind string, t tableName, steps []migration) error {
		store := kind + ":" + t.String()
		var from int
		err := tx.QueryRow(ctx, "SELECT version FROM "+versionTable+" WHERE store = $1", store).Scan(&from)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		res := MigrationResult{Store: store, From: from, To: from}
		for _, m := range steps {
			if m.version <= from {
				continue
			}
			if _, err := tx.Exec(ctx, m.render(t, cfg.historyAttributesType())); err != nil {
				return fmt.Errorf("%s migration %d (%s): %w", store, m.version, m.description, err)
			}
			res.To = m.version
			res.Description = append(res.Description, m.description)
		}
		if res.To != from {
			if _, err := tx.Exec(ctx, `INSERT INTO `+versionTable+` (store, version) VALUES ($1, $2)
				ON CONFLICT (store) DO UPDATE SET version = excluded.version, updated_at = now()`, store, res.To); err != nil {
				return err
			}
		}
		results = append(results, res)
		return nil
	}
	if cfg.liveEnabled() {
		t, _ := parseTableName(cfg.liveTable())
		if err := apply("live", t, liveMigrations); err != nil {
			return nil, err
		}
	}
	if cfg.historyEnabled() {
		t, _ := parseTableName(cfg.historyTable())
		if err := apply("history", t, historyMigrations); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	if cfg.historyEnabled() {
		t, _ := parseTableName(cfg.historyTable())
		now := time.Now().UTC()
		months := []time.Time{monthStart(now)}
		for i := 1; i <= cfg.partitionsAhead(); i++ {
			months = append(months, monthStart(now).AddDate(0, i, 0))
		}
		if _, err := ensurePartitions(ctx, conn, t, months); err != nil {
			return results, err
		}
	}
	return results, nil
}

// liveColumns are radacct's columns that radrelay writes, in FreeRADIUS 3.2's order.
var liveColumns = []string{
	"acctsessionid", "acctuniqueid", "username", "realm", "nasipaddress", "nasportid",
	"nasporttype", "acctstarttime", "acctupdatetime", "acctstoptime", "acctinterval",
	"acctsessiontime", "acctauthentic", "connectinfo_start", "connectinfo_stop",
	"acctinputoctets", "acctoutputoctets", "calledstationid", "callingstationid",
	"acctterminatecause", "servicetype", "framedprotocol", "framedipaddress",
	"framedipv6address", "framedipv6prefix", "framedinterfaceid", "delegatedipv6prefix", "class",
}

// checkLiveTable verifies that an existing table (one FreeRADIUS created, or
// ours) has the columns and the unique key on acctuniqueid the sink relies on,
// so a mismatch is reported once at start, clearly, not per batch.
func checkLiveTable(ctx context.Context, conn *pgx.Conn, t tableName) error {
	schema := t.schema
	rows, err := conn.Query(ctx, `SELECT a.attname FROM pg_attribute a
		WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`, t.quoted())
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return err
		}
		have[n] = true
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(have) == 0 {
		return fmt.Errorf("table %s does not exist (schema %q); run \"radrelay sql init\" or set create_schema = true", t, schema)
	}
	var missing []string
	for _, c := range append([]string{"radacctid"}, liveColumns...) {
		if !have[c] {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("table %s lacks the FreeRADIUS 3.2 column(s) %s; run \"radrelay sql init\" to add them", t, strings.Join(missing, ", "))
	}
	var unique bool
	err = conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_index i
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
		WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indnkeyatts = 1
		AND i.indpred IS NULL AND a.attname = 'acctuniqueid')`, t.quoted()).Scan(&unique)
	if err != nil {
		return err
	}
	if !unique {
		return fmt.Errorf("table %s has no unique index on acctuniqueid (FreeRADIUS's schema has one); create it: CREATE UNIQUE INDEX ON %s (acctuniqueid)", t, t.quoted())
	}
	return nil
}

func monthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// partitionName is the monthly partition of table t holding month m.
func partitionName(t tableName, m time.Time) string {
	return fmt.Sprintf("%s_p%04d%02d", t.name, m.Year(), int(m.Month()))
}

// ensurePartitions creates the monthly partitions of t for months (first
// days, UTC) that do not exist yet, each in its own short transaction so
// that the data transactions never hold the parent's lock. It returns the
// names of the partitions it created.
func ensurePartitions(ctx context.Context, conn *pgx.Conn, t tableName, months []time.Time) ([]string, error) {
	var created []string
	for _, m := range months {
		name := partitionName(t, m)
		var exists, attached bool
		if err := conn.QueryRow(ctx, `SELECT p.oid IS NOT NULL, EXISTS (SELECT 1 FROM pg_inherits i
			WHERE i.inhrelid = p.oid AND i.inhparent = to_regclass($2))
			FROM (SELECT to_regclass($1) AS oid) p`, t.sibling(name), t.quoted()).Scan(&exists, &attached); err != nil {
			return created, err
		}
		if attached {
			continue
		}
		if exists {
			return created, &detachedPartitionError{table: t, partition: name, month: m}
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", schemaLockKey); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s PARTITION OF %s FOR VALUES FROM ('%s') TO ('%s')",
				t.sibling(name), t.quoted(), m.Format("2006-01-02 15:04:05+00"), m.AddDate(0, 1, 0).Format("2006-01-02 15:04:05+00")))
			return err
		})
		if err != nil {
			return created, fmt.Errorf("creating history partition %s: %w", name, err)
		}
		created = append(created, name)
	}
	return created, nil
}

// detachedPartitionError reports a table with the name of a history
// partition the sink needs that is not a partition of the history (most
// likely detached for archiving). The sink cannot create the month's
// partition under that name, and must not write into the archived table.
type detachedPartitionError struct {
	table     tableName
	partition string
	month     time.Time
}

func (e *detachedPartitionError) Error() string {
	return fmt.Sprintf("history partition %s for %s exists but is not attached to %s (detached for archiving?): "+
		"records of that month cannot be stored until you re-attach it (ALTER TABLE %s ATTACH PARTITION %s FOR VALUES FROM ('%s') TO ('%s')) "+
		"or rename or drop it so that the sink creates a new one",
		e.partition, e.month.Format("2006-01"), e.table, e.table.quoted(), e.table.sibling(e.partition),
		e.month.Format("2006-01-02 15:04:05+00"), e.month.AddDate(0, 1, 0).Format("2006-01-02 15:04:05+00"))
}

// DropHistoryBefore drops the monthly history partitions of cfg's history
// table that end on or before cutoff (whole months only: the month holding
// cutoff is kept) and returns their names. Dropping a partition is instant
// and frees its space at once, unlike DELETE.
func DropHistoryBefore(ctx context.Context, conn *pgx.Conn, cfg Config, cutoff time.Time) ([]string, error) {
	t, err := parseTableName(cfg.historyTable())
	if err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = to_regclass($1) ORDER BY 1`, t.quoted())
	if err != nil {
		return nil, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	pattern := regexp.MustCompile("^" + regexp.QuoteMeta(t.name) + `_p(\d{4})(\d{2})$`)
	var dropped []string
	for _, n := range names {
		m := pattern.FindStringSubmatch(n)
		if m == nil {
			continue
		}
		start, err := time.Parse("200601", m[1]+m[2])
		if err != nil {
			continue
		}
		if start.AddDate(0, 1, 0).After(cutoff) {
			continue
		}
		if _, err := conn.Exec(ctx, "DROP TABLE "+t.sibling(n)); err != nil {
			return dropped, fmt.Errorf("dropping %s: %w", n, err)
		}
		dropped = append(dropped, n)
	}
	return dropped, nil
}

// pgCode returns the SQLSTATE of err, or "".
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}
