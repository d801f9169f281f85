package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks"
)

// Sink writes accounting records to PostgreSQL. It is safe to run several
// Sinks (in one process or in several radrelay instances) against one
// database: sessions are locked while they are updated, and the history
// recognises records it already holds.
type Sink struct {
	cfg     Config
	log     *slog.Logger
	pool    *pgxpool.Pool
	live    *liveWriter
	history *historyWriter
	target  string // redacted DSN, for messages

	mu     sync.Mutex
	ready  bool               // schema checked/created
	months map[time.Time]bool // history partitions known to exist
	closed bool
	// lookupBatches > 0: check the next batches against the history
	// before copying them (replayed records were seen recently).
	lookupBatches int
	// foreignZoneOnce logs once that Event-Timestamps are in a zone this
	// machine does not know.
	foreignZoneOnce sync.Once

	// stopStale stops closeStaleLoop (nil when it does not run), which
	// closes staleDone when it has.
	stopStale, staleDone chan struct{}
	staleClosed          atomic.Int64
	rebootClosed         atomic.Int64
	// splitBatches counts the batches written over several connections.
	splitBatches atomic.Int64

	// openSessions is the per-NAS count of open sessions, refreshed every
	// open_sessions_every (sessions.go).
	openSessions openSessionsGauge
}

var _ sinks.Sink = (*Sink)(nil)

// New opens the sink. It creates or checks the schema when the database is
// reachable; when it is not (the database is down at start), New still
// succeeds, logs a warning, and the first Send retries the setup, so
// radrelay waits for the database instead of giving up. Configuration
// mistakes (both stores off, bad table names, a DSN that does not parse, a
// radacct without FreeRADIUS 3.2's columns) are returned as errors.
func New(ctx context.Context, cfg Config, logger *slog.Logger) (*Sink, error) {
	return newSink(ctx, cfg, logger)
}

func newSink(ctx context.Context, cfg Config, logger *slog.Logger) (*Sink, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("postgres sink: %w", err)
	}
	dsn, err := cfg.ResolveDSN()
	if err != nil {
		return nil, err
	}
	pcfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, errDSNSyntax
	}
	if pcfg.ConnConfig.RuntimeParams == nil {
		pcfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	pcfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(cfg.statementTimeout().Milliseconds(), 10)
	if _, ok := pcfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		pcfg.ConnConfig.RuntimeParams["application_name"] = "radrelay"
	}
	if pcfg.ConnConfig.ConnectTimeout == 0 || pcfg.ConnConfig.ConnectTimeout > cfg.connectTimeout() {
		pcfg.ConnConfig.ConnectTimeout = cfg.connectTimeout()
	}
	// One connection per writer, and one for closing stale sessions.
	pcfg.MaxConns = int32(cfg.connections() + 1)
	pcfg.MinConns = 0
	if cfg.liveEnabled() {
		// The staging table of the live writer; a history-only sink
		// needs none (nor the TEMP privilege).
		pcfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
			_, err := c.Exec(ctx, liveStageDDL)
			return err
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("postgres sink: %s: %s", RedactDSN(dsn), redactError(err, dsn))
	}
	s := &Sink{cfg: cfg, log: logger, pool: pool, target: RedactDSN(dsn), months: map[time.Time]bool{}}
	if cfg.liveEnabled() {
		t, _ := parseTableName(cfg.liveTable())
		s.live = &liveWriter{table: t, staleCause: cfg.staleCause(), detectReboots: cfg.DetectReboots, rebootCause: cfg.rebootCause()}
	}
	if cfg.historyEnabled() {
		t, _ := parseTableName(cfg.historyTable())
		s.history = &historyWriter{table: t}
	}
	if err := s.setup(ctx); err != nil {
		if !retryable(err) {
			pool.Close()
			return nil, err
		}
		logger.Warn("postgres sink: database not ready; will retry when records arrive",
			"target", s.target, "error", err)
	}
	if cfg.CloseStaleEvery > 0 && s.live != nil {
		s.stopStale = make(chan struct{})
		s.staleDone = make(chan struct{})
		go s.closeStaleLoop()
	}
	if s.live != nil {
		s.openSessions.start(s)
	}
	return s, nil
}

