//go:build linux

// Package tmpfstest mounts a small tmpfs for tests that need a disk that
// really fills up (ENOSPC part way through a write(2)), and grows it again.
//
// Mounting needs root (CAP_SYS_ADMIN), which the project's CI and build
// machine have. Without it, Mount skips the test with a loud message, unless
// RADRELAY_REQUIRE_SERVERS=1 (as CI sets), when it fails instead.
package tmpfstest

import (
	"fmt"
	"os"
	"syscall"
	"testing"
)

// RequireEnv, set to 1, turns a skip for a missing privilege into a failure.
const RequireEnv = "RADRELAY_REQUIRE_SERVERS"

// Mount mounts a tmpfs of size bytes on a new temporary directory, returns
// the directory, and unmounts it when the test ends.
func Mount(t testing.TB, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0755", size)); err != nil {
		msg := fmt.Sprintf("SKIPPED: cannot mount a small tmpfs to fill a disk for real (%v; needs root, uid is %d)", err, os.Getuid())
		if os.Getenv(RequireEnv) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
		}
	})
	return dir
}

// Resize changes the size of the tmpfs mounted on dir by Mount (a full disk
// that an operator makes room on).
func Resize(t testing.TB, dir string, size int) {
	t.Helper()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT, fmt.Sprintf("size=%d", size)); err != nil {
		t.Fatalf("resizing the tmpfs on %s: %v", dir, err)
	}
}
