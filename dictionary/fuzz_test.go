package dictionary

import (
	"strings"
	"testing"
	"time"

	"layeh.com/radius"

	"github.com/radrelay/radrelay/detail"
)

// FuzzParse: any dictionary text gives a dictionary or an error naming a
// line, never a panic.
func FuzzParse(f *testing.F) {
	f.Add("ATTRIBUTE User-Name 1 string\nVALUE User-Name X 1\n")
	f.Add("VENDOR V 9 format=2,2\nBEGIN-VENDOR V\nATTRIBUTE T 2 tlv\nBEGIN-TLV T\nATTRIBUTE U 1 ipaddr\nEND-TLV T\nATTRIBUTE W 2.2 short\nEND-VENDOR V\n")
	f.Add("ATTRIBUTE E 241 extended\nATTRIBUTE S 241.26 evs\nVENDOR F 11344\nBEGIN-VENDOR F format=S\nATTRIBUTE G 1 octets concat\nEND-VENDOR F\n")
	f.Add("ATTRIBUTE T 64 integer has_tag,encrypt=2\nALIAS Old T\nPROTOCOL RADIUS 1\n")
	f.Fuzz(func(t *testing.T, text string) {
		d := New()
		err := d.Parse(strings.NewReader(text), "fuzz.dict")
		if err != nil && !strings.HasPrefix(err.Error(), "fuzz.dict:") && !strings.Contains(err.Error(), "$INCLUDE") {
			// Errors name the file (and, from a line, the line).
			if !strings.Contains(err.Error(), ".dict") && !strings.Contains(err.Error(), "/") {
				t.Errorf("error does not name the file: %v", err)
			}
		}
	})
}

// FuzzParseOverBuiltin: any user dictionary loads over a copy of the
// built-in dictionary without panicking, and never changes another copy
// (the copies share definitions copy-on-write).
func FuzzParseOverBuiltin(f *testing.F) {
	f.Add("VALUE Acct-Status-Type Begin 1\nVALUE Client-Port-Id Zero 0\n")
	f.Add("VENDOR Cisco 9 format=2,1\nATTRIBUTE Cisco-Thing 300 string Cisco\n")
	f.Add("ATTRIBUTE Acct-Status-Type 40 string\nATTRIBUTE User-Name 1 octets\nALIAS Name 1\n")
	f.Add("VENDOR WiMAX 24757 format=1,1\nBEGIN-VENDOR WiMAX\nATTRIBUTE WiMAX-X 1.12 byte\nVALUE WiMAX-Accounting-Capabilities Q 9\nEND-VENDOR WiMAX\n")
	f.Fuzz(func(t *testing.T, text string) {
		d := Builtin()
		_ = d.Parse(strings.NewReader(text), "fuzz.dict")
		fresh := Builtin()
		st, _ := fresh.Attribute("Acct-Status-Type")
		if n, _ := st.ValueName(1); st.Type != TypeInteger || n != "Start" {
			t.Fatalf("a fresh copy's Acct-Status-Type changed: %s, 1 = %s", st.TypeAndFlags(), n)
		}
		if _, ok := st.ValueNumber("Begin"); ok {
			t.Fatal("a user's VALUE leaked into a fresh copy")
		}
		if v, _ := fresh.Vendor(9); v.Name != "Cisco" || v.Format() != "1,1" {
			t.Fatalf("a fresh copy's vendor 9 changed: %s %s", v.Name, v.Format())
		}
		if a, _ := fresh.AttributeByNumber(0, 1); a.Name != "User-Name" || a.Type != TypeString {
			t.Fatalf("a fresh copy's attribute 1 changed: %s %s", a.Name, a.Type)
		}
		wc, _ := fresh.Attribute("WiMAX-Accounting-Capabilities")
		if _, ok := wc.ValueNumber("Q"); ok {
			t.Fatal("a user's VALUE leaked into a fresh copy")
		}
	})
}

