//go:build linux

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestCatJSONKeepsEveryByte: radrelay cat --format json (the jsonl sink's
// and the stream sinks' encoder) wrote a value that is not UTF-8 with
// U+FFFD in place of its bytes, and a Timestamp past year 9999 as a "time"
// no RFC 3339 reader accepts. The value is now escaped as the detail file
// writes it, its attribute listed in "escaped"; the Timestamp is kept in
// "timestamp", without "time".
func TestCatJSONKeepsEveryByte(t *testing.T) {
	file := filepath.Join(t.TempDir(), "detail-20261123")
	os.WriteFile(file, []byte("Mon Nov 23 11:57:39 2026\n"+
		"\tUser-Name = \"caf\\351\"\n\tClass = \"back\\\\slash\"\n\tAcct-Status-Type = Start\n\tTimestamp = 253402300800\n\n"), 0o600)
	code, out, errs := runBinary(t, nil, "cat", "--format", "json", file)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var obj struct {
		Time       *string           `json:"time"`
		Timestamp  int64             `json:"timestamp"`
		Attributes map[string]string `json:"attributes"`
		Escaped    []string          `json:"escaped"`
	}
	if err := json.Unmarshal([]byte(out), &obj); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if obj.Time != nil || obj.Timestamp != 253402300800 {
		t.Errorf("time %v, timestamp %d: want no time and the Timestamp exactly: %s", obj.Time, obj.Timestamp, out)
	}
	if obj.Attributes["User-Name"] != `caf\351` || obj.Attributes["Class"] != `back\slash` || len(obj.Escaped) != 1 || obj.Escaped[0] != "User-Name" {
		t.Errorf("User-Name %q, Class %q, escaped %q: want caf\\351 escaped, Class as it is: %s",
			obj.Attributes["User-Name"], obj.Attributes["Class"], obj.Escaped, out)
	}
}