// closeStaleLoop closes stale sessions every close_stale_every until Close.
func (s *Sink) closeStaleLoop() {
	defer close(s.staleDone)
	t := time.NewTicker(s.cfg.CloseStaleEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stopStale:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.statementTimeout())
		n, err := s.CloseStale(ctx)
		cancel()
		switch {
		case err != nil:
			s.log.Warn("postgres sink: closing stale sessions (will try again)", "target", s.target, "closed", n, "error", err)
		case n > 0:
			s.log.Info("postgres sink: closed stale sessions", "target", s.target, "closed", n,
				"stale_after", s.cfg.staleAfter(), "cause", s.cfg.staleCause())
		}
	}
}

// CloseStale closes the stale sessions of the sink's live-session table
// once (see the package function CloseStale) and returns how many it
// closed.
func (s *Sink) CloseStale(ctx context.Context) (int, error) {
	if err := s.setup(ctx); err != nil {
		return 0, err
	}
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer c.Release()
	closed, err := CloseStale(ctx, c.Conn(), s.cfg, StaleOptions{After: s.cfg.staleAfter(), Cause: s.cfg.staleCause()})
	s.staleClosed.Add(int64(len(closed)))
	return len(closed), err
}

// StaleClosed is how many sessions the sink has closed as stale.
func (s *Sink) StaleClosed() int64 { return s.staleClosed.Load() }

// setup creates or checks the schema once.
func (s *Sink) setup(ctx context.Context) error {
	s.mu.Lock()
	ready := s.ready
	s.mu.Unlock()
	if ready {
		return nil
	}
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", s.target, err)
	}
	defer c.Release()
	if s.cfg.createSchema() {
		res, err := Migrate(ctx, c.Conn(), s.cfg)
		if err != nil {
			return fmt.Errorf("postgres sink: creating the schema on %s: %w", s.target, err)
		}
		for _, r := range res {
			if r.To != r.From {
				s.log.Info("postgres sink: schema upgraded", "store", r.Store, "from", r.From, "to", r.To, "steps", strings.Join(r.Description, "; "))
			}
		}
	}
	if s.live != nil {
		if err := checkLiveTable(ctx, c.Conn(), s.live.table); err != nil {
			return fmt.Errorf("postgres sink on %s: %w", s.target, err)
		}
		if s.live.detectReboots {
			missing, err := ensureRebootIndex(ctx, c.Conn(), s.live.table, s.cfg.createSchema())
			if err != nil {
				return fmt.Errorf("postgres sink on %s: %w", s.target, err)
			}
			if missing {
				s.log.Warn("postgres sink: detect_reboots probes open sessions by NAS and Acct-Session-Id; without this index each Start scans its NAS's open sessions",
					"create", "CREATE INDEX "+rebootIndexName(s.live.table)+" ON "+s.live.table.quoted()+" (nasipaddress, acctsessionid) WHERE acctstoptime IS NULL")
			}
		}
	}
	if s.history != nil {
		var exists bool
		if err := c.Conn().QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", s.history.table.quoted()).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return fmt.Errorf("postgres sink on %s: history table %s does not exist; run \"radrelay sql init\" or set create_schema = true", s.target, s.history.table)
		}
		format, err := historyFormatOf(ctx, c.Conn(), s.history.table)
		if err != nil {
			return err
		}
		s.history.format.Store(int32(format))
		if have := format.attributesType(); s.cfg.HistoryAttributesType != "" && have != "" && have != s.cfg.historyAttributesType() {
			// history_attributes_type only applies when the table is
			// created; say so rather than let a user believe it took.
			s.log.Warn("postgres sink: history_attributes_type applies when the history table is created; the existing table keeps its type (the sink writes either)",
				"table", s.history.table.String(), "attributes", have, "history_attributes_type", s.cfg.historyAttributesType(),
				"to change it", "ALTER TABLE "+s.history.table.quoted()+" ALTER attributes TYPE "+s.cfg.historyAttributesType()+" USING attributes::"+s.cfg.historyAttributesType()+" (rewrites every partition)")
		}
	}
	s.mu.Lock()
	s.ready = true
	s.mu.Unlock()
	s.log.Info("postgres sink ready", "target", s.target,
		"live_sessions", s.cfg.liveEnabled(), "live_table", s.cfg.liveTable(),
		"history", s.cfg.historyEnabled(), "history_table", s.cfg.historyTable())
	return nil
}

