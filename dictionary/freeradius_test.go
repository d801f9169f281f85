package dictionary

import (
	"os"
	"testing"
)

const freeradiusTree = "/usr/share/freeradius/dictionary"

// needFreeRADIUSTree skips (loudly) when the FreeRADIUS dictionaries are not
// installed, and fails when RADRELAY_REQUIRE_SERVERS=1 says they must be.
func needFreeRADIUSTree(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(freeradiusTree); err != nil {
		if os.Getenv("RADRELAY_REQUIRE_SERVERS") == "1" {
			t.Fatalf("%s missing and RADRELAY_REQUIRE_SERVERS=1: install freeradius-common", freeradiusTree)
		}
		t.Skipf("SKIPPING: %s not installed (apt-get install freeradius-common); set RADRELAY_REQUIRE_SERVERS=1 to make this a failure", freeradiusTree)
	}
}

func TestLoadFreeRADIUSTree(t *testing.T) {
	needFreeRADIUSTree(t)
	d, err := Load(freeradiusTree)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		oid      string
		typ      Type
		internal bool
	}{
		{"User-Name", "1", TypeString, false},
		{"Acct-Status-Type", "40", TypeInteger, false},
		{"Tunnel-Type", "64", TypeInteger, false},
		{"Acct-Unique-Session-Id", "1051", TypeString, true},
		{"Tmp-String-9", "1809", TypeString, true},
		{"Packet-Src-IP-Address", "1084", TypeIPAddr, true},
		{"Freeradius-Proxied-To", "26.11344.1", TypeIPAddr, true},
		{"Cisco-AVPair", "26.9.1", TypeString, false},
		{"WiMAX-Release", "26.24757.1.1", TypeString, false},
		{"Frag-Status", "241.1", TypeInteger, false},
		{"Extended-Vendor-Specific-5", "245.26", TypeEVS, false},
		{"IP-Port-Type", "241.5.1", TypeInteger, false},
		{"Framed-IPv6-Prefix", "97", TypeIPv6Prefix, false},
		{"Client-Id", "4", TypeIPAddr, false},
	} {
		a, ok := d.Attribute(tc.name)
		if !ok {
			t.Errorf("%s: not found", tc.name)
			continue
		}
		if a.OID() != tc.oid || a.Type != tc.typ || a.Internal != tc.internal {
			t.Errorf("%s: got oid %s type %s internal %v, want %s %s %v", tc.name, a.OID(), a.Type, a.Internal, tc.oid, tc.typ, tc.internal)
		}
	}
	st, _ := d.Attribute("Acct-Status-Type")
	if n, _ := st.ValueName(3); n != "Interim-Update" {
		t.Errorf("Acct-Status-Type 3 prints as %q, want Interim-Update", n)
	}
	if n, ok := st.ValueNumber("alive"); !ok || n != 3 {
		t.Errorf("Alive = %d %v", n, ok)
	}
	if a, _ := d.AttributeByNumber(0, 4); a.Name != "NAS-IP-Address" {
		t.Errorf("attribute 4 prints as %s", a.Name)
	}
}
