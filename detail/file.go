package detail

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Durability says when a FileWriter forces written records to stable storage.
type Durability int

const (
	// NoSync leaves flushing to the operating system (FreeRADIUS's default):
	// a power loss can lose the last seconds of records, a crash of the
	// process cannot.
	NoSync Durability = iota
	// SyncEachRecord calls fsync after every record, before Write returns.
	SyncEachRecord
	// SyncInterval calls fsync on files written to at most every
	// FileWriterOptions.SyncInterval, in the background.
	SyncInterval
)

// ParseDurability parses a durability setting: "none", "each" (or
// "always"), or a duration such as "1s" or "200ms" for SyncInterval.
func ParseDurability(s string) (Durability, time.Duration, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "none", "no", "off":
		return NoSync, 0, nil
	case "each", "always", "record", "yes":
		return SyncEachRecord, 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, 0, fmt.Errorf("fsync policy %q: want none, each, or an interval such as 1s", s)
	}
	return SyncInterval, d, nil
}

// FileWriterOptions configures a FileWriter.
type FileWriterOptions struct {
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
	// around each record, as FreeRADIUS does with "locking = yes", so that
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
	// Encode formats a record (default AppendRecord: detail files). Other
	// formats (JSON Lines, CSV) reuse the FileWriter's file handling.
	Encode func(dst []byte, rec *Record) []byte
	// Header, when set, is written at the start of every file the
	// FileWriter finds empty (a CSV header row).
	Header []byte
}

// A FileWriter appends records to detail files, in the format AppendRecord
// writes, choosing the file from a name template (rotation by time, one
// directory per client).
//
// Each record reaches its file in one write(2) on a file opened with
// O_APPEND, so a concurrent reader never sees half a record and several
// writers (processes or FileWriters) can share a file. Before each record
// the writer checks that the file it holds open is still the one at its
// path: when a reader has renamed the file away (FreeRADIUS renames it to
// .work) or unlinked it, a new file is created at the path. A record that a
// failed write(2) cut off part way is ended with a line readers reject, so
// it is quarantined as malformed rather than read as a short record.
//
// A FileWriter is safe for concurrent use by multiple goroutines.
type FileWriter struct {
	opts  FileWriterOptions
	parts []templatePart

	mu     sync.Mutex
	files  map[string]*openFile
	cut    map[string]*cutRecord // files holding a partly written record
	buf    []byte
	closed bool

	detailFormat bool // Encode is AppendRecord

	// write is (*os.File).Write; tests replace it to fail part way.
	write func(f *os.File, b []byte) (int, error)

	stop chan struct{}
	done chan struct{}
}

type openFile struct {
	f       *os.File
	lastUse time.Time
	dirty   bool // written since the last fsync
	headed  bool // Header has been checked for
}

// cutRecord is a record a failed write(2) left partly written (a full disk):
// term is what must follow it so that readers see it as a malformed record,
// not as a short valid one; it is written before the next record when it
// could not be written at once.
type cutRecord struct {
	file os.FileInfo
	term []byte
}

// cutTerminator ends a partly written record with a line readers reject (it
// has no " = "), so the fragment is quarantined as malformed; the caller,
// told that the write failed, writes the whole record again.
func cutTerminator(endsWithLF bool) []byte {
	const line = "\tradrelay: a failed write cut off this record here; it was written again after it\n\n"
	if endsWithLF {
		return []byte(line)
	}
	return []byte("\n" + line)
}

// terminator returns what ends a cut record: for detail files, see
// cutTerminator; for other formats (Encode set), a line end, so the broken
// line (invalid JSON, a short CSV row) stays on its own line.
func (w *FileWriter) terminator(endsWithLF bool) []byte {
	if !w.detailFormat {
		if endsWithLF {
			return nil
		}
		return []byte("\n")
	}
	return cutTerminator(endsWithLF)
}

type templatePart struct {
	literal string
	field   byte   // time field letter, or 0
	attr    string // attribute name for %{...}
}

