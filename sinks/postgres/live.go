package postgres

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// liveRow is one radacct row in memory: read from the table (id != 0) or
// about to be inserted. A nil pointer is SQL NULL.
type liveRow struct {
	id                                        int64
	sessionID, uniqueID                       string
	userName, realm                           *string
	nas                                       string
	nasPortID, nasPortType                    *string
	start, update, stop                       *time.Time
	interval, sessionTime                     *int64
	authentic, ciStart, ciStop                *string
	in, out                                   *int64
	called, calling, term, service, fproto    *string
	framedIP, framedIPv6, framedIPv6Prefix    *string
	framedInterfaceID, delegatedPrefix, class *string

	dirty bool
}

func str(s string) *string     { return &s }
func i64(n int64) *int64       { return &n }
func epoch(n int64) *time.Time { t := time.Unix(n, 0).UTC(); return &t }

// secondsSince is the bigint PostgreSQL stores for
// "epoch - EXTRACT(EPOCH FROM t)": a numeric rounded half away from zero;
// NULL when t is NULL.
func secondsSince(ts int64, t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	d := time.Unix(ts, 0).Sub(*t).Microseconds()
	var s int64
	if d >= 0 {
		s = (d + 500000) / 1000000
	} else {
		s = -((-d + 500000) / 1000000)
	}
	return &s
}

// nullIf is NULLIF(v, ”).
func nullIf(v string) *string {
	if v == "" {
		return nil
	}
	return &v
}

// newRow fills the columns every FreeRADIUS insert query sets the same way
// (column_list of queries.conf, values from the request).
//
// The row's text columns point into a (an acct is not changed once
// parsed, nor a row's values through their pointers): a string copied
// to the heap per column was a tenth of the sink's allocations.
func newRow(a *acct) *liveRow {
	return &liveRow{
		sessionID:         a.sessionID,
		uniqueID:          a.uniqueID,
		userName:          &a.userName,
		realm:             nullIfPtr(&a.realm),
		nas:               a.nas,
		nasPortID:         nullIfPtr(&a.nasPortID),
		nasPortType:       &a.nasPortType,
		authentic:         &a.authentic,
		ciStart:           &a.connectInfo,
		called:            &a.calledStation,
		calling:           &a.callingStation,
		service:           &a.serviceType,
		fproto:            &a.framedProtocol,
		framedIP:          a.framedIP,
		framedIPv6:        a.framedIPv6,
		framedIPv6Prefix:  a.framedIPv6Prefix,
		framedInterfaceID: a.framedInterfaceID,
		delegatedPrefix:   a.delegatedPrefix,
		class:             a.class,
		dirty:             true,
	}
}

// nullIfPtr is NULLIF(*v, ”), pointing at v.
func nullIfPtr(v *string) *string {
	if *v == "" {
		return nil
	}
	return v
}

// zeroCounter is the 0 of a new row's session time and octets (never
// written through).
var zeroCounter int64

// applyStart is the type.start queries: INSERT the open session; on a
// conflict with an open row set its start and update time and
// connectinfo_start; with a closed row, the fallback UPDATE does the same.
func applyStart(row *liveRow, a *acct) *liveRow {
	if row == nil {
		row = newRow(a)
		row.start, row.update = a.eventTime(), a.eventTime()
		row.sessionTime = &zeroCounter
		row.in, row.out = &zeroCounter, &zeroCounter
		return row
	}
	row.start, row.update = a.eventTime(), a.eventTime()
	row.ciStart = &a.connectInfo
	row.dirty = true
	return row
}

