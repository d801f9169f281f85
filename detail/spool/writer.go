// Package spool appends accounting records to files named by a template:
// detail files as FreeRADIUS 3.2's detail module writes them (rotated by
// time, one directory per client, FreeRADIUS's lock), or any other
// line-oriented format through an encode function (the file sink's JSON Lines
// and CSV).
//
// Package detail holds the format; this package holds what writing it to disk
// safely takes: one write(2) per run of records, renamed-file detection, POSIX
// locking, fsync policies, and never leaving part of a record behind.
package spool

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/radrelay/radrelay/detail"
)

// Options configures a Writer.
type Options struct {
	// Template is the file name. It may contain time fields, expanded with
	// the record's Timestamp (the time the request was received; the
	// current time for a record without one) in Location:
	//
	//	%Y year  %y two-digit year  %m month  %d day  %e day, space-padded
	//	%H hour  %M minute  %S second  %j day of the year  %% a '%'
	//
	// and attribute fields %{Name}, expanded with the value of the
	// record's attribute Name, e.g. radacct/%{NAS-IP-Address}/detail-%Y%m%d.
	// %{Client-IP-Address} is the client that sent the request: the
	// record's Client-IP-Address, Packet-Src-IP-Address or
	// Packet-Src-IPv6-Address, else its NAS-IP-Address or NAS-IPv6-Address.
	// A missing attribute expands to "unknown"; '/' and a leading '.' in a
	// value are replaced with '_' so a value cannot leave the directory.
	Template string
	// Lock takes a whole-file POSIX write lock (fcntl F_SETLK, F_WRLCK)
	// around each write, as FreeRADIUS does with "locking = yes", so that
	// FreeRADIUS's detail reader and radrelay's, which take the same lock,
	// never read a file while a record is being appended.
	Lock bool
	// LockTries is how many times a held lock is tried before Write fails
	// (default 4, as FreeRADIUS), LockRetryDelay the wait between tries
	// (default 10ms, doubling).
	LockTries      int
	LockRetryDelay time.Duration
	// Durability and SyncInterval (default 1s) say when records are fsynced.
	Durability   Durability
	SyncInterval time.Duration
	// FileMode and DirMode are the permissions of new files (default 0600)
	// and directories (default 0700), as FreeRADIUS's.
	FileMode os.FileMode
	DirMode  os.FileMode
	// Location is the time zone of the time fields (default time.Local, as
	// FreeRADIUS).
	Location *time.Location
	// MaxOpenFiles bounds the files kept open (default 32); when a record
	// needs one more, the others are closed. A file not written to for
	// IdleClose (default 1 minute) is closed when another file is opened,
	// so that yesterday's file, once a reader has renamed and deleted it,
	// does not keep its disk space.
	MaxOpenFiles int
	IdleClose    time.Duration
	// Now returns the current time (default time.Now); for tests.
	Now func() time.Time
	// Encode formats a record (default detail.AppendRecord: detail files).
	// Other formats (JSON Lines, CSV) reuse the Writer's file handling; a
	// record must end with a line end.
	Encode func(dst []byte, rec *detail.Record) []byte
	// Header, when set, is written at the start of every file the Writer
	// finds empty (a CSV header row).
	Header []byte
	// Root is the directory the Writer's files are below (default: the
	// directory of Template's part before its first field). Each time the
	// Writer opens a file, created or already there, the next fsync of the
	// file also fsyncs the file's directory and, the first time, every
	// directory above it up to Root (and the parents of the directories
	// the Writer makes): a record survives a power loss only with the
	// names leading to its file, and a file or directory left by an
	// earlier process killed before its fsync has names no fsync covered
	// yet. The listener's Root is its spool
	// directory, so that a client's directory is covered too.
	Root string
}