// NewFileWriter returns a FileWriter for opts. It opens no file until the
// first Write.
func NewFileWriter(opts FileWriterOptions) (*FileWriter, error) {
	if opts.Template == "" {
		return nil, errors.New("detail: file writer: empty file name template")
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
	detailFormat := opts.Encode == nil
	if detailFormat {
		opts.Encode = AppendRecord
	}
	w := &FileWriter{opts: opts, parts: parts, files: map[string]*openFile{}, cut: map[string]*cutRecord{},
		write: (*os.File).Write, detailFormat: detailFormat}
	if opts.Durability == SyncInterval {
		w.stop, w.done = make(chan struct{}), make(chan struct{})
		go w.syncLoop()
	}
	return w, nil
}

func parseTemplate(t string) ([]templatePart, error) {
	var parts []templatePart
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, templatePart{literal: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c != '%' {
			lit.WriteByte(c)
			continue
		}
		if i+1 >= len(t) {
			return nil, fmt.Errorf("detail: file name template %q ends with '%%'", t)
		}
		i++
		switch f := t[i]; f {
		case '%':
			lit.WriteByte('%')
		case 'Y', 'y', 'm', 'd', 'e', 'H', 'M', 'S', 'j':
			flush()
			parts = append(parts, templatePart{field: f})
		case '{':
			end := strings.IndexByte(t[i:], '}')
			if end < 2 {
				return nil, fmt.Errorf("detail: file name template %q: unterminated or empty %%{...}", t)
			}
			flush()
			parts = append(parts, templatePart{attr: t[i+1 : i+end]})
			i += end
		default:
			return nil, fmt.Errorf("detail: file name template %q: unknown field %%%c (want %%Y %%y %%m %%d %%e %%H %%M %%S %%j %%%% or %%{Attribute})", t, f)
		}
	}
	flush()
	return parts, nil
}

// Path returns the name of the file rec is written to.
func (w *FileWriter) Path(rec *Record) string {
	t := w.opts.Now()
	if rec.HasTimestamp {
		t = time.Unix(rec.Timestamp, 0)
	}
	t = t.In(w.opts.Location)
	var b []byte
	for _, p := range w.parts {
		switch {
		case p.field != 0:
			b = appendTimeField(b, t, p.field)
		case p.attr != "":
			b = append(b, attrForPath(rec, p.attr)...)
		default:
			b = append(b, p.literal...)
		}
	}
	return string(b)
}

func appendTimeField(b []byte, t time.Time, f byte) []byte {
	pad := func(b []byte, n, width int, padc byte) []byte {
		s := strconv.Itoa(n)
		for i := len(s); i < width; i++ {
			b = append(b, padc)
		}
		return append(b, s...)
	}
	switch f {
	case 'Y':
		return pad(b, t.Year(), 4, '0')
	case 'y':
		return pad(b, t.Year()%100, 2, '0')
	case 'm':
		return pad(b, int(t.Month()), 2, '0')
	case 'd':
		return pad(b, t.Day(), 2, '0')
	case 'e':
		return pad(b, t.Day(), 2, ' ')
	case 'H':
		return pad(b, t.Hour(), 2, '0')
	case 'M':
		return pad(b, t.Minute(), 2, '0')
	case 'S':
		return pad(b, t.Second(), 2, '0')
	case 'j':
		return pad(b, t.YearDay(), 3, '0')
	}
	return b
}

// attrForPath returns the value of attribute name of rec, made safe for a
// path component.
func attrForPath(rec *Record, name string) string {
	names := []string{name}
	if strings.EqualFold(name, "Client-IP-Address") {
		names = []string{"Client-IP-Address", "Packet-Src-IP-Address", "Packet-Src-IPv6-Address", "NAS-IP-Address", "NAS-IPv6-Address"}
	}
	v := ""
	for _, n := range names {
		if a, ok := rec.Get(n); ok && a.Value != "" {
			v = a.Value
			break
		}
	}
	if v == "" {
		return "unknown"
	}
	b := []byte(v)
	for i, c := range b {
		if c == '/' || c == '\\' || c < ' ' || c == 0x7f {
			b[i] = '_'
		}
	}
	if b[0] == '.' {
		b[0] = '_'
	}
	return string(b)
}

// Write appends rec to its file (see Path) in one write(2), creating the file
// and its directories when needed, and fsyncs it when Durability is
// SyncEachRecord. An error means the record may not have been written.
func (w *FileWriter) Write(rec *Record) error {
	path := w.Path(rec)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errors.New("detail: write to a closed FileWriter")
	}
	w.buf = w.opts.Encode(w.buf[:0], rec)
	_, err := w.appendLocked(path, w.buf)
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
// a write fails part way, the records it wrote whole are written (nil) and
// the rest get the error.
func (w *FileWriter) WriteBatch(recs []*Record, errs []error) {
	paths := make([]string, len(recs))
	for i, rec := range recs {
		paths[i] = w.Path(rec)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		for i := range errs {
			errs[i] = errors.New("detail: write to a closed FileWriter")
		}
		return
	}
	var ends []int
	for i := 0; i < len(recs); {
		buf := w.buf[:0]
		ends = ends[:0]
		j := i
		for j < len(recs) && paths[j] == paths[i] && (j == i || len(buf) < maxBatchWrite) {
			buf = w.opts.Encode(buf, recs[j])
			ends = append(ends, len(buf))
			j++
		}
		w.buf = buf
		n, err := w.appendLocked(paths[i], buf)
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
func (w *FileWriter) trimBuf() {
	if cap(w.buf) > 4*maxBatchWrite {
		w.buf = nil
	}
}

// appendLocked appends buf, one or more whole records, to the file at path in
// one write(2), and returns how many bytes of buf reached the file. w.mu is held.
func (w *FileWriter) appendLocked(path string, buf []byte) (int, error) {
	of, err := w.open(path)
	if err != nil {
		return 0, err
	}
	if w.opts.Lock {
		defer unlockFile(of.f)
	}
	prefix := 0
	if c := w.cut[path]; c != nil {
		if st, err := of.f.Stat(); err == nil && os.SameFile(st, c.file) {
			buf = append(c.term[:len(c.term):len(c.term)], buf...)
			prefix = len(c.term)
		}
		delete(w.cut, path)
	}
	if n, err := w.write(of.f, buf); err != nil {
		if n > 0 && n < len(buf) {
			term := w.terminator(buf[n-1] == '\n')
			if m, err := w.write(of.f, term); len(term) > 0 && (err != nil || m != len(term)) {
				if st, err := of.f.Stat(); err == nil {
					w.cut[path] = &cutRecord{file: st, term: w.terminator(m > 0 && term[m-1] == '\n' || m == 0 && buf[n-1] == '\n')}
				}
			}
		}
		w.closeFile(path)
		return max(n-prefix, 0), fmt.Errorf("detail: writing %s: %w", path, err)
	}
	of.dirty = true
	of.lastUse = w.opts.Now()
	if w.opts.Durability == SyncEachRecord {
		if err := of.f.Sync(); err != nil {
			w.closeFile(path)
			return 0, fmt.Errorf("detail: fsync %s: %w", path, err)
		}
		of.dirty = false
	}
	return len(buf) - prefix, nil
}

// open returns the open file for path, checked to still be the file at
// path, locked when Lock is set. w.mu is held.
func (w *FileWriter) open(path string) (*openFile, error) {
	for attempt := 0; ; attempt++ {
		of := w.files[path]
		if of == nil {
			now := w.opts.Now()
			for p, o := range w.files {
				if len(w.files) >= w.opts.MaxOpenFiles || now.Sub(o.lastUse) > w.opts.IdleClose {
					w.closeFile(p)
				}
			}
			if err := os.MkdirAll(filepath.Dir(path), w.opts.DirMode); err != nil {
				return nil, fmt.Errorf("detail: creating the directory of %s: %w", path, err)
			}
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, w.opts.FileMode)
			if err != nil {
				return nil, fmt.Errorf("detail: opening %s: %w", path, err)
			}
			of = &openFile{f: f}
			w.files[path] = of
		}
		if w.opts.Lock {
			if err := w.lock(of.f, path); err != nil {
				w.closeFile(path)
				return nil, err
			}
		}
		same, err := sameFile(of.f, path)
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
			return nil, fmt.Errorf("detail: %s keeps being replaced while opening it", path)
		}
	}
}

// writeHeader writes Header to the file of of if it is empty.
func (w *FileWriter) writeHeader(of *openFile, path string) error {
	st, err := of.f.Stat()
	if err != nil {
		return fmt.Errorf("detail: stat %s: %w", path, err)
	}
	if st.Size() == 0 {
		if _, err := of.f.Write(w.opts.Header); err != nil {
			return fmt.Errorf("detail: writing %s: %w", path, err)
		}
		of.dirty = true
	}
	of.headed = true
	return nil
}

// sameFile reports whether f is still the file at path: same inode and not
// unlinked.
func sameFile(f *os.File, path string) (bool, error) {
	var fst, pst syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &fst); err != nil {
		return false, fmt.Errorf("detail: stat %s: %w", path, err)
	}
	if fst.Nlink == 0 {
		return false, nil
	}
	if err := syscall.Stat(path, &pst); err != nil {
		if errors.Is(err, syscall.ENOENT) {
			return false, nil
		}
		return false, fmt.Errorf("detail: stat %s: %w", path, err)
	}
	return fst.Dev == pst.Dev && fst.Ino == pst.Ino, nil
}

