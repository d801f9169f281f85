package tailer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/radrelay/radrelay/archive"
)

// maintainer owns the list of files every sink reads: it finds them (globs),
// claims consume work files (rename + lock), decides when a file's end is
// final, marks delivered records done in work files, and deletes (Consume)
// or forgets (Follow) a file once every sink has finished it. It runs on every
// fsnotify event, poll tick and commit.
type maintainer struct {
	t    *Tailer
	wake *signal

	works   []*workFile          // consume: claimed work files, oldest claim first
	known   []*openFile          // every file in the list, first seen first
	settle  map[fileKey]*settled // files whose end is being watched
	lockMsg map[string]bool      // work files locked by someone else (logged once)
	lastSig string
	markBuf []byte // reused by markDone
	// probeFailed is set once the system could not tell whether another
	// process holds a work file open (logged once per run).
	probeFailed bool

	listErrs map[string]string          // glob: the error of its listing, logged once
	aside    map[string]*asideFile      // files that cannot be opened, by path
	archives map[fileKey]archive.Format // compressed or binary files left alone (warned once)
	scanned  bool                       // the first scan is done (start_at = "end" applies before)
}

// workFile is a consume work file (<dir>/detail.work) this process claimed.
type workFile struct {
	of     *openFile
	path   string
	locked bool
	marked int64 // records before this offset carry a Donestamp
	// claimedAt is when this process renamed the file to its work name
	// (zero for a work file resumed at start). See leaseGrace.
	claimedAt time.Time
}

// leaseGrace is how long after the rename a claimed work file is left
// before the lease probe may declare its end final. A writer without
// locking whose open(2) looked the file name up just before the rename
// gets its descriptor on the work file a moment later; until it has one
// the probe cannot see it. That moment is microseconds of kernel work on
// a cached inode; the grace covers a writer descheduled inside open() for
// far longer, at the price of this much latency for the records waiting
// in the next file.
const leaseGrace = 20 * time.Millisecond

// settled tracks a file whose size must stay the same for SettleTime.
type settled struct {
	size  int64
	since time.Time
}

func newMaintainer(t *Tailer) *maintainer {
	return &maintainer{t: t, wake: newSignal(), settle: map[fileKey]*settled{}, lockMsg: map[string]bool{},
		aside: map[string]*asideFile{}, archives: map[fileKey]archive.Format{}, listErrs: map[string]string{}}
}

// start prepares the first file list (and, for Replay, the only one).
func (m *maintainer) start() error {
	t := m.t
	if t.mode == Replay {
		var total int64
		for _, in := range t.cfg.Inputs {
			cands, err := globFiles(in.Glob, in.Files)
			if err != nil {
				return err
			}
			if in.Glob != "" && len(cands) == 0 && len(in.Files) == 0 {
				t.log.Warn("replay: glob matches no file", "glob", in.Glob)
			}
			for _, c := range cands {
				of, err := t.table.open(c.path, false)
				if err != nil {
					return fmt.Errorf("tailer: replay: %w", err)
				}
				if slices.Contains(m.known, of) {
					continue
				}
				// Compressed archives are read through a decompressor;
				// binary data is not a detail file at all.
				format, err := detectOpen(of.f)
				if err != nil {
					return fmt.Errorf("tailer: replay: %s: %w", c.path, err)
				}
				if format == archive.Binary {
					t.log.Error("replay: file is binary data, not a detail file (nor gzip, bzip2, xz or zstd); skipped", "file", c.path)
					t.skippedFiles.Add(1)
					t.table.forget(of)
					continue
				}
				of.format = format
				of.setFinal()
				m.known = append(m.known, of)
				total += c.size
			}
			for _, p := range in.Files {
				if _, err := os.Stat(p); err != nil {
					return fmt.Errorf("tailer: replay: %w", err)
				}
			}
		}
		t.totalBytes.Store(total)
		list := slices.Clone(m.known)
		t.list.Store(&list)
		t.complete.Store(true)
		return nil
	}
	m.scan(true)
	keys := map[fileKey]bool{}
	for _, of := range *t.list.Load() {
		keys[of.key] = true
	}
	for _, r := range t.runners {
		r.dropSaved(func(c cursor) bool { return keys[fileKey{c.Dev, c.Ino}] }, time.Now())
	}
	return nil
}