// A Writer appends records to files, in the format Options.Encode writes
// (detail files by default), choosing the file from a name template
// (rotation by time, one directory per client).
//
// Each record reaches its file in one write(2) on a file opened with
// O_APPEND, so a concurrent reader never sees half a record and several
// writers (processes or Writers) can share a file. Before each write the
// Writer checks that the file it holds open is still the one at its path:
// when a reader has renamed the file away (FreeRADIUS renames it to .work) or
// unlinked it, a new file is created at the path. When a write fails part way
// (a full disk), the part of a record it wrote is truncated away: the file
// holds only whole records, and the caller, told the record was not written,
// writes it again.
//
// A Writer is safe for concurrent use by multiple goroutines.
type Writer struct {
	opts  Options
	parts template
	root  string // Options.Root, cleaned

	mu     sync.Mutex
	files  map[string]*openFile
	cut    map[string]*pendingCut // files still holding part of a record
	buf    []byte
	ends   []int
	closed bool

	detailFormat bool // Encode is detail.AppendRecord

	// write, truncate and fsync are (*os.File).Write, Truncate and Sync;
	// tests replace them to fail as a full or failing disk does.
	write    func(f *os.File, b []byte) (int, error)
	truncate func(f *os.File, size int64) error
	fsync    func(f *os.File) error
	// syncDir fsyncs a directory (SyncDirectory); tests record it.
	syncDir func(dir string) error
	// unsynced keeps the newEntries of files closed before an fsync
	// covered them (a failed write closes the file), for when the path
	// is opened again.
	unsynced map[string][]string
	// syncedAbove are the directories above a file's own (up to Root)
	// this Writer has fsynced: their entries do not change when a file
	// is created again below them (after a reader renamed it away, every
	// few milliseconds under load), so once is enough; a directory the
	// Writer makes has its parent fsynced anyway.
	syncedAbove map[string]bool

	stop chan struct{}
	done chan struct{}
}

type openFile struct {
	f       *os.File
	id      fileID // f's device and inode, to tell a file renamed away
	lastUse time.Time
	dirty   bool // written since the last fsync
	headed  bool // Header has been checked for
	// newEntries are the directories holding an entry on the way to the
	// file (its name, its directories' names up to Root, a directory the
	// Writer made) that no fsync of this Writer has covered yet: the
	// file's data survives a power loss only with its name. A file opened
	// again (created again after a reader renamed the old one away) needs
	// it again.
	newEntries []string
}

// New returns a Writer for opts. It opens no file until the first Write.
func New(opts Options) (*Writer, error) {
	if opts.Template == "" {
		return nil, errors.New("spool: empty file name template")
	}
	parts, err := parseTemplate(opts.Template)
	if err != nil {
		return nil, err
	}
	if opts.LockTries <= 0 {
		opts.LockTries = 4
	}
	if opts.LockRetryDelay <= 0 {
		opts.LockRetryDelay = 10 * time.Millisecond
	}
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = time.Second
	}
	if opts.FileMode == 0 {
		opts.FileMode = 0o600
	}
	if opts.DirMode == 0 {
		opts.DirMode = 0o700
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	if opts.MaxOpenFiles <= 0 {
		opts.MaxOpenFiles = 32
	}
	if opts.IdleClose <= 0 {
		opts.IdleClose = time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Root == "" {
		opts.Root = filepath.Dir(parts.literalPrefix())
	}
	detailFormat := opts.Encode == nil
	if detailFormat {
		opts.Encode = detail.AppendRecord
	}
	w := &Writer{opts: opts, parts: parts, root: filepath.Clean(opts.Root), files: map[string]*openFile{}, cut: map[string]*pendingCut{},
		write: (*os.File).Write, truncate: (*os.File).Truncate, fsync: (*os.File).Sync, syncDir: SyncDirectory, detailFormat: detailFormat}
	if opts.Durability == SyncInterval {
		w.stop, w.done = make(chan struct{}), make(chan struct{})
		go w.syncLoop()
	}
	return w, nil
}

// Path returns the name of the file rec is written to.
func (w *Writer) Path(rec *detail.Record) string {
	t := w.opts.Now()
	if rec.HasTimestamp {
		t = time.Unix(rec.Timestamp, 0)
	}
	return w.parts.expand(rec, t.In(w.opts.Location))
}

// errClosed is returned by writes to a closed Writer.
var errClosed = errors.New("spool: write to a closed Writer")

// Write appends rec to its file (see Path) in one write(2), creating the file
// and its directories when needed, and fsyncs it when Durability is
// SyncEachRecord. An error means the record was not written: the file holds
// only whole records, and the caller may write rec again.
func (w *Writer) Write(rec *detail.Record) error {
	path := w.Path(rec)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errClosed
	}
	w.buf = w.opts.Encode(w.buf[:0], rec)
	w.ends = append(w.ends[:0], len(w.buf))
	_, err := w.appendLocked(path, w.buf, w.ends)
	w.trimBuf()
	return err
}

