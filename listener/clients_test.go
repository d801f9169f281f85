package listener

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadClientsConf(t *testing.T) {
	cs, err := ReadClientsConf("testdata/clients.conf")
	if err != nil {
		t.Fatal(err)
	}
	want := []Client{
		{netip.MustParsePrefix("127.0.0.1/32"), "testing123", "localhost"},
		{netip.MustParsePrefix("::1/128"), "testing123", "localhost_ipv6"},
		{netip.MustParsePrefix("192.0.2.0/24"), `with "quote" # not a comment`, "private-network-1"},
		{netip.MustParsePrefix("198.51.100.7/32"), "s3", "nas7"},
	}
	if len(cs) != len(want) {
		t.Fatalf("%d clients, want %d: %+v", len(cs), len(want), cs)
	}
	for i := range want {
		if cs[i] != want[i] {
			t.Errorf("client %d = %+v, want %+v", i, cs[i], want[i])
		}
	}
}

func TestReadClientsConfErrors(t *testing.T) {
	p := filepath.Join(t.TempDir(), "clients.conf")
	os.WriteFile(p, []byte("client a {\n\tipaddr = 10.0.0.1\n}\nclient b {\n\tipaddr = nonsense\n\tsecret = x\n}\n$INCLUDE other.conf\n"), 0o600)
	_, err := ReadClientsConf(p)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{p + ":1: client a: no secret", p + ":4: client b: no usable", p + ":8: $INCLUDE"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestClientLongestPrefix(t *testing.T) {
	tab := newClientTable([]Client{
		{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Secret: "wide"},
		{Prefix: netip.MustParsePrefix("10.1.0.0/16"), Secret: "narrow"},
	})
	for addr, want := range map[string]string{"10.1.2.3": "narrow", "10.2.0.1": "wide", "::ffff:10.1.0.1": "narrow"} {
		c, ok := tab.find(netip.MustParseAddr(addr))
		if !ok || c.Secret != want {
			t.Errorf("%s: client %+v, want secret %s", addr, c, want)
		}
	}
	if _, ok := tab.find(netip.MustParseAddr("11.0.0.1")); ok {
		t.Error("11.0.0.1 matched")
	}
}

// signMessageAuthenticator fills the Message-Authenticator of a request
// other than Accounting-Request (RFC 3579 §3.2).
func signMessageAuthenticator(p []byte, secret string) []byte {
	q := append([]byte(nil), p...)
	n := int(binary.BigEndian.Uint16(q[2:4]))
	for i := 20; i < n; i += int(q[i+1]) {
		if q[i] == attrMessageAuth {
			clear(q[i+2 : i+18])
			m := hmac.New(md5.New, []byte(secret))
			m.Write(q)
			m.Sum(q[i+2 : i+2])
			break
		}
	}
	return q
}

func TestAcctUniqueSessionID(t *testing.T) {
	// md5("alice,s1,10.0.0.1,,,") as FreeRADIUS's acct_unique computes it.
	rec := recordOf("User-Name", "alice", "Acct-Session-Id", "s1", "NAS-IP-Address", "10.0.0.1")
	sum := md5.Sum([]byte("alice,s1,10.0.0.1,,,"))
	if got := acctUniqueSessionID(rec.Attrs, findAttrs(rec.Attrs)); got != hexOf(sum[:]) {
		t.Fatalf("got %s", got)
	}
}
