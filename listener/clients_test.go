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

// TestReadClientsConfOddForms reads the forms of testdata/odd/clients.conf,
// which FreeRADIUS 3.2 accepts (radiusd -XC): a block opened and closed on
// the lines of its keys, ipv4addr, key=value without spaces, an IPv6 block
// name, netmask on IPv6, a client in a server section, $INCLUDE of a
// directory (hidden and backup files skipped) and of a file relative to
// the including file, and a $-INCLUDE of a missing file.
func TestReadClientsConfOddForms(t *testing.T) {
	cs, err := ReadClientsConf("testdata/odd/clients.conf")
	if err != nil {
		t.Fatal(err)
	}
	want := []Client{
		{netip.MustParsePrefix("192.0.2.1/32"), "s1", "one"},
		{netip.MustParsePrefix("192.0.2.2/32"), "s2 with spaces", "second"},
		{netip.MustParsePrefix("192.0.2.3/32"), "s3", "three"},
		{netip.MustParsePrefix("2001:db8::4/128"), "s4", "2001:db8::4"},
		{netip.MustParsePrefix("2001:db8:5::/48"), "s5", "five"},
		{netip.MustParsePrefix("192.0.2.6/32"), "s6", "six"},
		{netip.MustParsePrefix("192.0.2.7/32"), "s7", "seven"},
		{netip.MustParsePrefix("192.0.2.8/32"), "s8", "eight"},
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
	dir := t.TempDir()
	p := filepath.Join(dir, "clients.conf")
	os.WriteFile(filepath.Join(dir, "dup.conf"), []byte("client again {\n\tipaddr = 10.0.0.3\n\tsecret = y\n}\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "loop.conf"), []byte("$INCLUDE loop.conf\n"), 0o600)
	os.WriteFile(p, []byte(`client a {
	ipaddr = 10.0.0.1
}
client b {
	ipaddr = nonsense
	secret = x
}
$INCLUDE other.conf
client c
{
	ipaddr = 10.0.0.2
	secret = x
}
client d {
	ipaddr = 10.0.0.3
	secret = x
}
$INCLUDE dup.conf
client e {
	ipaddr = 10.0.0.5
	secret = ${secret}
}
$INCLUDE ${confdir}/more.conf
$INCLUDE loop.conf
client f {
	ipaddr = *
	secret = x
}
`), 0o600)
	_, err := ReadClientsConf(p)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		p + ":1: client a: no secret",
		p + ":4: client b: no usable ipaddr/ipv6addr (client \"nonsense\": not an address or network (want e.g. 10.0.0.1 or 10.0.0.0/8)): host names are not looked up",
		p + ":8: $INCLUDE " + filepath.Join(dir, "other.conf") + ": open",
		p + `:9: expecting '{' after "client c" on the same line`,
		"clients d (" + p + ":14) and again (" + filepath.Join(dir, "dup.conf") + ":1) both have the address 10.0.0.3/32",
		p + ":21: client e: secret: ${...} is not expanded",
		p + ":23: $INCLUDE ${confdir}/more.conf: variables are not expanded",
		filepath.Join(dir, "loop.conf") + ":1: $INCLUDE loop.conf: more than 16 levels",
		p + ":25: client f: no usable ipaddr/ipv6addr (client \"*\": not an address or network (want e.g. 10.0.0.1 or 10.0.0.0/8)): for any address write ipaddr = 0.0.0.0/0",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
}

func TestParsePrefix(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.1":          "10.0.0.1/32",
		"10.1.2.3/8":        "10.0.0.0/8",
		"::ffff:10.0.0.1":   "10.0.0.1/32",
		"2001:db8::1":       "2001:db8::1/128",
		"[2001:db8::1]":     "2001:db8::1/128",
		"[2001:db8::]/32":   "2001:db8::/32",
		"[::1]":             "::1/128",
		"[10.0.0.1]":        "",
		"10.0.0.0/33":       "",
		"[2001:db8::1]/129": "",
	} {
		p, err := ParsePrefix(in)
		switch {
		case want == "" && err == nil:
			t.Errorf("%s: %v, want an error", in, p)
		case want != "" && (err != nil || p.String() != want):
			t.Errorf("%s: %v, %v; want %s", in, p, err, want)
		}
	}
}

func TestDuplicateClientsRefused(t *testing.T) {
	c := Config{UDP: []string{"127.0.0.1:0"}, SpoolDir: t.TempDir(), Clients: []Client{
		{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Secret: "a", Name: "wide"},
		{Prefix: netip.MustParsePrefix("10.1.0.0/16"), Secret: "b"},
		{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Secret: "c", Name: "again"},
	}}
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "clients wide and again both have the address 10.0.0.0/8") {
		t.Fatalf("got %v", err)
	}
}

func TestListenAddressPorts(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:1813":            true,
		"[::1]:0":                   true,
		"127.0.0.1:99999":           false,
		"127.0.0.1:abc":             false,
		"127.0.0.1":                 false,
		"127.0.0.1:-1":              false,
		"0.0.0.0:no-such-service-x": false,
		"[::]:65535":                true,
	} {
		err := checkHostPort("udp", addr)
		if (err == nil) != ok {
			t.Errorf("%s: %v", addr, err)
		}
	}
}

func TestClientLongestPrefix(t *testing.T) {
	tab := newClientTable([]Client{
		{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Secret: "wide"},
		{Prefix: netip.MustParsePrefix("10.1.0.0/16"), Secret: "narrow"},
		{Prefix: netip.MustParsePrefix("fe80::/10"), Secret: "link-local"},
	})
	for addr, want := range map[string]string{"10.1.2.3": "narrow", "10.2.0.1": "wide", "::ffff:10.1.0.1": "narrow", "fe80::1%eth0": "link-local"} {
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
