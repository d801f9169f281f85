package spool

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// lock takes FreeRADIUS's whole-file POSIX write lock on f, trying
// Options.LockTries times with a doubling delay, as FreeRADIUS does.
func (w *Writer) lock(f *os.File, path string) error {
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
	return fmt.Errorf("spool: locking %s (%d tries): %w", path, w.opts.LockTries, err)
}

func unlockFile(f *os.File) {
	lk := syscall.Flock_t{Type: syscall.F_UNLCK, Whence: 0, Start: 0, Len: 0}
	_ = syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk)
}

// sameFile reports whether f is still the file at path: same inode and not
// unlinked.
func sameFile(f *os.File, path string) (bool, error) {
	var fst, pst syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &fst); err != nil {
		return false, fmt.Errorf("spool: stat %s: %w", path, err)
	}
	if fst.Nlink == 0 {
		return false, nil
	}
	if err := syscall.Stat(path, &pst); err != nil {
		if errors.Is(err, syscall.ENOENT) {
			return false, nil
		}
		return false, fmt.Errorf("spool: stat %s: %w", path, err)
	}
	return fst.Dev == pst.Dev && fst.Ino == pst.Ino, nil
}
