package dictionary

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Source is where a definition was read. Built-in definitions name their
// embedded file (builtin/rfc2866.dict) or, for those generated from
// FreeRADIUS's dictionaries, the FreeRADIUS file they were taken from.
type Source struct {
	File string
	Line int // 0 when not known
	// Builtin marks definitions of the built-in dictionary.
	Builtin bool
}

// String says where the definition came from, the way radrelay
// dictionary show prints it: "built-in builtin/rfc2866.dict:12",
// "built-in FreeRADIUS 3.2.1 dictionary.cisco", "/etc/radrelay/dict.local:7".
func (s Source) String() string {
	var b strings.Builder
	if s.Builtin {
		b.WriteString("built-in ")
	}
	if s.File == "" {
		b.WriteString("(unknown)")
	} else {
		b.WriteString(s.File)
	}
	if s.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(s.Line))
	}
	return b.String()
}

// Value is one VALUE name of an attribute.
type Value struct {
	Name   string
	Number uint64
	// Printed marks the name printed for Number; the others are read only.
	Printed bool
}

// Vendors returns every vendor, ordered by number.
func (d *Dictionary) Vendors() []*Vendor {
	out := make([]*Vendor, 0, len(d.vendors))
	for _, v := range d.vendors {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b *Vendor) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// VendorNames returns every name vendor v is found by: its name, then the
// names of earlier VENDOR lines for the same number, sorted.
func (d *Dictionary) VendorNames(v *Vendor) []string {
	var other []string
	for name, w := range d.vendorByName {
		if w == v && name != v.Name {
			other = append(other, name)
		}
	}
	slices.Sort(other)
	return append([]string{v.Name}, other...)
}

// Attributes returns every attribute definition d holds, ordered by number
// path: for each number, the definitions a later one replaced (still found
// by their names) come before the one printed.
func (d *Dictionary) Attributes() []*Attribute {
	seen := make(map[*Attribute]bool, len(d.byNum)+len(d.byName)/4)
	out := make([]*Attribute, 0, len(d.byNum))
	add := func(a *Attribute) {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	for _, a := range d.byNum {
		add(a)
	}
	for _, a := range d.byName {
		add(a)
	}
	for _, a := range d.byLower {
		add(a)
	}
	// A definition replaced by a later one may still contain members.
	for i := 0; i < len(out); i++ {
		if p := out[i].Parent; p != nil {
			add(p)
		}
	}
	paths := make(map[*Attribute][]uint32, len(out))
	for _, a := range out {
		paths[a] = a.oidPath(nil)
	}
	slices.SortFunc(out, func(a, b *Attribute) int {
		if c := slices.Compare(paths[a], paths[b]); c != 0 {
			return c
		}
		pa, pb := d.Printed(a), d.Printed(b)
		switch {
		case pa && !pb:
			return 1
		case pb && !pa:
			return -1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// compareOID orders attributes by their number paths, component by
// component, so that a parent comes before its members.
func compareOID(a, b *Attribute) int {
	pa, pb := a.oidPath(nil), b.oidPath(nil)
	return slices.Compare(pa, pb)
}

func (a *Attribute) oidPath(p []uint32) []uint32 {
	if a.Parent != nil {
		p = a.Parent.oidPath(p)
		if a.Parent.Type == TypeEVS && a.Vendor != nil {
			p = append(p, a.Vendor.ID)
		}
	} else if a.Vendor != nil {
		p = append(p, 26, a.Vendor.ID)
	}
	return append(p, a.Number)
}

// key returns the place a is defined at, as the parser computes it.
func (a *Attribute) key() numKey {
	switch {
	case a.Parent != nil && a.Parent.Type == TypeEVS && a.Vendor != nil:
		return numKey{a.Parent, a.Vendor.ID, a.Number}
	case a.Parent != nil:
		return numKey{a.Parent, 0, a.Number}
	case a.Vendor != nil:
		return numKey{nil, a.Vendor.ID, a.Number}
	}
	return numKey{nil, 0, a.Number}
}

// Printed reports whether a is the definition printed for its number (the
// last one read), rather than one a later definition replaced.
func (d *Dictionary) Printed(a *Attribute) bool {
	return d.byNum[a.key()] == a
}

// PrintedFor returns the definition printed for a's number: a itself, or
// the later definition that replaced it; false if the number prints as
// Attr-N.
func (d *Dictionary) PrintedFor(a *Attribute) (*Attribute, bool) {
	p, ok := d.byNum[a.key()]
	return p, ok
}

// ParseOID reads a numeric attribute path as FreeRADIUS writes it, with or
// without "Attr-": "40", "26.9.1", "Attr-241.26.11344.1".
func ParseOID(s string) ([]uint32, bool) {
	if len(s) >= 5 && strings.EqualFold(s[:5], "Attr-") {
		s = s[5:]
	}
	return parseAttrOID("Attr-" + s)
}

// Names returns every name an attribute is found by (names and ALIASes,
// exactly as defined), sorted.
func (d *Dictionary) Names() []string {
	out := make([]string, 0, len(d.byName))
	for name := range d.byName {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// Members returns the attributes defined inside a (members of a TLV,
// children of an extended attribute, attributes of an evs), printed
// definitions only, ordered by number path.
func (d *Dictionary) Members(a *Attribute) []*Attribute {
	var out []*Attribute
	for k, m := range d.byNum {
		if k.parent == a {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, compareOID)
	return out
}

// VendorAttributes returns the attributes of vendor v directly inside
// Vendor-Specific (printed definitions only), ordered by number.
func (d *Dictionary) VendorAttributes(v *Vendor) []*Attribute {
	var out []*Attribute
	for k, a := range d.byNum {
		if k.parent == nil && k.vendor == v.ID {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, compareOID)
	return out
}

// Values returns the VALUE names of a's number, ordered by number and then
// by name, the printed name of each number first.
func (a *Attribute) Values() []Value {
	if a.values == nil || len(a.values.ready().byName) == 0 {
		return nil
	}
	out := make([]Value, 0, len(a.values.byName))
	for name, n := range a.values.byName {
		out = append(out, Value{Name: name, Number: n, Printed: a.values.byNumber[n] == name})
	}
	slices.SortFunc(out, func(x, y Value) int {
		if c := cmp.Compare(x.Number, y.Number); c != 0 {
			return c
		}
		if x.Printed != y.Printed {
			if x.Printed {
				return -1
			}
			return 1
		}
		return strings.Compare(x.Name, y.Name)
	})
	return out
}

// Format returns the vendor's format as a VENDOR line writes it after
// "format=": "1,1" (the RFC 2865 layout), "2,1", "4,0", "1,1,c".
func (v *Vendor) Format() string {
	s := strconv.Itoa(v.TypeLen) + "," + strconv.Itoa(v.LenLen)
	if v.Continuation {
		s += ",c"
	}
	return s
}

// TypeAndFlags returns the attribute's type and flags as an ATTRIBUTE line
// writes them: "string", "octets[16]", "string has_tag,encrypt=2",
// "integer internal" (internal is radrelay's: never on the wire).
func (a *Attribute) TypeAndFlags() string {
	s := a.Type.String()
	if a.Size > 0 {
		s += "[" + strconv.Itoa(a.Size) + "]"
	}
	var fl []string
	if a.HasTag {
		fl = append(fl, "has_tag")
	}
	if a.Encrypt != 0 {
		fl = append(fl, "encrypt="+strconv.Itoa(a.Encrypt))
	}
	for _, f := range []struct {
		on   bool
		name string
	}{{a.Array, "array"}, {a.Concat, "concat"}, {a.Virtual, "virtual"}, {a.Secret, "secret"}, {a.Internal, "internal"}} {
		if f.on {
			fl = append(fl, f.name)
		}
	}
	if len(fl) > 0 {
		s += " " + strings.Join(fl, ",")
	}
	return s
}
