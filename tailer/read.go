package tailer

// The reader half of a sink's pipeline: it turns the listed files into items
// (records, malformed spans, file ends) in file order and feeds them into the
// window.

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/radrelay/radrelay/detail"
)

// fileReader is the reader goroutine's position in one file.
type fileReader struct {
	of  *openFile
	src offsetReader
	dec io.ReadCloser // the decompressor of a compressed file
	run *item         // unparseable spans read since the last item pushed
	rd  *detail.Reader
	// par, instead of rd, parses a backlog on every core (backlog.go).
	par      *detail.ParallelReader
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
	defer func() {
		for _, fr := range readers {
			fr.closeReader() // stops a ParallelReader's goroutines
		}
	}()
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
				if fr != nil {
					fr.closeReader()
				}
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
	if fr.rd == nil && fr.par == nil && serr == nil && size == fr.off && !of.isFinal() {
		return true // nothing new (no reader buffer for idle files)
	}
	if serr == nil && !of.format.Compressed() {
		r.startBacklog(fr, name, size)
	}
	// errors.As's targets, declared once: taking their address moves them
	// to the heap, two allocations per record when declared in the loop.
	var se *detail.SyntaxError
	var te *detail.TruncatedError
	for {
		final := of.isFinal()
		if fr.rd == nil && fr.par == nil {
			if of.format.Compressed() {
				if err := r.openCompressed(fr, name); err != nil {
					return r.endUnreadable(ctx, fr, name, err)
				}
			} else {
				fr.src = offsetReader{f: of.f, off: fr.off}
				fr.rd = detail.NewReader(&fr.src, name)
				fr.rd.SetPosition(fr.off, fr.line)
			}
		}
		rec, err := fr.next()
		if fr.par != nil && !of.format.Compressed() {
			if errors.Is(err, io.EOF) {
				fr.endBacklog(name) // the region is read: one Reader goes on
				continue
			}
			if errors.Is(err, errShrunk) {
				// Truncated while the region was read: the records
				// whole before the cut were read; the next look at
				// the file finds the truncation.
				fr.closeReader()
				return r.pushRun(ctx, fr)
			}
		}
		if (errors.Is(err, io.EOF) || errors.Is(err, detail.ErrIncomplete)) && final {
			rec, err = fr.finish()
			if errors.Is(err, io.EOF) {
				if !r.pushRun(ctx, fr) {
					return false
				}
				fr.done = true
				fr.closeReader()
				return r.push(ctx, &item{kind: itemFileEnd, of: of, file: name, end: fr.off, endLine: fr.line})
			}
		}
		var it *item
		switch {
		case err == nil:
			var annotated bool
			if fr.par != nil {
				annotated = fr.par.Checked()
			} else {
				annotated = recordMayBeAnnotated(rec)
			}
			it = r.recordItem(of, rec, annotated)
		case errors.As(err, &se):
			// Consecutive unparseable records (a flood of garbage) become
			// one quarantine entry, not one each.
			if !r.addToRun(ctx, fr, se, name) {
				return false
			}
			fr.off, fr.line = fr.position()
			fr.lastRead = time.Now()
			fr.run.end, fr.run.endLine = fr.off, fr.line
			continue
		case errors.As(err, &te):
			it = &item{kind: itemTruncated, of: of, raw: te.Raw, reason: "truncated: the file ends inside this record", file: name, line: te.Line, offset: te.Offset, length: te.Length}
		case errors.Is(err, io.EOF):
			// Between records: drop the buffer of a file idle for a while
			// (memory stays small with thousands of followed files).
			if time.Since(fr.lastRead) > 10*time.Second {
				fr.closeReader()
			}
			return r.pushRun(ctx, fr)
		case errors.Is(err, detail.ErrIncomplete):
			return r.pushRun(ctx, fr) // a record being written: wait for the rest
		case of.format.Compressed():
			// Damaged compressed data does not get better by reading it
			// again: what is left of the file is quarantined as such.
			return r.pushRun(ctx, fr) && r.endUnreadable(ctx, fr, name, err)
		default:
			r.log.Error("reading file", "file", name, "err", err)
			fr.closeReader()
			return r.pushRun(ctx, fr)
		}
		if !r.pushRun(ctx, fr) {
			return false
		}
		fr.off, fr.line = fr.position()
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
	fr.closeReader()
	fr.off, fr.line = 0, 1
	fr.fpLen, fr.fp = 0, 0
	// The cursor committed with the reset must carry the new content's
	// fingerprint, not the old one (a restart would not recognise the file).
	fr.of.resetFingerprint()
	return r.push(ctx, &item{kind: itemReset, of: fr.of, file: name})
}

// recordItem turns a record into an item: a Donestamp record in consume mode
// is skipped (a previous reader delivered it); a quarantined record carrying
// raw bytes is still unparsable and goes back to quarantine.
// annotated is recordMayBeAnnotated(rec).
func (r *sinkRunner) recordItem(of *openFile, rec *detail.Record, annotated bool) *item {
	it := &item{kind: itemRecord, of: of, rec: rec, file: rec.File, line: rec.Line, offset: rec.Offset}
	if rec.Done && of.consume {
		it.kind, it.rec = itemSkip, nil
		return it
	}
	if it.plain = !annotated; it.plain {
		r.prepareRecord(rec)
		return it
	}
	if a, ok := rec.Get(QuarantineRawAttr); ok {
		reason := "still malformed"
		if why, ok := rec.Get(QuarantineReasonAttr); ok {
			reason += " (" + why.Value + ")"
		}
		it.kind, it.rec, it.raw, it.reason = itemBad, nil, []byte(a.Value), reason
		// A side file written earlier still holds every byte: point to it
		// again rather than copying the quarantine file's bytes.
		if f, ok := rec.Get(QuarantineRawFileAttr); ok {
			it.rawFile = f.Value
		}
		if l, ok := rec.Get(QuarantineRawLengthAttr); ok {
			it.length, _ = strconv.ParseInt(l.Value, 10, 64)
		}
		return it
	}
	r.prepareRecord(rec)
	return it
}

// prepareRecord hands a record that will be sent to the sink's Preparer, if any:
// the sink's own work on the record, done here while the sink writes earlier
// batches, not at the start of this one's Send.
func (r *sinkRunner) prepareRecord(rec *detail.Record) {
	if r.preparer != nil {
		r.preparer.Prepare(rec)
	}
}

// mayBeAnnotated reports whether an attribute of attrs may be a quarantine
// annotation: a name longer than QuarantineAttrPrefix starting with R or r
// (looked up case-insensitively by recordItem, stripped case-sensitively by
// stripQuarantine; no other rune folds to r, and folding never makes a name
// shorter). One pass instead of a lookup and a strip of every record.
func mayBeAnnotated(attrs []detail.Attribute) bool {
	for i := range attrs {
		if n := attrs[i].Name; len(n) > len(QuarantineAttrPrefix) && (n[0] == 'R' || n[0] == 'r') {
			return true
		}
	}
	return false
}

// recordMayBeAnnotated is mayBeAnnotated of rec's attributes (the
// ParallelReader's Check).
func recordMayBeAnnotated(rec *detail.Record) bool { return mayBeAnnotated(rec.Attrs) }

// push puts an item into the pipeline once the window has room.
func (r *sinkRunner) push(ctx context.Context, it *item) bool {
	ok, _ := r.pushWaiting(ctx, it)
	return ok
}

// pushWaiting is push that also reports whether it had to wait for room.
func (r *sinkRunner) pushWaiting(ctx context.Context, it *item) (ok, waited bool) {
	// Once the shutdown began nothing new enters the pipeline, even when the
	// window has room: the drain delivers what was in flight, and the rest
	// is read at the next start (without this, how much more was read
	// depended on which of two ready channels select picked).
	if ctx.Err() != nil {
		return false, false
	}
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
	switch it.kind {
	case itemRecord:
		r.read.Add(1)
	case itemFileEnd, itemReset:
		r.markTokens.Add(1)
	}
	r.items <- it // never blocks: capacity == window
	return true, waited
}

// next returns the file's next record (or error), from whichever reader
// reads it.
func (fr *fileReader) next() (*detail.Record, error) {
	if fr.par != nil {
		return fr.par.Next()
	}
	return fr.rd.Next()
}

// finish is next for a file known to be complete (Reader.Finish; a
// ParallelReader always reads its source as complete).
func (fr *fileReader) finish() (*detail.Record, error) {
	if fr.par != nil {
		return fr.par.Next()
	}
	return fr.rd.Finish()
}

// position returns the offset and line up to which the reader has returned
// records and errors.
func (fr *fileReader) position() (int64, int) {
	if fr.par != nil {
		return fr.par.Offset(), fr.par.Line()
	}
	return fr.rd.Offset(), fr.rd.Line()
}

// closeReader drops the file's reader (and decompressor).
func (fr *fileReader) closeReader() {
	if fr.par != nil {
		fr.par.Close() // before the decompressor its goroutine reads
		fr.par = nil
	}
	if fr.dec != nil {
		fr.dec.Close()
		fr.dec = nil
	}
	if fr.rd != nil {
		fr.rd.Release()
	}
	fr.rd = nil
}

// endUnreadable ends a compressed file whose data cannot be decompressed
// (from the reader's position on): the rest is quarantined as one entry
// naming the error, and the file is finished.
func (r *sinkRunner) endUnreadable(ctx context.Context, fr *fileReader, name string, err error) bool {
	r.log.Error("cannot decompress file; the rest of it is quarantined as unreadable", "file", name, "offset", fr.off, "err", err)
	fr.closeReader()
	bad := &item{kind: itemBad, of: fr.of, reason: "unreadable: cannot decompress the rest of the file: " + err.Error(),
		file: name, line: fr.line, offset: fr.off, end: fr.off, endLine: fr.line}
	if !r.push(ctx, bad) {
		return false
	}
	fr.done = true
	return r.push(ctx, &item{kind: itemFileEnd, of: fr.of, file: name, end: fr.off, endLine: fr.line})
}

// Bounds of a run of unparseable spans (one quarantine entry).
const (
	// maxInlineRaw is how many bytes of a run are kept inline, in the
	// entry's Raw attribute; the rest go to a side file.
	maxInlineRaw = detail.DefaultMaxRecordSize
	// maxRunBytes ends a run (and starts the next) in a plain file, so
	// that one side file stays a manageable size.
	maxRunBytes = 64 << 20
)

// addToRun adds an unparseable span to the file's current run, pushing the
// run first when it is full. A compressed file cannot be read again at an
// offset, so its runs end when their bytes no longer fit inline.
func (r *sinkRunner) addToRun(ctx context.Context, fr *fileReader, se *detail.SyntaxError, name string) bool {
	plain := !fr.of.format.Compressed()
	if run := fr.run; run != nil {
		if (plain && run.length >= maxRunBytes) || (!plain && len(run.raw)+len(se.Raw) > maxInlineRaw) {
			if !r.pushRun(ctx, fr) {
				return false
			}
		}
	}
	if fr.run == nil {
		// line and offset are where the record starts (the entry's
		// Source); the reason names the offending line.
		fr.run = &item{kind: itemBad, of: fr.of, reason: fmt.Sprintf("malformed: line %d: %s", se.Line, se.Msg),
			file: name, line: se.RecordLine, offset: se.Offset}
	}
	run := fr.run
	run.spans++
	run.lastLine = se.RecordLine
	run.length = se.Offset + se.Length - run.offset
	if int64(len(se.Raw)) < se.Length {
		run.partial = true // an oversized record: only its start was kept
	}
	room := maxInlineRaw - len(run.raw)
	if len(se.Raw) > room {
		run.partial = true
		run.raw = append(run.raw, se.Raw[:max(room, 0)]...)
	} else {
		run.raw = append(run.raw, se.Raw...)
	}
	return true
}

// pushRun pushes the file's run of unparseable spans, if any.
func (r *sinkRunner) pushRun(ctx context.Context, fr *fileReader) bool {
	run := fr.run
	if run == nil {
		return true
	}
	fr.run = nil
	if run.spans > 1 {
		run.reason += fmt.Sprintf(" (one of %d consecutive unparseable records, lines %d to %d, %d bytes)",
			run.spans, run.line, run.lastLine, run.length)
	}
	return r.push(ctx, run)
}
