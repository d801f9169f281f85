package dictionary

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseConstructs(t *testing.T) {
	d, err := Load("testdata/parse/main.dict")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, oid string }{
		{"user-name", "1"}, {"OLD-NAME", "1"}, {"Tunnel-Type", "64"}, {"Frag-Thing", "241.1"},
		{"Long-Thing", "245.2"}, {"Some-TLV-Member", "241.5.1"}, {"Acme-Big", "26.99999.300"},
		{"Acme-TLV-A", "26.99999.2.1"}, {"Acme-TLV-C", "26.99999.2.3"}, {"Cont-Data", "26.99997.1"},
	} {
		a, ok := d.Attribute(tc.name)
		if !ok || a.OID() != tc.oid {
			t.Errorf("%s: %v %v", tc.name, a, ok)
		}
	}
	tt, _ := d.Attribute("Tunnel-Type")
	if !tt.HasTag {
		t.Error("Tunnel-Type lost has_tag")
	}
	tp, _ := d.Attribute("Tunnel-Password")
	if !tp.HasTag || tp.Encrypt != 2 {
		t.Errorf("Tunnel-Password flags: %+v", tp)
	}
	la, _ := d.Attribute("Later-Attr")
	if n, ok := la.ValueNumber("up"); !ok || n != 1 {
		t.Error("VALUE before ATTRIBUTE not resolved")
	}
	in, _ := d.Attribute("Internal-Thing")
	if !in.Internal {
		t.Error("number > 255 not internal")
	}
	v, _ := d.VendorByName("acme")
	if v.TypeLen != 2 || v.LenLen != 2 {
		t.Errorf("vendor format %+v", v)
	}
	c, _ := d.Vendor(99997)
	if !c.Continuation {
		t.Error("continuation flag lost")
	}
	if a, ok := d.AttributeByOID([]uint32{26, 99999, 2, 1}); !ok || a.Name != "Acme-TLV-A" {
		t.Errorf("AttributeByOID: %v", a)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"ATTRIBUTE X 1 strnig\n", "x.dict:1: ATTRIBUTE X: unknown type"},
		{"\n\nATTRIBUTE X 1 string bogus_flag\n", "x.dict:3: ATTRIBUTE X: unknown flag"},
		{"ATTRIBUTE X abc string\n", "x.dict:1: ATTRIBUTE X: bad number"},
		{"VENDOR V 7 format=3,1\n", "x.dict:1: VENDOR V: bad format"},
		{"BEGIN-VENDOR Nope\n", "x.dict:1: BEGIN-VENDOR of unknown vendor"},
		{"VENDOR V 7\nBEGIN-VENDOR V\n", "x.dict:2: BEGIN-VENDOR V without END-VENDOR"},
		{"END-TLV Foo\n", "x.dict:1: END-TLV Foo without matching BEGIN-TLV"},
		{"VALUE Nope Up 1\n", "x.dict:1: VALUE Up for unknown attribute"},
		{"FROB x\n", `x.dict:1: unknown keyword "FROB"`},
		{"ATTRIBUTE X 1.2 string\n", "x.dict:1: ATTRIBUTE X: number 1.2: no attribute 1"},
		{"\n$INCLUDE missing.dict\n", "x.dict:2: $INCLUDE missing.dict: open "},
		{"VENDOR V 7\nBEGIN-VENDOR V\nATTRIBUTE X 256 string\nEND-VENDOR V\n", "x.dict:3: ATTRIBUTE X: number 256 does not fit"},
		{"ATTRIBUTE E 200 extended\n", "x.dict:1: ATTRIBUTE E: extended attributes are numbered 241 to 246"},
	} {
		dir := t.TempDir()
		p := filepath.Join(dir, "x.dict")
		if err := os.WriteFile(p, []byte(tc.text), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.text, err, tc.want)
		}
	}
}

func TestIncludeLoop(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "loop.dict")
	os.WriteFile(p, []byte("$INCLUDE loop.dict\n"), 0o644)
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "too deeply") {
		t.Fatalf("got %v", err)
	}
}

func TestOptionalInclude(t *testing.T) {
	d := New()
	if err := d.Parse(strings.NewReader("$INCLUDE- /nonexistent/dictionary.local\nATTRIBUTE X 1 string\n"), "x.dict"); err != nil {
		t.Fatal(err)
	}
	if _, ok := d.Attribute("X"); !ok {
		t.Error("lines after an optional missing include were not read")
	}
}
