package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// runCmd runs radrelay with args in-process and returns the exit status,
// stdout and stderr.
func runCmd(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runMain(&env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb}, args)
	return code, out.String(), errb.String()
}

const (
	hostileFixture  = "../../detail/testdata/freeradius/packets-hostile.detail"
	sessionsFixture = "../../detail/testdata/freeradius/packets-sessions.detail"
)

func TestCheckCleanFileJSON(t *testing.T) {
	code, out, errs := runCmd(t, "", "check", "--json", hostileFixture, sessionsFixture)
	if code != 0 {
		t.Fatalf("exit %d, stderr %s, stdout %s", code, errs, out)
	}
	var rep struct {
		Records, Errors, Truncated int
		ByStatus                   map[string]int `json:"by_status"`
		First                      *int64         `json:"first_timestamp"`
		Files                      []struct {
			File    string
			Records int
		}
		Problems []any
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.Records != 24+213 || rep.Errors != 0 || rep.Truncated != 0 || rep.First == nil || len(rep.Files) != 2 || len(rep.Problems) != 0 {
		t.Errorf("report: %+v", rep)
	}
	// packets-hostile.txt sends every Acct-Status-Type once or more.
	for _, st := range []string{"Start", "Stop", "Interim-Update", "Accounting-On", "Accounting-Off", "Failed",
		"Tunnel-Start", "Tunnel-Stop", "Tunnel-Reject", "Tunnel-Link-Start", "Tunnel-Link-Stop", "Tunnel-Link-Reject", "42"} {
		if rep.ByStatus[st] == 0 {
			t.Errorf("by_status has no %s: %v", st, rep.ByStatus)
		}
	}
}

func TestCheckDamaged(t *testing.T) {
	good, _ := os.ReadFile(hostileFixture)
	dir := t.TempDir()
	damaged := filepath.Join(dir, "detail-damaged")
	data := string(good) + "Mon Nov 23 12:00:00 2026\n\tUser-Name \"x\"\n\tTimestamp = 1\n\n" +
		string(good[:300]) + "Mon Nov 23 12:00:01 2026\n\tUser-Name = \"cut"
	os.WriteFile(damaged, []byte(data), 0o600)
	lines := strings.Count(string(good), "\n")

	code, out, _ := runCmd(t, "", "check", damaged)
	if code != 1 {
		t.Fatalf("exit %d for a damaged file\n%s", code, out)
	}
	for _, want := range []string{
		damaged + ":" + itoa(lines+2) + `: attribute line has no " = "`,
		damaged + ":" + itoa(lines+5) + ": truncated record at the end of the file (offset " + itoa(len(good)+56),
		"NOT OK: 24 records, 1 malformed, 1 truncated",
		"by Acct-Status-Type: ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	code, out, _ = runCmd(t, "", "check", "--json", damaged, filepath.Join(dir, "missing"))
	var rep struct {
		Records, Errors, Truncated, Unreadable int
		Problems                               []struct {
			File, Kind, Message string
			Line                int
			Offset              int64
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitUnreadable {
		t.Fatalf("exit %d, %v\n%s", code, err, out)
	}
	if rep.Errors != 1 || rep.Unreadable != 1 || rep.Truncated != 1 || len(rep.Problems) != 3 || rep.Problems[0].Kind != "malformed" ||
		rep.Problems[1].Kind != "truncated" || rep.Problems[2].Kind != "unreadable" || rep.Problems[1].Offset != int64(len(good))+56 || rep.Problems[0].Line != lines+2 {
		t.Errorf("report: %+v", rep)
	}
}

func TestCheckStdinAndUsage(t *testing.T) {
	data, _ := os.ReadFile(hostileFixture)
	if code, out, _ := runCmd(t, string(data), "check", "-"); code != 0 || !strings.Contains(out, "-: ok: 24 records") {
		t.Errorf("stdin: exit %d\n%s", code, out)
	}
	if code, _, _ := runCmd(t, "", "check"); code != 2 {
		t.Errorf("no FILE: exit %d", code)
	}
	code, out, _ := runCmd(t, "", "check", "--help")
	if code != 0 || !strings.Contains(out, "Examples:") || !strings.Contains(out, "-json") {
		t.Errorf("--help: exit %d\n%s", code, out)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
