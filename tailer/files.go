package tailer

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/radrelay/radrelay/archive"
)

// fingerprintLen is how many leading bytes identify a file together with its
// inode: enough for a detail header line and the first attribute.
const fingerprintLen = 64

// workName is the name FreeRADIUS gives the file its detail reader works on.
const workName = "detail.work"

// fileKey is a file's device and inode.
type fileKey struct{ dev, ino uint64 }

func keyOf(fi os.FileInfo) fileKey {
	st := fi.Sys().(*syscall.Stat_t)
	return fileKey{uint64(st.Dev), uint64(st.Ino)}
}

// openFile is one file the Tailer reads, shared by every sink's reader.
//
// There is exactly one descriptor per file for the whole process, closed
// only when the file is forgotten: POSIX record locks belong to the process
// and are released when ANY descriptor of the file is closed, so a sink
// reader opening and closing its own descriptor would silently drop the lock
// a consume work file is held with.
type openFile struct {
	key  fileKey
	f    *os.File
	path string // where it was found last (guarded by table.mu)
	// consume is set for a file of a consume input (opened read-write).
	consume bool
	// format is archive.Text except for a compressed file given to a
	// Replay, which is read through a decompressor (set before the file is
	// published).
	format archive.Format

	mu    sync.Mutex
	fpLen int
	fp    uint32
	// claimed is set for a consume work file this process renamed (or
	// resumed) and locked; final once its end is known.
	claimed  bool
	final    bool
	gone     bool  // no longer matched or deleted
	lastSize int64 // last size seen by size()

	// startOffset and startLine (start_at = "end") are where a sink that
	// has no saved state starts this file; set before it is published.
	startOffset int64
	startLine   int
}

// markStartAtEnd sets the file's start for start_at = "end": the end of its
// last whole record (a blank line) now, and the line there.
func (o *openFile) markStartAtEnd() error {
	data, err := io.ReadAll(io.NewSectionReader(o.f, 0, 1<<62))
	if err != nil {
		return err
	}
	end := bytes.LastIndex(data, []byte("\n\n"))
	if end < 0 {
		return nil // no whole record yet: read it all
	}
	end += 2
	o.startOffset, o.startLine = int64(end), bytes.Count(data[:end], []byte("\n"))+1
	return nil
}

// fingerprint returns the file's fingerprint over its first n bytes (n =
// fingerprintLen, or less for a shorter file).
func (o *openFile) fingerprint() (n int, sum uint32, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fpLen < fingerprintLen {
		buf := make([]byte, fingerprintLen)
		n, err := o.f.ReadAt(buf, 0)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, 0, err
		}
		if n > o.fpLen || o.fpLen == 0 {
			o.fpLen, o.fp = n, crc32.Checksum(buf[:n], crcTable)
		}
	}
	return o.fpLen, o.fp, nil
}

// resetFingerprint forgets the cached fingerprint of a file truncated in
// place: the next fingerprint() is taken over the new content.
func (o *openFile) resetFingerprint() {
	o.mu.Lock()
	o.fpLen, o.fp = 0, 0
	o.mu.Unlock()
}

// matches reports whether a saved cursor refers to this file: same inode and
// the same first FPLen bytes.
func (o *openFile) matches(c cursor) bool {
	if c.Dev != o.key.dev || c.Ino != o.key.ino {
		return false
	}
	if c.FPLen == 0 {
		return true
	}
	buf := make([]byte, c.FPLen)
	n, err := o.f.ReadAt(buf, 0)
	if n < c.FPLen || (err != nil && !errors.Is(err, io.EOF)) {
		return false
	}
	return crc32.Checksum(buf, crcTable) == c.FP
}

func (o *openFile) isFinal() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.final
}

func (o *openFile) setFinal() {
	o.mu.Lock()
	o.final = true
	o.mu.Unlock()
}

func (o *openFile) isClaimed() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.claimed
}

func (o *openFile) isGone() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.gone
}

// size is the file's current size (fstat on the shared descriptor).
// After the file is closed it returns the last size seen.
func (o *openFile) size() (int64, error) {
	fi, err := o.f.Stat()
	o.mu.Lock()
	defer o.mu.Unlock()
	if err != nil {
		if o.lastSize >= 0 && errors.Is(err, os.ErrClosed) {
			return o.lastSize, nil
		}
		return 0, err
	}
	o.lastSize = fi.Size()
	return fi.Size(), nil
}

