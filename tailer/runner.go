package tailer

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks"
)

// itemKind says what an item in a sink's pipeline is.
type itemKind uint8

const (
	itemRecord    itemKind = iota // a record to send
	itemSkip                      // a record already marked done (Donestamp): nothing to send
	itemBad                       // a malformed span: quarantine
	itemTruncated                 // a truncated record at the final end of a file: quarantine
	itemFileEnd                   // the file is finished: every earlier item of it resolved
	itemReset                     // the file was truncated in place: start again at 0
)

// item is one entry of a sink's pipeline, in file order. Every item holds one
// slot of the sink's window from the moment it is read until the commit that
// covers it is persisted.
type item struct {
	kind    itemKind
	of      *openFile
	rec     *detail.Record
	raw     []byte // itemBad, itemTruncated
	reason  string
	file    string
	line    int
	offset  int64
	end     int64 // commit position after this item
	endLine int
}

// sinkRunner is the pipeline of one sink.
type sinkRunner struct {
	t    *Tailer
	spec SinkSpec
	log  *slog.Logger

	items  chan *item
	tokens chan struct{} // the window: one token per item in flight

	q     *quarantine
	state stateFile // zero when there is no StateDir

	mu        sync.Mutex
	committed map[fileKey]*cursor // acknowledged positions
	saved     map[fileKey]cursor  // loaded at start, consumed as files are found
	unflushed int                 // tokens to release at the next persist
	dirty     bool
	flushC    chan struct{}

	// Flusher only.
	seq        uint64    // sequence number of the last state saved
	syncedSeq  uint64    // ... of the last state fsynced
	lastSynced time.Time // when

	read, delivered, retried, quarantined atomic.Int64
	oldest                                atomic.Int64 // Unix time, 0 = none
}

func newSinkRunner(t *Tailer, spec SinkSpec) (*sinkRunner, error) {
	r := &sinkRunner{
		t:         t,
		spec:      spec,
		log:       t.log.With("sink", spec.Name),
		items:     make(chan *item, spec.MaxOutstanding),
		tokens:    make(chan struct{}, spec.MaxOutstanding),
		q:         &quarantine{dir: t.cfg.QuarantineDir, sink: spec.Name},
		committed: map[fileKey]*cursor{},
		saved:     map[fileKey]cursor{},
		flushC:    make(chan struct{}, 1),
	}
	if t.cfg.StateDir != "" {
		r.state = stateFile{dir: t.cfg.StateDir, name: spec.Name}
		files, seq, corrupt, err := r.state.load()
		if err != nil {
			return nil, err
		}
		if corrupt != nil {
			r.log.Warn("state file damaged (power cut?); using the other copy (some records may be sent again)", "err", corrupt)
		}
		r.seq = seq
		for _, c := range files {
			r.saved[fileKey{c.Dev, c.Ino}] = c
		}
	}
	return r, nil
}

// cursorFor returns the committed cursor of a file, creating it from the
// saved state (when it matches the file) or at the start. Called by the reader
// when it first meets a file.
func (r *sinkRunner) cursorFor(of *openFile) cursor {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.committed[of.key]; ok && c.of == of {
		return *c
	}
	c := cursor{Dev: of.key.dev, Ino: of.key.ino, Path: r.t.table.pathOf(of), Line: 1, of: of}
	if s, ok := r.saved[of.key]; ok {
		delete(r.saved, of.key)
		if of.matches(s) {
			c.Offset, c.Line, c.Done = s.Offset, s.Line, s.Done
			if size, err := of.size(); err == nil && size < c.Offset {
				r.log.Warn("file is shorter than the saved position (truncated?); reading it from the start",
					"file", c.Path, "saved_offset", c.Offset, "size", size)
				c.Offset, c.Line, c.Done = 0, 1, false
			}
		} else {
			r.log.Info("saved position belongs to an earlier file with the same inode; reading from the start", "file", c.Path)
		}
	}
	c.FPLen, c.FP, _ = of.fingerprint()
	cc := c
	r.committed[of.key] = &cc
	return c
}

// position returns the committed cursor of a file (ok false if unknown).
func (r *sinkRunner) position(of *openFile) (cursor, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.committed[of.key]
	if !ok || c.of != of {
		return cursor{}, false
	}
	return *c, true
}

// forget drops a file deleted or gone for good from the sink's cursors.
func (r *sinkRunner) forget(of *openFile) {
	r.mu.Lock()
	if c, ok := r.committed[of.key]; ok && c.of == of {
		delete(r.committed, of.key)
	}
	r.dirty = true
	r.mu.Unlock()
	r.kickFlush()
}

