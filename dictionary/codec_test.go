package dictionary

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"layeh.com/radius"

	"github.com/radrelay/radrelay/detail"
)

func codecDict(t testing.TB) *Dictionary {
	t.Helper()
	d, err := Load("testdata/codec.dict")
	if err != nil {
		t.Fatal(err)
	}
	d.Location = time.UTC
	return d
}

// attr builds a detail.Attribute from "Name = value" / "Name:tag = value",
// with a quoted value unquoted (no escapes in these tests).
func attr(line string) detail.Attribute {
	name, val, _ := strings.Cut(line, " = ")
	var a detail.Attribute
	if n, tag, ok := strings.Cut(name, ":"); ok {
		name = n
		a.HasTag = true
		a.Tag = uint8(tag[0] - '0')
		if len(tag) == 2 {
			a.Tag = a.Tag*10 + (tag[1] - '0')
		}
	}
	a.Name = name
	if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
		a.Quoted = true
		val = val[1 : len(val)-1]
	}
	a.Value = val
	return a
}

func wireHex(p *radius.Packet) string {
	var b []byte
	for _, avp := range p.Attributes {
		b = append(b, byte(avp.Type), byte(len(avp.Attribute)+2))
		b = append(b, avp.Attribute...)
	}
	return hex.EncodeToString(b)
}

