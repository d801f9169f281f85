package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultRebootCause is the acctterminatecause of a session closed because
// its NAS rebooted without sending Accounting-On (detect_reboots).
const DefaultRebootCause = "NAS-Reboot"

// Reboot detection (detect_reboots = true).
//
// A NAS that reboots without sending Accounting-On leaves all its sessions
// open in radacct. The signal radrelay uses is the one a NAS cannot help
// giving: it numbers its sessions (Acct-Session-Id) from a counter that a
// reboot restarts, and it never gives two live sessions one
// Acct-Session-Id. So a Start whose Acct-Session-Id is that of a session of
// the same NAS that is still open, and whose last record is older than the
// Start, shows that the NAS lost its sessions in between: it rebooted at a
// time R after that session's last record L and at or before the Start.
// One exception: a session with nothing but its Start recorded, whose
// Acct-Unique-Session-Id (user, port and id) is the new Start's, is not a
// signal — a NAS sending a session's Start again looks the same.
//
// Every open session of that NAS that started at or before L started
// before R, so it died with the reboot: it is closed at its own last
// record (acctstoptime = its acctupdatetime, else its acctstarttime; not
// the Start's time), with the cause reboot_cause. A session that started
// after L is left open, because it may have started after the reboot (R
// is only known to lie between L and the Start): the next reboot signal or
// close_stale_every closes it if it is dead. So no session newer than the
// reboot is ever closed.
//
// Other signals were considered and not used: Event-Timestamp alone says
// nothing about the NAS's uptime (and a rebooted NAS's clock may be wrong
// until NTP answers, which only makes a Start look older: nothing is
// closed); RADIUS has no standard uptime attribute; an Interim whose
// Acct-Session-Time went backwards is also what a NAS bug or a counter
// reset of a live session gives.
//
// The check costs one index probe per Start (the partial index
// <table>_nas_session_open on (nasipaddress, acctsessionid) WHERE
// acctstoptime IS NULL, made at start when create_schema is on), and runs
// only when detect_reboots is on.

// notRepeatedStart is the SQL condition that the open row alias is not
// the session of the Start whose Acct-Unique-Session-Id is uid with
// nothing but its Start recorded: a NAS that sends a session's Start again
// (a new request, with a new Event-Timestamp) looks like that, and must
// not close the NAS's sessions. A reused id whose old session reported an
// interim, or that another user or port got, still counts.
func notRepeatedStart(alias, uid string) string {
	return `NOT (` + alias + `.acctuniqueid = ` + uid + ` AND coalesce(` + alias + `.acctupdatetime, ` + alias + `.acctstarttime) <= ` + alias + `.acctstarttime)`
}

// rebootIndexName is the index the collision probe uses.
func rebootIndexName(t tableName) string { return t.name + "_nas_session_open" }

// ensureRebootIndex creates the index the reboot probe uses, or reports
// that it is missing (when the schema is not ours to change).
func ensureRebootIndex(ctx context.Context, conn *pgx.Conn, t tableName, create bool) (missing bool, err error) {
	name := tableName{schema: t.schema, name: rebootIndexName(t)}
	if create {
		_, err := conn.Exec(ctx, `CREATE INDEX IF NOT EXISTS `+pgx.Identifier{rebootIndexName(t)}.Sanitize()+` ON `+t.quoted()+
			` (nasipaddress, acctsessionid) WHERE acctstoptime IS NULL`)
		if err != nil {
			return false, fmt.Errorf("creating index %s for detect_reboots: %w", name.quoted(), err)
		}
		return false, nil
	}
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", name.quoted()).Scan(&exists); err != nil {
		return false, err
	}
	return !exists, nil
}

// applySegment applies a run of Start/Interim/Stop records. With reboot
// detection on, it cuts the run before every Start that may show a reboot,
// so that the records before it are applied first and the sessions it
// closes are closed before the records after it: each session's records
// still apply in order.
func (w *liveWriter) applySegment(ctx context.Context, tx pgx.Tx, seg []*acct) error {
	if !w.detectReboots || len(seg) == 0 {
		return w.applySessions(ctx, tx, seg)
	}
	cuts, err := w.rebootCandidates(ctx, tx, seg)
	if err != nil {
		return err
	}
	prev := 0
	for _, c := range cuts {
		if err := w.applySessions(ctx, tx, seg[prev:c]); err != nil {
			return err
		}
		if err := w.closeRebooted(ctx, tx, seg[c]); err != nil {
			return err
		}
		prev = c
	}
	return w.applySessions(ctx, tx, seg[prev:])
}