// Send implements sinks.Sink. Records are written in transactions of at most
// batch_size records, in order. A record whose content the database (or
// the sink) rejects gets a permanent error naming file, line and reason;
// the rest of its batch is written. A database that is down, restarting,
// out of disk or timing out gives every record not yet written a plain
// (retryable) error, and Send stops there so that order is kept.
func (s *Sink) Send(ctx context.Context, recs []*detail.Record, results []error) {
	if len(recs) == 0 {
		return
	}
	if err := ctx.Err(); err != nil {
		fill(results, err)
		return
	}
	if err := s.setup(ctx); err != nil {
		if !retryable(err) && ctx.Err() == nil {
			// A schema problem: nothing can be written, but retrying after
			// an operator fixes it is the right thing, not quarantining.
			s.log.Error("postgres sink: cannot write", "error", err)
		}
		fill(results, err)
		return
	}
	bs := s.cfg.batchSize()
	for lo := 0; lo < len(recs); lo += bs {
		hi := min(lo+bs, len(recs))
		if err := s.sendChunk(ctx, recs[lo:hi], results[lo:hi]); err != nil {
			fill(results[hi:], err)
			return
		}
	}
}

func fill(results []error, err error) {
	for i := range results {
		results[i] = err
	}
}

// sendChunk writes one transaction's worth of records. It returns a
// retryable error when it stopped early (results from the failed record on
// hold that error).
func (s *Sink) sendChunk(ctx context.Context, recs []*detail.Record, results []error) error {
	accts := make([]*acct, 0, len(recs))
	idx := make([]int, 0, len(recs))
	seen := make(map[string]int, len(recs))
	var dups [][2]int
	parsed, errs := parseAll(recs, s.cfg.StoreClass)
	for i, r := range recs {
		a, err := parsed[i], errs[i]
		if err != nil {
			results[i] = sinks.Permanent(fmt.Errorf("%s: %w", where(r), err))
			s.log.Warn("postgres sink: record rejected", "record", where(r), "reason", err)
			continue
		}
		if a.foreignZone != "" {
			s.foreignZoneOnce.Do(func() {
				how := "their Timestamp line (the receive time) is used as event time"
				if !r.HasTimestamp {
					how = "records without a Timestamp line are read as local time (" + time.Local.String() + ")"
				}
				s.log.Warn("postgres sink: Event-Timestamp in a time zone this machine does not know; "+how+
					"; run radrelay with TZ set to the writing server's zone, or write dates as integers (dates_as_integer)",
					"record", where(r), "zone", a.foreignZone)
			})
		}
		if j, dup := seen[string(a.fingerprint)]; dup && s.history != nil {
			// The same record twice in one batch (a retransmission): the
			// history keeps one copy and it is applied once; the copy
			// shares the first one's outcome.
			dups = append(dups, [2]int{i, j})
			continue
		}
		seen[string(a.fingerprint)] = i
		accts = append(accts, a)
		idx = append(idx, i)
	}
	err := s.writeParallel(ctx, accts, idx, results)
	for _, d := range dups {
		results[d[0]] = results[d[1]]
	}
	return err
}

