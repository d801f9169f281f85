package dictionary

import (
	"fmt"
	"strconv"

	"github.com/radrelay/radrelay/detail"
)

// Check reports whether attribute a of a detail record is one the
// dictionary knows and whether its value is valid for the attribute's type:
// nil, or an *EncodeError (wrapping ErrUnknownAttribute for an unknown
// name) that names the attribute and the problem. Timestamp, Donestamp and
// Request-Authenticator lines, which detail writers add, are accepted, as is
// the Attr-26.9.1 = 0x... form. The caller adds file and line.
func (d *Dictionary) Check(a detail.Attribute) error {
	da, ok := d.Attribute(a.Name)
	if !ok {
		if notOnWire(a.Name) {
			return nil
		}
		oid, isOID := parseAttrOID(a.Name)
		if !isOID {
			return encodeError(a, ErrUnknownAttribute)
		}
		if _, err := d.oidAttribute(oid); err != nil {
			return encodeError(a, err)
		}
		var buf [64]byte
		if _, err := appendHex(buf[:0], a.Value); err != nil {
			return encodeError(a, err)
		}
		return nil
	}
	if a.HasTag && !da.HasTag {
		return encodeError(a, fmt.Errorf("%s does not take a tag", da.Name))
	}
	if a.Tag > 0x1f {
		return encodeError(a, fmt.Errorf("tag %d is out of range (0 to 31)", a.Tag))
	}
	var buf [64]byte
	v, err := d.appendValue(buf[:0], da, a)
	if err != nil {
		return encodeError(a, err)
	}
	if da.Size > 0 && len(v) != da.Size && !da.Array {
		return encodeError(a, fmt.Errorf("value has %d octets, %s has exactly %d", len(v), da.Name, da.Size))
	}
	if da.HasTag && da.Type == TypeInteger && len(v) == 4 && v[0] != 0 {
		return encodeError(a, fmt.Errorf("value %s does not fit in the 24 bits a tagged integer has", a.Value))
	}
	if !da.Internal && da.Parent == nil && da.Vendor == nil && !da.Concat && len(v) > 253 {
		return encodeError(a, fmt.Errorf("value of %d octets is too long (at most 253)", len(v)))
	}
	return nil
}

// Internal reports whether the attribute called name stays inside the
// server: a FreeRADIUS internal attribute (Acct-Unique-Session-Id, Tmp-*,
// Packet-*, FreeRADIUS-Proxied-To ...), a line detail writers add
// (Timestamp, Donestamp) or Message-Authenticator. Encode skips these;
// sinks that forward records as RADIUS should too. Unknown names are not
// internal.
func (d *Dictionary) Internal(name string) bool {
	if a, ok := d.Attribute(name); ok {
		return a.Internal || a.Virtual || (a.Parent == nil && a.Vendor == nil && a.Number == 80)
	}
	if notOnWire(name) {
		return true
	}
	if oid, ok := parseAttrOID(name); ok && len(oid) == 1 && oid[0] > 255 {
		return true
	}
	return false
}

// JSONValue returns the value of attribute a as a typed value for JSON
// output: integers as uint64 (signed as int64), VALUE names as their names,
// strings as strings, and everything else (addresses, prefixes, dates,
// 0x... octets, attributes the dictionary does not know, values not valid
// for their type) as the text of the record.
func (d *Dictionary) JSONValue(a detail.Attribute) any {
	kind, n, s := d.JSONTyped(&a)
	switch kind {
	case JSONUnsigned:
		return n
	case JSONSigned:
		return int64(n)
	}
	return s
}

// A JSONKind is what JSONTyped found a value to be.
type JSONKind uint8

// The kinds of JSONTyped.
const (
	JSONString   JSONKind = iota // the string s
	JSONUnsigned                 // the number n
	JSONSigned                   // the number int64(n)
)

// JSONTyped is JSONValue without an interface value: it returns the kind
// and either the number (n) or the string (s), so that an encoder of many
// records (the stream sinks') allocates nothing per value. For a number, s
// is also set when the record wrote it as the decimal digits n formats to
// (no sign, leading zero or 0x), so that an encoder can copy them instead
// of formatting n; otherwise it is empty.
func (d *Dictionary) JSONTyped(a *detail.Attribute) (kind JSONKind, n uint64, s string) {
	da, ok := d.Attribute(a.Name)
	if !ok {
		return JSONString, 0, a.Value
	}
	return da.JSONTyped(a)
}

// JSONTyped is Dictionary.JSONTyped for a value of attribute da, already
// looked up (an encoder that keeps the lookups of the names it has seen
// calls this instead).
func (da *Attribute) JSONTyped(a *detail.Attribute) (kind JSONKind, n uint64, s string) {
	s = valueText(da, *a)
	switch da.Type {
	case TypeInteger, TypeShort, TypeByte, TypeInteger64, TypeDate:
		if n, ok := canonicalDecimal(s); ok {
			return JSONUnsigned, n, s
		}
	}
	switch da.Type {
	case TypeInteger, TypeShort, TypeByte, TypeInteger64:
		if len(s) > 0 && s[0] >= '0' && s[0] <= '9' {
			if n, err := strconv.ParseUint(s, 0, 64); err == nil {
				return JSONUnsigned, n, ""
			}
		}
	case TypeSigned:
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return JSONSigned, uint64(n), ""
		}
	case TypeDate:
		// FreeRADIUS writes dates as text, or as an integer with
		// dates_as_integer = yes; keep what the file has.
		if len(s) > 0 && s[0] >= '0' && s[0] <= '9' {
			if n, err := strconv.ParseUint(s, 10, 64); err == nil {
				return JSONUnsigned, n, ""
			}
		}
	}
	return JSONString, 0, s
}

// canonicalDecimal returns the value of s when s is what
// strconv.FormatUint writes: 1 to 19 decimal digits (so it cannot
// overflow), without a leading zero unless it is "0". strconv.ParseUint
// (base 0 or 10) reads every such s to the same n.
func canonicalDecimal(s string) (uint64, bool) {
	if len(s) == 0 || len(s) > 19 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i] - '0'
		if c > 9 {
			return 0, false
		}
		n = n*10 + uint64(c)
	}
	return n, true
}