// applyInterim is the type.interim-update queries: UPDATE the open row;
// without one INSERT an open row (start = update = event time); a closed
// row is left alone (interim after stop) unless radrelay closed it as stale
// (its terminate cause is staleCause, "" for none): that one is reopened.
func applyInterim(row *liveRow, a *acct, staleCause string) *liveRow {
	if row == nil {
		row = newRow(a)
		row.start, row.update = a.eventTime(), a.eventTime()
		row.sessionTime = a.sessionTime
		row.in, row.out = &a.inputOctets, &a.outputOctets
		return row
	}
	reopened := false
	if row.stop != nil {
		if staleCause == "" || row.term == nil || *row.term != staleCause ||
			row.stop.Unix() >= a.event {
			// Interim after stop: FreeRADIUS does not reopen it. Nor is a
			// stale-closed session reopened by an interim no later than
			// the record it was closed at (a delayed duplicate of what
			// is known): only a later one shows it alive.
			return row
		}
		// radrelay closed it as stale, but the session is alive: reopen
		// it, as if it had never been closed.
		row.stop, row.term = nil, nil
		reopened = true
	}
	if row.update != nil && a.event < row.update.Unix() {
		// Older than a record already applied (out of order, e.g. from a
		// second FreeRADIUS server, or a late interim of an earlier
		// session that reused the id): the row already holds later
		// truth. Applying it would move the update and session times
		// back and make the counters look wrapped (+4 GiB). The history
		// keeps the record.
		return row
	}
	row.framedIP, row.framedIPv6, row.framedIPv6Prefix = a.framedIP, a.framedIPv6, a.framedIPv6Prefix
	row.framedInterfaceID, row.delegatedPrefix = a.framedInterfaceID, a.delegatedPrefix
	row.sessionTime = a.sessionTime
	last := row.update
	if last == nil {
		last = row.start
	}
	if !reopened || row.interval == nil || *row.interval <= 0 {
		// The time since the last record is the interim interval —
		// except across the silence that got a session closed as stale:
		// that gap would make the reopened session's staleness three
		// outages long, so it keeps the interval it had.
		row.interval = secondsSince(a.event, last)
	}
	row.update = a.eventTime()
	row.in, row.out = counterTotal(row.in, a.inputOctets, a.inputGigawords, false), counterTotal(row.out, a.outputOctets, a.outputGigawords, false)
	row.dirty = true
	return row
}

// applyStop is the type.stop queries: UPDATE the open row, else INSERT a
// closed row (start = event time - Acct-Session-Time), else (a closed row
// exists: a retransmitted stop) UPDATE it the same way as an open one.
func applyStop(row *liveRow, a *acct) *liveRow {
	if row == nil {
		row = newRow(a)
		var st int64
		if a.sessionTime != nil {
			st = *a.sessionTime
		}
		row.start = epoch(a.event - st)
		row.update, row.stop = a.eventTime(), a.eventTime()
		row.sessionTime = a.sessionTime
		row.in, row.out = &a.inputOctets, &a.outputOctets
		row.term = &a.terminateCause
		return row
	}
	if row.start != nil && a.event < row.start.Unix() {
		// The Stop ended before this row's session started: it is a late
		// Stop of an earlier session that the NAS gave the same
		// Acct-Unique-Session-Id (a reused id, renamed out of the way by
		// reusedSession). Applying it would close the live session with
		// a stop time before its start and the old session's counters.
		// The history keeps it.
		return row
	}
	older := row.update != nil && a.event < row.update.Unix() // out of order: not a wrap
	row.stop, row.update = a.eventTime(), a.eventTime()
	if a.sessionTime != nil {
		row.sessionTime = a.sessionTime
	} else {
		row.sessionTime = secondsSince(a.event, row.start)
	}
	row.in, row.out = counterTotal(row.in, a.inputOctets, a.inputGigawords, older), counterTotal(row.out, a.outputOctets, a.outputGigawords, older)
	row.term = &a.terminateCause
	row.framedIP, row.framedIPv6, row.framedIPv6Prefix = a.framedIP, a.framedIPv6, a.framedIPv6Prefix
	row.framedInterfaceID, row.delegatedPrefix = a.framedInterfaceID, a.delegatedPrefix
	row.ciStop = &a.connectInfo
	row.dirty = true
	return row
}

