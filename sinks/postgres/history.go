package postgres

import (
	"context"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// historyColumns are the history columns a record fills; id and
// inserted_at take their defaults.
var historyColumns = []string{"event_time", "fingerprint", "received_time",
	"status_type", "acctuniqueid", "acctsessionid", "username", "realm",
	"nasipaddress", "nasidentifier", "nasportid", "framedipaddress",
	"acctsessiontime", "acctinputoctets", "acctoutputoctets",
	"acctterminatecause", "attributes", "source_file", "source_line"}

// historyLockKeyspace is the first key of the advisory lock that
// serialises writers of one history table ("RRHI"), so that checking which
// records are already there and adding the others is atomic across
// radrelay instances.
const historyLockKeyspace = 0x52524849

// historyWriter appends records to the history table.
type historyWriter struct {
	table tableName
	// format is the historyFormat of the table, learnt at setup.
	format atomic.Int32
}

// insert appends those of accts (fingerprints unique within accts) that the
// history does not hold yet, and reports which ones were new: a record
// already there (a replay, or another radrelay instance's copy) is neither
// inserted nor applied again. New rows go in with one COPY straight into
// the partitioned table.
//
// With lookup false the lookup is skipped and every record is taken as new:
// the usual case when following a file, and 10-15 % faster. Should one be
// there after all, the COPY fails with a unique violation, returned as
// *duplicateError, and the caller retries the batch with lookup.
//
// Only a lookup takes the history's lock: without one, a record that
// another transaction (of this sink or another instance) copies at the same
// time makes one of the two COPYs fail with a unique violation, which is
// retried with lookup like any duplicate. So the sink's connections copy
// side by side.
func (w *historyWriter) insert(ctx context.Context, tx pgx.Tx, accts []*acct, lookup bool) ([]bool, error) {
	if lookup {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1::int, $2::int)",
			int32(historyLockKeyspace), lockKey(w.table.String())); err != nil {
			return nil, fmt.Errorf("locking the history: %w", err)
		}
	}
	fps := make([][]byte, len(accts))
	times := make([]time.Time, len(accts))
	for i, a := range accts {
		fps[i] = a.fingerprint[:]
		times[i] = time.Unix(a.event, 0).UTC()
	}
	isNew := make([]bool, len(accts))
	for i := range isNew {
		isNew[i] = true
	}
	if lookup {
		if err := w.markKnown(ctx, tx, fps, times, isNew); err != nil {
			return nil, err
		}
	}
	if historyFormat(w.format.Load()) != historyGeneric {
		if err := w.copyHistory(ctx, tx, accts, isNew); err != nil {
			return nil, w.copyError(err)
		}
		return isNew, nil
	}
	// Rows are built as COPY consumes them, so building the JSON of one
	// record overlaps with the server inserting the previous ones.
	next, n := 0, 0
	for _, ok := range isNew {
		if ok {
			n++
		}
	}
	if n == 0 {
		return isNew, nil
	}
	row := make([]any, len(historyColumns))
	src := pgx.CopyFromFunc(func() ([]any, error) {
		for next < len(accts) && !isNew[next] {
			next++
		}
		if next >= len(accts) {
			return nil, nil
		}
		i := next
		next++
		a := accts[i]
		var received *time.Time
		if a.received != 0 {
			received = epoch(a.received)
		}
		status := a.status.String()
		if a.status == statusOther {
			status = text(a.statusV)
		}
		var line *int32
		if a.rec.Line > 0 {
			n := int32(a.rec.Line)
			line = &n
		}
		row[0], row[1], row[2], row[3] = times[i], a.fingerprint[:], received, nullIf(status)
		row[4], row[5], row[6], row[7] = a.uniqueID, nullIf(a.sessionID), nullIf(a.userName), nullIf(a.realm)
		row[8], row[9], row[10], row[11] = inet(&a.nas), nullIf(a.nasIdentifier), nullIf(a.nasPortID), inet(a.framedIP)
		row[12], row[13], row[14], row[15] = a.sessionTime, a.inputOctets, a.outputOctets, nullIf(a.terminateCause)
		row[16], row[17], row[18] = attributesJSON(a), nullIf(text(a.rec.File)), line
		return row, nil
	})
	if _, err := tx.CopyFrom(ctx, w.table.identifier(), historyColumns, src); err != nil {
		return nil, w.copyError(err)
	}
	return isNew, nil
}

// copyError words an error of the history's COPY.
func (w *historyWriter) copyError(err error) error {
	if pgCode(err) == "23505" {
		// Held already (without lookup), or copied by a transaction that
		// did not take the lock meanwhile (with lookup): the fingerprints
		// of a batch are unique, so this is never the content of a record.
		return &duplicateError{err}
	}
	return fmt.Errorf("appending history: %w", err)
}

// markKnown clears isNew[i] for each record (fingerprint fps[i], event
// time times[i]) the history already holds.
func (w *historyWriter) markKnown(ctx context.Context, tx pgx.Tx, fps [][]byte, times []time.Time, isNew []bool) error {
	rs, err := tx.Query(ctx, `SELECT k.i FROM unnest($1::bytea[], $2::timestamptz[]) WITH ORDINALITY AS k(fp, et, i)
		WHERE EXISTS (SELECT 1 FROM `+w.table.quoted()+` h WHERE h.event_time = k.et AND h.fingerprint = k.fp)`, fps, times)
	if err != nil {
		return fmt.Errorf("looking up history: %w", err)
	}
	var seen int64
	_, err = pgx.ForEachRow(rs, []any{&seen}, func() error {
		if seen >= 1 && int(seen) <= len(isNew) {
			isNew[seen-1] = false
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("looking up history: %w", err)
	}
	return nil
}

// duplicateError reports that a batch copied without lookup held a record
// the history already has.
type duplicateError struct{ err error }

func (e *duplicateError) Error() string {
	return "history already holds a record of the batch: " + e.err.Error()
}
func (e *duplicateError) Unwrap() error { return e.err }

// inet converts a validated address or prefix text to what pgx encodes as
// inet; nil stays NULL.
func inet(s *string) any {
	if s == nil {
		return nil
	}
	if p, err := netip.ParsePrefix(*s); err == nil {
		return p
	}
	if a, err := netip.ParseAddr(*s); err == nil {
		return netip.PrefixFrom(a, a.BitLen())
	}
	return *s // cannot happen: parseRecord validated it
}
