package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCatReproducesFreeRADIUSFiles: radrelay cat of a file FreeRADIUS 3.2
// wrote is the file, byte for byte.
func TestCatReproducesFreeRADIUSFiles(t *testing.T) {
	files, _ := filepath.Glob("../../detail/testdata/freeradius/*.detail")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, f := range files {
		want, _ := os.ReadFile(f)
		code, out, errs := runCmd(t, "", "cat", f)
		if code != 0 || errs != "" {
			t.Fatalf("%s: exit %d: %s", f, code, errs)
		}
		if out != string(want) {
			t.Errorf("cat %s differs from the file", f)
		}
	}
	// Several files are concatenated.
	a, _ := os.ReadFile(hostileFixture)
	b, _ := os.ReadFile(sessionsFixture)
	if _, out, _ := runCmd(t, "", "cat", hostileFixture, sessionsFixture); out != string(a)+string(b) {
		t.Error("cat of two files is not their concatenation")
	}
}

func TestCatJSONAndCSV(t *testing.T) {
	code, out, errs := runCmd(t, "", "cat", "--format", "json", sessionsFixture)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 213 {
		t.Fatalf("%d JSON lines, want 213", len(lines))
	}
	for _, l := range lines {
		var obj struct {
			Timestamp  int64          `json:"timestamp"`
			Line       int            `json:"line"`
			Attributes map[string]any `json:"attributes"`
		}
		if err := json.Unmarshal([]byte(l), &obj); err != nil || obj.Timestamp == 0 || obj.Line == 0 || obj.Attributes["Acct-Status-Type"] == nil {
			t.Fatalf("bad line %v: %s", err, l)
		}
	}

	code, out, _ = runCmd(t, "", "cat", "--format", "csv", "--columns", "User-Name,Acct-Status-Type,Other-Attributes", hostileFixture)
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || len(rows) != 25 || strings.Join(rows[0], ",") != "User-Name,Acct-Status-Type,Other-Attributes" {
		t.Fatalf("exit %d, %v, %d rows: %q", code, err, len(rows), rows[0])
	}
	if rows[1][0] != "ctrl-bytes" || !strings.Contains(rows[1][2], `Reply-Message = "\001\002`) {
		t.Errorf("row: %q", rows[1])
	}

	code, out, _ = runCmd(t, "", "cat", "--format", "csv", sessionsFixture)
	rows, err = csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || len(rows) != 214 || rows[0][0] != "Date" {
		t.Fatalf("default columns: exit %d, %v, %d rows", code, err, len(rows))
	}
}

func TestCatDamagedAndUsage(t *testing.T) {
	good, _ := os.ReadFile(hostileFixture)
	damaged := filepath.Join(t.TempDir(), "d")
	os.WriteFile(damaged, append(append([]byte("Mon Nov 23 12:00:00 2026\n\tbroken\n\n"), good...), "Mon Nov"...), 0o600)
	code, out, errs := runCmd(t, "", "cat", damaged)
	if code != 1 || out != string(good) {
		t.Errorf("exit %d; output is the good records: %v", code, out == string(good))
	}
	if !strings.Contains(errs, damaged+":2: ") || !strings.Contains(errs, "truncated") {
		t.Errorf("stderr: %s", errs)
	}
	for _, args := range [][]string{{"cat"}, {"cat", "--format", "xml", hostileFixture}, {"cat", "--columns", "A", hostileFixture}} {
		if code, _, _ := runCmd(t, "", args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	code, out, _ = runCmd(t, "", "help", "cat")
	if code != 0 || !strings.Contains(out, "Examples:") || !bytes.Contains([]byte(out), []byte("-format")) {
		t.Errorf("help: %d\n%s", code, out)
	}
}