// counterTotal is a session's octet total after a record reporting got
// (gigawords applied), the row holding prev (nil: none yet). Totals never
// shrink, where FreeRADIUS's queries overwrite them with whatever arrives:
//
//   - a NAS that sends no Gigawords attribute has a 32-bit counter, so a
//     value below the previous one's low 32 bits is a wrap: the total goes
//     on from the next multiple of 2^32 (and a value within the same wrap
//     is added to the wraps already counted, so totals above 4 GiB survive
//     a NAS that never sends Gigawords);
//   - a 64-bit counter (Gigawords sent) that goes down was reset (a NAS
//     bug or restart): the total counted so far is kept;
//   - a record older than the row's last one (older: out of order) that
//     reports less is neither: the total counted so far is kept.
func counterTotal(prev *int64, got int64, gigawords, older bool) *int64 {
	const wrap = int64(1) << 32
	if prev == nil || got >= *prev {
		return i64(got)
	}
	if older {
		return i64(*prev)
	}
	if !gigawords && got < wrap {
		low := *prev & (wrap - 1)
		if got >= low {
			return i64(*prev - low + got)
		}
		return i64(*prev - low + wrap + got)
	}
	return i64(*prev)
}

// reusedSession reports whether a Start for a closed session is a new
// session that reuses its Acct-Session-Id (a NAS counting session ids
// from the same value after a reboot gives the same Acct-Unique-Session-Id):
// the Start is later than the old session's stop. Then it returns a copy
// of the old row to insert, renamed out of the way (its acctuniqueid gets
// "-" and its start time in Unix seconds; a new radacctid), and the Start
// makes the new session's row in its place; FreeRADIUS's
// queries would instead move the closed row's start time, merging two
// sessions into one. A Start at or before the stop (a late or replayed
// Start of the same session) is applied as FreeRADIUS does.
func reusedSession(row *liveRow, a *acct) *liveRow {
	if row == nil || row.stop == nil || a.event <= row.stop.Unix() {
		return nil
	}
	old := *row
	var start int64
	if old.start != nil {
		start = old.start.Unix()
	}
	old.uniqueID = old.uniqueID + "-" + strconv.FormatInt(start, 10)
	old.id = 0
	old.dirty = true
	return &old
}

// liveWriter applies records to the live-session table inside one transaction.
type liveWriter struct {
	table      tableName
	staleCause string // the cause CloseStale writes; such a row is reopened by an interim
	// detectReboots: a Start reusing the Acct-Session-Id of an open
	// session of its NAS closes the NAS's older sessions with rebootCause
	// (reboot.go).
	detectReboots bool
	rebootCause   string
}

// selectColumns reads a row; inet columns as text (value-preserving).
var selectColumns = func() string {
	cols := make([]string, 0, len(liveColumns)+1)
	cols = append(cols, "radacctid")
	for _, c := range liveColumns {
		switch c {
		case "nasipaddress", "framedipaddress", "framedipv6address", "framedipv6prefix", "delegatedipv6prefix":
			cols = append(cols, c+"::text")
		default:
			cols = append(cols, c)
		}
	}
	return strings.Join(cols, ", ")
}()

// lockKeyspace is the first key of the two-key advisory locks radrelay takes
// per session ("RRLS"), so two radrelay instances apply one session's
// records one after the other.
const lockKeyspace = 0x52524c53

// apply applies accts (in order) to the table within tx.
func (w *liveWriter) apply(ctx context.Context, tx pgx.Tx, accts []*acct) error {
	// Cut the batch at Accounting-On/Off, which act on all of a NAS's
	// sessions: each segment is applied set-based, then the bulk close runs.
	var seg []*acct
	for _, a := range accts {
		switch a.status {
		case statusStart, statusStop, statusInterim:
			seg = append(seg, a)
		case statusAccountingOn, statusAccountingOff:
			if err := w.applySegment(ctx, tx, seg); err != nil {
				return err
			}
			seg = seg[:0]
			if err := w.closeNAS(ctx, tx, a); err != nil {
				return err
			}
		}
	}
	return w.applySegment(ctx, tx, seg)
}