func (m *maintainer) run(bg, ctx context.Context) {
	if m.t.mode == Replay {
		return
	}
	for {
		wakeC := m.wake.C()
		next := m.scan(ctx.Err() == nil)
		var timerC <-chan time.Time
		var timer *time.Timer
		if !next.IsZero() {
			timer = time.NewTimer(time.Until(next))
			timerC = timer.C
		}
		select {
		case <-bg.Done():
		case <-wakeC:
		case <-m.t.progress:
		case <-timerC:
		}
		if timer != nil {
			timer.Stop()
		}
		if bg.Err() != nil {
			return
		}
	}
}

// finish runs after the pipelines stopped: mark and delete what the last
// commits finished.
func (m *maintainer) finish() {
	if m.t.mode != Replay {
		m.scan(false)
	}
}

// scan brings the file list up to date; claim allows claiming new work
// files (not while shutting down). It returns when it wants to look again
// (a file settling), or zero. Each phase is a method: list (and claim), mark
// what left the glob, settle, finish work files (mark, delete), forget
// finished gone files, publish.
func (m *maintainer) scan(claim bool) time.Time {
	for {
		found, matched, incomplete := m.listInputs(claim)
		m.scanned = true
		m.markGone(matched, incomplete)
		next := m.settleFiles(time.Now())
		deleted := m.finishWorks()
		m.forgetFinished(found)
		m.publish(found)
		if !deleted || !claim {
			return next
		}
		// A deleted work file frees its directory: the next file is
		// claimed now, not at the next event or poll (its records are
		// waiting for it).
	}
}

// listInputs lists every input's files, taking up and claiming consume work
// files on the way. It returns the files found in the glob (first seen
// first), every key still matched (work files included), and whether a
// listing failed (then nothing may be taken for gone).
func (m *maintainer) listInputs(claim bool) (found []*openFile, matched map[fileKey]bool, incomplete bool) {
	t := m.t
	matched = map[fileKey]bool{}
	listed := map[string]bool{} // paths seen, to forget set-aside files that left
	for _, in := range t.cfg.Inputs {
		if in.Mode == Consume {
			// Work files left by someone else count as listed: one
			// that is set aside or compressed is not looked at afresh
			// (and logged again) at every scan.
			for _, p := range m.resumeWorkFiles(in.Glob) {
				listed[p] = true
			}
		}
		cands, err := globFiles(in.Glob, nil)
		m.listError(in.Glob, err)
		if err != nil {
			// The listing is incomplete: a file not in it may still be
			// there, so none is taken for gone this time.
			incomplete = true
		}
		// Claim only from a complete listing: the oldest file may be the
		// one left out.
		if in.Mode == Consume && claim && err == nil {
			if m.claim(in.Glob, cands) {
				if cands, err = globFiles(in.Glob, nil); err != nil {
					m.listError(in.Glob, err)
					incomplete = true
				}
			}
		}
		for _, c := range cands {
			listed[c.path] = true
			if in.Mode == Consume && !in.ReadAhead {
				// Consume delivers only from work files this process
				// claimed (m.works): a file still in the spool may be
				// claimed by another reader (FreeRADIUS's detail
				// listener, a second radrelay) at any moment, and
				// reading it in place would deliver it twice. With
				// ReadAhead this process is the spool's only reader:
				// the files waiting to be claimed are read in place
				// (opened read-write, to be claimed later through the
				// same descriptor), so a sink that is down holds up
				// no other beyond the work file.
				continue
			}
			of, ok := m.openFollowed(c, in.StartAtEnd && !m.scanned, in.Mode == Consume)
			if !ok {
				continue
			}
			if !matched[of.key] {
				matched[of.key] = true
				found = append(found, of)
			}
		}
	}
	for _, w := range m.works {
		matched[w.of.key] = true
		listed[w.path] = true
	}
	if !incomplete {
		m.pruneSkipped(listed)
	}
	return found, matched, incomplete
}

