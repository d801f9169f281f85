package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultOpenSessionsEvery is how often the sink counts open sessions per
// NAS by default.
const DefaultOpenSessionsEvery = time.Minute

// maxNASCounted bounds the NASes whose open sessions are reported (the
// ones with the most), so that a table with garbage NAS addresses cannot
// make unbounded metric series.
const maxNASCounted = 1000

// NASOpen is the number of open sessions of one NAS.
type NASOpen struct {
	NAS  string
	Open int64
}

// SessionStats is what the sink reports about the sessions of its
// live-session table, for metrics and "radrelay status".
type SessionStats struct {
	// OpenByNAS is the number of open sessions per NAS as of CountedAt
	// (at most 1,000 NASes, those with the most), by NAS address.
	OpenByNAS []NASOpen
	// CountedAt is when OpenByNAS was counted (zero: not yet).
	CountedAt time.Time
	// CountError is why the last count failed ("" when it did not); the
	// previous count is kept.
	CountError string
	// StaleClosed and RebootClosed are the sessions this sink closed as
	// stale (close_stale_every) and by reboot detection (detect_reboots)
	// since it started.
	StaleClosed, RebootClosed int64
}

// SessionStats returns the latest count of open sessions and the sink's
// counters of sessions it closed. It does not query the database.
func (s *Sink) SessionStats() SessionStats {
	st := s.openSessions.get()
	st.StaleClosed, st.RebootClosed = s.StaleClosed(), s.RebootClosed()
	return st
}

// CountOpenSessions counts the open sessions of each NAS in the
// live-session table, the NASes with the most first (at most 1,000). It
// reads only open rows, through the partial index on (nasipaddress,
// acctstarttime) WHERE acctstoptime IS NULL that FreeRADIUS's schema and
// radrelay's make for Accounting-On: its cost grows with the open sessions,
// not with the closed ones that make most of radacct.
func CountOpenSessions(ctx context.Context, conn *pgx.Conn, cfg Config) ([]NASOpen, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	table, _ := parseTableName(cfg.liveTable())
	rows, err := conn.Query(ctx, countOpenSQL(table))
	if err != nil {
		return nil, fmt.Errorf("counting open sessions: %w", err)
	}
	var out []NASOpen
	var n NASOpen
	if _, err := pgx.ForEachRow(rows, []any{&n.NAS, &n.Open}, func() error {
		out = append(out, n)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("counting open sessions: %w", err)
	}
	return out, nil
}

func countOpenSQL(t tableName) string {
	return fmt.Sprintf(`SELECT host(nasipaddress), count(*) FROM %s WHERE acctstoptime IS NULL
		GROUP BY nasipaddress ORDER BY count(*) DESC, nasipaddress LIMIT %d`, t.quoted(), maxNASCounted)
}

var errNotReady = errors.New("the schema is not checked yet (database unreachable since start)")

// openSessionsGauge counts open sessions per NAS every open_sessions_every
// in the background, so that a metrics scrape or the status file never
// waits for the database.
type openSessionsGauge struct {
	mu   sync.Mutex
	last SessionStats

	stopCh, done chan struct{}
}

func (g *openSessionsGauge) get() SessionStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.last
	st.OpenByNAS = append([]NASOpen(nil), g.last.OpenByNAS...)
	return st
}

// start counts at once (the sink is new) and then every open_sessions_every.
func (g *openSessionsGauge) start(s *Sink) {
	g.stopCh, g.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(g.done)
		t := time.NewTicker(s.cfg.openSessionsEvery())
		defer t.Stop()
		for {
			g.refresh(s)
			select {
			case <-g.stopCh:
				return
			case <-t.C:
			}
		}
	}()
}

func (g *openSessionsGauge) stop() {
	if g.stopCh != nil {
		close(g.stopCh)
		<-g.done
	}
}

// refresh counts once, bounded by statement_timeout (and cut short by stop).
func (g *openSessionsGauge) refresh(s *Sink) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.statementTimeout())
	defer cancel()
	go func() {
		select {
		case <-g.stopCh:
			cancel()
		case <-ctx.Done():
		}
	}()
	counts, err := s.countOpenSessions(ctx)
	g.mu.Lock()
	defer g.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil || g.last.CountError == "" {
			g.last.CountError = err.Error()
		}
		return
	}
	g.last.OpenByNAS, g.last.CountedAt, g.last.CountError = counts, time.Now(), ""
}

func (s *Sink) countOpenSessions(ctx context.Context) ([]NASOpen, error) {
	// The schema is the writer's to check or create (setup): until it
	// has, there is nothing to count.
	s.mu.Lock()
	ready := s.ready
	s.mu.Unlock()
	if !ready {
		return nil, errNotReady
	}
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Release()
	return CountOpenSessions(ctx, c.Conn(), s.cfg)
}

// ClosedByCause counts the sessions of the live-session table whose
// acctterminatecause is cause. It reads the whole table (there is no index
// on the cause): for "radrelay sql status", not for a periodic metric.
func ClosedByCause(ctx context.Context, conn *pgx.Conn, cfg Config, cause string) (int64, error) {
	if err := cfg.validate(); err != nil {
		return 0, err
	}
	table, _ := parseTableName(cfg.liveTable())
	var n int64
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+table.quoted()+` WHERE acctterminatecause = $1`, cause).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting sessions closed with cause %s: %w", cause, err)
	}
	return n, nil
}
