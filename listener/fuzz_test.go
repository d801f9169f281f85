package listener

import (
	"bytes"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/radrelay/radrelay/dictionary"
)

// FuzzPacket: whatever a datagram holds, checking, verifying and decoding
// it never panics, and a packet that passes verification becomes a record.
func FuzzPacket(f *testing.F) {
	f.Add([]byte{4, 1, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{12, 1, 0, 38, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 80, 18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{4, 1, 0, 26, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 6, 'a', 'b', 'c', 'd'})
	dict := dictionary.Builtin()
	f.Fuzz(func(t *testing.T, p []byte) {
		ma, err := checkPacket(p)
		if err != nil {
			return
		}
		p = p[:int(p[2])<<8|int(p[3])]
		// Sign it, so that decoding is reached whatever the input.
		if p[0] == codeAccountingRequest && ma < 0 {
			p = resign(p, testSecret)
			if p == nil {
				return
			}
		}
		if verifyRequest(p, ma, []byte(testSecret)) != nil {
			return
		}
		if p[0] == codeAccountingRequest {
			if _, err := buildRecord(nil, dict, p, []byte(testSecret), netip.MustParseAddr("10.0.0.1"), time.Unix(0, 0), AttributesDefaultSite); err != nil {
				return
			}
		}
	})
}

// FuzzClientsConf: any clients.conf is read or refused with an error,
// never a panic; every client read has a prefix and a secret.
func FuzzClientsConf(f *testing.F) {
	seed, _ := os.ReadFile("testdata/clients.conf")
	f.Add(seed)
	odd, _ := os.ReadFile("testdata/odd/clients.conf")
	f.Add(odd)
	f.Add([]byte("client a { ipaddr = 10.0.0.1\n\tsecret = \"x }\n}\n$INCLUDE ${confdir}/x\nclient b\n{\n"))
	f.Add([]byte("client x {\n\tipaddr = 10.0.0.1\n\tsecret = \"a\\\"b\"\n}\n"))
	f.Add([]byte("client {\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		cs, _ := parseClientsConf(bytes.NewReader(text), "clients.conf")
		for _, c := range cs {
			if !c.Prefix.IsValid() || c.Secret == "" {
				t.Fatalf("client %+v", c)
			}
		}
	})
}
