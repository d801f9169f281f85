package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Defaults of stale-session reconciliation.
const (
	// DefaultStaleCause is the acctterminatecause of a session closed as stale.
	DefaultStaleCause = "Stale-Session"
	// DefaultStaleAfter is how long a session without a known interim
	// interval may go without a record before it is stale.
	DefaultStaleAfter = 2 * time.Hour
	// staleBatch is how many sessions one statement closes.
	staleBatch = 1000
)

// StaleOptions tune CloseStale.
type StaleOptions struct {
	// After is how long a session whose interim interval is unknown may go
	// without a record (default DefaultStaleAfter). A session whose rows show
	// an interim interval (acctinterval, the time between its last two
	// records) is stale after three of them.
	After time.Duration
	// Cause is the acctterminatecause written (default DefaultStaleCause).
	Cause string
	// DryRun lists the stale sessions without closing them.
	DryRun bool
	// Now is the time staleness is measured against; zero means the
	// database's clock (now()).
	Now time.Time
}

func (o StaleOptions) after() time.Duration {
	if o.After <= 0 {
		return DefaultStaleAfter
	}
	return o.After
}

func (o StaleOptions) cause() string {
	if o.Cause == "" {
		return DefaultStaleCause
	}
	return o.Cause
}

// StaleSession is a session CloseStale closed (or, with DryRun, would close).
type StaleSession struct {
	UniqueID, SessionID, UserName, NAS string
	// LastUpdate is the time of its last record: its acctupdatetime, else
	// its acctstarttime. A closed session's acctstoptime is this time, not
	// the time it was closed.
	LastUpdate time.Time
}

// minInterimInterval is the shortest interim interval staleness assumes
// (RFC 2869 5.16: Acct-Interim-Interval SHOULD NOT be smaller than 60): two
// records a few seconds apart (an interim the NAS sent on an address
// change, say) do not make a 15-second staleness.
const minInterimInterval = "60"

// staleCondition selects the open rows of radacct (alias r) that are stale
// at $1 (a timestamptz) with fallback $2 (seconds).
const staleCondition = `r.acctstoptime IS NULL AND coalesce(r.acctupdatetime, r.acctstarttime) <
	$1::timestamptz - CASE WHEN r.acctinterval > 0 THEN greatest(r.acctinterval, ` + minInterimInterval + `) * 3 ELSE $2::bigint END * interval '1 second'`