func (r *sinkRunner) kickFlush() {
	select {
	case r.flushC <- struct{}{}:
	default:
	}
}

// run runs the sink's pipeline until the reader is done (ctx done, or every
// Replay file finished) and the sender has drained.
func (r *sinkRunner) run(ctx, drainCtx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); r.readLoop(ctx) }()
	senderDone := make(chan struct{})
	go func() { defer close(senderDone); r.sendLoop(drainCtx) }()
	var flushErr error
	flusherDone := make(chan struct{})
	go func() { defer close(flusherDone); flushErr = r.flushLoop(senderDone) }()
	wg.Wait()
	<-senderDone
	<-flusherDone
	return flushErr
}

// --- reading -------------------------------------------------------------

// fileReader is the reader goroutine's position in one file.
type fileReader struct {
	of       *openFile
	src      offsetReader
	rd       *detail.Reader
	off      int64 // position after the last item emitted
	line     int
	done     bool // fileEnd emitted
	lastRead time.Time
	// fpLen and fp identify the content off refers to: the CRC of the
	// file's first fpLen bytes as they were when they were read. A file
	// truncated in place and rewritten past off has the same inode and a
	// larger size, so only its first bytes tell that off is now meaningless.
	fpLen int
	fp    uint32
}

// rewritten reports whether the file's first bytes differ from those the
// reader's position belongs to (copytruncate, then new records). It reads
// them afresh (not the openFile's cached fingerprint) and extends the
// fingerprint over bytes the reader has passed.
func (fr *fileReader) rewritten() bool {
	if fr.off == 0 {
		return false
	}
	var arr [fingerprintLen]byte
	buf := arr[:]
	n, err := fr.of.f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return false // the read path reports errors
	}
	if fr.fpLen > 0 && (n < fr.fpLen || crc32.Checksum(buf[:fr.fpLen], crcTable) != fr.fp) {
		return true
	}
	if n = int(min(int64(n), fr.off)); n > fr.fpLen {
		fr.fpLen, fr.fp = n, crc32.Checksum(buf[:n], crcTable)
	}
	return false
}

// offsetReader reads a shared *os.File from its own offset (pread), so that
// every sink reads through the one descriptor of the file.
type offsetReader struct {
	f   *os.File
	off int64
}

func (o *offsetReader) Read(p []byte) (int, error) {
	n, err := o.f.ReadAt(p, o.off)
	o.off += int64(n)
	if n > 0 {
		return n, nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return 0, io.EOF
	}
	return 0, err
}

func (r *sinkRunner) readLoop(ctx context.Context) {
	defer close(r.items)
	readers := map[fileKey]*fileReader{}
	for {
		wait := r.t.ready.C()
		if ctx.Err() != nil {
			return
		}
		files := *r.t.list.Load()
		live := make(map[fileKey]bool, len(files))
		allDone := true
		for _, of := range files {
			live[of.key] = true
			fr := readers[of.key]
			if fr == nil || fr.of != of { // new, or a new file with a reused inode
				c := r.cursorFor(of)
				fr = &fileReader{of: of, off: c.Offset, line: c.Line, done: c.Done, fpLen: c.FPLen, fp: c.FP}
				readers[of.key] = fr
			}
			if !r.readFile(ctx, fr) {
				return
			}
			if !fr.done {
				allDone = false
			}
		}
		for k := range readers {
			if !live[k] {
				delete(readers, k)
			}
		}
		if r.t.mode == Replay && allDone && r.t.listComplete() {
			return
		}
		// The poll tick is a safety net (e.g. a Replay read error retried).
		tick := time.NewTimer(r.t.cfg.PollInterval)
		select {
		case <-ctx.Done():
			tick.Stop()
			return
		case <-wait:
		case <-tick.C:
		}
		tick.Stop()
	}
}