// maxBatchWrite bounds the bytes WriteBatch hands to one write(2).
const maxBatchWrite = 1 << 20

// WriteBatch writes recs as Write does and stores each record's outcome in
// errs[i] (len(errs) == len(recs)). A run of consecutive records bound for the
// same file is written with one write(2) of whole records (so a concurrent
// reader still never sees half a record), after one check (and lock) of the
// file: the per-record system calls are what limits Write's throughput. When
// a write fails part way, the records it wrote whole stay written (nil), the
// part of a record after them is truncated away, and the rest get the error.
func (w *Writer) WriteBatch(recs []*detail.Record, errs []error) {
	paths := make([]string, len(recs))
	timeOnly := w.parts.timeOnly()
	for i, rec := range recs {
		if i > 0 && timeOnly && rec.HasTimestamp && recs[i-1].HasTimestamp && rec.Timestamp == recs[i-1].Timestamp {
			// The same second, and a name from time fields only: the
			// same file (a listener's group shares a few seconds).
			paths[i] = paths[i-1]
			continue
		}
		paths[i] = w.Path(rec)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		for i := range errs {
			errs[i] = errClosed
		}
		return
	}
	for i := 0; i < len(recs); {
		buf, ends := w.buf[:0], w.ends[:0]
		j := i
		for j < len(recs) && paths[j] == paths[i] && (j == i || len(buf) < maxBatchWrite) {
			buf = w.opts.Encode(buf, recs[j])
			ends = append(ends, len(buf))
			j++
		}
		w.buf, w.ends = buf, ends
		n, err := w.appendLocked(paths[i], buf, ends)
		for k := i; k < j; k++ {
			if err != nil && ends[k-i] > n {
				errs[k] = err
			} else {
				errs[k] = nil
			}
		}
		i = j
	}
	w.trimBuf()
}

// trimBuf drops a huge encoding buffer rather than keep it. w.mu is held.
func (w *Writer) trimBuf() {
	if cap(w.buf) > 4*maxBatchWrite {
		w.buf = nil
	}
}

// appendLocked appends buf, whole records ending at the offsets ends, to the
// file at path in one write(2), and returns how many bytes of buf are in the
// file: all of them, or after a failed write the whole records it wrote (what
// it wrote of the next record is cut away). w.mu is held.
func (w *Writer) appendLocked(path string, buf []byte, ends []int) (int, error) {
	of, err := w.open(path)
	if err != nil {
		return 0, err
	}
	if w.opts.Lock {
		defer unlockFile(of.f)
	}
	if err := w.repair(path, of); err != nil {
		w.closeFile(path)
		return 0, err
	}
	n, err := w.write(of.f, buf)
	if err == nil && n < len(buf) {
		err = io.ErrShortWrite
	}
	if err != nil {
		kept := 0
		for _, e := range ends {
			if e <= n {
				kept = e
			}
		}
		if n > kept {
			w.cutBack(path, of, n-kept, buf[n-1])
		}
		w.closeFile(path)
		return kept, fmt.Errorf("spool: writing %s: %w", path, err)
	}
	of.dirty = true
	of.lastUse = w.opts.Now()
	if w.opts.Durability == SyncEachRecord {
		err := w.fsync(of.f)
		if err == nil {
			err = w.syncEntries(of)
		}
		if err != nil {
			// What reached the disk is unknown: take the records back out,
			// so that writing them again does not write them twice.
			w.cutBack(path, of, len(buf), 0)
			w.closeFile(path)
			return 0, fmt.Errorf("spool: fsync %s: %w", path, err)
		}
		of.dirty = false
	}
	return len(buf), nil
}

