package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A file sink whose path is a directory is a configuration error, said at
// start with exit status 2, by replay, run and validate (it was retried for
// ever).
func TestFileSinkPathIsADirectory(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "detail-20261123")
	hWrite(t, in, hRecords(0, 2), 0o600, 0)
	out := filepath.Join(dir, "out")
	os.Mkdir(out, 0o700)
	conf := filepath.Join(dir, "radrelay.toml")
	os.WriteFile(conf, []byte(fmt.Sprintf(`state_dir = %q
[[input]]
glob = %q
mode = "follow"
[[sink]]
name = "copy"
type = "jsonl"
path = %q
`, filepath.Join(dir, "state"), filepath.Join(dir, "detail-*"), out)), 0o600)
	for _, args := range [][]string{
		{"replay", "--to", "jsonl:" + out, in},
		{"run", "-c", conf},
		{"validate", "-c", conf},
	} {
		code, _, stderr := runBin(t, os.Args[0], nil, args...)
		if code != 2 || !strings.Contains(stderr, "path: "+out+" is a directory: give the name of a file to write") {
			t.Errorf("%s: exit %d, want 2 and the path named as a directory:\n%s", args[0], code, stderr)
		}
	}
}
