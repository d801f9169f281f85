package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestQuarantineListDirectories: "list DIR" with the state directory lists
// its quarantine subdirectory, an empty directory says there is nothing
// (both printed nothing, exit 0), and a flag the action does not know is a
// usage error, not a file that cannot be opened.
func TestQuarantineListDirectories(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	quarantineMalformed(t, dir, filepath.Join(state, "quarantine"), filepath.Join(dir, "out.jsonl"))
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o700)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"quarantine", "list", state}, 0, ": 1 entry, 1 to repair (unpack)"},
		{[]string{"quarantine", "list", empty}, 0, empty + ": no quarantine files (nothing quarantined)"},
		{[]string{"quarantine", "list", "--state", state}, 2, "unknown flag --state"},
	} {
		code, stdout, stderr := runBin(t, os.Args[0], nil, tc.args...)
		if code != tc.code || !strings.Contains(stdout+stderr, tc.want) {
			t.Errorf("%v: exit %d (want %d), want %q in:\n%s%s", tc.args, code, tc.code, tc.want, stdout, stderr)
		}
	}
}