// openFollowed opens a followed file: one known already, or a new one that
// holds detail text (a compressed or binary file in the glob is skipped with
// one warning) and can be opened (one that cannot is set aside, see
// setAside). An empty new file is left for the next look: logrotate
// creates its archive empty before it writes the compressed data.
//
// atEnd (start_at = "end", first scan): a new file's present end, rounded
// down to the end of its last whole record, is where a sink that has no
// saved state starts it.
//
// readAhead (a consume input's file waiting to be claimed): the file is
// opened read-write, as claim needs it, and found quietly (the listener's
// spool starts a new file at every claim).
func (m *maintainer) openFollowed(c candidate, atEnd, readAhead bool) (*openFile, bool) {
	if m.t.table.lookup(c.key) != nil {
		of, err := m.t.table.open(c.path, readAhead)
		return of, err == nil
	}
	if c.size == 0 || m.waitingAside(c.path) {
		return nil, false
	}
	if !m.isText(c) {
		return nil, false
	}
	of, err := m.t.table.open(c.path, readAhead)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			m.setAside(c.path, err)
		}
		return nil, false
	}
	m.readable(c.path)
	switch {
	case readAhead:
		m.t.log.Debug("file found; read in place until it is claimed", "file", c.path, "size", c.size)
	case !atEnd:
		m.t.log.Info("file found; following it", "file", c.path, "size", c.size)
	}
	if atEnd {
		if err := of.markStartAtEnd(); err != nil {
			m.t.log.Warn("cannot find the end of the file for start_at = \"end\"; reading it from the start", "file", c.path, "err", err)
		} else {
			m.t.log.Info("file found; start_at = \"end\": reading only what is written from now on", "file", c.path, "offset", of.startOffset)
		}
	}
	return of, true
}

// markGone marks the known files that left the glob (renamed away,
// deleted): they are read to their end through the descriptor and forgotten
// once settled and finished. A file back in the glob is followed again.
func (m *maintainer) markGone(matched map[fileKey]bool, incomplete bool) {
	for _, of := range m.known {
		if of.isClaimed() {
			continue
		}
		of.mu.Lock()
		switch {
		case matched[of.key] && of.gone && !of.final:
			// Back in the glob (e.g. it left only because a listing
			// failed): followed again, not settled and forgotten.
			of.gone = false
			delete(m.settle, of.key)
		case !matched[of.key] && !incomplete:
			of.gone = true
		}
		of.mu.Unlock()
	}
}

// settleFiles makes the end of a locked work file final as soon as no other
// process holds it open (see workSettled), and the end of a locked work file
// or a gone file final once its size stayed the same for SettleTime. It
// returns when the next file will have settled (zero: none pending).
func (m *maintainer) settleFiles(now time.Time) (next time.Time) {
	settleTime := m.t.cfg.SettleTime
	settleFile := func(of *openFile) {
		if of.isFinal() {
			return
		}
		size, err := of.size()
		if err != nil {
			return
		}
		s := m.settle[of.key]
		if s == nil || s.size != size {
			m.settle[of.key] = &settled{size: size, since: now}
			s = m.settle[of.key]
		}
		if now.Sub(s.since) >= settleTime {
			of.setFinal()
			delete(m.settle, of.key)
			return
		}
		if at := s.since.Add(settleTime); next.IsZero() || at.Before(next) {
			next = at
		}
	}
	for _, w := range m.works {
		if !w.locked || w.of.isFinal() {
			continue
		}
		if !w.claimedAt.IsZero() && now.Sub(w.claimedAt) < leaseGrace {
			if at := w.claimedAt.Add(leaseGrace); next.IsZero() || at.Before(next) {
				next = at
			}
			continue
		}
		if m.workSettled(w) {
			w.of.setFinal()
			delete(m.settle, w.of.key)
			continue
		}
		settleFile(w.of)
	}
	for _, of := range m.known {
		if of.isGone() {
			settleFile(of)
		}
	}
	return next
}