// open returns the open file for path, checked to still be the file at
// path, locked when Lock is set. w.mu is held.
func (w *Writer) open(path string) (*openFile, error) {
	for attempt := 0; ; attempt++ {
		of := w.files[path]
		if of == nil {
			now := w.opts.Now()
			for p, o := range w.files {
				if len(w.files) >= w.opts.MaxOpenFiles || now.Sub(o.lastUse) > w.opts.IdleClose {
					w.closeFile(p)
				}
			}
			var entries []string // the parents of the directories MkdirAll makes
			for d := filepath.Dir(path); d != filepath.Dir(d); d = filepath.Dir(d) {
				if _, err := os.Lstat(d); err == nil {
					break
				}
				entries = append(entries, filepath.Dir(d))
			}
			if err := os.MkdirAll(filepath.Dir(path), w.opts.DirMode); err != nil {
				return nil, fmt.Errorf("spool: creating the directory of %s: %w", path, err)
			}
			f, _, err := openAppend(path, w.opts.FileMode)
			if err != nil {
				return nil, fmt.Errorf("spool: opening %s: %w", path, err)
			}
			if e, ok := w.unsynced[path]; ok {
				entries = append(e, entries...)
				delete(w.unsynced, path)
			}
			// Created or not, its name may be unsynced (see Root).
			entries = w.namesTo(path, entries)
			id, err := identify(f)
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("spool: stat %s: %w", path, err)
			}
			of = &openFile{f: f, id: id, newEntries: entries}
			w.files[path] = of
		}
		if w.opts.Lock {
			gone, err := w.lock(of, path)
			if err != nil {
				w.closeFile(path)
				return nil, err
			}
			if gone {
				w.closeFile(path)
				if attempt >= 3 {
					return nil, fmt.Errorf("spool: %s keeps being replaced while opening it", path)
				}
				continue
			}
		}
		same, err := isFileAt(of.id, path)
		if err != nil {
			if w.opts.Lock {
				unlockFile(of.f)
			}
			w.closeFile(path)
			return nil, err
		}
		if same {
			if len(w.opts.Header) > 0 && !of.headed {
				if err := w.writeHeader(of, path); err != nil {
					if w.opts.Lock {
						unlockFile(of.f)
					}
					w.closeFile(path)
					return nil, err
				}
			}
			return of, nil
		}
		// Renamed or unlinked under us (a reader took it): open a new one.
		if w.opts.Lock {
			unlockFile(of.f)
		}
		w.closeFile(path)
		if attempt >= 3 {
			return nil, fmt.Errorf("spool: %s keeps being replaced while opening it", path)
		}
	}
}

// writeHeader writes Header to the file of of if it is empty; a header the
// write cut off is truncated away like a record.
func (w *Writer) writeHeader(of *openFile, path string) error {
	if err := w.repair(path, of); err != nil {
		return err
	}
	st, err := of.f.Stat()
	if err != nil {
		return fmt.Errorf("spool: stat %s: %w", path, err)
	}
	if st.Size() == 0 {
		n, err := w.write(of.f, w.opts.Header)
		if err == nil && n < len(w.opts.Header) {
			err = io.ErrShortWrite
		}
		if err != nil {
			if n > 0 {
				w.cutBack(path, of, n, w.opts.Header[n-1])
			}
			return fmt.Errorf("spool: writing %s: %w", path, err)
		}
		of.dirty = true
	}
	of.headed = true
	return nil
}

