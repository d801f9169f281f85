//go:build linux

package main

import (
	"os"
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

	// The refused certificate: under TLS 1.3 the client's handshake ends
	// before the server checks the client's certificate, so the refusal
	// comes after it, as a closed connection on a read or a broken pipe on
	// a write, whichever comes first, and is not reported as a failed
	// connection (sinks/radius tests those paths with its own server).
	// Under TLS 1.2 FreeRADIUS closes the connection inside the client's
	// handshake, so the dial itself fails: the one deterministic path
	// through FreeRADIUS, so this part speaks TLS 1.2.
	strict := freeradiustest.StartHomeServer(t, freeradiustest.HomeOptions{
		Secret: "radsec",
		TLS:    &freeradiustest.TLSFiles{CertFile: server.CertFile, KeyFile: server.KeyFile, CAFile: ca.File, MaxVersion: "1.2"},
	})
	other := testpki.NewCA(t, t.TempDir(), "other-ca")
	stranger := other.Issue(t, "stranger.radsec.test", testpki.Options{Client: true})
	bad := "radsec://" + strict.Addr + "?certificate_file=" + stranger.CertFile + "&private_key_file=" + stranger.KeyFile + "&ca_file=" + ca.File
	// Without a retry budget the replay retries for ever: its first report
	// is what the operator sees, and it must say what to fix.
	cmd, lines := startRadrelay(t, "replay", "--to", bad, "--quarantine", filepath.Join(dir, "q2"), src)
	l := string(scanUntil(t, lines, "radsec: cannot connect", func(line []byte) bool {
		return strings.Contains(string(line), "radsec: cannot connect")
	}))
	cmd.Process.Kill()
	if !strings.Contains(l, "refused our certificate") || !strings.Contains(l, "certificate_file") {
		t.Fatalf("refused certificate reported without its fix (certificate_file): %q", l)
	}
}

// TestReplayOverRadSecEncryptedKey replays through the built binary to
// FreeRADIUS 3.2's TLS listener with a client key openssl encrypted (PKCS
// #8, AES-256-CBC, PBKDF2-HMAC-SHA256) and its passphrase in the
// environment: exit 0, every record delivered. With a wrong passphrase the
// replay names the key to fix and never prints the passphrase; validate
// --print redacts an inline one.
func TestReplayOverRadSecEncryptedKey(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: -short")
	}
	testpki.OpenSSL(t)
	const passphrase = "e2e key passphrase"
	dir := t.TempDir()
	ca := testpki.NewCA(t, dir, "radsec-ca")
	server := ca.Issue(t, "server.radsec.test", testpki.Options{})
	client := ca.Issue(t, "client.radsec.test", testpki.Options{Client: true})
	encKey := testpki.EncryptKey(t, client.KeyFile, testpki.KeyEncryptions[0], passphrase)
	home := freeradiustest.StartHomeServer(t, freeradiustest.HomeOptions{
		Secret: "radsec",
		TLS:    &freeradiustest.TLSFiles{CertFile: server.CertFile, KeyFile: server.KeyFile, CAFile: ca.File},
	})
	src := writeDetail(t, filepath.Join(dir, "detail-20261123"), sinktest.Records(200))
	url := "radsec://" + home.Addr + "?certificate_file=" + client.CertFile + "&private_key_file=" + encKey +
		"&ca_file=" + ca.File + "&private_key_password_env=RADRELAY_E2E_KEY_PASS"
	code, _, stderr := runBinary(t, []string{"RADRELAY_E2E_KEY_PASS=" + passphrase}, "replay", "--to", url, "--quarantine", filepath.Join(dir, "q"), src)
	if code != 0 {
		t.Fatalf("replay: status %d\n%s", code, stderr)
	}
	home.WaitRecords(t, 200, time.Minute)

	code, stdout, stderr := runBinary(t, []string{"RADRELAY_E2E_KEY_PASS=not " + passphrase}, "replay", "--to", url, "--quarantine", filepath.Join(dir, "q2"), src)
	out := stdout + stderr
	if code == 0 || !strings.Contains(out, "private_key_password_env") || !strings.Contains(out, "does not decrypt private_key_file") {
		t.Fatalf("wrong passphrase: status %d, want an error naming private_key_password_env:\n%s", code, out)
	}
	if strings.Contains(out, passphrase) {
		t.Fatalf("the passphrase is in the output:\n%s", out)
	}

	conf := filepath.Join(dir, "radrelay.toml")
	if err := os.WriteFile(conf, []byte(`state_dir = "`+filepath.Join(dir, "state")+`"
quarantine_dir = "`+filepath.Join(dir, "quarantine")+`"
[[input]]
glob = "`+filepath.Join(dir, "detail-*")+`"
mode = "follow"
[[sink]]
name = "home"
type = "radius"
[[sink.servers]]
address = "`+home.Addr+`"
transport = "radsec"
certificate_file = "`+client.CertFile+`"
private_key_file = "`+encKey+`"
private_key_password = "`+passphrase+`"
ca_file = "`+ca.File+`"
`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runBinary(t, nil, "validate", "--print", "-c", conf)
	out = stdout + stderr
	if code != 0 || !strings.Contains(out, `private_key_password = "xxxxx"`) || strings.Contains(out, passphrase) ||
		!strings.Contains(out, "private_key_password: the key passphrase is written in the configuration file") {
		t.Fatalf("validate --print: status %d, want the passphrase redacted and a warning:\n%s", code, strings.ReplaceAll(out, passphrase, "<PASSPHRASE>"))
	}
}
