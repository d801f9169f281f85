//go:build linux

package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/internal/tmpfstest"
	"github.com/radrelay/radrelay/sinks/sinktest"
)

// TestProcessFullDiskLeavesWholeRecords: radrelay replay writes into a disk
// that fills up (a 64 KiB tmpfs) through detail, jsonl and csv sinks; once
// the sinks have failed, room is made and the replay finishes. Every output
// file then holds every record exactly once and nothing malformed:
// "radrelay check" (the binary) finds no problem in the detail file.
func TestProcessFullDiskLeavesWholeRecords(t *testing.T) {
	disk := tmpfstest.Mount(t, 64<<10)
	dir := t.TempDir()
	const n = 3000
	recs := sinktest.Records(n)
	in := writeDetail(t, filepath.Join(dir, "detail-20261123"), recs)
	out := func(name string) string { return filepath.Join(disk, name) }
	cmd, stderr := startRadrelay(t, "replay", "--log-format", "json",
		"--to", "d=detail:"+out("out.detail"), "--to", "j=jsonl:"+out("out.jsonl"), "--to", "c=csv:"+out("out.csv"), in)
	waitLine(t, stderr, "no space left on device")
	tmpfstest.Resize(t, disk, 64<<20)
	go io.Copy(io.Discard, stdoutOf(stderr))
	if code := exitStatus(t, cmd); code != 0 {
		t.Fatalf("replay exit status %d", code)
	}

	// A record is its session and status (a session has three records).
	key := func(r *detail.Record) string {
		st, _ := r.Get("Acct-Status-Type")
		return sinktest.SessionID(r) + "/" + st.Value
	}
	want := map[string]bool{}
	for _, r := range recs {
		want[key(r)] = true
	}
	once := func(format string, ids []string) {
		t.Helper()
		seen := map[string]int{}
		for _, id := range ids {
			seen[id]++
			if !want[id] || seen[id] > 1 {
				t.Errorf("%s: record %q is there %d times (known: %v)", format, id, seen[id], want[id])
			}
		}
		if len(seen) != n {
			t.Errorf("%s: %d of %d records", format, len(seen), n)
		}
	}

	// detail: radrelay check, as an operator would run it.
	check := exec.Command(os.Args[0], "check", "--json", out("out.detail"))
	check.Env = append(os.Environ(), "RADRELAY_TEST_AS_MAIN=1")
	var checkOut bytes.Buffer
	check.Stdout = &checkOut
	if err := check.Run(); err != nil {
		t.Errorf("radrelay check: %v\n%s", err, checkOut.String())
	}
	var rep struct{ Records, Errors, Truncated int }
	if err := json.Unmarshal(checkOut.Bytes(), &rep); err != nil || rep.Records != n || rep.Errors != 0 || rep.Truncated != 0 {
		t.Errorf("radrelay check: %+v (%v), want %d records and no problem", rep, err, n)
	}
	data, _ := os.ReadFile(out("out.detail"))
	var ids []string
	r := detail.NewReader(bytes.NewReader(data), "out.detail")
	for {
		rec, err := r.Next()
		if err != nil {
			break
		}
		ids = append(ids, key(rec))
	}
	once("detail", ids)

	// jsonl: every line one whole JSON object.
	data, _ = os.ReadFile(out("out.jsonl"))
	ids = nil
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		var obj struct{ Attributes map[string]any }
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			t.Fatalf("out.jsonl line %d: %v: %.80q", i+1, err, line)
		}
		id, _ := obj.Attributes["Acct-Session-Id"].(string)
		st, _ := obj.Attributes["Acct-Status-Type"].(string)
		ids = append(ids, id+"/"+st)
	}
	once("jsonl", ids)

	// csv: one header, then one whole row per record.
	f, _ := os.Open(out("out.csv"))
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("out.csv: %v", err)
	}
	col := map[string]int{}
	for i, c := range rows[0] {
		col[c] = i
	}
	ids = nil
	for _, row := range rows[1:] {
		ids = append(ids, row[col["Acct-Session-Id"]]+"/"+row[col["Acct-Status-Type"]])
	}
	once("csv", ids)
}
