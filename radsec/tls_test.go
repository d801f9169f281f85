package radsec

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/radrelay/radrelay/internal/testpki"
)

// pki is the usual setup: one CA, a server and a client certificate.
type pki struct {
	ca             *testpki.CA
	server, client testpki.Pair
}

func newPKI(t *testing.T) pki {
	dir := t.TempDir()
	ca := testpki.NewCA(t, dir, "RadSec Test CA")
	return pki{ca: ca,
		server: ca.Issue(t, "server.radsec.test", testpki.Options{}),
		client: ca.Issue(t, "client.radsec.test", testpki.Options{Client: true})}
}

func (p pki) serverTLS(t *testing.T, minVersion string) TLS {
	return TLS{CertificateFile: p.server.CertFile, PrivateKeyFile: p.server.KeyFile, CAFile: p.ca.File, MinVersion: minVersion}
}

func (p pki) clientTLS(t *testing.T) TLS {
	return TLS{CertificateFile: p.client.CertFile, PrivateKeyFile: p.client.KeyFile, CAFile: p.ca.File}
}

// echoServer is a RadSec server that sends every packet back.
func echoServer(t *testing.T, cfg TLS) string {
	t.Helper()
	tc, err := cfg.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", tc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, MaxPacketLength)
				for {
					p, err := ReadPacket(c, buf)
					if err != nil {
						return
					}
					if _, err := c.Write(p); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func dial(t *testing.T, addr string, cfg TLS) (*Conn, error) {
	tc, err := cfg.ClientConfig("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return Dial(ctx, addr, tc)
}

// roundTrip writes a packet and reads it back.
func roundTrip(c net.Conn) error {
	p := packet(4, 1, 60)
	if _, err := c.Write(p); err != nil {
		return err
	}
	got, err := ReadPacket(c, make([]byte, MaxPacketLength))
	if err != nil {
		return err
	}
	if !bytes.Equal(got, p) {
		return errors.New("echo differs")
	}
	return nil
}

func TestMutualTLS(t *testing.T) {
	for _, v := range []string{"1.2", "1.3"} {
		t.Run(v, func(t *testing.T) {
			p := newPKI(t)
			addr := echoServer(t, p.serverTLS(t, v))
			c, err := dial(t, addr, p.clientTLS(t))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for range 3 {
				if err := roundTrip(c); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestOperatorErrors: each misconfiguration gets a hint that names the
// setting to fix.
func TestOperatorErrors(t *testing.T) {
	p := newPKI(t)
	other := testpki.NewCA(t, t.TempDir(), "Other CA")
	expired := p.ca.Issue(t, "expired.radsec.test", testpki.Options{NotAfter: time.Now().Add(-time.Hour)})
	strangerClient := other.Issue(t, "stranger.radsec.test", testpki.Options{Client: true})
	cnOnly := p.ca.Issue(t, "cn-only.radsec.test", testpki.Options{CommonNameOnly: true})

	tests := []struct {
		name   string
		server TLS
		client TLS
		hint   string
	}{
		{"client does not trust the server's CA", p.serverTLS(t, ""),
			TLS{CertificateFile: p.client.CertFile, PrivateKeyFile: p.client.KeyFile, CAFile: other.File}, "set ca_file"},
		{"server certificate expired",
			TLS{CertificateFile: expired.CertFile, PrivateKeyFile: expired.KeyFile, CAFile: p.ca.File}, p.clientTLS(t), "expired"},
		{"server certificate for another name", p.serverTLS(t, ""),
			TLS{CertificateFile: p.client.CertFile, PrivateKeyFile: p.client.KeyFile, CAFile: p.ca.File, ServerName: "backup.example.net"}, "set server_name"},
		{"server certificate with only a common name",
			TLS{CertificateFile: cnOnly.CertFile, PrivateKeyFile: cnOnly.KeyFile, CAFile: p.ca.File}, p.clientTLS(t),
			`names "cn-only.radsec.test" only as its common name, which is not checked (a subject alternative name is required), so it is not valid for "127.0.0.1": reissue it`},
		{"server refuses our certificate (TLS 1.2)", TLS{CertificateFile: p.server.CertFile, PrivateKeyFile: p.server.KeyFile, CAFile: p.ca.File, MinVersion: "1.2"},
			TLS{CertificateFile: strangerClient.CertFile, PrivateKeyFile: strangerClient.KeyFile, CAFile: p.ca.File, MinVersion: "1.2"}, "refused our certificate"},
		{"server refuses our certificate (TLS 1.3)", p.serverTLS(t, "1.3"),
			TLS{CertificateFile: strangerClient.CertFile, PrivateKeyFile: strangerClient.KeyFile, CAFile: p.ca.File}, "refused our certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := echoServer(t, tt.server)
			tc, err := tt.client.ClientConfig("127.0.0.1")
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(tt.name, "TLS 1.2") {
				// Under TLS 1.2 the refusal is an alert in the handshake.
				tc.MaxVersion = tls.VersionTLS12
			}
			c, err := Dial(context.Background(), addr, tc)
			if err == nil {
				// Under TLS 1.3 the server's refusal comes after the
				// client's side of the handshake: at the first read.
				err = roundTrip(c)
				c.Close()
				if err == nil {
					t.Fatal("connection worked")
				}
				if h := Explain(err); !strings.Contains(h, tt.hint) {
					t.Fatalf("Explain(%v) = %q, want it to say %q", err, h, tt.hint)
				}
				return
			}
			var de *DialError
			if !errors.As(err, &de) || de.Stage != "handshake" {
				t.Fatalf("error %v, want a handshake *DialError", err)
			}
			if !strings.Contains(err.Error(), tt.hint) {
				t.Fatalf("error %q does not say %q", err, tt.hint)
			}
		})
	}
}

func TestNothingListening(t *testing.T) {
	p := newPKI(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = dial(t, addr, p.clientTLS(t))
	var de *DialError
	if !errors.As(err, &de) || de.Stage != "connect" || !strings.Contains(err.Error(), "nothing listens") {
		t.Fatalf("error %v", err)
	}
}

func TestValidate(t *testing.T) {
	errs := TLS{MinVersion: "1.0"}.Validate()
	var keys []string
	for _, e := range errs {
		keys = append(keys, strings.SplitN(e.Error(), ":", 2)[0])
	}
	if got := strings.Join(keys, ","); got != "certificate_file,private_key_file,ca_file,tls_min_version" {
		t.Fatalf("keys %s", got)
	}
	if _, err := (TLS{CertificateFile: "/nonexistent.pem", PrivateKeyFile: "/nonexistent.key", CAFile: "/nonexistent-ca.pem"}).ClientConfig("h"); err == nil || !strings.Contains(err.Error(), "ca_file") {
		t.Fatalf("missing ca_file: %v", err)
	}
}

// TestCertificateRotation: a certificate replaced on disk is presented from
// the next handshake on, without a new configuration.
func TestCertificateRotation(t *testing.T) {
	p := newPKI(t)
	addr := echoServer(t, p.serverTLS(t, ""))
	cfg := p.clientTLS(t)
	tc, err := cfg.ClientConfig("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	serial := func() string {
		c, err := Dial(context.Background(), addr, tc)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := roundTrip(c); err != nil {
			t.Fatal(err)
		}
		// The server saw our certificate; ask our side which one we sent.
		cert, _ := tc.GetClientCertificate(nil)
		return cert.Leaf.SerialNumber.String()
	}
	before := serial()
	next := p.ca.Issue(t, "client2.radsec.test", testpki.Options{Client: true})
	for _, f := range [][2]string{{next.CertFile, cfg.CertificateFile}, {next.KeyFile, cfg.PrivateKeyFile}} {
		b, err := os.ReadFile(f[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f[1], b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if after := serial(); after == before || after != next.Cert.SerialNumber.String() {
		t.Fatalf("serial %s after rotation, before %s, want %s", after, before, next.Cert.SerialNumber)
	}
}

// TestCertificateRotationFails: a renewal that leaves a certificate and key
// that do not go together keeps the previous pair and is reported once
// (OnReload), not at every handshake; the fixed files are reported as in
// use.
func TestCertificateRotationFails(t *testing.T) {
	p := newPKI(t)
	cfg := p.serverTLS(t, "")
	dir := t.TempDir()
	for _, f := range [][2]string{{p.server.CertFile, "server.pem"}, {p.server.KeyFile, "server.key"}} {
		b, _ := os.ReadFile(f[0])
		os.WriteFile(filepath.Join(dir, f[1]), b, 0o600)
	}
	cfg.CertificateFile, cfg.PrivateKeyFile = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	var reports []string
	cfg.OnReload = func(err error) { reports = append(reports, fmt.Sprint(err)) }
	tc, err := cfg.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	serial := func() string {
		c, err := tc.GetCertificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		return c.Leaf.SerialNumber.String()
	}
	before := serial()
	next := p.ca.Issue(t, "server2.radsec.test", testpki.Options{})
	b, _ := os.ReadFile(next.CertFile)
	os.WriteFile(cfg.CertificateFile, b, 0o600) // the key is still the old one
	for range 3 {
		if got := serial(); got != before {
			t.Fatalf("serial %s with a mismatched pair, want the previous %s", got, before)
		}
	}
	if len(reports) != 1 || !strings.Contains(reports[0], "certificate_file "+cfg.CertificateFile) {
		t.Fatalf("reports %q, want one naming certificate_file", reports)
	}
	b, _ = os.ReadFile(next.KeyFile)
	os.WriteFile(cfg.PrivateKeyFile, b, 0o600)
	if got := serial(); got != next.Cert.SerialNumber.String() {
		t.Fatalf("serial %s after the key, want %s", got, next.Cert.SerialNumber)
	}
	if len(reports) != 2 || reports[1] != "<nil>" {
		t.Fatalf("reports %q, want the reload reported", reports)
	}
}

// TestWritePackets: many packets written at once arrive whole and in order.
func TestWritePackets(t *testing.T) {
	p := newPKI(t)
	addr := echoServer(t, p.serverTLS(t, ""))
	c, err := dial(t, addr, p.clientTLS(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var pkts [][]byte
	for i := range 50 {
		pkts = append(pkts, packet(4, byte(i), 20+i*7))
	}
	if err := c.WritePackets(pkts...); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, MaxPacketLength)
	for i, want := range pkts {
		got, err := ReadPacket(c, buf)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("packet %d differs", i)
		}
	}
}
