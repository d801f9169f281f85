package tailer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockName is the file in the state directory that one process holds an
// flock on while it runs: two processes sharing a state directory would
// overwrite each other's checkpoints and deliver everything twice.
const lockName = "radrelay.lock"

// ErrStateLocked is matched (errors.Is) by the error Run returns when another
// process holds the state directory. The error is a *StateLockedError.
var ErrStateLocked = errors.New("state directory is in use by another process")

// StateLockedError says which process holds a state directory.
type StateLockedError struct {
	Dir string
	// PID is the holder's process id as it wrote it in the lock file (0
	// when it could not be read).
	PID int
}

func (e *StateLockedError) Error() string {
	holder := "another process"
	if e.PID > 0 {
		holder = "process " + strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("tailer: state directory %s is in use by %s (lock file %s); run one radrelay per state directory",
		e.Dir, holder, filepath.Join(e.Dir, lockName))
}

// Is makes errors.Is(err, ErrStateLocked) true.
func (e *StateLockedError) Is(target error) bool { return target == ErrStateLocked }

// ErrNotWritable is matched (errors.Is) by the error Run returns when the
// state or quarantine directory cannot be written.
var ErrNotWritable = errors.New("directory is not writable")

// checkWritable creates (if needed) dir and proves that a file can be
// created in it, so that a read-only directory is an error at start rather
// than a loop of "cannot persist progress" later.
func checkWritable(what, dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("tailer: %s directory %s: %w: %w", what, dir, ErrNotWritable, err)
	}
	f, err := os.CreateTemp(dir, ".radrelay-write-test-*")
	if err != nil {
		return fmt.Errorf("tailer: %s directory %s: %w (radrelay must create files there; fix its owner or mode, or the mount): %w",
			what, dir, ErrNotWritable, err)
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("tailer: %s directory %s: %w: %w", what, dir, ErrNotWritable, err)
	}
	return nil
}

// lockStateDir takes the state directory's lock (flock, never waiting) and
// writes this process's id into the lock file. The lock is released when the
// returned file is closed, or by the kernel when the process dies.
func lockStateDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("tailer: state directory lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			e := &StateLockedError{Dir: dir}
			if b, rerr := os.ReadFile(path); rerr == nil {
				e.PID, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			}
			return nil, e
		}
		return nil, fmt.Errorf("tailer: locking state directory %s: %w", path, err)
	}
	pid := strconv.Itoa(os.Getpid()) + "\n"
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(pid), 0)
	}
	return f, nil
}
