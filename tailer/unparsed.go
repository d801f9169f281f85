package tailer

// Records that cannot be parsed (malformed, truncated, undecompressable) are
// a property of the file, not of a sink: every sink reads the same bytes, so
// each would otherwise quarantine, log and count the same record once. The
// first sink to reach one writes the one entry (in its quarantine file,
// naming every sink); the others pass it without a line of their own.

import (
	"context"
	"strings"
	"time"
)

// unparsedKey identifies an unparseable span: its file and offset.
type unparsedKey struct {
	file   fileKey
	offset int64
}

// unparsedClaim is the entry of one unparseable span being written, or
// written, by one sink.
type unparsedClaim struct {
	done    chan struct{} // closed once the writer finished (ok or not)
	ok      bool          // the entry is written and fsynced
	passers int           // sinks that passed the span (the claim is forgotten after all of them)
}

// quarantineUnparsed quarantines an unparseable item once for all sinks.
// false means ctx ended before it was quarantined.
func (r *sinkRunner) quarantineUnparsed(ctx context.Context, it *item) bool {
	t := r.t
	key := unparsedKey{it.of.key, it.offset}
	for {
		t.unparsedMu.Lock()
		c := t.unparsed[key]
		if c == nil {
			if r.passedByAnother(it) {
				// Another sink's position is past it (this run, or
				// saved before a restart): its entry was written and
				// fsynced before that position was.
				t.unparsedMu.Unlock()
				return true
			}
			c = &unparsedClaim{done: make(chan struct{})}
			t.unparsed[key] = c
			t.unparsedMu.Unlock()
			c.ok = r.quarantineItem(ctx, it, it.reason) && r.syncUnparsed(ctx)
			close(c.done)
			if !c.ok {
				t.unparsedMu.Lock()
				delete(t.unparsed, key) // another sink (or the next start) writes it
				t.unparsedMu.Unlock()
				return false
			}
			t.passUnparsed(key, c)
			return true
		}
		t.unparsedMu.Unlock()
		select {
		case <-c.done:
		case <-ctx.Done():
			return false
		}
		if c.ok {
			t.passUnparsed(key, c)
			return true
		}
		// The writer stopped before writing it: look again.
	}
}

// passUnparsed counts a sink past a span; the last one forgets the claim.
func (t *Tailer) passUnparsed(key unparsedKey, c *unparsedClaim) {
	t.unparsedMu.Lock()
	defer t.unparsedMu.Unlock()
	c.passers++
	if c.passers >= len(t.runners) && t.unparsed[key] == c {
		delete(t.unparsed, key)
	}
}

// syncUnparsed fsyncs the sink's quarantine file at once: other sinks pass
// the entry without writing it, and their positions may be persisted before
// this sink's next checkpoint.
func (r *sinkRunner) syncUnparsed(ctx context.Context) bool {
	for attempt := 1; ; attempt++ {
		err := r.q.sync()
		if err == nil {
			return true
		}
		d := r.spec.Retry.Backoff(attempt)
		r.log.Error("cannot fsync the quarantine; retrying (the stream waits)", "err", err, "retry_in", d)
		timer := time.NewTimer(d)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return false
		}
	}
}

// passedByAnother reports whether another sink's position in the item's file
// is past the item: committed in this run, or saved by the previous one.
func (r *sinkRunner) passedByAnother(it *item) bool {
	for _, o := range r.t.runners {
		if o == r {
			continue
		}
		o.mu.Lock()
		c, ok := o.committed[it.of.key]
		past := ok && c.of == it.of && (c.Done || c.Offset >= it.end)
		s, saved := o.saved[it.of.key]
		o.mu.Unlock()
		if past || (!ok && saved && (s.Done || s.Offset >= it.end) && it.of.matches(s)) {
			return true
		}
	}
	return false
}

// sinkList names every sink (the Sink attribute of an unparseable entry).
func (t *Tailer) sinkList() string {
	names := make([]string, len(t.cfg.Sinks))
	for i, s := range t.cfg.Sinks {
		names[i] = s.Name
	}
	return strings.Join(names, ",")
}