// readFile reads what is available of one file; false means ctx is done.
func (r *sinkRunner) readFile(ctx context.Context, fr *fileReader) bool {
	if fr.done {
		return true
	}
	of := fr.of
	name := r.t.table.pathOf(of)
	size, serr := of.size()
	// Follow: a file truncated in place (copytruncate) starts again. It is
	// shorter than the position, or (rewritten past it before this look)
	// its first bytes changed.
	inPlace := r.t.mode != Replay && !of.isClaimed()
	if serr == nil && inPlace && (size < fr.off || (size > fr.off && fr.rewritten())) {
		if !r.restartFile(ctx, fr, name, size) {
			return false
		}
	}
	if fr.rd == nil && serr == nil && size == fr.off && !of.isFinal() {
		return true // nothing new (no reader buffer for idle files)
	}
	for {
		final := of.isFinal()
		if fr.rd == nil {
			fr.src = offsetReader{f: of.f, off: fr.off}
			fr.rd = detail.NewReader(&fr.src, name)
			fr.rd.SetPosition(fr.off, fr.line)
		}
		rec, err := fr.rd.Next()
		if (errors.Is(err, io.EOF) || errors.Is(err, detail.ErrIncomplete)) && final {
			rec, err = fr.rd.Finish()
			if errors.Is(err, io.EOF) {
				fr.done = true
				fr.rd = nil
				return r.push(ctx, &item{kind: itemFileEnd, of: of, file: name, end: fr.off, endLine: fr.line})
			}
		}
		var it *item
		var se *detail.SyntaxError
		var te *detail.TruncatedError
		switch {
		case err == nil:
			it = r.recordItem(of, rec)
		case errors.As(err, &se):
			it = &item{kind: itemBad, of: of, raw: se.Raw, reason: "malformed: " + se.Msg, file: name, line: se.Line, offset: se.Offset}
		case errors.As(err, &te):
			it = &item{kind: itemTruncated, of: of, raw: te.Raw, reason: "truncated: the file ends inside this record", file: name, line: te.Line, offset: te.Offset}
		case errors.Is(err, io.EOF):
			// Between records: drop the buffer of a file idle for a while
			// (memory stays small with thousands of followed files).
			if time.Since(fr.lastRead) > 10*time.Second {
				fr.rd = nil
			}
			return true
		case errors.Is(err, detail.ErrIncomplete):
			return true // a record being written: wait for the rest
		default:
			r.log.Error("reading file", "file", name, "err", err)
			fr.rd = nil
			return true
		}
		fr.off, fr.line = fr.rd.Offset(), fr.rd.Line()
		fr.lastRead = time.Now()
		it.end, it.endLine = fr.off, fr.line
		ok, waited := r.pushWaiting(ctx, it)
		if !ok {
			return false
		}
		// While the window was full the file may have been truncated and
		// rewritten: what is buffered and the position belong to the old
		// content.
		if waited && inPlace && fr.rewritten() {
			size, _ := of.size()
			if !r.restartFile(ctx, fr, name, size) {
				return false
			}
		}
	}
}

// restartFile starts reading a file truncated in place again at offset 0.
func (r *sinkRunner) restartFile(ctx context.Context, fr *fileReader, name string, size int64) bool {
	r.log.Warn("file was truncated; reading it again from the start", "file", name, "offset", fr.off, "size", size)
	fr.rd, fr.off, fr.line = nil, 0, 1
	fr.fpLen, fr.fp = 0, 0
	// The cursor committed with the reset must carry the new content's
	// fingerprint, not the old one (a restart would not recognise the file).
	fr.of.resetFingerprint()
	return r.push(ctx, &item{kind: itemReset, of: fr.of, file: name})
}

// recordItem turns a record into an item: a Donestamp record in consume mode
// is skipped (a previous reader delivered it); a quarantined record carrying
// raw bytes is still unparsable and goes back to quarantine.
func (r *sinkRunner) recordItem(of *openFile, rec *detail.Record) *item {
	it := &item{kind: itemRecord, of: of, rec: rec, file: rec.File, line: rec.Line, offset: rec.Offset}
	if rec.Done && of.consume {
		it.kind, it.rec = itemSkip, nil
		return it
	}
	if a, ok := rec.Get(QuarantineRawAttr); ok {
		reason := "still malformed"
		if why, ok := rec.Get(QuarantineReasonAttr); ok {
			reason += " (" + why.Value + ")"
		}
		it.kind, it.rec, it.raw, it.reason = itemBad, nil, []byte(a.Value), reason
	}
	return it
}

// push puts an item into the pipeline once the window has room.
func (r *sinkRunner) push(ctx context.Context, it *item) bool {
	ok, _ := r.pushWaiting(ctx, it)
	return ok
}

// pushWaiting is push that also reports whether it had to wait for room.
func (r *sinkRunner) pushWaiting(ctx context.Context, it *item) (ok, waited bool) {
	select {
	case r.tokens <- struct{}{}:
	default:
		waited = true
		select {
		case r.tokens <- struct{}{}:
		case <-ctx.Done():
			return false, true
		}
	}
	if it.kind == itemRecord {
		r.read.Add(1)
	}
	r.items <- it // never blocks: capacity == window
	return true, waited
}