// closeNAS is the type.accounting-on/off query: close every open session of
// the NAS that started at or before the event. It uses the partial index on
// (nasipaddress, acctstarttime) WHERE acctstoptime IS NULL, so it touches
// only that NAS's open rows.
func (w *liveWriter) closeNAS(ctx context.Context, tx pgx.Tx, a *acct) error {
	cause := a.terminateCause
	if cause == "" {
		cause = "NAS-Reboot"
	}
	_, err := tx.Exec(ctx, `UPDATE `+w.table.quoted()+` SET
		acctstoptime = to_timestamp($1::bigint), acctupdatetime = to_timestamp($1::bigint),
		acctsessiontime = ($1::bigint - EXTRACT(EPOCH FROM acctstarttime)), acctterminatecause = $3
		WHERE acctstoptime IS NULL AND nasipaddress = $2::inet AND acctstarttime <= to_timestamp($1::bigint)`,
		a.event, a.nas, cause)
	if err != nil {
		return fmt.Errorf("%s for NAS %s: %w", a.status, a.nas, err)
	}
	return nil
}

// lockKey is the second key of a session's advisory lock: FNV-1a (32
// bits) of its Acct-Unique-Session-Id, computed in place (hash/fnv's
// Write wanted a copy of the string per call). Other radrelay instances
// lock the same sessions by it: it must not change.
func lockKey(uniqueID string) int32 {
	h := uint32(2166136261)
	for i := 0; i < len(uniqueID); i++ {
		h ^= uint32(uniqueID[i])
		h *= 16777619
	}
	return int32(h)
}

// applySessions applies Start/Interim/Stop records: it locks the sessions,
// reads their rows, replays FreeRADIUS's query chains on them in memory in
// record order (so several records of one session in a batch collapse into
// one final row), and writes the rows that changed.
func (w *liveWriter) applySessions(ctx context.Context, tx pgx.Tx, accts []*acct) error {
	if len(accts) == 0 {
		return nil
	}
	keySet := make(map[string]bool, len(accts))
	var keys []string
	lockSet := map[int32]bool{}
	var locks []int32
	for _, a := range accts {
		if !keySet[a.uniqueID] {
			keySet[a.uniqueID] = true
			keys = append(keys, a.uniqueID)
			if k := lockKey(a.uniqueID); !lockSet[k] {
				lockSet[k] = true
				locks = append(locks, k)
			}
		}
	}
	// Sorted, so two instances locking overlapping sets cannot deadlock.
	slices.Sort(locks)
	if _, err := tx.Exec(ctx, `SELECT count(pg_advisory_xact_lock($1::int, k))
		FROM (SELECT unnest($2::int[]) AS k ORDER BY 1) s`, int32(lockKeyspace), locks); err != nil {
		return fmt.Errorf("locking sessions: %w", err)
	}
	// An unnamed statement (QueryExecModeCacheDescribe), planned for the
	// keys at hand every time: as a named prepared statement PostgreSQL
	// switches to a generic plan after five executions, and for
	// "= ANY($1)" the generic plan estimates 10 keys and walks the unique
	// index once per key in index order, fetching heap pages at random.
	// With thousands of keys in a radacct of a million rows that took
	// 410 ms where the custom plan (a bitmap scan) took 77 ms.
	rows, err := tx.Query(ctx, `SELECT `+selectColumns+` FROM `+w.table.quoted()+
		` WHERE acctuniqueid = ANY($1) FOR UPDATE`, pgx.QueryExecModeCacheDescribe, keys)
	if err != nil {
		return fmt.Errorf("reading sessions: %w", err)
	}
	state := make(map[string]*liveRow, len(keys))
	for rows.Next() {
		r := &liveRow{}
		if err := rows.Scan(&r.id, &r.sessionID, &r.uniqueID, &r.userName, &r.realm, &r.nas,
			&r.nasPortID, &r.nasPortType, &r.start, &r.update, &r.stop, &r.interval,
			&r.sessionTime, &r.authentic, &r.ciStart, &r.ciStop, &r.in, &r.out,
			&r.called, &r.calling, &r.term, &r.service, &r.fproto, &r.framedIP,
			&r.framedIPv6, &r.framedIPv6Prefix, &r.framedInterfaceID, &r.delegatedPrefix, &r.class); err != nil {
			rows.Close()
			return fmt.Errorf("reading sessions: %w", err)
		}
		state[r.uniqueID] = r
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading sessions: %w", err)
	}
	var retired []*liveRow // rows of sessions whose Acct-Session-Id a NAS reused
	for _, a := range accts {
		row := state[a.uniqueID]
		switch a.status {
		case statusStart:
			if old := reusedSession(row, a); old != nil {
				// The new session takes the row (an update of it, so no
				// unique conflict whatever order the statements run in);
				// the old one is inserted under its new name.
				retired = append(retired, old)
				id := row.id
				row = applyStart(nil, a)
				row.id = id
				break
			}
			row = applyStart(row, a)
		case statusInterim:
			row = applyInterim(row, a, w.staleCause)
		case statusStop:
			row = applyStop(row, a)
		}
		state[a.uniqueID] = row
	}
	// Every changed row goes to the staging table in one binary COPY
	// (retired rows and new ones with a NULL radacctid), and one
	// round trip of three statements moves them into the table.
	var stage []*liveRow
	updates, inserts := 0, 0
	for _, r := range retired {
		stage = append(stage, r)
		inserts++
	}
	for _, k := range keys {
		r := state[k]
		if r == nil || !r.dirty {
			continue
		}
		stage = append(stage, r)
		if r.id != 0 {
			updates++
		} else {
			inserts++
		}
	}
	if len(stage) == 0 {
		return nil
	}
	bp := stageBuffers.Get().(*[]byte)
	defer stageBuffers.Put(bp)
	buf := append((*bp)[:0], copyHeader...)
	for _, r := range stage {
		buf = r.appendStageTuple(buf)
	}
	buf = append(buf, 0xff, 0xff)
	*bp = buf
	if _, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(buf), stageCopySQL); err != nil {
		return fmt.Errorf("staging sessions: %w", err)
	}
	var stmts []string
	if updates > 0 {
		// The staging table is never analyzed, and holds the new rows too:
		// with a few thousand rows in it the planner picks a hash join
		// over a sequential scan of the whole radacct (measured: PostgreSQL's
		// CPU for a replay up 15-25 %, growing with the table), where
		// looking each row up by radacctid is what it should do.
		stmts = append(stmts, "SET LOCAL enable_hashjoin = off", "SET LOCAL enable_mergejoin = off",
			w.updateSQL(), "RESET enable_hashjoin", "RESET enable_mergejoin")
	}
	if inserts > 0 {
		stmts = append(stmts, w.insertSQL())
	}
	stmts = append(stmts, "TRUNCATE "+liveStage)
	// No arguments: pgx sends them as one simple query, one round trip.
	if _, err := tx.Exec(ctx, strings.Join(stmts, ";\n")); err != nil {
		return fmt.Errorf("writing sessions: %w", err)
	}
	return nil
}