// CloseStale closes the live sessions that have had no record for too
// long — the NAS crashed or lost its route to the RADIUS server, and the
// Stop never came: acctstoptime becomes the time of the session's last
// record (not now), acctterminatecause the configured cause, and
// acctsessiontime stays what the NAS last reported (or, without one, the
// time from start to last record). It works in statements of 1,000
// sessions, each its own transaction, and skips rows another writer holds
// (FOR UPDATE SKIP LOCKED), so several radrelay instances may run it on one
// database at once, and running it again closes nothing more. A record that
// arrives later for a session closed this way puts the row back to the
// truth (see applyInterim and applyStop).
//
// With DryRun nothing is changed and every stale session is returned.
func CloseStale(ctx context.Context, conn *pgx.Conn, cfg Config, opt StaleOptions) ([]StaleSession, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if !cfg.liveEnabled() {
		return nil, fmt.Errorf("postgres sink: closing stale sessions needs the live-session table (live_sessions = true)")
	}
	table, _ := parseTableName(cfg.liveTable())
	var now any = opt.Now
	if opt.Now.IsZero() {
		now = "now"
	}
	fallback := int64(opt.after() / time.Second)
	scan := func(rows pgx.Rows) ([]StaleSession, error) {
		var out []StaleSession
		var s StaleSession
		var user *string
		_, err := pgx.ForEachRow(rows, []any{&s.UniqueID, &s.SessionID, &user, &s.NAS, &s.LastUpdate}, func() error {
			s.UserName = ""
			if user != nil {
				s.UserName = *user
			}
			out = append(out, s)
			return nil
		})
		return out, err
	}
	if opt.DryRun {
		rows, err := conn.Query(ctx, `SELECT r.acctuniqueid, r.acctsessionid, r.username, host(r.nasipaddress),
			coalesce(r.acctupdatetime, r.acctstarttime) FROM `+table.quoted()+` r WHERE `+staleCondition+` ORDER BY r.radacctid`, now, fallback)
		if err != nil {
			return nil, fmt.Errorf("finding stale sessions: %w", err)
		}
		out, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("finding stale sessions: %w", err)
		}
		return out, nil
	}
	var closed []StaleSession
	for {
		rows, err := conn.Query(ctx, `WITH stale AS (
			SELECT r.radacctid FROM `+table.quoted()+` r WHERE `+staleCondition+`
			ORDER BY r.radacctid LIMIT $4 FOR UPDATE SKIP LOCKED)
		UPDATE `+table.quoted()+` r SET
			acctstoptime = coalesce(r.acctupdatetime, r.acctstarttime),
			acctsessiontime = coalesce(r.acctsessiontime,
				round(EXTRACT(EPOCH FROM coalesce(r.acctupdatetime, r.acctstarttime) - r.acctstarttime))::bigint),
			acctterminatecause = $3
		FROM stale WHERE r.radacctid = stale.radacctid
		RETURNING r.acctuniqueid, r.acctsessionid, r.username, host(r.nasipaddress), r.acctstoptime`,
			now, fallback, opt.cause(), staleBatch)
		if err != nil {
			return closed, fmt.Errorf("closing stale sessions: %w", err)
		}
		got, err := scan(rows)
		closed = append(closed, got...)
		if err != nil {
			return closed, fmt.Errorf("closing stale sessions: %w", err)
		}
		if len(got) < staleBatch {
			return closed, nil
		}
	}
}

// NASSessions is what SessionStatus reports for one NAS.
type NASSessions struct {
	NAS string
	// Open is the number of open sessions, Stale how many of them are
	// stale now (what CloseStale would close).
	Open, Stale int64
	// OldestRecord is the time of the oldest last record among them.
	OldestRecord time.Time
}

// SessionStatus reports the open sessions of each NAS (how many, how many
// are stale by opt's rule, the oldest last record) and how many sessions
// of the table were closed as stale (acctterminatecause = opt's cause).
// It reads the open rows through the open-session partial index.
func SessionStatus(ctx context.Context, conn *pgx.Conn, cfg Config, opt StaleOptions) ([]NASSessions, int64, error) {
	if err := cfg.validate(); err != nil {
		return nil, 0, err
	}
	table, _ := parseTableName(cfg.liveTable())
	var now any = opt.Now
	if opt.Now.IsZero() {
		now = "now"
	}
	rows, err := conn.Query(ctx, `SELECT host(r.nasipaddress), count(*), count(*) FILTER (WHERE `+staleCondition+`),
		min(coalesce(r.acctupdatetime, r.acctstarttime))
		FROM `+table.quoted()+` r WHERE r.acctstoptime IS NULL GROUP BY r.nasipaddress ORDER BY r.nasipaddress`,
		now, int64(opt.after()/time.Second))
	if err != nil {
		return nil, 0, fmt.Errorf("counting open sessions: %w", err)
	}
	var out []NASSessions
	var n NASSessions
	var oldest *time.Time
	if _, err := pgx.ForEachRow(rows, []any{&n.NAS, &n.Open, &n.Stale, &oldest}, func() error {
		n.OldestRecord = time.Time{}
		if oldest != nil {
			n.OldestRecord = *oldest
		}
		out = append(out, n)
		return nil
	}); err != nil {
		return nil, 0, fmt.Errorf("counting open sessions: %w", err)
	}
	var closed int64
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+table.quoted()+` WHERE acctterminatecause = $1`, opt.cause()).Scan(&closed); err != nil {
		return out, 0, fmt.Errorf("counting sessions closed as stale: %w", err)
	}
	return out, closed, nil
}