// --- sending -------------------------------------------------------------

func (r *sinkRunner) sendLoop(ctx context.Context) {
	// Batches in flight at once: one, unless the sink takes concurrent
	// Sends. Each is resolved on its own goroutine; the committer commits
	// them in the order they were read, so the position only ever moves
	// over records whose every predecessor is resolved too.
	parallel := max(r.spec.Concurrency, 1)
	type job struct {
		batch []*item
		head  int64 // Timestamp of the batch's first record, 0 = none
		n     int   // items resolved, from the start
		done  chan struct{}
	}
	// A slot is taken before a batch is formed and given back once it is
	// committed, so a batch is formed from what the window holds when it
	// can be sent, not early and small.
	slots := make(chan struct{}, parallel)
	jobs := make(chan *job, parallel)
	var heads struct {
		sync.Mutex
		ts []int64 // heads of the jobs not yet committed, in order
	}
	var stopped atomic.Bool
	committerDone := make(chan struct{})
	go func() {
		defer close(committerDone)
		for j := range jobs {
			<-j.done
			if stopped.Load() {
				<-slots
				continue // after a shutdown nothing later may be committed
			}
			r.commit(j.batch[:j.n])
			heads.Lock()
			heads.ts = heads.ts[1:]
			if len(heads.ts) > 0 && heads.ts[0] != 0 {
				r.oldest.Store(heads.ts[0])
			}
			heads.Unlock()
			if j.n < len(j.batch) {
				// Shut down before these could be delivered: leave them
				// uncommitted (they are read again at the next start).
				stopped.Store(true)
				r.oldest.Store(0)
			}
			<-slots
		}
	}()
	for !stopped.Load() {
		slots <- struct{}{}
		it, ok := <-r.items
		if !ok {
			break
		}
		batch := make([]*item, 0, min(r.spec.BatchSize, cap(r.items)))
		batch = append(batch, it)
		nrec := 0
		if it.kind == itemRecord {
			nrec++
		}
	fill:
		for nrec < r.spec.BatchSize {
			select {
			case it, ok := <-r.items:
				if !ok {
					break fill
				}
				batch = append(batch, it)
				if it.kind == itemRecord {
					nrec++
				}
			default:
				break fill
			}
		}
		j := &job{batch: batch, done: make(chan struct{})}
		for _, it := range batch {
			if it.kind == itemRecord && it.rec.HasTimestamp {
				j.head = it.rec.Timestamp
				break
			}
		}
		heads.Lock()
		heads.ts = append(heads.ts, j.head)
		if len(heads.ts) == 1 && j.head != 0 {
			r.oldest.Store(j.head)
		}
		heads.Unlock()
		jobs <- j // never blocks: a job holds a slot
		go func() {
			j.n = r.resolve(ctx, j.batch)
			close(j.done)
		}()
	}
	close(jobs)
	<-committerDone
	// Empty the pipeline so the reader can stop.
	for range r.items {
	}
}

