package dictionary

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
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

// TestPrimarySourcesVsFreeRADIUS checks the part of the built-in dictionary
// written from the RFCs and vendor documents (builtin/) against the
// installed FreeRADIUS dictionary, attribute by attribute: where FreeRADIUS
// defines the same number, the name, type, flags and VALUE names should
// agree. Every disagreement must be the one recorded in
// testdata/primary-vs-freeradius.txt and listed in docs/dictionary.md
// (FreeRADIUS's spelling is what radrelay prints; see
// TestBuiltinCoversFreeRADIUS). Run with -update to rewrite the list.
func TestPrimarySourcesVsFreeRADIUS(t *testing.T) {
	needFreeRADIUSTree(t)
	fr, err := Load(freeradiusTree)
	if err != nil {
		t.Fatal(err)
	}
	d, err := loadPrimary()
	if err != nil {
		t.Fatal(err)
	}
	diffs, shared := primaryDifferences(d, fr)
	// The floor guards against a built-in file silently dropping out (a
	// broken $INCLUDE, a renamed vendor); raise it as coverage grows.
	if shared < 620 {
		t.Errorf("only %d attributes shared with FreeRADIUS, want at least 620", shared)
	}
	const golden = "testdata/primary-vs-freeradius.txt"
	got := strings.Join(diffs, "\n") + "\n"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("the primary-source files disagree with FreeRADIUS otherwise than %s lists (go test -run %s -update rewrites it; then update docs/dictionary.md):\n%s", golden, t.Name(), got)
	}
	docs, err := os.ReadFile("../docs/dictionary.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range diffs {
		if !strings.Contains(string(docs), l) {
			t.Errorf("docs/dictionary.md does not list: %s", l)
		}
	}
}

var update = flag.Bool("update", false, "rewrite golden files")

// TestDictFilesAgreeWithFreeRADIUS runs the same check on each built-in
// vendor file loaded alone (a vendor file must not lean on another), or on
// the files named in RADRELAY_DICT_FILES (space-separated, loaded in order
// into one empty dictionary), for whoever edits one built-in file at a time:
//
//	RADRELAY_DICT_FILES="dictionary/builtin/vendor-cisco.dict" go test ./dictionary -run TestDictFilesAgree -v
//
// A disagreement not recorded in testdata/primary-vs-freeradius.txt fails.
func TestDictFilesAgreeWithFreeRADIUS(t *testing.T) {
	needFreeRADIUSTree(t)
	fr, err := Load(freeradiusTree)
	if err != nil {
		t.Fatal(err)
	}
	known, err := os.ReadFile("testdata/primary-vs-freeradius.txt")
	if err != nil {
		t.Fatal(err)
	}
	check := func(d *Dictionary) int {
		diffs, shared := primaryDifferences(d, fr)
		for _, l := range diffs {
			if !strings.Contains(string(known), l+"\n") {
				t.Error(l)
			}
		}
		return shared
	}
	if files := strings.Fields(os.Getenv("RADRELAY_DICT_FILES")); len(files) > 0 {
		d := New()
		for _, f := range files {
			if _, err := os.Stat(f); err != nil {
				f = filepath.Join("..", f) // named from the repository root
			}
			if err := d.LoadFile(f); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("%d attributes shared with FreeRADIUS", check(d))
		return
	}
	vendorFiles, err := fs.Glob(builtinFS, "builtin/vendor-*.dict")
	if err != nil || len(vendorFiles) == 0 {
		t.Fatalf("no built-in vendor files (%v)", err)
	}
	for _, f := range vendorFiles {
		d := New()
		if err := d.LoadFS(builtinFS, f); err != nil {
			t.Errorf("%s alone: %v", f, err)
			continue
		}
		check(d)
	}
}

// primaryDifferences lists every disagreement between d and fr on the
// attributes and vendors d defines, one line each, sorted, and returns how
// many of d's attributes fr defines too.
func primaryDifferences(d, fr *Dictionary) (diffs []string, shared int) {
	for _, v := range d.Vendors() {
		f, ok := fr.Vendor(v.ID)
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("VENDOR %d: built-in %s; FreeRADIUS has no such vendor", v.ID, v.Name))
		case f.Name != v.Name:
			diffs = append(diffs, fmt.Sprintf("VENDOR %d: built-in %s; FreeRADIUS prints %s", v.ID, v.Name, f.Name))
		case f.TypeLen != v.TypeLen || f.LenLen != v.LenLen || f.Continuation != v.Continuation:
			diffs = append(diffs, fmt.Sprintf("VENDOR %d: built-in format=%s; FreeRADIUS format=%s", v.ID, v.Format(), f.Format()))
		}
	}
	for _, a := range d.Attributes() {
		if !d.Printed(a) {
			continue
		}
		oid, _ := parseAttrOID("Attr-" + a.OID())
		f, ok := fr.AttributeByOID(oid)
		if !ok {
			if g, ok := fr.Attribute(a.Name); ok {
				diffs = append(diffs, fmt.Sprintf("%s: built-in %s; FreeRADIUS has this name at %s", a.Name, a.OID(), g.OID()))
			}
			continue
		}
		shared++
		// a is the attribute radrelay prints for this number; FreeRADIUS
		// should print the same name.
		if a.Name != f.Name {
			diffs = append(diffs, fmt.Sprintf("%s: built-in name of %s; FreeRADIUS prints %s", a.Name, a.OID(), f.Name))
		}
		if as, fs := a.TypeAndFlags(), f.TypeAndFlags(); as != fs {
			diffs = append(diffs, fmt.Sprintf("%s (%s): built-in %q; FreeRADIUS %q", a.Name, a.OID(), as, fs))
		}
		for _, v := range a.Values() {
			if v.Printed {
				if fv, ok := f.ValueName(v.Number); ok && fv != v.Name {
					diffs = append(diffs, fmt.Sprintf("%s %d: built-in prints VALUE %s; FreeRADIUS prints %s", a.Name, v.Number, v.Name, fv))
				} else if !ok && f.Type.isInteger() {
					diffs = append(diffs, fmt.Sprintf("%s %d: built-in prints VALUE %s; FreeRADIUS prints the number", a.Name, v.Number, v.Name))
				}
			}
			if fn, ok := f.ValueNumber(v.Name); ok && fn != v.Number {
				diffs = append(diffs, fmt.Sprintf("%s VALUE %s: built-in %d; FreeRADIUS %d", a.Name, v.Name, v.Number, fn))
			}
		}
	}
	sort.Strings(diffs)
	return diffs, shared
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

// TestFreeRADIUSTreeOverBuiltin: the production setting the docs recommend on
// a FreeRADIUS host, dictionary = "/usr/share/freeradius/dictionary", loads on
// top of the built-in dictionary and brings the vendors it lacks.
func TestFreeRADIUSTreeOverBuiltin(t *testing.T) {
	needFreeRADIUSTree(t)
	d := Builtin()
	if err := d.LoadFile(freeradiusTree); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Ruckus-SSID", "Mikrotik-Recv-Limit", "Cisco-AVPair", "User-Name", "Acct-Unique-Session-Id"} {
		if _, ok := d.Attribute(name); !ok {
			t.Errorf("%s unknown after loading %s over the built-in dictionary", name, freeradiusTree)
		}
	}
	if st, _ := d.Attribute("Acct-Status-Type"); st == nil {
		t.Fatal("Acct-Status-Type lost")
	} else if n, _ := st.ValueName(3); n != "Interim-Update" {
		t.Errorf("Acct-Status-Type 3 prints as %s", n)
	}
}
