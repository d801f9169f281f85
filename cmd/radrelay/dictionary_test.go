package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckStrict(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "detail")
	os.WriteFile(bad, []byte("Mon Nov 23 11:57:39 2026\n"+
		"\tUser-Name = \"carl\"\n"+
		"\tAcct-Status-Type = Begin\n"+ // no such VALUE
		"\tNAS-IP-Address = 10.0.0.300\n"+ // not an address
		"\tNot-An-Attribute-Anywhere = 1\n"+
		"\tAcct-Session-Time = 12\n"+
		"\tTimestamp = 1795435059\n\n"), 0o600)
	userDict := filepath.Join(dir, "dictionary")
	os.WriteFile(userDict, []byte("ATTRIBUTE\tNot-An-Attribute-Anywhere\t3000\tinteger\n"), 0o600)

	tests := []struct {
		name      string
		args      []string
		code      int
		wantLines []string
	}{
		{"without --strict names are not checked", []string{"check", bad}, 0, nil},
		{"strict", []string{"check", "--strict", bad}, 1,
			[]string{bad + ":3: ", bad + ":4: ", bad + ":5: "}},
		{"strict with a user dictionary", []string{"check", "--strict", "--dictionary", userDict, bad}, 1,
			[]string{bad + ":3: ", bad + ":4: "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runCmd(t, "", tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stdout %s stderr %s", code, tt.code, out, errs)
			}
			var problems []string
			for _, l := range strings.Split(out, "\n") {
				if rest, ok := strings.CutPrefix(l, bad+":"); ok && rest != "" && rest[0] >= '0' && rest[0] <= '9' {
					problems = append(problems, l)
				}
			}
			if len(problems) != len(tt.wantLines) {
				t.Fatalf("problems %q, want %d", problems, len(tt.wantLines))
			}
			for i, p := range problems {
				if !strings.HasPrefix(p, tt.wantLines[i]) {
					t.Errorf("problem %q, want prefix %q", p, tt.wantLines[i])
				}
			}
		})
	}

	code, _, errs := runCmd(t, "", "check", "--strict", "--dictionary", filepath.Join(dir, "missing"), bad)
	if code != 2 || !strings.Contains(errs, "missing") {
		t.Errorf("a missing dictionary: exit %d, stderr %q", code, errs)
	}
}

func TestCatJSONTypedValues(t *testing.T) {
	code, out, errs := runCmd(t, "", "cat", "--format", "json", sessionsFixture)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var seen bool
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var obj struct {
			Attributes map[string]any `json:"attributes"`
		}
		if err := json.Unmarshal([]byte(l), &obj); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		if st, ok := obj.Attributes["Acct-Status-Type"].(string); !ok || st == "" {
			t.Fatalf("Acct-Status-Type is not a VALUE name: %v", obj.Attributes["Acct-Status-Type"])
		}
		if v, ok := obj.Attributes["Acct-Session-Time"]; ok {
			if _, isNum := v.(float64); !isNum {
				t.Fatalf("Acct-Session-Time is %T %v, want a number", v, v)
			}
			seen = true
		}
	}
	if !seen {
		t.Fatal("no record with Acct-Session-Time in the fixture")
	}
}

// TestReplayJSONLMatchesCatJSON: a jsonl sink writes what cat --format json
// prints, typed values included.
func TestReplayJSONLMatchesCatJSON(t *testing.T) {
	_, catOut, _ := runCmd(t, "", "cat", "--format", "json", sessionsFixture)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	if code, _, errs := runCmd(t, "", "replay", "--to", "jsonl:"+out, sessionsFixture); code != 0 {
		t.Fatalf("replay: exit %d: %s", code, errs)
	}
	got, _ := os.ReadFile(out)
	if string(got) != catOut {
		t.Errorf("jsonl sink output differs from cat --format json")
	}
}
