//go:build linux

package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/radrelay/radrelay/internal/freeradiustest"
	"github.com/radrelay/radrelay/internal/testpki"
)

// startRadSecListener runs radrelay (spool only) with a UDP listener for
// 127.0.0.0/8 (secret s3cret) and a RadSec listener whose clients are the
// certificates clientCA signed; it returns the UDP and RadSec addresses and
// the spool. With keyEnc, the server's key is encrypted by openssl that
// way and its passphrase read from private_key_password_file.
func startRadSecListener(t *testing.T, ca *testpki.CA, keyEnc ...testpki.KeyEncryption) (udp, tcp, spool string) {
	t.Helper()
	passphrase := ""
	if len(keyEnc) > 0 {
		passphrase = "listener key passphrase"
	}
	conf, spool := radsecListenConfig(t, ca, keyEnc, passphrase)
	_, sc := startRadrelay(t, "run", "-c", conf)
	line := string(scanUntil(t, sc, "listening for accounting", func(line []byte) bool {
		return strings.Contains(string(line), "listening for accounting")
	}))
	udp = listeningRE.FindStringSubmatch(line)[1]
	tcp = radsecRE.FindStringSubmatch(line)[1]
	go func() {
		for sc.Scan() {
		}
	}()
	return udp, tcp, spool
}

// radsecListenConfig writes the configuration startRadSecListener runs
// and returns it and its spool. With keyEnc, the server's key is encrypted
// with "listener key passphrase" and private_key_password_file holds
// passphrase ("" for no private_key_password_file).
func radsecListenConfig(t *testing.T, ca *testpki.CA, keyEnc []testpki.KeyEncryption, passphrase string) (conf, spool string) {
	t.Helper()
	dir := t.TempDir()
	server := ca.Issue(t, "localhost", testpki.Options{})
	keyPass := ""
	if len(keyEnc) > 0 {
		server.KeyFile = testpki.EncryptKey(t, server.KeyFile, keyEnc[0], "listener key passphrase")
	}
	if passphrase != "" {
		keyPass = fmt.Sprintf("private_key_password_file = %q", writeSecret(t, t.TempDir(), passphrase))
	}
	spool = filepath.Join(dir, "spool")
	conf = filepath.Join(dir, "radrelay.toml")
	os.WriteFile(conf, []byte(fmt.Sprintf(`
[[listen]]
udp = ["127.0.0.1:0"]
radsec = ["127.0.0.1:0"]
spool_dir = %q
certificate_file = %q
private_key_file = %q
%s
ca_file = %q
  [[listen.client]]
  address = "127.0.0.0/8"
  secret_file = %q
`, spool, server.CertFile, server.KeyFile, keyPass, ca.File, writeSecret(t, dir, "s3cret"))), 0o600)
	return conf, spool
}

// TestValidateListenEncryptedKey: radrelay validate decrypts a RadSec
// listener's encrypted key with its passphrase, as run does: the right
// passphrase is valid, a wrong or missing one is reported (exit status 2)
// at the key to fix, without the passphrase in the message.
func TestValidateListenEncryptedKey(t *testing.T) {
	testpki.OpenSSL(t)
	ca := testpki.NewCA(t, t.TempDir(), "Validate Key CA")
	enc := []testpki.KeyEncryption{testpki.KeyEncryptions[4]}
	for _, tc := range []struct {
		name, passphrase string
		status           int
		want             string
	}{
		{"right passphrase", "listener key passphrase", 0, "valid"},
		{"wrong passphrase", "not the passphrase", 2, "private_key_password_file"},
		{"no passphrase", "", 2, "private_key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf, _ := radsecListenConfig(t, ca, enc, tc.passphrase)
			code, _, stderr := runBinary(t, nil, "validate", "-c", conf)
			if code != tc.status || !strings.Contains(stderr, tc.want) {
				t.Fatalf("status %d, want %d and %q in:\n%s", code, tc.status, tc.want, stderr)
			}
			if tc.passphrase != "" && tc.status != 0 && strings.Contains(stderr, tc.passphrase) {
				t.Fatalf("the passphrase is in the message:\n%s", stderr)
			}
			t.Logf("%s: status %d\n%s", tc.name, code, stderr)
		})
	}
}

// waitSpooled waits until the spool holds n records.
func waitSpooled(t *testing.T, spool string, n int, log func() string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := len(spooled(t, filepath.Join(spool, "*", "detail-*")))
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d records in the spool, want %d\n%s", got, n, log())
		}
		time.Sleep(50 * time.Millisecond) // polling files another process writes
	}
}

