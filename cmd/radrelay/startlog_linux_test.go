package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// At start radrelay run says, per sink, where it resumes and what it has to
// catch up on (issue 13 item 4): a sink that delivered everything is caught
// up after a restart, one that delivered nothing is behind by the whole file.
func TestRunSaysWhereEachSinkResumes(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "radacct")
	os.Mkdir(spool, 0o700)
	file := filepath.Join(spool, "detail-20261123")
	data := hRecords(0, 5)
	hWrite(t, file, data, 0o600, 0)
	state := filepath.Join(dir, "state")
	args := []string{"run", "--mode", "follow", "--input", filepath.Join(spool, "detail-*"), "--to", "ok=jsonl:-",
		"--to", "full=jsonl:/dev/full", "--state", state, "--shutdown-timeout", "100ms"}
	first := startProc(t, os.Args[0], nil, args...)
	first.waitRecords(t, 5)
	first.stop(t)
	log := strings.Join(first.lines, "\n")
	if want := fmt.Sprintf(`msg="sink starting" sink=ok files=1 behind_files=1 behind_bytes=%d resumes_at=%s:1`, len(data), file); !strings.Contains(log, want) {
		t.Errorf("first start: no %q in:\n%s", want, log)
	}
	second := startProc(t, os.Args[0], nil, args...)
	second.waitLog(t, `msg="sink starting" sink=full`, 1)
	second.stop(t)
	log = strings.Join(second.lines, "\n")
	for _, want := range []string{
		`msg="sink starting" sink=ok files=1 behind_files=0 behind_bytes=0 resumes_at="caught up"`,
		fmt.Sprintf(`msg="sink starting" sink=full files=1 behind_files=1 behind_bytes=%d resumes_at=%s:1`, len(data), file),
	} {
		if !strings.Contains(log, want) {
			t.Errorf("restart: no %q in:\n%s", want, log)
		}
	}
	if !regexp.MustCompile(`msg="radrelay run starting" .* quarantine_dir=` + regexp.QuoteMeta(filepath.Join(state, "quarantine")) + ` `).MatchString(log) {
		t.Errorf("the start line does not name the quarantine directory in use:\n%s", log)
	}
}
