package sinktest

import (
	"fmt"
	"strings"

	"github.com/radrelay/radrelay/detail"
)

// HostileRecords returns accounting records whose values are what a real NAS
// or a broken one puts on the wire and a detail file then holds: control
// bytes, NUL, invalid UTF-8, quotes and backslashes, strings of the
// 253-byte attribute maximum, multi-byte UTF-8, tagged attributes, and octets.
// Only standard accounting attributes are used, so every sink can carry them.
// Each record is a session of its own with a plain Acct-Session-Id
// ("hostile-NN"), so a destination can be checked by id.
func HostileRecords() []*detail.Record {
	values := []struct{ name, value string }{
		{"User-Name", "ctl\x01\x02\x1f\x7fbytes"},
		{"User-Name", "nul\x00inside"},
		{"User-Name", "tab\tcr\rlf\nend"},
		{"User-Name", "invalid-utf8-\xff\xfe-\xc0\x80-\xed\xa0\x80-\xe2\x82"},
		{"User-Name", `quote" backslash\ both\"`},
		{"User-Name", `'single' %percent% ;semicolon, comma`},
		{"User-Name", "unicode-日本語-ü-🙂@exämple.net"},
		{"User-Name", strings.Repeat("x", 253)},
		{"User-Name", strings.Repeat("\x01", 253)},
		{"User-Name", strings.Repeat(`"`, 253)},
		{"Calling-Station-Id", "'; DROP TABLE radacct; --"},
		{"Called-Station-Id", "$(touch /tmp/pwned)`id`"},
		{"Connect-Info", "100Mbps\x00\xff"},
		{"NAS-Identifier", "nas,with,commas\"and\nnewline"},
		{"User-Name", ""},
	}
	var recs []*detail.Record
	for i, v := range values {
		r := accountingRecord("hostile", 3*i) // a Start record of its own session
		setSessionID(r, fmt.Sprintf("hostile-%02d", i))
		set(r, quoted(v.name, v.value))
		recs = append(recs, r)
	}
	// Tagged tunnel attributes (RFC 2868), as a VLAN assignment shows up
	// in accounting, and an octets Class.
	r := accountingRecord("hostile", 3*len(values))
	setSessionID(r, fmt.Sprintf("hostile-%02d", len(values)))
	r.Attrs = append(r.Attrs,
		detail.Attribute{Name: "Tunnel-Type", HasTag: true, Tag: 1, Value: "VLAN"},
		detail.Attribute{Name: "Tunnel-Medium-Type", HasTag: true, Tag: 1, Value: "IEEE-802"},
		detail.Attribute{Name: "Tunnel-Private-Group-Id", HasTag: true, Tag: 1, Value: "100", Quoted: true},
		plain("Class", "0x0102ff00"),
	)
	recs = append(recs, r)
	for i, r := range recs {
		r.File = "sinktest-hostile"
		r.Line = 1 + i*30
	}
	return recs
}

// set replaces the first attribute named a.Name in r, or appends a.
func set(r *detail.Record, a detail.Attribute) {
	for i := range r.Attrs {
		if r.Attrs[i].Name == a.Name {
			r.Attrs[i] = a
			return
		}
	}
	r.Attrs = append(r.Attrs, a)
}

func setSessionID(r *detail.Record, id string) {
	set(r, quoted("Acct-Session-Id", id))
	set(r, quoted("Acct-Unique-Session-Id", uniqueID(id, id, "", "")))
}