// resolve delivers or quarantines the items of a batch and returns how many,
// from the start, are resolved (all of them unless ctx ended first).
func (r *sinkRunner) resolve(ctx context.Context, batch []*item) int {
	type pend struct {
		it       *item
		attempts int
		first    time.Time
	}
	var pending []pend
	for _, it := range batch {
		if it.kind == itemRecord {
			pending = append(pending, pend{it: it})
		}
	}
	unresolved := map[*item]bool{}
	recs := make([]*detail.Record, 0, len(pending))
	results := make([]error, 0, len(pending))
	attempt := 0
	for len(pending) > 0 {
		now := time.Now()
		recs = recs[:0]
		for _, p := range pending {
			recs = append(recs, r.prepare(p.it.rec, now))
		}
		results = results[:len(recs)]
		clear(results)
		r.spec.Sink.Send(ctx, recs, results)
		var again []pend
		var lastErr error
		for i, p := range pending {
			err := results[i]
			switch {
			case err == nil:
				r.delivered.Add(1)
			case ctx.Err() != nil:
				unresolved[p.it] = true
			case sinks.IsPermanent(err):
				if !r.quarantineItem(ctx, p.it, "rejected: "+err.Error()) {
					unresolved[p.it] = true
				}
			default:
				if p.first.IsZero() {
					p.first = now
				}
				p.attempts++
				if r.spec.Retry.Exhausted(p.attempts, p.first, time.Now()) {
					if !r.quarantineItem(ctx, p.it, fmt.Sprintf("retries exhausted after %d attempts: %v", p.attempts, err)) {
						unresolved[p.it] = true
					}
					continue
				}
				again = append(again, p)
				lastErr = err
			}
		}
		if len(unresolved) > 0 {
			break
		}
		pending = again
		if len(pending) == 0 {
			break
		}
		attempt++
		r.retried.Add(int64(len(pending)))
		d := r.spec.Retry.Backoff(attempt)
		// Warn about the first attempts and then every tenth: a sink that
		// is down for hours must not flood the log.
		lvl := slog.LevelDebug
		if attempt <= 3 || attempt%10 == 0 {
			lvl = slog.LevelWarn
		}
		r.log.Log(ctx, lvl, "sink failed; retrying", "records", len(pending), "attempt", attempt,
			"retry_in", d.Round(time.Millisecond), "file", pending[0].it.file, "line", pending[0].it.line, "err", lastErr)
		timer := time.NewTimer(d)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			for _, p := range pending {
				unresolved[p.it] = true
			}
		}
		if len(unresolved) > 0 {
			break
		}
	}
	// Quarantine what could not be parsed.
	for i, it := range batch {
		if unresolved[it] {
			return i
		}
		if it.kind == itemBad || it.kind == itemTruncated {
			if !r.quarantineItem(ctx, it, it.reason) {
				return i
			}
		}
	}
	return len(batch)
}

// prepare returns the record as the sink gets it: quarantine annotations
// removed, Acct-Delay-Time raised when configured; rec itself is not changed.
func (r *sinkRunner) prepare(rec *detail.Record, now time.Time) *detail.Record {
	out := rec
	if stripped := stripQuarantine(rec.Attrs); len(stripped) != len(rec.Attrs) {
		c := *rec
		c.Attrs = stripped
		out = &c
	}
	if r.t.cfg.RaiseDelayTime {
		out = raiseDelay(out, now)
	}
	return out
}

// quarantineItem writes an item to the quarantine file, retrying while the
// disk refuses (it cannot be dropped) until ctx ends.
func (r *sinkRunner) quarantineItem(ctx context.Context, it *item, reason string) bool {
	for attempt := 1; ; attempt++ {
		err := r.q.put(it.rec, it.raw, reason, it.file, it.line, it.offset)
		if err == nil {
			r.quarantined.Add(1)
			r.log.Warn("record quarantined", "file", it.file, "line", it.line, "offset", it.offset,
				"reason", reason, "quarantine", r.q.dir)
			return true
		}
		d := r.spec.Retry.Backoff(attempt)
		r.log.Error("cannot quarantine record; retrying (the stream waits)", "file", it.file, "line", it.line, "err", err, "retry_in", d)
		timer := time.NewTimer(d)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return false
		}
	}
}

// commit advances the sink's cursors over resolved items, in order.
func (r *sinkRunner) commit(items []*item) {
	if len(items) == 0 {
		return
	}
	r.mu.Lock()
	for _, it := range items {
		c := r.committed[it.of.key]
		if c == nil || c.of != it.of {
			continue // forgotten meanwhile (its inode may be reused already)
		}
		switch it.kind {
		case itemReset:
			c.Offset, c.Line, c.Done = 0, 1, false
			c.FPLen, c.FP = 0, 0
		case itemFileEnd:
			c.Done = true
		default:
			c.Offset, c.Line = it.end, it.endLine
		}
		if c.FPLen < fingerprintLen {
			c.FPLen, c.FP, _ = it.of.fingerprint()
		}
		c.Path = r.t.table.pathOf(it.of)
	}
	r.dirty = true
	if r.state.dir == "" {
		r.mu.Unlock()
		r.release(len(items))
	} else {
		r.unflushed += len(items)
		r.mu.Unlock()
		r.kickFlush()
	}
	if len(r.items) == 0 {
		r.oldest.Store(0)
	}
	r.t.notifyProgress()
}

func (r *sinkRunner) release(n int) {
	for range n {
		<-r.tokens
	}
}

// --- persisting ----------------------------------------------------------