// FuzzDecode: any attribute bytes decode without panicking, and what Decode
// prints encodes again to a packet that decodes to the same text.
func FuzzDecode(f *testing.F) {
	for _, h := range []string{
		"0105626f62", "1a0a0001869f01040102", "f5060280" + "0102" + "f5060200" + "0304", "1a0c000060b5010680010341",
		"40060100000d", "6114004020010db8000000000000000000000000", "f10a1a0000002c500201", "1a09000000090103ff",
	} {
		b := make([]byte, len(h)/2)
		for i := range b {
			b[i] = hexNibble(h[2*i])<<4 | hexNibble(h[2*i+1])
		}
		f.Add(b)
	}
	fr := fuzzDict(f)
	f.Fuzz(func(t *testing.T, wire []byte) {
		// A whole packet if it parses as one, else a run of attributes.
		p, err := radius.Parse(wire, []byte("s"))
		if err != nil {
			attrs, err := radius.ParseAttributes(wire)
			if err != nil {
				return
			}
			p = &radius.Packet{Code: radius.CodeAccountingRequest, Secret: []byte("s"), Attributes: attrs}
		}
		got, err := fr.Decode(p)
		if err != nil {
			t.Fatal(err)
		}
		q := radius.New(radius.CodeAccountingRequest, []byte("s"))
		if err := fr.Encode(q, got); err != nil {
			t.Fatalf("decoded text does not encode: %v\n%+v", err, got)
		}
		again, _ := fr.Decode(q)
		want := wireAttrs(fr, got)
		if len(again) != len(want) {
			t.Fatalf("second round: %d attributes, want %d\n%+v\n%+v", len(again), len(want), again, want)
		}
		for i := range want {
			if !sameAttr(again[i], want[i]) {
				t.Fatalf("second round: %+v, want %+v", again[i], want[i])
			}
		}
	})
}

// FuzzEncodeDecode: a value that encodes decodes to the same text, for the
// canonical forms (the text Decode itself prints).
func FuzzEncodeDecode(f *testing.F) {
	f.Add("User-Name", "bob", true)
	f.Add("NAS-Port", "5", false)
	f.Add("Acct-Status-Type", "Start", false)
	f.Add("Framed-IPv6-Prefix", "2001:db8::/48", false)
	f.Add("Class", "0x0102", false)
	f.Add("Attr-26.99999.1", "0x01", false)
	f.Add("Long-Data", "0x"+strings.Repeat("ab", 300), false)
	f.Add("Event-Timestamp", "Nov 23 2026 11:00:00 UTC", true)
	d := fuzzDict(f)
	f.Fuzz(func(t *testing.T, name, value string, quoted bool) {
		in := detail.Attribute{Name: name, Value: value, Quoted: quoted}
		p := radius.New(radius.CodeAccountingRequest, []byte("s"))
		if err := d.Encode(p, []detail.Attribute{in}); err != nil {
			return
		}
		got, _ := d.Decode(p)
		// Re-encoding what Decode printed gives the same wire bytes.
		q := radius.New(radius.CodeAccountingRequest, []byte("s"))
		if err := d.Encode(q, got); err != nil {
			t.Fatalf("%q = %q decoded to %+v, which does not encode: %v", name, value, got, err)
		}
		if wireHex(p) != wireHex(q) && !hasEncrypted(d, got) {
			t.Fatalf("%q = %q: wire %s, after a round trip %s", name, value, wireHex(p), wireHex(q))
		}
	})
}

func hasEncrypted(d *Dictionary, attrs []detail.Attribute) bool {
	for _, a := range attrs {
		if da, ok := d.Attribute(a.Name); ok && da.Encrypt != 0 {
			return true
		}
	}
	return false
}

func fuzzDict(tb testing.TB) *Dictionary {
	d, err := Load("testdata/codec.dict")
	if err != nil {
		tb.Fatal(err)
	}
	d.Location = time.UTC
	return d
}

func hexNibble(c byte) byte {
	if c >= 'a' {
		return c - 'a' + 10
	}
	return c - '0'
}

func TestParseUTCDateAgreesWithTime(t *testing.T) {
	for _, s := range []string{"Nov 23 2026 11:00:00 UTC", "Jan  1 1970 00:00:00 UTC", "Feb 29 2028 23:59:59 GMT", "Dec 31 2099 12:00:00 UTC"} {
		fast, ok := parseUTCDate(s)
		slow, err := time.Parse(dateLayout, s)
		if !ok || err != nil || !fast.Equal(slow) {
			t.Errorf("%s: fast %v %v, time.Parse %v %v", s, fast, ok, slow, err)
		}
	}
	for _, s := range []string{"Feb 30 2026 11:00:00 UTC", "Nov 23 2026 24:00:00 UTC", "Nov 23 2026 11:00:00 CET", "Xyz 23 2026 11:00:00 UTC"} {
		if _, ok := parseUTCDate(s); ok {
			t.Errorf("%s: fast path accepted it", s)
		}
	}
}
