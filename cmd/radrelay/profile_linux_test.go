//go:build linux

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestProfileVariables: the hidden RADRELAY_CPUPROFILE and
// RADRELAY_ALLOCPROFILE variables write pprof profiles (gzip) of the
// command, which runs as without them; a file that cannot be created is
// said on stderr under the variable's name and the command still runs.
func TestProfileVariables(t *testing.T) {
	file := filepath.Join("..", "..", "detail", "testdata", "freeradius", "packets-sessions.detail")
	code0, out0, _ := runBinary(t, nil, "check", file)
	dir := t.TempDir()
	cpu, allocs := filepath.Join(dir, "cpu.pprof"), filepath.Join(dir, "allocs.pprof")
	code, out, errs := runBinary(t, []string{"RADRELAY_CPUPROFILE=" + cpu, "RADRELAY_ALLOCPROFILE=" + allocs}, "check", file)
	if code != code0 || out != out0 || errs != "" {
		t.Fatalf("with profiles: exit %d, stdout %q, stderr %q; without: exit %d, stdout %q", code, out, errs, code0, out0)
	}
	for _, p := range []string{cpu, allocs} {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
			t.Errorf("%s: %d bytes, %v: want a gzip-compressed profile", filepath.Base(p), len(b), err)
		}
	}
	code, out, errs = runBinary(t, []string{"RADRELAY_ALLOCPROFILE=" + filepath.Join(dir, "missing", "allocs.pprof")}, "check", file)
	if code != code0 || out != out0 || !strings.Contains(errs, "RADRELAY_ALLOCPROFILE") {
		t.Errorf("unwritable profile: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}
