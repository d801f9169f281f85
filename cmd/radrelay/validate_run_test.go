//go:build linux

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runBinary runs radrelay as a process (the test binary re-executed as
// radrelay, see TestMain) and returns its exit status, stdout and stderr.
func runBinary(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "RADRELAY_TEST_AS_MAIN=1"), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), stdout.String(), stderr.String()
	case err != nil:
		t.Fatal(err)
	}
	return 0, stdout.String(), stderr.String()
}

// TestValidateIsRun: every invalid configuration under testdata/config gets
// the same errors, all at once and at their lines (the .golden file), and
// exit status 2 from "radrelay validate" and from "radrelay run", as a
// process: validate makes the checks run makes before it opens anything.
func TestValidateIsRun(t *testing.T) {
	files, _ := filepath.Glob("testdata/config/bad-*.toml")
	if len(files) < 12 {
		t.Fatalf("%d invalid configurations, want at least 12", len(files))
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			want, err := os.ReadFile(strings.TrimSuffix(file, ".toml") + ".golden")
			if err != nil {
				t.Fatal(err)
			}
			for _, command := range []string{"validate", "run"} {
				code, stdout, stderr := runBinary(t, nil, command, "-c", file)
				if code != 2 || stderr != string(want) || stdout != "" {
					t.Errorf("radrelay %s -c %s: status %d, stdout %q, stderr:\n%s\nwant status 2 and stderr:\n%s", command, file, code, stdout, stderr, want)
				}
			}
		})
	}
}
