package spool

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestWriterClaimedByAnotherProcess: a reader in another process (FreeRADIUS's
// detail reader, a radrelay consuming the spool) locks the file, then renames
// it to its work name, and holds the lock until it has read it. The writer
// holding the file open is refused the lock: it must move to a fresh file at
// the path at once, as FreeRADIUS's exfile_open does, not fail the write
// (which stops a listener's acknowledgements). An open-file-description lock
// stands for the other process: it conflicts with the writer's fcntl lock
// even within one process.
func TestWriterClaimedByAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "detail")
	w, err := New(Options{Template: path, Lock: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Write(testRecord("a", 1, "10.0.0.1")); err != nil {
		t.Fatal(err)
	}
	reader, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	if err := unix.FcntlFlock(reader.Fd(), unix.F_OFD_SETLK, &lk); err != nil {
		t.Skipf("no open-file-description locks: %v", err)
	}
	if err := os.Rename(path, path+".work"); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(testRecord("b", 2, "10.0.0.1")); err != nil {
		t.Fatalf("write after another process claimed the file: %v", err)
	}
	if got, errs := users(t, path); len(got) != 1 || got[0] != "b" || len(errs) != 0 {
		t.Errorf("new file holds %v (%v), want [b]", got, errs)
	}
	if got, errs := users(t, path+".work"); len(got) != 1 || got[0] != "a" || len(errs) != 0 {
		t.Errorf("work file holds %v (%v), want [a]", got, errs)
	}
}
