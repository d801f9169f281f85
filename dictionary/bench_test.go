package dictionary

import (
	"testing"

	"layeh.com/radius"

	"github.com/radrelay/radrelay/detail"
)

// typicalRecord is a 15-attribute Interim-Update as a BNG sends it,
// followed by the FreeRADIUS-added attributes (skipped on the wire).
var typicalRecord = []detail.Attribute{
	{Name: "Acct-Status-Type", Value: "Interim-Update"},
	{Name: "User-Name", Value: "subscriber-000123@isp.example", Quoted: true},
	{Name: "Acct-Session-Id", Value: "0A0B0C0D-00001F2E", Quoted: true},
	{Name: "NAS-IP-Address", Value: "10.20.30.40"},
	{Name: "NAS-Port", Value: "2147483650"},
	{Name: "NAS-Port-Type", Value: "Ethernet"},
	{Name: "Service-Type", Value: "Framed-User"},
	{Name: "Framed-Protocol", Value: "PPP"},
	{Name: "Framed-IP-Address", Value: "100.64.12.34"},
	{Name: "Calling-Station-Id", Value: "00:11:22:33:44:55", Quoted: true},
	{Name: "Acct-Session-Time", Value: "86400"},
	{Name: "Acct-Input-Octets", Value: "1234567890"},
	{Name: "Acct-Output-Octets", Value: "3456789012"},
	{Name: "Acct-Input-Gigawords", Value: "2"},
	{Name: "Event-Timestamp", Value: "Nov 23 2026 11:00:00 UTC", Quoted: true},
	{Name: "Acct-Unique-Session-Id", Value: "2061053dd2fafc59c201521bef3bcf58", Quoted: true},
}

func BenchmarkEncode(b *testing.B) {
	d := Builtin()
	p := radius.New(radius.CodeAccountingRequest, []byte("secret"))
	b.ReportAllocs()
	for b.Loop() {
		p.Attributes = p.Attributes[:0]
		if err := d.Encode(p, typicalRecord); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	d := Builtin()
	p := radius.New(radius.CodeAccountingRequest, []byte("secret"))
	if err := d.Encode(p, typicalRecord); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Decode(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLookupExactCase(b *testing.B) {
	d := Builtin()
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := d.Attribute("Acct-Input-Gigawords"); !ok {
			b.Fatal("missing")
		}
	}
}

// BenchmarkLoadBuiltin parses the primary-source files of the built-in
// dictionary (builtin/, FreeRADIUS format) alone.
func BenchmarkLoadBuiltin(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		d := New()
		if err := d.LoadFS(builtinFS, "builtin/dictionary"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadFreeRADIUSTree(b *testing.B) {
	needFreeRADIUSTree(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(freeradiusTree); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuiltin is what a radrelay process pays at startup for the
// built-in dictionary: building it (primary-source files and FreeRADIUS's
// generated tables) and handing out the caller's copy. Internal
// micro-benchmark; the figure through the built binary is in
// docs/benchmarks.md.
func BenchmarkBuiltin(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		d, err := loadBuiltin()
		if err != nil {
			b.Fatal(err)
		}
		_ = d.Clone()
	}
}

func BenchmarkBuiltinClone(b *testing.B) {
	d := Builtin()
	b.ReportAllocs()
	for b.Loop() {
		_ = d.Clone()
	}
}
