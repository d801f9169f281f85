package listener

import (
	"context"
	"testing"
	"time"

	"layeh.com/radius"

	"github.com/radrelay/radrelay/internal/testpki"
	"github.com/radrelay/radrelay/radsec"
)

type radsecPKI struct {
	ca             *testpki.CA
	server, client testpki.Pair
	stranger       testpki.Pair // signed by another CA
}

func newRadsecPKI(t *testing.T) radsecPKI {
	dir := t.TempDir()
	ca := testpki.NewCA(t, dir, "Listener Test CA")
	other := testpki.NewCA(t, t.TempDir(), "Other CA") // its own dir: Issue names files by CN
	return radsecPKI{ca: ca,
		server:   ca.Issue(t, "radrelay.test", testpki.Options{}),
		client:   ca.Issue(t, "nas1.test", testpki.Options{Client: true}),
		stranger: other.Issue(t, "nas1.test", testpki.Options{Client: true})}
}

func startRadSec(t *testing.T, pki radsecPKI, clients []RadSecClient) (*Listener, string) {
	t.Helper()
	l, _ := startListener(t, func(c *Config) {
		c.UDP, c.Clients = nil, nil
		c.RadSec = []string{"127.0.0.1:0"}
		c.TLS = radsec.TLS{CertificateFile: pki.server.CertFile, PrivateKeyFile: pki.server.KeyFile, CAFile: pki.ca.File}
		c.RadSecClients = clients
	})
	return l, l.tcp[0].Addr().String()
}

func dialRadSec(t *testing.T, addr string, pair testpki.Pair, ca string) (*radsec.Conn, error) {
	t.Helper()
	tc, err := radsec.TLS{CertificateFile: pair.CertFile, PrivateKeyFile: pair.KeyFile, CAFile: ca}.ClientConfig("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return radsec.Dial(ctx, addr, tc)
}

func radsecExchange(t *testing.T, c *radsec.Conn, req []byte) ([]byte, error) {
	t.Helper()
	if _, err := c.Write(req); err != nil {
		return nil, err
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	return radsec.ReadPacket(c, make([]byte, radsec.MaxPacketLength))
}

func TestRadSecAcknowledgesAfterSpooling(t *testing.T) {
	tests := []struct {
		name    string
		clients []RadSecClient
		secret  string
	}{
		{"any certificate of the CA, secret radsec", nil, "radsec"},
		{"client matched by certificate name", []RadSecClient{{Name: "other"}, {Name: "NAS1.test", Secret: "s3"}}, "s3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pki := newRadsecPKI(t)
			l, addr := startRadSec(t, pki, tt.clients)
			c, err := dialRadSec(t, addr, pki.client, pki.ca.File)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for i, session := range []string{"r1", "r2"} {
				req := accountingRequest(t, tt.secret, session)
				resp, err := radsecExchange(t, c, req)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				if !radius.IsAuthenticResponse(resp, req, []byte(tt.secret)) {
					t.Fatalf("request %d: answer not authentic", i)
				}
			}
			if n := len(spoolRecords(t, l.cfg.SpoolDir)); n != 2 {
				t.Fatalf("%d records spooled, want 2", n)
			}
		})
	}
}

func TestRadSecRefusesUnknownClients(t *testing.T) {
	pki := newRadsecPKI(t)
	l, addr := startRadSec(t, pki, []RadSecClient{{Name: "nas2.test"}})
	// A certificate of the right CA but another name: the connection is
	// closed without an answer.
	c, err := dialRadSec(t, addr, pki.client, pki.ca.File)
	if err == nil {
		_, err = radsecExchange(t, c, accountingRequest(t, "radsec", "x"))
		c.Close()
	}
	if err == nil {
		t.Fatal("a client with an unconfigured certificate name was answered")
	}
	// A certificate of another CA fails the handshake (or the first read,
	// with TLS 1.3).
	c, err = dialRadSec(t, addr, pki.stranger, pki.ca.File)
	if err == nil {
		_, err = radsecExchange(t, c, accountingRequest(t, "radsec", "y"))
		c.Close()
	}
	if err == nil {
		t.Fatal("a certificate of another CA was answered")
	}
	if n := len(spoolRecords(t, l.cfg.SpoolDir)); n != 0 {
		t.Fatalf("%d records spooled from refused clients", n)
	}
}
