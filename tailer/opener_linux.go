package tailer

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// soleOpener reports whether f's descriptor is the only open file of its
// inode in the whole system: no writer (nor anyone else) still holds it
// open. It asks the kernel for a write lease, which is granted only then,
// and gives it back at once. An error means the system cannot tell: not
// the file's owner and without CAP_LEASE (EACCES), or a file system
// without leases (NFS, some FUSE file systems: EINVAL).
//
// While the lease is held (two system calls) another process opening the
// file waits for it to be given back; nothing else changes.
func soleOpener(f *os.File) (bool, error) {
	fd := f.Fd()
	_, err := unix.FcntlInt(fd, unix.F_SETLEASE, unix.F_WRLCK)
	if errors.Is(err, unix.EAGAIN) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("write lease on %s: %w", f.Name(), err)
	}
	if _, err := unix.FcntlInt(fd, unix.F_SETLEASE, unix.F_UNLCK); err != nil {
		return false, fmt.Errorf("giving back the write lease on %s: %w", f.Name(), err)
	}
	return true, nil
}
