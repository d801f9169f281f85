package dictionary

import (
	"strings"
	"testing"
)

func TestBuiltinLoads(t *testing.T) {
	d := Builtin()
	for _, tc := range []struct {
		name, oid string
		internal  bool
	}{
		{"User-Name", "1", false}, {"Acct-Status-Type", "40", false}, {"Event-Timestamp", "55", false},
		{"Client-Id", "4", false}, {"client-port-id", "5", false}, {"User-Service-Type", "6", false}, {"Login-Host", "14", false},
		{"Acct-Unique-Session-Id", "1051", true}, {"Tmp-String-9", "1809", true}, {"Packet-Src-IP-Address", "1084", true},
		{"Freeradius-Proxied-To", "26.11344.1", true},
		{"Cisco-AVPair", "26.9.1", false}, {"Mikrotik-Rate-Limit", "26.14988.8", false},
		{"WISPr-Location-ID", "26.14122.1", false}, {"Frag-Status", "241.1", false},
		{"Delegated-IPv6-Prefix", "123", false}, {"Framed-IPv6-Address", "168", false},
	} {
		a, ok := d.Attribute(tc.name)
		if !ok {
			t.Errorf("%s: missing from the built-in dictionary", tc.name)
			continue
		}
		if a.OID() != tc.oid || a.Internal != tc.internal {
			t.Errorf("%s: oid %s internal %v, want %s %v", tc.name, a.OID(), a.Internal, tc.oid, tc.internal)
		}
	}
	if a, _ := d.AttributeByNumber(0, 4); a.Name != "NAS-IP-Address" {
		t.Errorf("4 prints as %s", a.Name)
	}
	st, _ := d.Attribute("Service-Type")
	if n, _ := st.ValueName(2); n != "Framed-User" {
		t.Errorf("Service-Type 2 prints as %s", n)
	}
	if n, ok := st.ValueNumber("Framed"); !ok || n != 2 {
		t.Errorf("old name Framed not understood")
	}
	// Each call returns an independent copy.
	d2 := Builtin()
	if err := d2.Parse(stringsReader("ATTRIBUTE User-Name 1 octets\n"), "x"); err != nil {
		t.Fatal(err)
	}
	if a, _ := d.Attribute("User-Name"); a.Type != TypeString {
		t.Error("changing one Builtin() copy changed another")
	}
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }

// TestBuiltinAgreesWithFreeRADIUS checks that every name the built-in
// dictionary shares with FreeRADIUS's has the same number, type and VALUE
// numbers, so that detail files interoperate.
func TestBuiltinAgreesWithFreeRADIUS(t *testing.T) {
	needFreeRADIUSTree(t)
	fr, err := Load(freeradiusTree)
	if err != nil {
		t.Fatal(err)
	}
	b := Builtin()
	n := 0
	for name, a := range b.byName {
		f, ok := fr.Attribute(name)
		if !ok || strings.HasPrefix(name, "Digest-") {
			// FreeRADIUS redefines the RFC 5090 Digest-* names as internal
			// attributes (1063...) for its digest module; ours are RFC 5090's.
			continue
		}
		n++
		if f.OID() != a.OID() || f.Type != a.Type || f.HasTag != a.HasTag || f.Encrypt != a.Encrypt || f.Concat != a.Concat {
			t.Errorf("%s: built-in %s %s tag=%v enc=%d, FreeRADIUS %s %s tag=%v enc=%d", name, a.OID(), a.Type, a.HasTag, a.Encrypt, f.OID(), f.Type, f.HasTag, f.Encrypt)
		}
		if a.values != nil {
			for vn, num := range a.values.byName {
				if fn, ok := f.ValueNumber(vn); ok && fn != num {
					t.Errorf("%s VALUE %s: built-in %d, FreeRADIUS %d", name, vn, num, fn)
				}
			}
			for num, vn := range a.values.byNumber {
				if fv, ok := f.ValueName(num); ok && fv != vn {
					t.Errorf("%s %d prints as %s, FreeRADIUS prints %s", name, num, vn, fv)
				}
			}
		}
	}
	if n < 1000 {
		t.Errorf("only %d names shared with FreeRADIUS", n)
	}
}

// TestUserDictionaryExtendsBuiltin: a user's file adds vendors and overrides
// built-in names and numbers; the built-in original is untouched.
func TestUserDictionaryExtendsBuiltin(t *testing.T) {
	d := Builtin()
	if err := d.LoadFile("testdata/user.dict"); err != nil {
		t.Fatal(err)
	}
	if a, ok := d.Attribute("Example-Quota"); !ok || a.OID() != "26.99999.2" || a.Type != TypeInteger64 {
		t.Errorf("Example-Quota: %+v", a)
	}
	if a, _ := d.AttributeByNumber(9, 1); a.Name != "My-Cisco-Pair" {
		t.Errorf("26.9.1 prints as %s, want the user's name", a.Name)
	}
	if a, ok := d.Attribute("Cisco-AVPair"); !ok || a.OID() != "26.9.1" {
		t.Error("the built-in name of an overridden number is no longer readable")
	}
	as, _ := d.Attribute("Acct-Status-Type")
	if n, _ := as.ValueName(1); n != "Begin" {
		t.Errorf("Acct-Status-Type 1 prints as %s, want the user's Begin", n)
	}
	if n, ok := as.ValueNumber("Start"); !ok || n != 1 {
		t.Error("built-in VALUE Start lost")
	}
	if a, ok := d.Attribute("Old-Pair"); !ok || a.OID() != "26.9.1" {
		t.Errorf("ALIAS by number: %+v", a)
	}
	if !d.Internal("Example-Secret-State") || d.Internal("Example-Quota") || !d.Internal("Timestamp") || d.Internal("Nope") {
		t.Error("Internal()")
	}
	fresh := Builtin()
	if _, ok := fresh.Attribute("Example-Quota"); ok {
		t.Error("LoadFile on one copy changed Builtin()")
	}
	if a, _ := fresh.AttributeByNumber(9, 1); a.Name != "Cisco-AVPair" {
		t.Errorf("fresh copy prints 26.9.1 as %s", a.Name)
	}
}