// rebootCandidates returns, in order, the indexes of the Starts of seg that
// may show a reboot: their NAS has an open session with their
// Acct-Session-Id whose last record is older, in the table or earlier in
// seg. A candidate is checked again when it is reached (closeRebooted), so
// one that the records before it make moot (a Stop of the other session)
// closes nothing.
func (w *liveWriter) rebootCandidates(ctx context.Context, tx pgx.Tx, seg []*acct) ([]int, error) {
	type nasSession struct{ nas, sid string }
	openInSeg := map[nasSession]int64{} // opened (Start/Interim) earlier in seg, at this event
	cand := make([]bool, len(seg))
	var nases, sids, uids []string
	var events []int64
	var idx []int32
	for i, a := range seg {
		k := nasSession{a.nas, a.sessionID}
		switch a.status {
		case statusStart:
			if ev, ok := openInSeg[k]; ok && ev < a.event {
				cand[i] = true
			}
			nases, sids, uids = append(nases, a.nas), append(sids, a.sessionID), append(uids, a.uniqueID)
			events, idx = append(events, a.event), append(idx, int32(i))
			openInSeg[k] = a.event
		case statusInterim:
			openInSeg[k] = a.event
		case statusStop:
			delete(openInSeg, k)
		}
	}
	if len(idx) > 0 {
		// A LATERAL ... LIMIT 1 probe per Start: as "WHERE EXISTS" the
		// planner hashes every open session instead (on a radacct of 1M
		// rows with 50,000 open, 5,000 Starts took 211 ms that way and
		// 8.7 ms this way).
		rows, err := tx.Query(ctx, `SELECT s.i FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::int[]) AS s(nas, sid, uid, ev, i)
			CROSS JOIN LATERAL (SELECT 1 FROM `+w.table.quoted()+` r WHERE r.acctstoptime IS NULL
				AND r.nasipaddress = s.nas::inet AND r.acctsessionid = s.sid
				AND coalesce(r.acctupdatetime, r.acctstarttime) < to_timestamp(s.ev)
				AND `+notRepeatedStart("r", "s.uid")+` LIMIT 1) hit`,
			pgx.QueryExecModeCacheDescribe, nases, sids, uids, events, idx)
		if err != nil {
			return nil, fmt.Errorf("looking for NAS reboots: %w", err)
		}
		var i int32
		if _, err := pgx.ForEachRow(rows, []any{&i}, func() error {
			cand[i] = true
			return nil
		}); err != nil {
			return nil, fmt.Errorf("looking for NAS reboots: %w", err)
		}
	}
	var cuts []int
	for i, c := range cand {
		if c {
			cuts = append(cuts, i)
		}
	}
	return cuts, nil
}

// closeRebooted closes the sessions a reboot ended, if the Start a (not
// yet applied) shows one now: see the comment at the top of this file.
// The sessions are closed at their own last record. Running it again
// closes nothing more: the sessions it closed are no longer open, and the
// session a opens has a last record that is not older than a.
func (w *liveWriter) closeRebooted(ctx context.Context, tx pgx.Tx, a *acct) error {
	tag, err := tx.Exec(ctx, `WITH seen AS (
			SELECT max(coalesce(o.acctupdatetime, o.acctstarttime)) AS last FROM `+w.table.quoted()+` o
			WHERE o.acctstoptime IS NULL AND o.nasipaddress = $1::inet AND o.acctsessionid = $2
				AND coalesce(o.acctupdatetime, o.acctstarttime) < to_timestamp($3::bigint)
				AND `+notRepeatedStart("o", "$5")+`)
		UPDATE `+w.table.quoted()+` r SET
			acctstoptime = coalesce(r.acctupdatetime, r.acctstarttime),
			acctsessiontime = coalesce(r.acctsessiontime,
				round(EXTRACT(EPOCH FROM coalesce(r.acctupdatetime, r.acctstarttime) - r.acctstarttime))::bigint),
			acctterminatecause = $4
		FROM seen WHERE r.acctstoptime IS NULL AND r.nasipaddress = $1::inet AND r.acctstarttime <= seen.last`,
		a.nas, a.sessionID, a.event, w.rebootCause, a.uniqueID)
	if err != nil {
		return fmt.Errorf("closing the sessions of rebooted NAS %s: %w", a.nas, err)
	}
	if n := tag.RowsAffected(); n > 0 {
		if l, ok := ctx.Value(rebootLogKey{}).(*rebootLog); ok {
			l.events = append(l.events, rebootEvent{nas: a.nas, sessionID: a.sessionID, event: time.Unix(a.event, 0).UTC(), closed: n})
		}
	}
	return nil
}

// rebootEvent is one reboot closeRebooted acted on.
type rebootEvent struct {
	nas, sessionID string
	event          time.Time
	closed         int64
}

// rebootLog collects the reboots one transaction acted on, so that they
// are counted and logged only once it commits (a rolled-back transaction
// is retried and acts again). It travels in the transaction's context.
type rebootLog struct{ events []rebootEvent }

type rebootLogKey struct{}

// withRebootLog returns ctx carrying a fresh rebootLog (nil without reboot
// detection).
func (w *liveWriter) withRebootLog(ctx context.Context) (context.Context, *rebootLog) {
	if w == nil || !w.detectReboots {
		return ctx, nil
	}
	l := &rebootLog{}
	return context.WithValue(ctx, rebootLogKey{}, l), l
}

// noteReboots counts and logs the reboots of a committed transaction.
func (s *Sink) noteReboots(l *rebootLog) {
	if l == nil {
		return
	}
	for _, e := range l.events {
		s.rebootClosed.Add(e.closed)
		s.log.Warn("postgres sink: NAS rebooted without Accounting-On (a Start reused the Acct-Session-Id of an open session); closed its older sessions",
			"nas", e.nas, "acct_session_id", e.sessionID, "start_event_time", e.event, "closed", e.closed, "cause", s.cfg.rebootCause())
	}
}

// RebootClosed is how many sessions the sink has closed because their NAS
// rebooted without Accounting-On (detect_reboots).
func (s *Sink) RebootClosed() int64 { return s.rebootClosed.Load() }
