//go:build linux

package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/radrelay/radrelay/internal/freeradiustest"
	"github.com/radrelay/radrelay/internal/testpki"
	"github.com/radrelay/radrelay/sinks/sinktest"
)

// TestReplayOverRadSec replays through a radsec:// URL to FreeRADIUS 3.2's
// TLS listener (mutual TLS, the RFC 6614 default secret): exit 0, every
// record in the server's detail file. A client certificate from another CA
// is refused: the replay says which setting to fix and exits 1.
func TestReplayOverRadSec(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: -short")
	}
	dir := t.TempDir()
	ca := testpki.NewCA(t, dir, "radsec-ca")
	server := ca.Issue(t, "server.radsec.test", testpki.Options{})
	client := ca.Issue(t, "client.radsec.test", testpki.Options{Client: true})
	home := freeradiustest.StartHomeServer(t, freeradiustest.HomeOptions{
		Secret: "radsec",
		TLS:    &freeradiustest.TLSFiles{CertFile: server.CertFile, KeyFile: server.KeyFile, CAFile: ca.File},
	})
	src := writeDetail(t, filepath.Join(dir, "detail-20261123"), sinktest.Records(300))
	url := "radsec://" + home.Addr + "?certificate_file=" + client.CertFile + "&private_key_file=" + client.KeyFile + "&ca_file=" + ca.File
	code, _, stderr := runCLI(t, "replay", "--to", url, "--quarantine", filepath.Join(dir, "q"), src)
	if code != 0 {
		t.Fatalf("replay: status %d\n%s", code, stderr)
	}
	home.WaitRecords(t, 300, time.Minute)

	other := testpki.NewCA(t, t.TempDir(), "other-ca")
	stranger := other.Issue(t, "stranger.radsec.test", testpki.Options{Client: true})
	bad := "radsec://" + home.Addr + "?certificate_file=" + stranger.CertFile + "&private_key_file=" + stranger.KeyFile + "&ca_file=" + ca.File
	cmd, lines := startRadrelay(t, "replay", "--to", bad, "--quarantine", filepath.Join(dir, "q2"), src)
	said := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if l := lines.Text(); strings.Contains(l, "radsec: cannot connect") {
				said <- l
				break
			}
		}
		for lines.Scan() {
		}
		close(said)
	}()
	select {
	case l, ok := <-said:
		if !ok || !strings.Contains(l, "refused our certificate") || !strings.Contains(l, "certificate_file") {
			t.Fatalf("the refusal was not reported with its fix: %q", l)
		}
	case <-time.After(time.Minute):
		t.Fatal("no report of the refused certificate within a minute")
	}
	cmd.Process.Kill()
}
