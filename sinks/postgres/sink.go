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
	// The writers' connections are opened in the background at once,
	// while the schema is checked on another: opened by the first batch
	// instead, the second one (connect, authenticate, create the staging
	// table: 20-60 ms) held up the first transaction, a tenth of a replay
	// of 20,000 records.
	pcfg.MinConns = int32(cfg.connections())
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
	s.sendPipelined(ctx, recs, results)
}

func fill(results []error, err error) {
	for i := range results {
		results[i] = err
	}
}

// chunk is one transaction's worth of records (transaction_size), parsed.
type chunk struct {
	lo, hi int     // its records are recs[lo:hi] of the Send
	accts  []*acct // the records to write, in order
	idx    []int   // idx[k] is the index in recs of accts[k]
	// dups are pairs (i, j): recs[i] is the same record as recs[j]
	// (a retransmission), whose outcome it shares.
	dups [][2]int
}

// prepare parses recs[lo:hi] of a Send: a record that cannot be parsed
// gets its permanent error in results at once.
func (s *Sink) prepare(recs []*detail.Record, results []error, lo, hi int) *chunk {
	c := &chunk{lo: lo, hi: hi, accts: make([]*acct, 0, hi-lo), idx: make([]int, 0, hi-lo)}
	seen := make(map[[fingerprintSize]byte]int, hi-lo)
	parsed, errs := s.parseAll(recs[lo:hi])
	for k, r := range recs[lo:hi] {
		i := lo + k
		a, err := parsed[k], errs[k]
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
		if j, dup := seen[a.fingerprint]; dup && s.history != nil {
			// The same record twice in one batch (a retransmission): the
			// history keeps one copy and it is applied once; the copy
			// shares the first one's outcome.
			c.dups = append(c.dups, [2]int{i, j})
			continue
		}
		seen[a.fingerprint] = i
		c.accts = append(c.accts, a)
		c.idx = append(c.idx, i)
	}
	return c
}

// whole reports whether c must be written as one transaction, after every
// record before it and before any after it: it holds an Accounting-On or
// -Off, which acts on every session of its NAS; or it is too small to be
// worth splitting; or reboot detection is on (a Start may close its NAS's
// other sessions, whichever share they would be in).
func (s *Sink) whole(c *chunk) bool {
	n := s.cfg.connections()
	return n <= 1 || len(c.accts) < n*minShare || hasNASEvent(c.accts) || (s.live != nil && s.live.detectReboots)
}

// sendPipelined writes the records of a Send in transactions of
// transaction_size records, as a pipeline:
//
//   - one goroutine parses the next transaction's records while the
//     database writes the ones before (parsing is radrelay's biggest
//     share of the work, and the database waited for it);
//   - each of the sink's connections has a writer of its own, which takes
//     its share of every transaction (the records of the sessions whose
//     lockKey falls to it, as the sessions' advisory locks) and writes
//     them one transaction after the other, without waiting for the other
//     connections to finish theirs: every session's records are on one
//     connection, in order, and the connections never wait for each
//     other (the database works on all of them while radrelay encodes).
//
// A transaction that must be written whole (see whole) waits until the
// writers have written everything before it, and is written before
// anything after it is handed out. A writer stops at its first failure as
// writeBisect does, and gives its later shares that error; no transaction
// is handed out after a failure, so the rest get it too. A session's
// records are all on one writer, so each session's records are applied in
// order, and a record retried after a failure finds its predecessors
// written or retried with it. Results are complete when Send returns:
// a record is acknowledged only once its transaction has committed.
func (s *Sink) sendPipelined(ctx context.Context, recs []*detail.Record, results []error) {
	bs := s.cfg.batchSize()
	chunks := make(chan *chunk, 1)
	go func() {
		defer close(chunks)
		for lo := 0; lo < len(recs); lo += bs {
			chunks <- s.prepare(recs, results, lo, min(lo+bs, len(recs)))
		}
	}()

	n := s.cfg.connections()
	type share struct {
		accts []*acct
		idx   []int
	}
	var (
		writers  []chan share
		inflight sync.WaitGroup // shares handed out and not yet written
		done     sync.WaitGroup // the writers
		failMu   sync.Mutex
		failed   error // the first failure of any writer
	)
	startWriters := func() {
		for range n {
			q := make(chan share, 2)
			writers = append(writers, q)
			done.Add(1)
			go func() {
				defer done.Done()
				var err error // this writer's first failure
				for sh := range q {
					if err == nil {
						err = s.writeBisect(ctx, sh.accts, sh.idx, results)
						if err != nil {
							failMu.Lock()
							if failed == nil {
								failed = err
							}
							failMu.Unlock()
						}
					} else {
						for _, i := range sh.idx {
							results[i] = err
						}
					}
					inflight.Done()
				}
			}()
		}
	}
	firstFailure := func() error {
		failMu.Lock()
		defer failMu.Unlock()
		return failed
	}
	var written []*chunk // chunks handed out (their dups are resolved at the end)
	var stop error       // nothing more is written: the records left get this
	for c := range chunks {
		written = append(written, c)
		if stop == nil {
			stop = firstFailure()
		}
		if stop != nil {
			for _, i := range c.idx {
				results[i] = stop
			}
			continue
		}
		if s.whole(c) {
			inflight.Wait()
			if stop = firstFailure(); stop != nil {
				for _, i := range c.idx {
					results[i] = stop
				}
				continue
			}
			stop = s.writeBisect(ctx, c.accts, c.idx, results)
			continue
		}
		if s.history != nil {
			// Create the months' partitions once, before the writers race to.
			if err := s.ensureMonthsOnce(ctx, c.accts); err != nil {
				stop = s.retryableError(ctx, err)
				for _, i := range c.idx {
					results[i] = stop
				}
				continue
			}
		}
		s.splitBatches.Add(1)
		if writers == nil {
			startWriters()
		}
		shares := make([]share, n)
		for k, a := range c.accts {
			p := int(uint32(lockKey(a.uniqueID)) % uint32(n))
			shares[p].accts = append(shares[p].accts, a)
			shares[p].idx = append(shares[p].idx, c.idx[k])
		}
		for p, sh := range shares {
			if len(sh.accts) == 0 {
				continue
			}
			inflight.Add(1)
			writers[p] <- sh
		}
	}
	for _, q := range writers {
		close(q)
	}
	done.Wait()
	for _, c := range written {
		for _, d := range c.dups {
			results[d[0]] = results[d[1]]
		}
	}
}

