package dictionary

import (
	"slices"
	"strings"
	"testing"
)

func TestParseOID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []uint32
		ok   bool
	}{
		{"40", []uint32{40}, true},
		{"26.9.1", []uint32{26, 9, 1}, true},
		{"Attr-241.26.11344.1", []uint32{241, 26, 11344, 1}, true},
		{"attr-1", []uint32{1}, true},
		{"", nil, false}, {"Attr-", nil, false}, {"26..1", nil, false}, {"User-Name", nil, false}, {"4294967296", nil, false},
	} {
		got, ok := ParseOID(tc.in)
		if ok != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("ParseOID(%q) = %v %v, want %v %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestListing: the listing API says what a dictionary holds, in order, and
// where each definition came from.
func TestListing(t *testing.T) {
	d := New()
	const text = `VENDOR	Old-Name	99	format=2,1
VENDOR	Example	99	format=2,1
BEGIN-VENDOR	Example
ATTRIBUTE	Example-TLV	2	tlv
ATTRIBUTE	Example-Member	2.1	integer
ATTRIBUTE	Example-Tag	300	string	has_tag,encrypt=2
END-VENDOR	Example
ATTRIBUTE	Old-Status	40	integer
ATTRIBUTE	Status	40	integer
ATTRIBUTE	Blob	41	octets[16]
ALIAS	Stat	Status
VALUE	Status	Begin	1
VALUE	Status	Start	1
VALUE	Status	Stop	2
`
	if err := d.Parse(strings.NewReader(text), "user.dict"); err != nil {
		t.Fatal(err)
	}
	vs := d.Vendors()
	if len(vs) != 1 || vs[0].Format() != "2,1" || vs[0].Source.String() != "user.dict:2" {
		t.Fatalf("vendors %+v", vs)
	}
	if names := d.VendorNames(vs[0]); !slices.Equal(names, []string{"Example", "Old-Name"}) {
		t.Errorf("vendor names %v", names)
	}
	var got []string
	for _, a := range d.Attributes() {
		got = append(got, a.OID()+" "+a.Name+" "+a.TypeAndFlags())
	}
	want := []string{
		"26.99.2 Example-TLV tlv", "26.99.2.1 Example-Member integer", "26.99.300 Example-Tag string has_tag,encrypt=2",
		"40 Old-Status integer", "40 Status integer", "41 Blob octets[16]",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Attributes:\n got %q\nwant %q", got, want)
	}
	old, _ := d.Attribute("Old-Status")
	if d.Printed(old) {
		t.Error("Old-Status is printed")
	}
	if p, ok := d.PrintedFor(old); !ok || p.Name != "Status" {
		t.Errorf("PrintedFor(Old-Status) = %v", p)
	}
	if st, _ := d.Attribute("Stat"); st.Name != "Status" || st.Source.String() != "user.dict:9" {
		t.Errorf("ALIAS Stat: %+v", st)
	}
	if !slices.Contains(d.Names(), "Stat") {
		t.Error("Names lacks the ALIAS")
	}
	vals := old.Values() // shared by every definition of 40
	if len(vals) != 3 || vals[0] != (Value{"Start", 1, true}) || vals[1] != (Value{"Begin", 1, false}) || vals[2] != (Value{"Stop", 2, true}) {
		t.Errorf("Values %+v", vals)
	}
	tlv, _ := d.Attribute("Example-TLV")
	if m := d.Members(tlv); len(m) != 1 || m[0].Name != "Example-Member" {
		t.Errorf("Members %v", m)
	}
	if va := d.VendorAttributes(vs[0]); len(va) != 2 {
		t.Errorf("VendorAttributes %v", va)
	}
	for _, tc := range []struct {
		s    Source
		want string
	}{
		{Source{File: "builtin/rfc2866.dict", Line: 12, Builtin: true}, "built-in builtin/rfc2866.dict:12"},
		{Source{File: "FreeRADIUS 3.2.1 dictionary.cisco", Builtin: true}, "built-in FreeRADIUS 3.2.1 dictionary.cisco"},
		{Source{File: "/etc/radrelay/d", Line: 7}, "/etc/radrelay/d:7"},
		{Source{}, "(unknown)"},
	} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.s, got, tc.want)
		}
	}
}