// TestListenInteropFreeRADIUS: a real FreeRADIUS 3.2 proxies radclient's
// requests to radrelay, over UDP and as a RadSec client (home_server with
// proto = tcp and a tls block); every request is answered and spooled.
func TestListenInteropFreeRADIUS(t *testing.T) {
	ca := testpki.NewCA(t, t.TempDir(), "Interop CA")
	udp, tcp, spool := startRadSecListener(t, ca)
	t.Run("UDP", func(t *testing.T) {
		p := freeradiustest.StartProxy(t, freeradiustest.ProxyOptions{Home: udp, Secret: "s3cret"})
		freeradiustest.SendAccounting(t, p.Addr, freeradiustest.DefaultSecret, interopPackets, 3)
		waitSpooled(t, spool, 3, p.Log)
	})
	t.Run("RadSec", func(t *testing.T) {
		client := ca.Issue(t, "freeradius-proxy", testpki.Options{Client: true})
		p := freeradiustest.StartProxy(t, freeradiustest.ProxyOptions{Home: tcp, Secret: "radsec",
			TLS: &freeradiustest.ProxyTLS{CertificateFile: client.CertFile, PrivateKeyFile: client.KeyFile, CAFile: ca.File}})
		freeradiustest.SendAccounting(t, p.Addr, freeradiustest.DefaultSecret, interopPackets, 3)
		waitSpooled(t, spool, 6, p.Log)
	})
}

// TestListenRadSecEncryptedKey: the listener's RadSec server loads a key
// openssl encrypted in the legacy PEM form (openssl ec -aes256) with the
// passphrase from private_key_password_file, and FreeRADIUS's RadSec
// proxy delivers through it.
func TestListenRadSecEncryptedKey(t *testing.T) {
	testpki.OpenSSL(t)
	ca := testpki.NewCA(t, t.TempDir(), "Encrypted Key CA")
	_, tcp, spool := startRadSecListener(t, ca, testpki.KeyEncryptions[4])
	client := ca.Issue(t, "freeradius-proxy", testpki.Options{Client: true})
	p := freeradiustest.StartProxy(t, freeradiustest.ProxyOptions{Home: tcp, Secret: "radsec",
		TLS: &freeradiustest.ProxyTLS{CertificateFile: client.CertFile, PrivateKeyFile: client.KeyFile, CAFile: ca.File}})
	freeradiustest.SendAccounting(t, p.Addr, freeradiustest.DefaultSecret, interopPackets, 3)
	waitSpooled(t, spool, 3, p.Log)
}

// TestListenInteropRadsecproxy: radsecproxy (Debian's package) takes
// radclient's requests over UDP and forwards them to radrelay over RadSec.
func TestListenInteropRadsecproxy(t *testing.T) {
	bin, err := exec.LookPath("radsecproxy")
	if err != nil {
		for _, p := range []string{"/usr/sbin/radsecproxy"} {
			if _, e := os.Stat(p); e == nil {
				bin, err = p, nil
			}
		}
	}
	if err != nil {
		if os.Getenv("RADRELAY_REQUIRE_SERVERS") == "1" {
			t.Fatal("radsecproxy is not installed (apt-get install radsecproxy)")
		}
		t.Skip("radsecproxy is not installed")
	}
	ca := testpki.NewCA(t, t.TempDir(), "InteropCA") // radsecproxy reads a path up to a space
	_, tcp, spool := startRadSecListener(t, ca)
	client := ca.Issue(t, "radsecproxy", testpki.Options{Client: true})
	dir := t.TempDir()
	port := freeUDPPort(t)
	host, rport, _ := strings.Cut(tcp, ":")
	conf := filepath.Join(dir, "radsecproxy.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`ListenUDP 127.0.0.1:%d
LogLevel 3
LogDestination file:///%s
tls default {
	CACertificateFile %s
	CertificateFile %s
	CertificateKeyFile %s
}
client local {
	host 127.0.0.1
	type udp
	secret s3cret
}
server radrelay {
	host %s
	port %s
	type tls
	tls default
	secret radsec
	CertificateNameCheck off
}
realm * {
	accountingServer radrelay
}
`, port, filepath.Join(dir, "radsecproxy.log"), ca.File, client.CertFile, client.KeyFile, host, rport)), 0o600)
	cmd := exec.Command(bin, "-f", "-d", "4", "-c", conf)
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	showLog := func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "radsecproxy.log"))
		e, _ := os.ReadFile(filepath.Join(dir, "stderr"))
		return "radsecproxy's log:\n" + string(b) + string(e)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(showLog())
		}
	})
	freeradiustest.SendAccounting(t, fmt.Sprintf("127.0.0.1:%d", port), "s3cret", interopPackets, 3)
	waitSpooled(t, spool, 3, showLog)
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, p, _ := strings.Cut(c.LocalAddr().String(), ":")
	var n int
	fmt.Sscan(p, &n)
	return n
}