func (w *FileWriter) lock(f *os.File, path string) error {
	delay := w.opts.LockRetryDelay
	var err error
	for try := 0; try < w.opts.LockTries; try++ {
		if try > 0 {
			time.Sleep(delay)
			delay *= 2
		}
		lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: 0, Len: 0}
		err = syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EACCES) && !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	return fmt.Errorf("detail: locking %s (%d tries): %w", path, w.opts.LockTries, err)
}

func unlockFile(f *os.File) {
	lk := syscall.Flock_t{Type: syscall.F_UNLCK, Whence: 0, Start: 0, Len: 0}
	_ = syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk)
}

// closeFile closes and forgets the file of path, fsyncing it first unless
// Durability is NoSync. w.mu is held.
func (w *FileWriter) closeFile(path string) error {
	of := w.files[path]
	if of == nil {
		return nil
	}
	delete(w.files, path)
	var err error
	if of.dirty && w.opts.Durability != NoSync {
		err = of.f.Sync()
	}
	if cerr := of.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Sync fsyncs every open file written to since its last fsync.
func (w *FileWriter) Sync() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var errs []error
	for path, of := range w.files {
		if !of.dirty {
			continue
		}
		if err := of.f.Sync(); err != nil {
			errs = append(errs, fmt.Errorf("detail: fsync %s: %w", path, err))
			continue
		}
		of.dirty = false
	}
	return errors.Join(errs...)
}

func (w *FileWriter) syncLoop() {
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
// FileWriter cannot be used afterwards.
func (w *FileWriter) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	var errs []error
	for path := range w.files {
		if err := w.closeFile(path); err != nil {
			errs = append(errs, fmt.Errorf("detail: closing %s: %w", path, err))
		}
	}
	w.mu.Unlock()
	if w.stop != nil {
		close(w.stop)
		<-w.done
	}
	return errors.Join(errs...)
}
