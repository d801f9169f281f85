package freeradiustest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// SendAccounting sends the Accounting-Requests in packets (radclient's input
// format: "Name = value" lines, requests separated by an empty line) to addr
// with radclient, parallel requests at a time, and fails the test when any
// of them is not acknowledged. It is the way to make FreeRADIUS write a
// detail file with chosen contents.
func SendAccounting(tb testing.TB, addr, secret, packets string, parallel int) {
	tb.Helper()
	bin := Radclient(tb)
	in := filepath.Join(tb.TempDir(), "packets")
	if err := os.WriteFile(in, []byte(packets), 0o600); err != nil {
		tb.Fatal(err)
	}
	if parallel <= 0 {
		parallel = 50
	}
	cmd := exec.Command(bin, "-q", "-f", in, "-p", strconv.Itoa(parallel), "-r", "3", "-t", "5", addr, "acct", secret)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("freeradiustest: radclient: %v\n%s", err, out)
	}
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o600)
}