// fileTable holds the one descriptor of every file the Tailer knows.
type fileTable struct {
	mu    sync.Mutex
	files map[fileKey]*openFile
}

func newFileTable() *fileTable {
	return &fileTable{files: map[fileKey]*openFile{}}
}

// open returns the shared openFile for path, opening it when it is new:
// read-write for a consume input (to lock it and mark records done), else
// read-only (follow and replay never open a source file for writing).
func (t *fileTable) open(path string, writable bool) (*openFile, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	k := keyOf(fi)
	t.mu.Lock()
	defer t.mu.Unlock()
	if o, ok := t.files[k]; ok {
		o.path = path
		return o, nil
	}
	flag := os.O_RDONLY
	if writable {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, err
	}
	// The path may have been replaced between stat and open.
	fi2, err := f.Stat()
	if err != nil || keyOf(fi2) != k {
		f.Close()
		if err == nil {
			err = fmt.Errorf("%s was replaced while opening", path)
		}
		return nil, err
	}
	o := &openFile{key: k, f: f, path: path, lastSize: fi2.Size(), consume: writable}
	t.files[k] = o
	return o, nil
}

// lookup returns the open file with key k, or nil.
func (t *fileTable) lookup(k fileKey) *openFile {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.files[k]
}

// setPath records where a file is now (after a rename).
func (t *fileTable) setPath(o *openFile, path string) {
	t.mu.Lock()
	o.path = path
	t.mu.Unlock()
}

func (t *fileTable) pathOf(o *openFile) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return o.path
}

// forget closes and drops a file.
func (t *fileTable) forget(o *openFile) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.files[o.key] == o {
		delete(t.files, o.key)
		o.f.Close()
	}
}

func (t *fileTable) closeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, o := range t.files {
		o.f.Close()
		delete(t.files, k)
	}
}

// candidate is a file matched by an input's glob.
type candidate struct {
	path  string
	mtime time.Time
	size  int64
	key   fileKey
}

// globFiles returns the regular files matching pattern (or the listed
// files), oldest modification time first, ties by name. Work files
// (detail.work), the tailer's own temporary files and directories are left out.
// Entries that cannot be stat'ed are left out too; the error then reports
// them, with the files that could be listed returned all the same.
func globFiles(pattern string, list []string) ([]candidate, error) {
	var paths []string
	if pattern != "" {
		m, err := filepath.Glob(pattern)
		if err != nil {
			return nil, fmt.Errorf("tailer: bad glob %q: %w", pattern, err)
		}
		paths = append(paths, m...)
	}
	paths = append(paths, list...)
	out := make([]candidate, 0, len(paths))
	seen := map[fileKey]bool{}
	var errs []error
	for _, p := range paths {
		if pattern != "" && filepath.Base(p) == workName {
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			// One entry that cannot be stat'ed (a symlink loop, EACCES,
			// ESTALE) must not hide the others: it is left out and
			// reported with the rest of the listing.
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		k := keyOf(fi)
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, candidate{path: p, mtime: fi.ModTime(), size: fi.Size(), key: k})
	}
	if pattern != "" {
		sort.SliceStable(out, func(i, j int) bool {
			if !out[i].mtime.Equal(out[j].mtime) {
				return out[i].mtime.Before(out[j].mtime)
			}
			return out[i].path < out[j].path
		})
	}
	return out, errors.Join(errs...)
}

// globDirs returns the directories to watch for pattern: every existing
// directory matching its directory part, and the deepest literal ancestor (to
// see new directories appear, e.g. radacct/<new-client>).
func globDirs(pattern string) []string {
	dir := filepath.Dir(pattern)
	var out []string
	if hasMeta(dir) {
		lit := dir
		for hasMeta(lit) {
			lit = filepath.Dir(lit)
		}
		out = append(out, lit)
		m, _ := filepath.Glob(dir)
		for _, d := range m {
			if fi, err := os.Stat(d); err == nil && fi.IsDir() {
				out = append(out, d)
			}
		}
	} else {
		out = append(out, dir)
	}
	return out
}

func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

// lockFile takes FreeRADIUS's lock on a file: a POSIX write lock on the whole
// file, without waiting. It reports false when another process holds it.
func lockFile(f *os.File) (bool, error) {
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: io.SeekStart}
	err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) {
		return false, nil
	}
	return false, fmt.Errorf("tailer: locking %s: %w", f.Name(), err)
}