// ensureMonthsOnce is ensureMonths on a connection of the pool, taken only
// when a partition may be missing.
func (s *Sink) ensureMonthsOnce(ctx context.Context, accts []*acct) error {
	if !s.monthsMissing(accts) {
		return nil
	}
	return s.withConn(ctx, func(c *pgx.Conn) error { return s.ensureMonths(ctx, c, accts) })
}

// monthsMissing reports whether a partition ensureMonths would create is
// not known to exist.
func (s *Sink) monthsMissing(accts []*acct) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	var last time.Time
	for _, a := range accts {
		if m := monthStart(time.Unix(a.event, 0)); !m.Equal(last) {
			if !s.months[m] {
				return true
			}
			last = m
		}
	}
	now := monthStart(time.Now())
	for i := 0; i <= s.cfg.partitionsAhead(); i++ {
		if !s.months[now.AddDate(0, i, 0)] {
			return true
		}
	}
	return false
}

// Prepare implements sinks.Preparer: the tailer calls it as it reads each
// record, so the record is parsed while earlier batches are written. A
// Send's parse (~3 µs a record) otherwise came between two batches, with
// the database idle: 35-73 ms of every batch of 10,000 on a loaded 2-core
// machine (docs/benchmarks.md).
func (s *Sink) Prepare(rec *detail.Record) {
	a, err := parseRecord(rec, s.cfg.StoreClass)
	rec.Prepared = &preparedRecord{sink: s, rec: rec, attrs: rec.Attrs, a: a, err: err}
}

// preparedRecord is what Prepare worked out from a record.
type preparedRecord struct {
	sink  *Sink
	rec   *detail.Record
	attrs []detail.Attribute // rec.Attrs when it was parsed
	a     *acct
	err   error
}

// prepared returns what Prepare worked out from rec, if this sink did and
// rec is still what it was then: the same record (a copy, which the
// tailer makes to strip attributes or raise Acct-Delay-Time, carries the
// original's) with the same attributes.
func (s *Sink) prepared(rec *detail.Record) (*preparedRecord, bool) {
	p, ok := rec.Prepared.(*preparedRecord)
	if !ok || p.sink != s || p.rec != rec || len(p.attrs) != len(rec.Attrs) ||
		(len(rec.Attrs) > 0 && &p.attrs[0] != &rec.Attrs[0]) {
		return nil, false
	}
	return p, true
}

// parseAll parses recs, or takes what Prepare worked out; what is left is
// parsed in two goroutines when there is much: the database is idle
// meanwhile, so both cores can work on it.
func (s *Sink) parseAll(recs []*detail.Record) ([]*acct, []error) {
	parsed := make([]*acct, len(recs))
	errs := make([]error, len(recs))
	var todo []int // indexes of the records not prepared
	for i, r := range recs {
		if p, ok := s.prepared(r); ok {
			parsed[i], errs[i] = p.a, p.err
			continue
		}
		todo = append(todo, i)
	}
	if len(todo) == 0 {
		return parsed, errs
	}
	storeClass := s.cfg.StoreClass
	parse := func(lo, hi int) {
		for _, i := range todo[lo:hi] {
			parsed[i], errs[i] = parseRecord(recs[i], storeClass)
		}
	}
	if len(todo) < 512 {
		parse(0, len(todo))
		return parsed, errs
	}
	h := len(todo) / 2
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		parse(h, len(todo))
	}()
	parse(0, h)
	wg.Wait()
	return parsed, errs
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
