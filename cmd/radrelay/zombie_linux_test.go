//go:build linux

package main

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/radrelay/radrelay/sinks/sinktest"
)

// TestReplayFailsOverAfterZombiePeriod (issue 11 item 11): a primary that
// answers nothing is marked dead zombie_period after the first request it
// was sent, by the built binary, and the replay finishes through the
// backup. The retransmission timer is an hour: before the fix the primary
// was only ever marked dead when that timer fired, so the replay hung.
func TestReplayFailsOverAfterZombiePeriod(t *testing.T) {
	const secret = "zombie-test-secret"
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, _, err := silent.ReadFrom(buf); errors.Is(err, net.ErrClosed) {
				return
			}
		}
	}()
	backup := startAccountingServer(t, secret)
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	os.WriteFile(secretFile, []byte(secret+"\n"), 0o600)
	src := writeDetail(t, filepath.Join(dir, "detail-20261123"), sinktest.Records(50))
	url := "radius://" + silent.LocalAddr().String() + "," + backup.addr + "?secret_file=" + secretFile +
		"&zombie_period=1s&initial_rtx=1h&max_rtx=1h&max_rtx_count=-1&max_rtx_duration=10h&fast_retransmit=-1"
	cmd, stderr := startRadrelay(t, "replay", "--to", url, "--quarantine", filepath.Join(dir, "q"), src)
	marked := make(chan bool, 1)
	go func() {
		found := false
		for stderr.Scan() {
			if !found && strings.Contains(stderr.Text(), "marked dead") && strings.Contains(stderr.Text(), "no reply for 1") {
				found = true
				marked <- true
			}
		}
		if !found {
			marked <- false
		}
	}()
	select {
	case ok := <-marked:
		if !ok {
			t.Fatal("radrelay exited without marking the primary dead")
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the primary was not marked dead within a minute (zombie_period is 1s)")
	}
	if code := exitStatus(t, cmd); code != 0 {
		t.Fatalf("replay exit status %d, want 0", code)
	}
	if n := backup.distinct(); n != 50 {
		t.Fatalf("backup got %d distinct records, want 50", n)
	}
}
