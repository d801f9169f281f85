package tailer

// The sender half of a sink's pipeline: batches from the window are handed to
// the sink (concurrently when it allows), retried with backoff, quarantined
// when they cannot be delivered, and committed in the order they were read.

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks"
)

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
	pending := make([]pend, 0, len(batch)) // not grown record by record
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
		probe := false
		if r.overBudget(now) {
			if !r.takeProbe(now) {
				// Settled at once: the sink is over its retry budget.
				reason := fmt.Sprintf("retries exhausted: the sink has failed for longer than its retry budget (max_duration %s); not sent", r.spec.Retry.MaxDuration)
				for _, p := range pending {
					if !r.quarantineItem(ctx, p.it, reason) {
						unresolved[p.it] = true
					}
				}
				break
			}
			probe = true
		}
		recs = recs[:0]
		for _, p := range pending {
			recs = append(recs, r.prepare(p.it, now))
		}
		results = results[:len(recs)]
		clear(results)
		r.spec.Sink.Send(ctx, recs, results)
		if probe {
			r.endProbe(time.Now())
		}
		var again []pend
		var lastErr error
		// The sink's health is judged on the whole batch: a batch that
		// delivered some records and failed others is still failing.
		// Noting each success as it came reset the failure state between
		// the failures of one batch, and logged "failing" and
		// "recovered" once per record.
		delivered, failed := false, false
		// Whether the send was cut short is decided once for the whole
		// batch: asked record by record, a shutdown landing between two
		// records made the earlier ones retries (kept in again) and the
		// later ones unresolved, and the batch then ended with the
		// earlier ones counted as resolved: committed without being
		// delivered or quarantined.
		cut := ctx.Err() != nil
		for i, p := range pending {
			err := results[i]
			switch {
			case err == nil:
				r.delivered.Add(1)
				delivered = true
			case cut:
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
				failed = true
				r.noteFailure(now, p.attempts == 1, err)
				if end := time.Now(); r.spec.Retry.Exhausted(p.attempts, p.first, end) || r.overBudget(end) {
					if !r.quarantineItem(ctx, p.it, fmt.Sprintf("retries exhausted after %d attempts: %v", p.attempts, err)) {
						unresolved[p.it] = true
					}
					continue
				}
				again = append(again, p)
				lastErr = err
			}
		}
		if delivered && !failed {
			r.noteSuccess()
		}
		if len(unresolved) > 0 {
			// Records left to retry are not resolved either (the
			// batch's resolved prefix ends at the first unresolved one
			// of them all).
			for _, p := range again {
				unresolved[p.it] = true
			}
			break
		}
		pending = again
		if len(pending) == 0 {
			break
		}
		attempt++
		r.retried.Add(int64(len(pending)))
		d := r.spec.Retry.Backoff(attempt)
		if left, ok := r.budgetLeft(time.Now()); ok && left < d {
			// Wake when the budget runs out, not a whole backoff later.
			d = max(left, time.Millisecond)
		}
		// noteFailure says when the sink starts failing and reminds
		// while it stays down; each retry is a debug line.
		r.log.Log(ctx, slog.LevelDebug, "sink failed; retrying", "records", len(pending), "attempt", attempt,
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
			if !r.quarantineUnparsed(ctx, it) {
				return i
			}
		}
	}
	return len(batch)
}

// prepare returns the record as the sink gets it: quarantine annotations
// removed, Acct-Delay-Time raised when configured; rec itself is not changed.
func (r *sinkRunner) prepare(it *item, now time.Time) *detail.Record {
	rec := it.rec
	out := rec
	if !it.plain {
		if stripped := stripQuarantine(rec.Attrs); len(stripped) != len(rec.Attrs) {
			c := *rec
			c.Attrs = stripped
			out = &c
		}
	}
	if r.t.cfg.RaiseDelayTime {
		out = raiseDelay(out, now)
	}
	return out
}

// quarantineItem writes an item to the quarantine file, retrying while the
// disk refuses (it cannot be dropped) until ctx ends. The bytes of a long
// unparseable span that are not kept inline go to a side file first.
func (r *sinkRunner) quarantineItem(ctx context.Context, it *item, reason string) bool {
	for attempt := 1; ; attempt++ {
		err := r.putQuarantine(it, reason)
		if err == nil {
			n := max(it.spans, 1)
			if it.kind == itemBad || it.kind == itemTruncated {
				// Quarantined once for every sink: a record-level count.
				r.t.malformed.Add(int64(n))
			} else {
				r.quarantined.Add(int64(n))
			}
			r.logQuarantined(it, reason, n)
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

// putQuarantine writes the quarantine entry of an item (and its side file).
func (r *sinkRunner) putQuarantine(it *item, reason string) error {
	var extra []detail.Attribute
	rawFile := it.rawFile
	raw, partial := it.raw, it.partial
	if it.rec == nil {
		// Inline, the bytes are quoted: one that is escaped takes up to
		// four. Cut to what keeps the entry readable back (replay,
		// quarantine show and unpack read it with the default record
		// size); the side file then holds every byte.
		if n := inlineRawFits(raw, maxInlineRawQuoted); n < len(raw) {
			raw, partial = raw[:n], true
		}
	}
	if it.rec == nil && partial && it.length > 0 && rawFile == "" {
		if it.of.format.Compressed() {
			// A compressed source cannot be read again at an offset:
			// the entry keeps what the reader held; the archive itself
			// is never changed by radrelay.
			extra = append(extra, detail.Attribute{Name: QuarantineRawLengthAttr, Value: strconv.FormatInt(it.length, 10)})
		} else {
			p, err := r.q.saveRaw(it.of.f, it.offset, it.length)
			if err != nil {
				return err
			}
			rawFile = p
		}
	}
	if rawFile != "" {
		extra = append(extra, detail.Attribute{Name: QuarantineRawFileAttr, Value: rawFile, Quoted: true})
		if it.length > 0 {
			extra = append(extra, detail.Attribute{Name: QuarantineRawLengthAttr, Value: strconv.FormatInt(it.length, 10)})
		}
	}
	return r.q.put(it.rec, raw, reason, it.file, it.line, it.offset, extra...)
}

// maxInlineRawQuoted bounds the quoted Raw attribute of a quarantine entry:
// half the largest record a reader accepts by default, leaving the other
// half for the annotations (reason, source and side file paths, sinks).
const maxInlineRawQuoted = detail.DefaultMaxRecordSize / 2

// inlineRawFits returns how many bytes of raw, from the start, fit quoted
// in max bytes.
func inlineRawFits(raw []byte, max int) int {
	if len(raw)+2 <= max && !needsEscape(raw) {
		return len(raw)
	}
	if len(detail.AppendQuoted(nil, string(raw))) <= max {
		return len(raw)
	}
	lo, hi := 0, len(raw) // raw[:lo] fits, raw[:hi] does not
	var buf []byte
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		buf = detail.AppendQuoted(buf[:0], string(raw[:mid]))
		if len(buf) <= max {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// needsEscape reports whether raw has a byte quoting may escape.
func needsEscape(raw []byte) bool {
	for _, b := range raw {
		if b < 0x20 || b >= 0x7f || b == '"' || b == '\\' {
			return true
		}
	}
	return false
}