// closeFile closes and forgets the file of path, fsyncing it first unless
// Durability is NoSync. w.mu is held.
func (w *Writer) closeFile(path string) error {
	of := w.files[path]
	if of == nil {
		return nil
	}
	delete(w.files, path)
	var err error
	if of.dirty && w.opts.Durability != NoSync {
		if err = of.f.Sync(); err == nil {
			err = w.syncEntries(of)
		}
	}
	if cerr := of.f.Close(); err == nil {
		err = cerr
	}
	if len(of.newEntries) > 0 {
		if w.unsynced == nil || len(w.unsynced) >= 4*w.opts.MaxOpenFiles {
			w.unsynced = map[string][]string{}
		}
		w.unsynced[path] = of.newEntries
	}
	return err
}

// Sync fsyncs every open file written to since its last fsync.
func (w *Writer) Sync() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var errs []error
	for path, of := range w.files {
		if !of.dirty {
			continue
		}
		if err := of.f.Sync(); err != nil {
			errs = append(errs, fmt.Errorf("spool: fsync %s: %w", path, err))
			continue
		}
		if err := w.syncEntries(of); err != nil {
			errs = append(errs, fmt.Errorf("spool: fsync %s: %w", path, err))
			continue
		}
		of.dirty = false
	}
	return errors.Join(errs...)
}

// syncEntries fsyncs the directories holding the new entries of of (its
// file's name, the directories made for it); a failed one is tried again
// at the next fsync.
func (w *Writer) syncEntries(of *openFile) error {
	for len(of.newEntries) > 0 {
		if err := w.syncDir(of.newEntries[0]); err != nil {
			return err
		}
		if w.syncedAbove == nil || len(w.syncedAbove) >= 4*w.opts.MaxOpenFiles {
			w.syncedAbove = map[string]bool{}
		}
		w.syncedAbove[of.newEntries[0]] = true
		of.newEntries = of.newEntries[1:]
	}
	return nil
}

// namesTo returns the directories of dirs (the parents of the directories
// the Writer just made, those not synced yet) and those holding the names
// leading to the file at path: its own directory and each above it up to
// Root that this Writer has not fsynced yet (only its own when Root is not
// above it), each once.
func (w *Writer) namesTo(path string, dirs []string) []string {
	dir := filepath.Dir(path)
	chain := []string{dir}
	for d := dir; d != w.root; {
		up := filepath.Dir(d)
		if up == d { // Root is not above path
			chain = chain[:1]
			break
		}
		d = up
		if !w.syncedAbove[d] {
			chain = append(chain, d)
		}
	}
	var out []string
	for _, d := range append(dirs, chain...) {
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// openAppend opens path for appending, creating it if needed, and says
// whether it created it.
func openAppend(path string, mode os.FileMode) (*os.File, bool, error) {
	for {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, mode)
		if err == nil {
			return f, true, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, false, err
		}
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND, mode)
		if !errors.Is(err, fs.ErrNotExist) { // removed in between: create it
			return f, false, err
		}
	}
}

// SyncDirectory fsyncs the directory dir, so that the entries created in
// it survive a power loss.
func SyncDirectory(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fsync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

func (w *Writer) syncLoop() {
	defer close(w.done)
	t := time.NewTicker(w.opts.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			_ = w.Sync() // a failing file fails its next Write too
		}
	}
}

// Close fsyncs (unless Durability is NoSync) and closes every file. The
// Writer cannot be used afterwards.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	var errs []error
	for path := range w.files {
		if err := w.closeFile(path); err != nil {
			errs = append(errs, fmt.Errorf("spool: closing %s: %w", path, err))
		}
	}
	w.mu.Unlock()
	if w.stop != nil {
		close(w.stop)
		<-w.done
	}
	return errors.Join(errs...)
}