// workSettled reports whether a locked work file's end is final now, long
// before SettleTime: no writer can append to it any more.
//
// The file was locked before it was renamed, so a writer with locking = yes
// was not in the middle of a record then, and cannot take the lock (held
// until the file is deleted) to write another: FreeRADIUS 3.2's exfile_open
// tries the lock without waiting and, refused, opens the file name again —
// the fresh file. A writer without locking opens the file name for every
// record (exfile_open without locking: open, write, close), so only a record
// whose open came before the rename can still land in the work file, and
// that writer holds the file open until the record is written. Both kinds
// are therefore done with the file once no other process holds it open;
// a locking writer lets go of its cached descriptor at its next write, when
// it is refused the lock and moves to the fresh file.
//
// Where the system cannot tell (see soleOpener), or something else keeps
// the file open (a writer waiting for the lock with F_SETLKW, someone
// reading it), SettleTime of silence still decides.
func (m *maintainer) workSettled(w *workFile) bool {
	sole, err := soleOpener(w.of.f)
	if err != nil {
		if !m.probeFailed {
			m.probeFailed = true
			m.t.log.Warn("cannot tell whether a writer still holds a work file open (radrelay needs to own the files or hold CAP_LEASE); work files are finished only after settle_time of silence, which adds up to settle_time of latency (logged once)",
				"file", w.path, "settle_time", m.t.cfg.SettleTime, "err", err)
		}
		return false
	}
	if !sole && m.t.testWorkOpenElsewhere != nil {
		m.t.testWorkOpenElsewhere(w.path)
	}
	return sole
}

// finishWorks marks delivered records in the work files and deletes the
// finished ones. It reports whether it deleted one.
func (m *maintainer) finishWorks() (deleted bool) {
	kept := m.works[:0]
	for _, w := range m.works {
		if m.finishWork(w) {
			deleted = true
			continue
		}
		kept = append(kept, w)
	}
	m.works = kept
	return deleted
}

// forgetFinished forgets gone files every sink finished and deleted work
// files, and adds the newly found files to the known ones.
func (m *maintainer) forgetFinished(found []*openFile) {
	knownKept := m.known[:0]
	for _, of := range m.known {
		if of.isGone() && !of.isClaimed() && of.isFinal() && m.allDone(of) {
			m.t.log.Info("file finished: every sink has it, and it left the glob; forgotten", "file", m.t.table.pathOf(of))
			m.forget(of)
			continue
		}
		if of.isClaimed() && !slices.ContainsFunc(m.works, func(w *workFile) bool { return w.of == of }) {
			continue // a deleted work file
		}
		knownKept = append(knownKept, of)
	}
	m.known = knownKept
	for _, of := range found {
		if !slices.Contains(m.known, of) {
			m.known = append(m.known, of)
		}
	}
}

// publish stores the list the readers read: work files first (oldest claim
// first), then files that left the glob, then the rest in the order the glob
// sorted them (oldest first). It wakes the readers when something changed
// that they could act on.
func (m *maintainer) publish(found []*openFile) {
	list := make([]*openFile, 0, len(m.known))
	for _, w := range m.works {
		list = append(list, w.of)
	}
	for _, of := range m.known {
		if of.isGone() && !of.isClaimed() {
			list = append(list, of)
		}
	}
	for _, of := range found {
		if !of.isClaimed() && !of.isGone() {
			list = append(list, of)
		}
	}
	m.t.list.Store(&list)

	var sig bytes.Buffer
	for _, of := range list {
		size, _ := of.size()
		fmt.Fprintf(&sig, "%d:%d:%d:%v;", of.key.dev, of.key.ino, size, of.isFinal())
	}
	if s := sig.String(); s != m.lastSig {
		m.lastSig = s
		m.t.ready.Broadcast()
	}
}

