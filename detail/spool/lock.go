package spool

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// lock takes FreeRADIUS's whole-file POSIX write lock on of, trying
// Options.LockTries times with a doubling delay, as FreeRADIUS does. A lock
// refused because a reader claimed the file (locked it, then renamed it to
// its work name: FreeRADIUS's detail reader, a radrelay consuming the spool
// from another process) is not waited for: lock reports gone, and the
// caller opens the fresh file at path, as FreeRADIUS's exfile_open does.
func (w *Writer) lock(of *openFile, path string) (gone bool, err error) {
	delay := w.opts.LockRetryDelay
	for try := 0; try < w.opts.LockTries; try++ {
		if try > 0 {
			time.Sleep(delay)
			delay *= 2
		}
		lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: 0, Len: 0}
		err = syscall.FcntlFlock(of.f.Fd(), syscall.F_SETLK, &lk)
		if err == nil {
			return false, nil
		}
		if !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EACCES) && !errors.Is(err, syscall.EINTR) {
			break
		}
		if at, serr := isFileAt(of.id, path); serr == nil && !at {
			return true, nil
		}
	}
	return false, fmt.Errorf("spool: locking %s (%d tries): %w", path, w.opts.LockTries, err)
}

func unlockFile(f *os.File) {
	lk := syscall.Flock_t{Type: syscall.F_UNLCK, Whence: 0, Start: 0, Len: 0}
	_ = syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk)
}

// fileID is a file's device and inode.
type fileID struct{ dev, ino uint64 }

// identify returns the identity of the open file f, once when it is opened:
// an open file's inode never changes.
func identify(f *os.File) (fileID, error) {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return fileID{}, err
	}
	return fileID{uint64(st.Dev), uint64(st.Ino)}, nil
}

// isFileAt reports whether the file id (held open) is still the one at path.
// A reader that renamed it away (FreeRADIUS's and radrelay's consumers
// rename a file to its work name) or unlinked it left another inode or none
// at path: an inode held open is not freed, so its number cannot have been
// given to a new file in the meantime. This one stat(2) per write is what
// tells the writer to start a new file: under FreeRADIUS's lock, taken
// before it, a reader in another process cannot claim the file between the
// check and the write; radrelay's own tailer, which that lock does not hold
// off, finishes a work file only once no writer holds it open.
func isFileAt(id fileID, path string) (bool, error) {
	var pst syscall.Stat_t
	if err := syscall.Stat(path, &pst); err != nil {
		if errors.Is(err, syscall.ENOENT) {
			return false, nil
		}
		return false, fmt.Errorf("spool: stat %s: %w", path, err)
	}
	return id == fileID{uint64(pst.Dev), uint64(pst.Ino)}, nil
}