// parseAll parses recs, in two goroutines for a large batch: the database
// is idle meanwhile, so both cores can work on it.
func parseAll(recs []*detail.Record, storeClass bool) ([]*acct, []error) {
	parsed := make([]*acct, len(recs))
	errs := make([]error, len(recs))
	parse := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			parsed[i], errs[i] = parseRecord(recs[i], storeClass)
		}
	}
	if len(recs) < 512 {
		parse(0, len(recs))
		return parsed, errs
	}
	h := len(recs) / 2
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		parse(h, len(recs))
	}()
	parse(0, h)
	wg.Wait()
	return parsed, errs
}

// writeParallel writes accts on the sink's connections at once, each
// connection one transaction holding the records of its share of the
// sessions (by lockKey, so the sessions' advisory locks of two
// transactions never overlap either), in order. A batch holding an
// Accounting-On or -Off, which acts on every session of its NAS, or too
// small to be worth splitting, is written in one transaction; so is every
// batch when reboot detection is on (a Start may close its NAS's other
// sessions, whichever share they would be in).
//
// Each share stops at its first failure as writeBisect does: the records
// of the other shares may be written meanwhile, but a session's records
// are all in one share, so every session's records are still applied in
// order, and a record retried after a failure finds its predecessors
// written or retried with it.
func (s *Sink) writeParallel(ctx context.Context, accts []*acct, idx []int, results []error) error {
	n := s.cfg.connections()
	if n <= 1 || len(accts) < n*minShare || hasNASEvent(accts) || (s.live != nil && s.live.detectReboots) {
		return s.writeBisect(ctx, accts, idx, results)
	}
	if s.history != nil {
		// Create the months' partitions once, before the shares race to.
		if err := s.withConn(ctx, func(c *pgx.Conn) error { return s.ensureMonths(ctx, c, accts) }); err != nil {
			err = s.retryableError(ctx, err)
			for _, i := range idx {
				results[i] = err
			}
			return err
		}
	}
	s.splitBatches.Add(1)
	shareAccts := make([][]*acct, n)
	shareIdx := make([][]int, n)
	for k, a := range accts {
		p := int(uint32(lockKey(a.uniqueID)) % uint32(n))
		shareAccts[p] = append(shareAccts[p], a)
		shareIdx[p] = append(shareIdx[p], idx[k])
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for p := 1; p < n; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[p] = s.writeBisect(ctx, shareAccts[p], shareIdx[p], results)
		}()
	}
	errs[0] = s.writeBisect(ctx, shareAccts[0], shareIdx[0], results)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// minShare is the fewest records a connection gets when a batch is split:
// below it one transaction does better than several.
const minShare = 256

// hasNASEvent reports whether accts holds an Accounting-On or -Off.
func hasNASEvent(accts []*acct) bool {
	for _, a := range accts {
		if a.status == statusAccountingOn || a.status == statusAccountingOff {
			return true
		}
	}
	return false
}

// withConn runs f on a connection of the pool.
func (s *Sink) withConn(ctx context.Context, f func(*pgx.Conn) error) error {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer c.Release()
	return f(c.Conn())
}

// where names a record for messages.
func where(r *detail.Record) string {
	file := r.File
	if file == "" {
		file = "record"
	}
	if r.Line > 0 {
		return fmt.Sprintf("%s:%d", file, r.Line)
	}
	return file
}