func TestEncodeWire(t *testing.T) {
	d := codecDict(t)
	for _, tc := range []struct {
		line string
		wire string // hex of the attributes; "" means skipped
	}{
		{`User-Name = "bob"`, "0105626f62"},
		{`User-Name = ""`, ""},
		{`NAS-IP-Address = 10.0.0.1`, "04060a000001"},
		{`NAS-Port = 4294967295`, "0506ffffffff"},
		{`NAS-Port = 0x10`, "050600000010"},
		{`Service-Type = Framed-User`, "060600000002"},
		{`Service-Type = framed-user`, "060600000002"},
		{`Class = 0x0102ff00`, "19060102ff00"},
		{`Class = "ab"`, "19046162"},
		{`Event-Timestamp = "Nov 23 2026 11:00:00 UTC"`, "3706" + "6b041cb0"},
		{`Event-Timestamp = 1795431600`, "3706" + "6b041cb0"},
		{`Tunnel-Type:1 = VLAN`, "40060100000d"},
		{`Tunnel-Type:0 = VLAN`, "40060000000d"},
		{`Tunnel-Private-Group-Id:2 = "100"`, "510602313030"},
		{`Tunnel-Private-Group-Id:0 = "100"`, "5105313030"},
		{`Message-Authenticator = 0x00000000000000000000000000000000`, ""},
		{`NAS-IPv6-Address = 2001:db8::1`, "5f1220010db8000000000000000000000001"},
		{`Framed-Interface-Id = 11:22ff:fe33:4455`, "600a001122fffe334455"},
		{`Framed-IPv6-Prefix = 2001:db8::/32`, "610800" + "2020010db8"},
		{`Framed-IPv4-Prefix = 10.1.0.0/16`, "6308" + "0010" + "0a010000"},
		{`Byte-Thing = 7`, "640307"},
		{`Short-Thing = 258`, "65040102"},
		{`Signed-Thing = -2`, "6606fffffffe"},
		{`Counter64 = 4294967296`, "670a0000000100000000"},
		{`Ether-Thing = aa:bb:cc:dd:ee:ff`, "6808aabbccddeeff"},
		{`Combo-Thing = 10.0.0.1`, "69060a000001"},
		{`Combo-Thing = ::1`, "691200000000000000000000000000000001"},
		{`Fixed-Thing = 0x01020304`, "6a0601020304"},
		{`Cisco-AVPair = "a=b"`, "1a0b" + "00000009" + "0105" + "613d62"},
		{`Wide4-Thing = 1`, "1a0e" + "0001869a" + "00011170" + "00000001"},
		{`TwoTwo-Thing = "x"`, "1a0b" + "0001869b" + "012c" + "0005" + "78"},
		{`OneZero-Thing = "x"`, "1a08" + "0001869c" + "07" + "78"},
		{`TwoOne-Thing = 7`, "1a0b" + "00018698" + "0201" + "05" + "0007"},
		{`WiMAX-Release = "A"`, "1a0c" + "000060b5" + "01" + "06" + "00" + "0103" + "41"},
		{`Ext-Int = 5`, "f10701" + "00000005"},
		{`Ext-TLV-Port = 80`, "f10705" + "01040050"},
		{`Long-Data = 0x0102`, "f5060200" + "0102"},
		{`FreeRADIUS-Key-Msg = 0xab`, "f50a" + "1a00" + "00002c50" + "02" + "ab"},
		{`Attr-26.99999.1 = 0x0102`, "1a0a" + "0001869f" + "0104" + "0102"},
		{`Attr-26.9.255 = 0xff`, "1a09" + "00000009" + "ff03" + "ff"},
		{`Attr-26 = 0x00000009ff03ff`, "1a09" + "00000009" + "ff03" + "ff"},
		{`Attr-241.200 = 0x0a0b`, "f105c80a0b"},
		{`Attr-241.26.99999.7 = 0x01`, "f109" + "1a" + "0001869f" + "07" + "01"},
		{`Attr-200 = 0x41`, "c80341"},
		{`Attr-1051 = 0x41`, ""},
		{`Acct-Unique-Session-Id = "x"`, ""},
		{`Tmp-String-9 = "ai:"`, ""},
		{`FreeRADIUS-Proxied-To = 127.0.0.1`, ""},
		{`Timestamp = 1795435059`, ""},
	} {
		p := radius.New(radius.CodeAccountingRequest, []byte("s"))
		if err := d.Encode(p, []detail.Attribute{attr(tc.line)}); err != nil {
			t.Errorf("%s: %v", tc.line, err)
			continue
		}
		if got := wireHex(p); got != tc.wire {
			t.Errorf("%s:\n got %s\nwant %s", tc.line, got, tc.wire)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	d := codecDict(t)
	for _, tc := range []struct{ line, want string }{
		{`No-Such-Attr = 1`, "attribute No-Such-Attr: unknown attribute"},
		{`NAS-Port = lots`, `attribute NAS-Port: "lots" is neither a number nor a VALUE name of NAS-Port`},
		{`NAS-Port = 4294967296`, "does not fit in 32 bits"},
		{`NAS-IP-Address = 300.1.1.1`, "is not an IPv4 address"},
		{`NAS-IP-Address = ::1`, "is not an IPv4 address"},
		{`NAS-IPv6-Address = 10.0.0.1`, "is not an IPv6 address"},
		{`Class = 0x123`, "odd number of hex digits"},
		{`Class = 0xzz`, "not hexadecimal"},
		{`Event-Timestamp = "yesterday"`, "is not a date"},
		{`Tunnel-Type:1 = 16777216`, "24 bits"},
		{`User-Name:1 = "x"`, "does not take a tag"},
		{`Byte-Thing = 256`, "8 bits"},
		{`Fixed-Thing = 0x01`, "exactly 4"},
		{`Framed-IPv6-Prefix = 2001:db8::/129`, "not an IPv6 prefix"},
		{`Ether-Thing = aa:bb`, "not an Ethernet address"},
		{`Framed-Interface-Id = 1:2:3`, "not an interface id"},
		{`User-Name = "` + strings.Repeat("x", 254) + `"`, "too long (at most 253)"},
		{`Cisco-AVPair = "` + strings.Repeat("x", 250) + `"`, "too long for a vendor attribute"},
		{`Ext-Int = lots`, "neither a number"},
		{`Attr-26.99999.1 = hello`, "not hexadecimal"},
		{`Attr-1.2 = 0x01`, "has no members"},
	} {
		p := radius.New(radius.CodeAccountingRequest, []byte("s"))
		p.Attributes = nil
		err := d.Encode(p, []detail.Attribute{attr(`User-Name = "ok"`), attr(tc.line)})
		var ee *EncodeError
		if !errors.As(err, &ee) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an *EncodeError containing %q", tc.line, err, tc.want)
			continue
		}
		if len(p.Attributes) != 0 {
			t.Errorf("%s: failed Encode changed the packet", tc.line)
		}
	}
	p := radius.New(radius.CodeAccountingRequest, []byte("s"))
	if err := d.Encode(p, []detail.Attribute{attr("Nope = 1")}); !errors.Is(err, ErrUnknownAttribute) {
		t.Errorf("unknown attribute: %v does not wrap ErrUnknownAttribute", err)
	}
}

// TestLongValues covers the forms that split a value over several wire
// attributes and that Decode joins again.
func TestLongValues(t *testing.T) {
	d := codecDict(t)
	long := make([]byte, 600)
	for i := range long {
		long[i] = byte(i)
	}
	hx := "0x" + hex.EncodeToString(long)
	for _, tc := range []struct {
		line  string
		parts int
		check func(p *radius.Packet) string
	}{
		{"EAP-Message = " + hx, 3, func(p *radius.Packet) string {
			if len(p.Attributes[0].Attribute) != 253 || len(p.Attributes[2].Attribute) != 600-2*253 {
				return "concat split sizes"
			}
			return ""
		}},
		{"Long-Data = " + hx, 3, func(p *radius.Packet) string {
			a := p.Attributes
			if a[0].Attribute[1] != 0x80 || a[1].Attribute[1] != 0x80 || a[2].Attribute[1] != 0 {
				return "M flags"
			}
			if len(a[0].Attribute) != 253 {
				return "first fragment not full"
			}
			return ""
		}},
		{"FreeRADIUS-Key-Msg = " + hx, 3, func(p *radius.Packet) string {
			a := p.Attributes
			if a[0].Attribute[0] != 26 || a[1].Attribute[0] != 26 || !bytes.Equal(a[0].Attribute[2:6], []byte{0, 0, 0x2c, 0x50}) {
				return "evs header"
			}
			return ""
		}},
		{"WiMAX-Big = " + hx, 3, func(p *radius.Packet) string {
			a := p.Attributes
			if a[0].Attribute[6] != 0x80 || a[1].Attribute[6] != 0x80 || a[2].Attribute[6] != 0 {
				return "continuation flags"
			}
			if int(a[0].Attribute[5]) != len(a[0].Attribute)-4 {
				return "vendor length"
			}
			return ""
		}},
		{"Concat-VSA = " + hx, 3, nil},
	} {
		in := attr(tc.line)
		p := radius.New(radius.CodeAccountingRequest, []byte("s"))
		if err := d.Encode(p, []detail.Attribute{in}); err != nil {
			t.Errorf("%s: %v", in.Name, err)
			continue
		}
		if len(p.Attributes) != tc.parts {
			t.Errorf("%s: %d wire attributes, want %d", in.Name, len(p.Attributes), tc.parts)
			continue
		}
		if tc.check != nil {
			if msg := tc.check(p); msg != "" {
				t.Errorf("%s: %s: %s", in.Name, msg, wireHex(p))
			}
		}
		if tc.line[:10] == "Concat-VSA" {
			continue // vendor concat is split but not joined by FreeRADIUS either
		}
		got, _ := d.Decode(p)
		if len(got) != 1 || got[0].Name != in.Name || got[0].Value != hx {
			t.Errorf("%s: decoded %+v", in.Name, got)
		}
	}
}

func TestDecodeText(t *testing.T) {
	d := codecDict(t)
	for _, tc := range []struct{ wire, want string }{
		{"0105626f62", `User-Name = "bob"`},
		{"0506ffffffff", "NAS-Port = 4294967295"},
		{"060600000002", "Service-Type = Framed-User"},
		{"060600000063", "Service-Type = 99"},
		{"3706" + "6b041cb0", `Event-Timestamp = "Nov 23 2026 11:00:00 UTC"`},
		{"370600000000", `Event-Timestamp = "Jan  1 1970 00:00:00 UTC"`},
		{"40060100000d", "Tunnel-Type:1 = VLAN"},
		{"40060000000d", "Tunnel-Type:0 = VLAN"},
		{"5105313030", `Tunnel-Private-Group-Id:0 = "100"`},
		{"510602313030", `Tunnel-Private-Group-Id:2 = "100"`},
		{"19060102ff00", "Class = 0x0102ff00"},
		{"5f1220010db8000000000000000000000001", "NAS-IPv6-Address = 2001:db8::1"},
		{"600a001122fffe334455", "Framed-Interface-Id = 11:22ff:fe33:4455"},
		{"6108002020010db8", "Framed-IPv6-Prefix = 2001:db8::/32"},
		{"6114004020010db8000000000000000000000000", "Framed-IPv6-Prefix = 2001:db8::/64"},
		{"630800100a010000", "Framed-IPv4-Prefix = 10.1.0.0/16"},
		{"6606fffffffe", "Signed-Thing = -2"},
		{"6808aabbccddeeff", "Ether-Thing = aa:bb:cc:dd:ee:ff"},
		{"691200000000000000000000000000000001", "Combo-Thing = ::1"},
		{"04050a0000", "Attr-4 = 0x0a0000"}, // wrong length: raw
		{"c80341", "Attr-200 = 0x41"},       // unknown
		{"1a0a0001869f01040102", "Attr-26.99999.1 = 0x0102"},
		{"1a0b000186980201050007", "TwoOne-Thing = 7"},
		{"1a0b0001869b012c000578", `TwoTwo-Thing = "x"`},
		{"1a0e0001869a0001117000000001", "Wide4-Thing = 1"},
		{"1a080001869c0778", `OneZero-Thing = "x"`},
		{"1a090000000aff03ff", "Attr-26.10.255 = 0xff"},
		{"1a0900000009ff03ff", "Attr-26.9.255 = 0xff"},
		{"1a0900000009ff09ff", "Attr-26 = 0x00000009ff09ff"}, // bad vendor length
		{"1a0b00000009010561", "Attr-26 = 0x00000009010561"}, // (radius would reject the length; exercised via ParseAttributes below)
		{"f105c80a0b", "Attr-241.200 = 0x0a0b"},
		{"f1091a0001869f0701", "Attr-241.26.99999.7 = 0x01"},
		{"f10705" + "01040050", "Ext-TLV-Port = 80"},
		{"f10705" + "09040050", "Attr-241.5.9 = 0x0050"},
		{"f10605" + "010500", "Attr-241.5 = 0x010500"},
		{"1a0c000060b501060001034" + "1", `WiMAX-Release = "A"`},
	} {
		b, _ := hex.DecodeString(tc.wire)
		attrs, err := radius.ParseAttributes(b)
		if err != nil {
			continue // the wire form itself is invalid (length octet); nothing to decode
		}
		p := &radius.Packet{Code: radius.CodeAccountingRequest, Attributes: attrs}
		got, err := d.Decode(p)
		if err != nil || len(got) != 1 {
			t.Errorf("%s: %v %+v", tc.wire, err, got)
			continue
		}
		if s := lineOf(got[0]); s != tc.want {
			t.Errorf("%s: got %s, want %s", tc.wire, s, tc.want)
		}
	}
}

// lineOf prints a decoded attribute like a detail line (without escaping).
func lineOf(a detail.Attribute) string {
	s := a.Name
	if a.HasTag {
		s += ":" + string(rune('0'+a.Tag/10)) + string(rune('0'+a.Tag%10))
		s = strings.Replace(s, ":0", ":", 1)
		if a.Tag == 0 {
			s = a.Name + ":0"
		}
	}
	if a.Quoted {
		return s + ` = "` + a.Value + `"`
	}
	return s + " = " + a.Value
}

func TestEncryptedRoundTrip(t *testing.T) {
	d := codecDict(t)
	for _, code := range []radius.Code{radius.CodeAccessRequest, radius.CodeAccountingRequest} {
		p := radius.New(code, []byte("secret"))
		in := []detail.Attribute{attr(`User-Password = "hunter2"`), attr(`Tunnel-Password:3 = "tunnelpw"`)}
		if err := d.Encode(p, in); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(p.Attributes[0].Attribute, []byte("hunter2")) {
			t.Fatal("User-Password sent in clear")
		}
		got, _ := d.Decode(p)
		if len(got) != 2 || lineOf(got[0]) != `User-Password = "hunter2"` || lineOf(got[1]) != `Tunnel-Password:3 = "tunnelpw"` {
			t.Errorf("code %v: %+v", code, got)
		}
		p.Secret = nil
		if err := d.Encode(p, in[:1]); err == nil || !strings.Contains(err.Error(), "shared secret") {
			t.Errorf("no secret: %v", err)
		}
	}
}

// TestConcurrentCodec: one dictionary, many goroutines (run with -race).
func TestConcurrentCodec(t *testing.T) {
	d := Builtin()
	done := make(chan error)
	for g := 0; g < 8; g++ {
		go func() {
			for i := 0; i < 200; i++ {
				p := radius.New(radius.CodeAccountingRequest, []byte("s"))
				if err := d.Encode(p, typicalRecord); err != nil {
					done <- err
					return
				}
				got, _ := d.Decode(p)
				if len(got) != len(typicalRecord)-1 {
					done <- errors.New("wrong attribute count")
					return
				}
			}
			done <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// TestDatesInLocalZone: FreeRADIUS prints dates in its local zone; a
// dictionary whose Location is that zone reads and prints them the same way.
func TestDatesInLocalZone(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	d := codecDict(t)
	d.Location = loc
	for _, tc := range []struct{ in, want string }{
		{`Event-Timestamp = "Jul  1 2026 12:00:00 CEST"`, `Event-Timestamp = "Jul  1 2026 12:00:00 CEST"`},
		{`Event-Timestamp = "Jan 15 2026 08:30:00 CET"`, `Event-Timestamp = "Jan 15 2026 08:30:00 CET"`},
		{`Event-Timestamp = "Jan 15 2026 07:30:00 UTC"`, `Event-Timestamp = "Jan 15 2026 08:30:00 CET"`},
		// An abbreviation the zone does not know: local wall clock, as FreeRADIUS does.
		{`Event-Timestamp = "Jan 15 2026 08:30:00 XYZ"`, `Event-Timestamp = "Jan 15 2026 08:30:00 CET"`},
		{`Event-Timestamp = 1768462200`, `Event-Timestamp = "Jan 15 2026 08:30:00 CET"`},
	} {
		p := radius.New(radius.CodeAccountingRequest, []byte("s"))
		if err := d.Encode(p, []detail.Attribute{attr(tc.in)}); err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		got, _ := d.Decode(p)
		if len(got) != 1 || lineOf(got[0]) != tc.want {
			t.Errorf("%s: got %+v, want %s", tc.in, got, tc.want)
		}
	}
}

// TestDecodeManyAttributes: past the decoder's fixed table of value ends
// (64), every value is still cut from the text at its own place.
func TestDecodeManyAttributes(t *testing.T) {
	d := Builtin()
	for _, n := range []int{63, 64, 65, 200} {
		p := radius.New(radius.CodeAccountingRequest, []byte("secret"))
		for i := range n {
			p.Add(1, radius.Attribute(fmt.Sprintf("user%d", i)))    // User-Name
			p.Add(5, radius.Attribute{0, 0, byte(i >> 8), byte(i)}) // NAS-Port
		}
		got, err := d.Decode(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2*n {
			t.Fatalf("%d pairs: %d attributes, want %d", n, len(got), 2*n)
		}
		for i := range n {
			if u, port := got[2*i], got[2*i+1]; u.Name != "User-Name" || u.Value != fmt.Sprintf("user%d", i) || port.Name != "NAS-Port" || port.Value != strconv.Itoa(i) {
				t.Fatalf("%d pairs: pair %d decoded as %+v, %+v", n, i, u, port)
			}
		}
	}
}

// TestDecodeAppend: DecodeAppend leaves dst's attributes as they were and
// decodes the packet after them as Decode does.
func TestDecodeAppend(t *testing.T) {
	d := Builtin()
	p := radius.New(radius.CodeAccountingRequest, []byte("secret"))
	p.Add(1, radius.Attribute("alice"))                          // User-Name
	p.Add(4, radius.Attribute{10, 0, 0, 1})                      // NAS-IP-Address
	p.Add(40, radius.Attribute{0, 0, 0, 3})                      // Acct-Status-Type
	p.Add(26, radius.Attribute{0, 0, 0, 9, 1, 5, 'a', '=', 'b'}) // Cisco-AVPair
	want, err := d.Decode(p)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]detail.Attribute, 1, 2) // too small: DecodeAppend grows it
	dst[0] = detail.Attribute{Name: "Before", Value: "x"}
	got, err := d.DecodeAppend(dst, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1+len(want) || got[0] != dst[0] {
		t.Fatalf("DecodeAppend = %+v, want Before then %+v", got, want)
	}
	for i := range want {
		if got[1+i] != want[i] {
			t.Errorf("attribute %d: %+v, want %+v", i, got[1+i], want[i])
		}
	}
}
