package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/radrelay/radrelay/detail"
)

// TestQuarantineUnpackEditReplay is the documented repair flow through the
// built binary: a malformed record is quarantined; list and show say it must
// be repaired; unpack gives it back as it was; once edited, a replay
// delivers it instead of quarantining it again with the old reason.
func TestQuarantineUnpackEditReplay(t *testing.T) {
	dir := t.TempDir()
	q := filepath.Join(dir, "q")
	out := filepath.Join(dir, "out.jsonl")
	quarantineMalformed(t, dir, q, out)
	bad := malformedRecord
	files, _ := filepath.Glob(filepath.Join(q, "a-*.detail"))
	if len(files) != 1 {
		t.Fatalf("quarantine files %v, want one", files)
	}
	code, stdout, stderr := runBin(t, os.Args[0], nil, "quarantine", "list", q)
	if code != 0 || !strings.Contains(stdout, ": 1 entry, 1 to repair (unpack), 0 to send again as they are") ||
		!strings.Contains(stdout, "sink a: malformed 1") {
		t.Errorf("quarantine list: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, _ = runBin(t, os.Args[0], nil, "quarantine", "show", files[0])
	if code != 0 || !strings.Contains(stdout, "action: repair first") || !strings.Contains(stdout, `Acct-Session-Time 300`) {
		t.Errorf("quarantine show: exit %d\n%s", code, stdout)
	}
	fix := filepath.Join(dir, "fix.detail")
	code, _, stderr = runBin(t, os.Args[0], nil, "quarantine", "unpack", "-o", fix, files[0])
	data, _ := os.ReadFile(fix)
	if code != 0 || string(data) != bad {
		t.Fatalf("quarantine unpack: exit %d, %s\nwrote:\n%q\nwant the record as it was:\n%q", code, stderr, data, bad)
	}
	os.WriteFile(fix, []byte(strings.Replace(string(data), "Acct-Session-Time 300", "Acct-Session-Time = 300", 1)), 0o600)
	code, _, stderr = runBin(t, os.Args[0], nil, "replay", "--quarantine", filepath.Join(dir, "q2"), "--to", "a=jsonl:"+out, fix)
	if code != 0 || !strings.Contains(stderr, "sink a: 1 delivered, 0 quarantined") {
		t.Errorf("replay of the repaired record: exit %d:\n%s", code, stderr)
	}
	got, _ := os.ReadFile(out)
	if ids := hIDs(string(got)); ids["h000001"] != 1 || ids["h000002"] != 1 {
		t.Errorf("delivered %v, want h000001 (repaired) and h000002 once each", ids)
	}
}

// malformedRecord is a record of session h000001 that the reader cannot
// parse: its Acct-Session-Time line has no "=".
const malformedRecord = "Mon Nov 23 11:57:39 2026\n\tUser-Name = \"u\"\n\tAcct-Status-Type = Stop\n\tAcct-Session-Id = \"h000001\"\n\tAcct-Session-Time 300\n\tTimestamp = 1795435059\n\n"

// quarantineMalformed replays, through the built binary, a detail file in
// dir holding malformedRecord and then the good record h000002 to a jsonl
// sink "a" writing out, with the quarantine in q: the replay must exit 1,
// having quarantined the malformed record.
func quarantineMalformed(t *testing.T, dir, q, out string) {
	t.Helper()
	src := filepath.Join(dir, "detail-20261123")
	hWrite(t, src, append([]byte(malformedRecord), hRecord(2)...), 0o600, 0)
	if code, _, stderr := runBin(t, os.Args[0], nil, "replay", "--quarantine", q, "--to", "a=jsonl:"+out, src); code != 1 {
		t.Fatalf("replay of a damaged file: exit %d, want 1:\n%s", code, stderr)
	}
}

// TestQuarantineLongBinaryRecordReadsBack: a malformed record of 60,000
// control bytes (each quoted as four) was quarantined inline whole: a
// 240 KB entry that replay, quarantine list and unpack then refused as
// longer than the largest record (64 KiB). The entry now keeps inline what
// fits in half of that, and the side file every byte: it reads back, is
// quarantined again as itself by a replay of the quarantine, and unpacks
// to the record as it was.
func TestQuarantineLongBinaryRecordReadsBack(t *testing.T) {
	dir := t.TempDir()
	q, q2 := filepath.Join(dir, "q"), filepath.Join(dir, "q2")
	out := filepath.Join(dir, "out.jsonl")
	bad := "Mon Nov 23 11:57:39 2026\n\tUser-Name = \"u\"\n\tgarbage " + strings.Repeat("\x01", 60000) + "\n\n"
	src := filepath.Join(dir, "detail-20261123")
	hWrite(t, src, append([]byte(bad), hRecord(2)...), 0o600, 0)
	if code, _, stderr := runBin(t, os.Args[0], nil, "replay", "--quarantine", q, "--to", "a=jsonl:"+out, src); code != 1 {
		t.Fatalf("replay of the damaged file: exit %d, want 1:\n%s", code, stderr)
	}
	files, _ := filepath.Glob(filepath.Join(q, "a-*.detail"))
	if len(files) != 1 {
		t.Fatalf("quarantine files %v, want one", files)
	}
	if st, err := os.Stat(files[0]); err != nil || st.Size() > detail.DefaultMaxRecordSize {
		t.Fatalf("quarantine entry of %v bytes (%v), want at most %d", st.Size(), err, detail.DefaultMaxRecordSize)
	}
	code, stdout, stderr := runBin(t, os.Args[0], nil, "quarantine", "list", q)
	if code != 0 || !strings.Contains(stdout, ": 1 entry, 1 to repair (unpack)") {
		t.Errorf("quarantine list: exit %d\n%s%s", code, stdout, stderr)
	}
	fix := filepath.Join(dir, "fix.detail")
	code, _, stderr = runBin(t, os.Args[0], nil, "quarantine", "unpack", "-o", fix, files[0])
	if data, _ := os.ReadFile(fix); code != 0 || string(data) != bad {
		t.Fatalf("quarantine unpack: exit %d, %s; wrote %d bytes, want the %d of the record as it was", code, stderr, len(data), len(bad))
	}
	// Replaying the quarantine quarantines the entry again ("still
	// malformed", with its side file), not as an unreadable record of the
	// quarantine.
	code, _, stderr = runBin(t, os.Args[0], nil, "replay", "--quarantine", q2, "--to", "a=jsonl:"+out, files[0])
	if code != 1 || strings.Contains(stderr, "longer than") {
		t.Fatalf("replay of the quarantine: exit %d, want 1, the entry read back:\n%s", code, stderr)
	}
	again, _ := filepath.Glob(filepath.Join(q2, "a-*.detail"))
	if len(again) != 1 {
		t.Fatalf("second quarantine files %v, want one", again)
	}
	data, _ := os.ReadFile(again[0])
	if !strings.Contains(string(data), `Radrelay-Quarantine-Reason = "still malformed (malformed: line 3:`) || !strings.Contains(string(data), "Radrelay-Quarantine-Raw-File = ") {
		t.Errorf("the entry quarantined again is not the first one, still malformed, with its side file:\n%.300s", data)
	}
}
