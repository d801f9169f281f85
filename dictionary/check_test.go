package dictionary

import (
	"errors"
	"strings"
	"testing"

	"github.com/radrelay/radrelay/detail"
)

func TestCheck(t *testing.T) {
	d := Builtin()
	for _, tc := range []struct {
		line string
		want string // "" = valid
	}{
		{`User-Name = "bob"`, ""},
		{`user-name = "bob"`, ""},
		{`Client-Id = 10.0.0.1`, ""},
		{`Acct-Status-Type = Start`, ""},
		{`Acct-Status-Type = 99`, ""},
		{`Acct-Status-Type = Begin`, `"Begin" is neither a number nor a VALUE name`},
		{`NAS-IP-Address = 10.0.0.256`, "not an IPv4 address"},
		{`Event-Timestamp = "Nov 23 2026 11:00:00 UTC"`, ""},
		{`Event-Timestamp = "Nov 32 2026 11:00:00 UTC"`, "not a date"},
		{`Tunnel-Type:1 = VLAN`, ""},
		{`User-Name:1 = "x"`, "does not take a tag"},
		{`Class = 0x0102`, ""},
		{`Class = 0x012`, "odd number"},
		{`Frobnicate = 1`, "unknown attribute"},
		{`Attr-26.99999.1 = 0x0102`, ""},
		{`Attr-26.99999.1 = "x"`, "not hexadecimal"},
		{`Acct-Unique-Session-Id = "abc"`, ""},
		{`Tmp-Integer-0 = abc`, "neither a number"},
		{`Timestamp = 1795435059`, ""},
		{`Framed-IPv6-Prefix = 2001:db8::/48`, ""},
		{`Cisco-AVPair = "ip:addr=1.2.3.4"`, ""},
	} {
		err := d.Check(attr(tc.line))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: unexpected %v", tc.line, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want %q", tc.line, err, tc.want)
		}
	}
	if err := d.Check(attr("Nope = 1")); !errors.Is(err, ErrUnknownAttribute) {
		t.Errorf("unknown name: %v", err)
	}
}

func TestJSONValue(t *testing.T) {
	d := Builtin()
	for _, tc := range []struct {
		line string
		want any
	}{
		{`User-Name = "bob"`, "bob"},
		{`Acct-Status-Type = Start`, "Start"},
		{`Acct-Session-Time = 3600`, uint64(3600)},
		{`Acct-Terminate-Cause = 99`, uint64(99)},
		{`Acct-Input-Gigawords = 0`, uint64(0)},
		{`NAS-IP-Address = 10.0.0.1`, "10.0.0.1"},
		{`Class = 0x0102`, "0x0102"},
		{`Event-Timestamp = "Nov 23 2026 11:00:00 UTC"`, "Nov 23 2026 11:00:00 UTC"},
		{`Event-Timestamp = 1795431600`, uint64(1795431600)},
		{`Tunnel-Type:1 = VLAN`, "VLAN"},
		{`Frobnicate = 12`, "12"},
		{`Acct-Session-Time = lots`, "lots"},
	} {
		got := d.JSONValue(attr(tc.line))
		if got != tc.want {
			t.Errorf("%s: got %#v, want %#v", tc.line, got, tc.want)
		}
	}
	// An IPv6 address the detail Reader took for a FreeRADIUS 4 "::" enum.
	if got := d.JSONValue(detail.Attribute{Name: "NAS-IPv6-Address", Value: "1", Enum: true}); got != "::1" {
		t.Errorf("::1 as enum: %#v", got)
	}
}
