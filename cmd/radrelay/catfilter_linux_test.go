package main

import (
	"os"
	"strings"
	"testing"
)

// TestCatFilters: the help's example (one day's Stop records as CSV) runs
// as written, through the built binary, and filters mean what a sink's
// filter means.
func TestCatFilters(t *testing.T) {
	const sample = "../../examples/radacct/127.0.0.1/detail-20261123"
	data, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	stops := strings.Count(string(data), "Acct-Status-Type = Stop\n")
	code, stdout, stderr := runBin(t, os.Args[0], nil, "cat", "--format", "csv", "--status-type", "Stop",
		"--columns", "Date,Time,User-Name,Acct-Session-Time,Acct-Input-Octets,Acct-Output-Octets", sample)
	if rows := strings.Count(stdout, "\r\n") - 1; code != 0 || rows != stops || stops == 0 {
		t.Errorf("exit %d, %d rows, want %d Stop records: %s", code, rows, stops, stderr)
	}
	code, stdout, _ = runBin(t, os.Args[0], nil, "cat", "--status-type", "Start", "--match", "User-Name=^student3",
		"--keep-attributes", "User-Name,Acct-Status-Type", sample)
	if code != 0 || stdout == "" || strings.Contains(stdout, "Acct-Session-Id") || strings.Contains(stdout, "= Stop") ||
		strings.Contains(stdout, `User-Name = "student1`) {
		t.Errorf("exit %d, filtered output:\n%.600s", code, stdout)
	}
	if code, _, stderr := runBin(t, os.Args[0], nil, "cat", "--status-type", "Begin", sample); code != 2 ||
		!strings.Contains(stderr, `unknown Acct-Status-Type "Begin"`) {
		t.Errorf("a bad filter: exit %d, %s", code, stderr)
	}
}
