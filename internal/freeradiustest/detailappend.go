//go:build unix

package freeradiustest

import (
	"errors"
	"io"
	"os"
	"syscall"
)

// AppendDetail appends data (one record) to the detail file at path exactly
// as FreeRADIUS 3.2's detail module does with locking = yes (exfile_open,
// exfile_close): open the name, creating it; take the fcntl write lock
// WITHOUT waiting; when refused (a consumer renamed the file to its work
// file and holds its lock), close and open the name again, a fresh file;
// once locked, a file that is no longer the one at path is opened again;
// write the record in one write, close (which unlocks).
//
// FreeRADIUS gives up after four refusals (the request fails); this keeps
// trying. A writer that waited for the lock (F_SETLKW) instead would hold
// the claimed file open, and a consumer could then take its end as final
// only after its settle time.
func AppendDetail(path string, data []byte) error {
	for {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return err
		}
		lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: io.SeekStart}
		if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk); err != nil {
			f.Close()
			if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) {
				continue
			}
			return err
		}
		fi, err1 := f.Stat()
		pi, err2 := os.Stat(path)
		if err1 != nil || err2 != nil || !os.SameFile(fi, pi) {
			f.Close()
			continue
		}
		_, err = f.Write(data)
		f.Close()
		return err
	}
}