// writeBisect writes accts in one transaction; when the database rejects
// the content of one of them, it splits the batch in halves (in order) until
// the offending records are alone, marks them permanent and writes the rest.
func (s *Sink) writeBisect(ctx context.Context, accts []*acct, idx []int, results []error) error {
	if len(accts) == 0 {
		return nil
	}
	err := s.write(ctx, accts)
	if err == nil {
		for _, i := range idx {
			results[i] = nil
		}
		return nil
	}
	if !contentError_(err) {
		err = s.retryableError(ctx, err)
		for _, i := range idx {
			results[i] = err
		}
		return err
	}
	if len(accts) == 1 {
		r := accts[0].rec
		perm := sinks.Permanent(fmt.Errorf("%s: PostgreSQL rejected the record: %w", where(r), err))
		s.log.Warn("postgres sink: record rejected by the database", "record", where(r), "reason", err)
		results[idx[0]] = perm
		return nil
	}
	h := len(accts) / 2
	if err := s.writeBisect(ctx, accts[:h], idx[:h], results); err != nil {
		for _, i := range idx[h:] {
			results[i] = err
		}
		return err
	}
	return s.writeBisect(ctx, accts[h:], idx[h:], results)
}

// retryableError words a retryable failure for the tailer's log.
func (s *Sink) retryableError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var detached *detachedPartitionError
	if errors.As(err, &detached) {
		return fmt.Errorf("postgres sink %s: waiting for the operator (will retry): %w", s.target, err)
	}
	var race *duplicateRaceError
	if errors.As(err, &race) {
		return fmt.Errorf("postgres sink %s: %w (will retry)", s.target, err)
	}
	switch code := pgCode(err); {
	case code == "53100":
		return fmt.Errorf("postgres sink %s: the database server is out of disk space (will retry): %w", s.target, err)
	case code == "57014":
		return fmt.Errorf("postgres sink %s: statement timed out after %s (will retry; raise statement_timeout or lower batch_size if this repeats): %w", s.target, s.cfg.statementTimeout(), err)
	case strings.HasPrefix(code, "57P") || strings.HasPrefix(code, "08") || code == "":
		return fmt.Errorf("postgres sink %s: database unavailable (will retry): %w", s.target, err)
	}
	return fmt.Errorf("postgres sink %s: %w", s.target, err)
}

// contentError_ reports whether err is the database refusing the data
// itself, which retrying the same records cannot fix: SQLSTATE class 22
// (data exception) or 23 (integrity violation), or a trigger's RAISE
// EXCEPTION (P0001 without an ERRCODE, P0004 a failed ASSERT); or a record
// the sink cannot parse. Class 42 is not: it is what a missing privilege or
// a broken schema gives for every record, which must stall, not quarantine
// the stream.
func contentError_(err error) bool {
	var ce *contentError
	if errors.As(err, &ce) {
		return true
	}
	code := pgCode(err)
	if code == "23514" && strings.Contains(err.Error(), "no partition") {
		return false // a dropped or missing partition: recreated on retry
	}
	return strings.HasPrefix(code, "22") || strings.HasPrefix(code, "23") ||
		code == "P0001" || code == "P0004"
}

// retryable reports whether err may go away by itself (the database is down
// or restarting, a network problem, a timeout, a full disk, a lock
// conflict), as opposed to a configuration or schema problem.
func retryable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	code := pgCode(err)
	if code == "" {
		return true // a network or connection error
	}
	switch code[:2] {
	case "08", "53", "57", "40", "55", "58", "XX":
		return true
	}
	return false
}

