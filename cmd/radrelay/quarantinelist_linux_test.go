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
	src := filepath.Join(dir, "detail-20261123")
	bad := "Mon Nov 23 11:57:39 2026\n\tUser-Name = \"u\"\n\tAcct-Session-Time 300\n\tTimestamp = 1795435059\n\n"
	os.WriteFile(src, []byte(bad+string(hRecord(2))), 0o600)
	state := filepath.Join(dir, "state")
	q := filepath.Join(state, "quarantine")
	if code, _, stderr := runBin(t, os.Args[0], nil, "replay", "--quarantine", q, "--to", "a=jsonl:"+filepath.Join(dir, "out.jsonl"), src); code != 1 {
		t.Fatalf("replay of a damaged file: exit %d, want 1:\n%s", code, stderr)
	}
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