// stageBuffers are the buffers the staging COPY is encoded in, kept from one
// transaction to the next (a megabyte grown from nothing per transaction
// was a tenth of the sink's allocations).
var stageBuffers = sync.Pool{New: func() any { return new([]byte) }}

// updateSQL updates the rows staged with a radacctid.
func (w *liveWriter) updateSQL() string {
	set := make([]string, len(liveColumns))
	for i, c := range liveColumns {
		set[i] = c + " = " + stageExpr("s", c)
	}
	return `UPDATE ` + w.table.quoted() + ` r SET ` + strings.Join(set, ", ") +
		` FROM ` + liveStage + ` s WHERE r.radacctid = s.radacctid`
}

// insertSQL inserts the rows staged without a radacctid. A conflict means
// another writer (FreeRADIUS itself, say) inserted the session after we
// looked: our row, computed from the records in order, wins.
func (w *liveWriter) insertSQL() string {
	exprs := make([]string, len(liveColumns))
	set := make([]string, len(liveColumns))
	for i, c := range liveColumns {
		exprs[i] = stageExpr("s", c)
		set[i] = c + " = excluded." + c
	}
	return `INSERT INTO ` + w.table.quoted() + ` (` + strings.Join(liveColumns, ", ") + `) SELECT ` +
		strings.Join(exprs, ", ") + ` FROM ` + liveStage + ` s WHERE s.radacctid IS NULL ON CONFLICT (acctuniqueid) DO UPDATE SET ` + strings.Join(set, ", ")
}