// flushLoop persists the sink's cursors whenever they changed, as fast as
// the disk allows (group commit: one write covers every record acknowledged
// meanwhile), and only then frees their window slots, so a killed process
// re-sends at most MaxOutstanding records. Every SyncInterval, and at the
// end, it also saves a fsynced copy (see state.go).
func (r *sinkRunner) flushLoop(senderDone <-chan struct{}) error {
	var lastErr error
	syncTick := time.NewTicker(r.t.cfg.SyncInterval)
	defer syncTick.Stop()
	r.lastSynced = time.Now()
	for {
		final := false
		select {
		case <-r.flushC:
		case <-syncTick.C:
		case <-senderDone:
			final = true
		}
		durable := final || time.Since(r.lastSynced) >= r.t.cfg.SyncInterval
		err := r.flush(durable)
		if err != nil {
			if lastErr == nil || lastErr.Error() != err.Error() {
				r.log.Error("cannot persist progress; retrying", "err", err)
			}
			lastErr = err
			if final {
				return err
			}
			time.AfterFunc(time.Second, r.kickFlush)
			continue
		}
		lastErr = nil
		if final {
			return nil
		}
	}
}

// flush saves the cursors if they changed (and, durable, fsyncs a copy if
// the last fsynced one is older), then releases the window slots they cover.
func (r *sinkRunner) flush(durable bool) error {
	r.mu.Lock()
	dirty := r.dirty
	if !dirty && (!durable || r.syncedSeq == r.seq) {
		r.mu.Unlock()
		return nil
	}
	snap := make([]cursor, 0, len(r.committed)+len(r.saved))
	for _, c := range r.committed {
		snap = append(snap, *c)
	}
	// Positions of files not seen yet this run are kept as they were.
	for _, c := range r.saved {
		snap = append(snap, c)
	}
	n := r.unflushed
	r.unflushed = 0
	r.dirty = false
	r.mu.Unlock()

	seq := r.seq
	if dirty {
		seq++
	}
	if r.state.dir != "" {
		if dirty {
			if err := r.state.save(snap, seq, false); err != nil {
				r.restore(n)
				return err
			}
			r.seq = seq
		}
		if durable {
			if err := r.q.sync(); err != nil {
				r.restore(n)
				return fmt.Errorf("fsync quarantine: %w", err)
			}
			if err := r.state.save(snap, seq, true); err != nil {
				r.restore(n)
				return err
			}
			r.syncedSeq = seq
			r.lastSynced = time.Now()
		}
	} else if durable {
		if err := r.q.sync(); err != nil {
			r.restore(n)
			return fmt.Errorf("fsync quarantine: %w", err)
		}
	}
	r.release(n)
	if dirty {
		r.t.notifyProgress()
	}
	return nil
}

func (r *sinkRunner) restore(n int) {
	r.mu.Lock()
	r.unflushed += n
	r.dirty = true
	r.mu.Unlock()
}

// savedCursorGrace is how long a saved position whose file is not found at
// start is kept (a file found again is matched by inode and fingerprint;
// one of another content with a reused inode drops it at once).
const savedCursorGrace = 7 * 24 * time.Hour

// dropSaved ages out saved positions of files not found by the first scan
// (consume and follow mode): they are marked missing, and dropped once
// missing for savedCursorGrace over restarts.
func (r *sinkRunner) dropSaved(exists func(cursor) bool, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, c := range r.saved {
		switch {
		case exists(c):
			if c.MissingSince != 0 {
				c.MissingSince = 0
				r.saved[k] = c
				r.dirty = true
			}
		case c.MissingSince == 0:
			c.MissingSince = now.Unix()
			r.saved[k] = c
			r.dirty = true
		case now.Sub(time.Unix(c.MissingSince, 0)) > savedCursorGrace:
			delete(r.saved, k)
			r.dirty = true
		}
	}
}

// stats returns the sink's counters and its backlog over the listed files.
func (r *sinkRunner) stats(sizes map[fileKey]int64) (SinkStats, int64, int) {
	ss := SinkStats{
		Name:        r.spec.Name,
		Read:        r.read.Load(),
		Delivered:   r.delivered.Load(),
		Retried:     r.retried.Load(),
		Quarantined: r.quarantined.Load(),
		InFlight:    len(r.tokens),
	}
	if ts := r.oldest.Load(); ts != 0 {
		ss.OldestUndelivered = time.Unix(ts, 0)
	}
	var backlog int64
	var files int
	r.mu.Lock()
	for k, size := range sizes {
		c, ok := r.committed[k]
		switch {
		case !ok:
			backlog += size
			files++
		case c.Done:
			ss.BytesDone += size
		default:
			ss.BytesDone += c.Offset
			if size > c.Offset {
				backlog += size - c.Offset
				files++
			}
		}
	}
	r.mu.Unlock()
	return ss, backlog, files
}