// resumeWorkFiles takes up existing work files of a consume glob (left by an
// earlier run of radrelay or by FreeRADIUS): they are read before anything else.
// It returns the work files it found.
func (m *maintainer) resumeWorkFiles(pattern string) []string {
	paths, _ := filepath.Glob(filepath.Join(filepath.Dir(pattern), workName))
	for _, p := range paths {
		if slices.ContainsFunc(m.works, func(w *workFile) bool { return w.path == p }) {
			continue
		}
		if m.waitingAside(p) {
			continue
		}
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		if !m.isText(candidate{path: p, key: keyOf(fi), size: fi.Size()}) {
			continue // not ours to read or delete; the directory waits
		}
		of, err := m.t.table.open(p, true)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				m.setAside(p, err)
			}
			continue
		}
		m.readable(p)
		w := &workFile{of: of, path: p}
		if !m.lock(w) {
			// Someone else works on it; look again later. Our
			// descriptor is closed meanwhile: it would keep the file's
			// space once the other reader deletes it.
			m.t.table.forget(of)
			continue
		}
		m.t.log.Info("resuming work file", "file", p)
		m.works = append(m.works, w)
	}
	// Work files we claimed but could not lock yet.
	for _, w := range m.works {
		if !w.locked {
			m.lock(w)
		}
	}
	return paths
}

// lock takes FreeRADIUS's lock on a work file; the file is published even
// when the lock is not held yet (a writer is finishing a record), but its end
// is final, and records are marked done, only once the lock is held.
func (m *maintainer) lock(w *workFile) bool {
	ok, err := lockFile(w.of.f)
	if err != nil {
		m.t.log.Error("cannot lock work file", "file", w.path, "err", err)
		return false
	}
	if !ok {
		if !m.lockMsg[w.path] {
			m.lockMsg[w.path] = true
			m.t.log.Warn("work file is locked by another process (a writer finishing, or another detail reader); waiting", "file", w.path)
		}
		return false
	}
	delete(m.lockMsg, w.path)
	w.locked = true
	w.of.mu.Lock()
	w.of.claimed = true
	w.of.gone = false
	w.of.mu.Unlock()
	return true
}

// claim renames the oldest file of each directory that has no work file to
// <dir>/detail.work, as FreeRADIUS does, so that a writer with locking = yes
// opens a fresh file. It reports whether it renamed anything.
func (m *maintainer) claim(pattern string, cands []candidate) bool {
	renamed := false
	busy := map[string]bool{}
	for _, w := range m.works {
		busy[filepath.Dir(w.path)] = true
	}
	for _, c := range cands {
		dir := filepath.Dir(c.path)
		if busy[dir] || c.size == 0 {
			continue // nothing to deliver in an empty file (a writer just created it)
		}
		work := filepath.Join(dir, workName)
		if _, err := os.Lstat(work); err == nil {
			busy[dir] = true
			continue // someone else's work file (resumeWorkFiles tries to lock it)
		}
		// A compressed or binary file is never claimed (renamed, then
		// deleted), and one that cannot be opened is set aside: in both
		// cases the next file of the directory is taken instead.
		if m.waitingAside(c.path) || !m.isText(c) {
			continue
		}
		// A file read ahead (ReadAhead) is open already and being read
		// by sinks: its descriptor stays open if it cannot be claimed now.
		readAhead := m.t.table.lookup(c.key) != nil
		release := func(of *openFile) {
			if !readAhead {
				m.t.table.forget(of)
			}
		}
		of, err := m.t.table.open(c.path, true)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				m.setAside(c.path, err)
			}
			continue
		}
		m.readable(c.path)
		busy[dir] = true
		// Lock before the rename: a detail.work appears only locked, so
		// another consumer resuming work files can never take it up
		// between our rename and our lock (both would deliver it). A
		// writer finishing a record holds the lock: try at the next look.
		if ok, err := lockFile(of.f); !ok {
			release(of)
			if err != nil {
				m.t.log.Error("cannot lock file to claim it", "file", c.path, "err", err)
			} else if !m.lockMsg[c.path] {
				m.lockMsg[c.path] = true
				m.t.log.Info("file to claim is locked (a writer finishing a record, or another reader); trying again", "file", c.path)
			}
			continue
		}
		delete(m.lockMsg, c.path)
		if err := renameNoReplace(c.path, work); err != nil {
			release(of) // closing the descriptor releases the lock
			if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrExist) {
				m.t.log.Error("cannot claim file", "file", c.path, "work_file", work, "err", err)
			}
			continue
		}
		renamed = true
		m.t.table.setPath(of, work)
		w := &workFile{of: of, path: work, claimedAt: time.Now()}
		m.works = append(m.works, w)
		m.lock(w)
		// Debug, like the deletion: with a writer appending, a work file
		// is claimed and deleted every few milliseconds.
		m.t.log.Debug("claimed file", "file", c.path, "work_file", work)
	}
	return renamed
}

