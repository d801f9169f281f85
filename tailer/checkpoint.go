package tailer

// A sink's cursors: where each file stands for this sink, advanced by the
// ordered commit and persisted by the flusher before window slots are freed.

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

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
	if r.fresh && of.startOffset > 0 {
		// start_at = "end" on this sink's first start.
		c.Offset, c.Line = of.startOffset, of.startLine
	}
	if s, ok := r.saved[of.key]; ok {
		delete(r.saved, of.key)
		if of.matches(s) {
			c.Offset, c.Line, c.Done = s.Offset, s.Line, s.Done
			// (A compressed file's positions are in its decompressed
			// stream: its size says nothing about them.)
			if size, err := of.size(); err == nil && size < c.Offset && !of.format.Compressed() {
				r.log.Warn("file is shorter than the saved position (truncated?); reading it from the start",
					"file", c.Path, "saved_offset", c.Offset, "size", size)
				c.Offset, c.Line, c.Done = 0, 1, false
			}
			if c.Offset > 0 {
				// Where the sink resumes, and what is left (per file).
				// A file already read to its end is a debug line: a
				// follow glob may hold thousands of them.
				args := []any{"file", c.Path, "line", c.Line, "offset", c.Offset}
				level := slog.LevelInfo
				if size, err := of.size(); err == nil && !of.format.Compressed() {
					args = append(args, "behind_bytes", size-c.Offset)
					if size == c.Offset {
						level = slog.LevelDebug
					}
				}
				r.log.Log(context.Background(), level, "resuming where this sink stopped", args...)
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

// commit advances the sink's cursors over resolved items, in order.
func (r *sinkRunner) commit(items []*item) {
	if len(items) == 0 {
		return
	}
	var ended []string
	defer func() {
		for _, f := range ended {
			r.endQuarantineLog(f)
		}
	}()
	marks := 0
	r.mu.Lock()
	for _, it := range items {
		if it.kind == itemFileEnd || it.kind == itemReset {
			marks++
		}
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
			ended = append(ended, it.file)
		default:
			if it.end > c.Offset {
				r.bytesPassed.Add(it.end - c.Offset)
			}
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
		r.release(len(items), marks)
	} else {
		r.unflushed += len(items)
		r.unflushedMarks += marks
		r.mu.Unlock()
		r.kickFlush()
	}
	if len(r.items) == 0 {
		r.oldest.Store(0)
	}
	r.t.notifyProgress()
}

// release frees n window slots, marks of them held by marks.
func (r *sinkRunner) release(n, marks int) {
	for range n {
		<-r.tokens
	}
	r.markTokens.Add(-int64(marks))
}

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
	n, marks := r.unflushed, r.unflushedMarks
	r.unflushed, r.unflushedMarks = 0, 0
	r.dirty = false
	r.mu.Unlock()

	seq := r.seq
	if dirty {
		seq++
	}
	if r.state.dir != "" {
		if dirty {
			if err := r.state.save(snap, seq, false); err != nil {
				r.restore(n, marks)
				return err
			}
			r.seq = seq
		}
		if durable {
			if err := r.q.sync(); err != nil {
				r.restore(n, marks)
				return fmt.Errorf("fsync quarantine: %w", err)
			}
			if err := r.state.save(snap, seq, true); err != nil {
				r.restore(n, marks)
				return err
			}
			r.syncedSeq = seq
			r.lastSynced = time.Now()
		}
	} else if durable {
		if err := r.q.sync(); err != nil {
			r.restore(n, marks)
			return fmt.Errorf("fsync quarantine: %w", err)
		}
	}
	r.release(n, marks)
	if dirty {
		r.t.notifyProgress()
	}
	return nil
}

func (r *sinkRunner) restore(n, marks int) {
	r.mu.Lock()
	r.unflushed += n
	r.unflushedMarks += marks
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