// stageCopySQL copies rows into the staging table (appendStageTuple's format).
var stageCopySQL = "COPY " + liveStage + " (radacctid, " + strings.Join(liveColumns, ", ") + ") FROM STDIN (FORMAT binary)"

// appendStageTuple appends r as a binary COPY tuple of the staging table
// (liveStageDDL, whose types radrelay owns): radacctid (NULL for a new
// row), then liveColumns.
func (r *liveRow) appendStageTuple(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(1+len(liveColumns)))
	if r.id != 0 {
		b = appendInt8(b, r.id)
	} else {
		b = appendNull(b)
	}
	b = appendText(b, r.sessionID)
	b = appendText(b, r.uniqueID)
	b = appendTextPtr(b, r.userName)
	b = appendTextPtr(b, r.realm)
	b = appendText(b, r.nas)
	b = appendTextPtr(b, r.nasPortID)
	b = appendTextPtr(b, r.nasPortType)
	b = appendTimePtr(b, r.start)
	b = appendTimePtr(b, r.update)
	b = appendTimePtr(b, r.stop)
	b = appendInt8Ptr(b, r.interval)
	b = appendInt8Ptr(b, r.sessionTime)
	b = appendTextPtr(b, r.authentic)
	b = appendTextPtr(b, r.ciStart)
	b = appendTextPtr(b, r.ciStop)
	b = appendInt8Ptr(b, r.in)
	b = appendInt8Ptr(b, r.out)
	b = appendTextPtr(b, r.called)
	b = appendTextPtr(b, r.calling)
	b = appendTextPtr(b, r.term)
	b = appendTextPtr(b, r.service)
	b = appendTextPtr(b, r.fproto)
	b = appendTextPtr(b, r.framedIP)
	b = appendTextPtr(b, r.framedIPv6)
	b = appendTextPtr(b, r.framedIPv6Prefix)
	b = appendTextPtr(b, r.framedInterfaceID)
	b = appendTextPtr(b, r.delegatedPrefix)
	return appendTextPtr(b, r.class)
}

func appendTextPtr(b []byte, v *string) []byte {
	if v == nil {
		return appendNull(b)
	}
	return appendText(b, *v)
}

func appendInt8Ptr(b []byte, v *int64) []byte {
	if v == nil {
		return appendNull(b)
	}
	return appendInt8(b, *v)
}

// appendTimePtr appends t as a timestamptz (microseconds since 2000-01-01
// UTC); nil is NULL.
func appendTimePtr(b []byte, t *time.Time) []byte {
	if t == nil {
		return appendNull(b)
	}
	return appendInt8(b, t.UnixMicro()-pgEpoch*1000000)
}

// stageExpr reads column c of the staging table, cast to radacct's type.
func stageExpr(alias, c string) string {
	switch c {
	case "nasipaddress", "framedipaddress", "framedipv6address", "framedipv6prefix", "delegatedipv6prefix":
		return alias + "." + c + "::inet"
	}
	return alias + "." + c
}

// liveStage is the per-connection staging table for radacct rows.
const liveStage = "radrelay_live_stage"

// liveStageDDL creates it; inet columns are text and cast on the way in, so
// a bad address is reported by the statement (and bisected to its record).
const liveStageDDL = `CREATE TEMP TABLE IF NOT EXISTS ` + liveStage + ` (
	radacctid bigint, acctsessionid text, acctuniqueid text, username text, realm text,
	nasipaddress text, nasportid text, nasporttype text, acctstarttime timestamptz,
	acctupdatetime timestamptz, acctstoptime timestamptz, acctinterval bigint,
	acctsessiontime bigint, acctauthentic text, connectinfo_start text, connectinfo_stop text,
	acctinputoctets bigint, acctoutputoctets bigint, calledstationid text, callingstationid text,
	acctterminatecause text, servicetype text, framedprotocol text, framedipaddress text,
	framedipv6address text, framedipv6prefix text, framedinterfaceid text,
	delegatedipv6prefix text, class text)`