// write writes accts in one transaction.
func (s *Sink) write(ctx context.Context, accts []*acct) error {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer c.Release()
	if s.history != nil {
		if err := s.ensureMonths(ctx, c.Conn(), accts); err != nil {
			return err
		}
	}
	s.mu.Lock()
	lookup := s.lookupBatches > 0
	s.mu.Unlock()
	err = s.writeTx(ctx, c.Conn(), accts, lookup)
	var dup *duplicateError
	for attempt := 0; errors.As(err, &dup); attempt++ {
		if attempt == duplicateAttempts {
			// Another writer keeps copying the same records: let the
			// tailer retry later (never a reason to quarantine them).
			err = &duplicateRaceError{err}
			break
		}
		// Replayed records: look them up for this and the next batches.
		s.mu.Lock()
		s.lookupBatches = lookupAfterDuplicate
		s.mu.Unlock()
		err = s.writeTx(ctx, c.Conn(), accts, true)
	}
	if err == nil && lookup {
		s.mu.Lock()
		s.lookupBatches--
		s.mu.Unlock()
	}
	if err != nil {
		if pgCode(err) == "23514" && strings.Contains(err.Error(), "no partition") {
			s.mu.Lock()
			s.months = map[time.Time]bool{}
			s.mu.Unlock()
		}
		var detached *detachedPartitionError
		var race *duplicateRaceError
		if !contentError_(err) && pgCode(err) == "" && !errors.Is(err, context.Canceled) && !errors.As(err, &detached) && !errors.As(err, &race) {
			// The connection may be broken; do not hand it out again.
			c.Conn().Close(context.Background())
		}
	}
	return err
}

// duplicateAttempts is how often a transaction is retried with lookup
// after its history COPY met a record another transaction copied at the
// same time.
const duplicateAttempts = 3

// duplicateRaceError is a batch whose records other writers kept copying
// while it was retried (see duplicateAttempts): retryable, and not an
// error of the records' content, so its PostgreSQL error is not unwrapped.
type duplicateRaceError struct{ err error }

func (e *duplicateRaceError) Error() string {
	return "other writers are storing the same records at the same time: " + e.err.Error()
}

// lookupAfterDuplicate is how many batches after one that held a replayed
// record are checked against the history before copying (a replay of a
// file usually goes on for a while).
const lookupAfterDuplicate = 16

// writeTx writes accts in one transaction on conn.
func (s *Sink) writeTx(ctx context.Context, conn *pgx.Conn, accts []*acct, lookup bool) error {
	ctx, reboots := s.live.withRebootLog(ctx)
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		apply := accts
		if s.history != nil {
			isNew, err := s.history.insert(ctx, tx, accts, lookup)
			if err != nil {
				return err
			}
			if s.live != nil {
				apply = make([]*acct, 0, len(accts))
				for i, a := range accts {
					if isNew[i] {
						apply = append(apply, a)
					}
				}
			}
		}
		if s.live != nil {
			return s.live.apply(ctx, tx, apply)
		}
		return nil
	})
	if err == nil {
		s.noteReboots(reboots)
	}
	return err
}

// ensureMonths creates the history partitions the records' months need
// (and partitions_ahead months beyond the current one).
func (s *Sink) ensureMonths(ctx context.Context, conn *pgx.Conn, accts []*acct) error {
	var need []time.Time
	s.mu.Lock()
	add := func(m time.Time) {
		if !s.months[m] {
			s.months[m] = true
			need = append(need, m)
		}
	}
	for _, a := range accts {
		add(monthStart(time.Unix(a.event, 0)))
	}
	now := monthStart(time.Now())
	for i := 0; i <= s.cfg.partitionsAhead(); i++ {
		add(now.AddDate(0, i, 0))
	}
	s.mu.Unlock()
	if len(need) == 0 {
		return nil
	}
	created, err := ensurePartitions(ctx, conn, s.history.table, need)
	for _, n := range created {
		s.log.Info("postgres sink: created history partition", "partition", n)
	}
	var detached *detachedPartitionError
	if errors.As(err, &detached) {
		s.log.Error("postgres sink: cannot write (will retry)", "error", err)
	}
	if err != nil {
		s.mu.Lock()
		for _, m := range need {
			delete(s.months, m)
		}
		s.mu.Unlock()
	}
	return err
}

// Close implements sinks.Sink.
func (s *Sink) Close() error {
	s.mu.Lock()
	closed := s.closed
	s.closed = true
	s.mu.Unlock()
	if !closed {
		if s.stopStale != nil {
			close(s.stopStale)
			<-s.staleDone
		}
		s.openSessions.stop()
		s.pool.Close()
	}
	return nil
}