// minPosition is the position every sink has passed in a file.
func (m *maintainer) minPosition(of *openFile) int64 {
	size, err := of.size()
	if err != nil {
		return 0
	}
	low := size
	for _, r := range m.t.runners {
		c, ok := r.position(of)
		switch {
		case !ok:
			return 0
		case c.Done:
		case c.Offset < low:
			low = c.Offset
		}
	}
	return low
}

func (m *maintainer) allDone(of *openFile) bool {
	for _, r := range m.t.runners {
		c, ok := r.position(of)
		if !ok || !c.Done {
			return false
		}
	}
	return true
}

// finishWork marks what every sink has delivered and deletes the work file
// when every sink has finished it. It reports a deleted file.
func (m *maintainer) finishWork(w *workFile) bool {
	if !w.locked {
		return false
	}
	if low := m.minPosition(w.of); low > w.marked {
		if m.markBuf == nil {
			m.markBuf = make([]byte, 256<<10)
		}
		if err := markDone(w.of.f, w.marked, low, m.markBuf); err != nil {
			// Tried again at the next scan (marking is idempotent).
			m.t.log.Error("cannot mark delivered records in work file", "file", w.path, "err", err)
		} else {
			w.marked = low
		}
	}
	if !w.of.isFinal() || !m.allDone(w.of) {
		return false
	}
	// Delete only what is still our file.
	if fi, err := os.Stat(w.path); err == nil && keyOf(fi) == w.of.key {
		if err := os.Remove(w.path); err != nil {
			m.t.log.Error("cannot delete finished work file", "file", w.path, "err", err)
			return false
		}
	}
	m.t.log.Debug("work file delivered to every sink; deleted", "file", w.path)
	m.forget(w.of)
	if m.t.testWorkDeleted != nil {
		m.t.testWorkDeleted(w.path)
	}
	return true
}

func (m *maintainer) forget(of *openFile) {
	m.t.table.forget(of)
	delete(m.settle, of.key)
	for _, r := range m.t.runners {
		r.forget(of)
	}
}

// markDone overwrites "\tTime" of the Timestamp line with "\tDone" for the
// records in [from, to) of f (from and to are record boundaries), as
// FreeRADIUS's detail reader does with track = yes, so that FreeRADIUS (or
// radrelay without its state) taking over the work file skips them.
//
// It scans the bytes for "\n\tTimestamp = " rather than parsing records:
// a value cannot contain a raw line end (it is escaped), so a line starting
// with TAB "Timestamp = " is always a Timestamp line.
func markDone(f *os.File, from, to int64, buf []byte) error {
	const pat = "\n\tTimestamp = "
	if len(buf) < 4096 {
		buf = make([]byte, 256<<10)
	}
	done := []byte("\tDone")
	for off := from; off < to; {
		n := int64(len(buf))
		if to-off < n {
			n = to - off
		}
		chunk := buf[:n]
		if _, err := f.ReadAt(chunk, off); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		// Patch the chunk in memory and write the span from the first
		// mark to the end of the last in one pwrite: one system call per
		// chunk instead of one per record (the bytes between the marks
		// are written back as they were read; only this process writes
		// below the sinks' positions of a work file it holds locked).
		first, last := -1, -1
		for i := 0; ; {
			j := bytes.Index(chunk[i:], []byte(pat))
			if j < 0 {
				break
			}
			at := i + j + 1 // the TAB
			copy(chunk[at:], done)
			if first < 0 {
				first = at
			}
			last = at + len(done)
			i += j + len(pat)
		}
		if first >= 0 {
			if _, err := f.WriteAt(chunk[first:last], off+int64(first)); err != nil {
				return err
			}
		}
		if off+n >= to {
			break
		}
		// Overlap so a pattern across the chunk boundary is found.
		off += n - int64(len(pat)-1)
	}
	return nil
}
