package dictionary

import (
	"maps"
	"strings"
	"sync"
	"time"
)

// Dictionary is a set of vendors, attributes and VALUE names. Build one with
// New, Builtin or Load; extend it with LoadFile. A Dictionary must not be
// changed while other goroutines use it; after loading, all lookups and the
// codec are safe for concurrent use.
type Dictionary struct {
	// Location is the time zone dates are printed in and zone-less dates are
	// read in, as FreeRADIUS uses the server's local zone. Nil means time.Local.
	Location *time.Location

	vendors       map[uint32]*Vendor
	vendorByName  map[string]*Vendor // exact case
	vendorByLower map[string]*Vendor

	byName  map[string]*Attribute // exact case, every name and alias
	byLower map[string]*Attribute
	byNum   map[numKey]*Attribute // the name printed for a number: the last defined

	// pendingValues are VALUE lines seen before their ATTRIBUTE line.
	pendingValues []pendingValue

	// sharedMaps: the maps above are shared with a copy (Clone) and must be
	// copied before they are changed (own).
	sharedMaps bool
	// frozen: every definition reachable from the maps is frozen.
	frozen bool
}

// numKey identifies an attribute by its place: the container it lives in
// (nil for the top level and for vendor attributes inside Vendor-Specific),
// its vendor (0 for none) and its number in that space.
type numKey struct {
	parent *Attribute
	vendor uint32
	number uint32
}

// Vendor is a VENDOR definition.
type Vendor struct {
	Name string
	ID   uint32
	// TypeLen and LenLen are the widths in octets of the type and length
	// fields of the vendor's attributes inside Vendor-Specific (format=t,l):
	// 1,1 (RFC 2865 recommended), 2,1, 2,2, 4,0 and 1,0.
	TypeLen, LenLen int
	// Continuation is the ",c" flag of format=1,1,c (WiMAX): a continuation
	// octet follows the length and long values are split.
	Continuation bool
	// frozen: shared between dictionaries; a redefinition replaces it.
	frozen bool
	// Source is where the (last) VENDOR line for this number was read.
	Source Source
}

// Attribute is an ATTRIBUTE definition.
type Attribute struct {
	Name string
	// Number is the attribute's number within its space: the top level, its
	// vendor's space, or its parent's (TLV, extended attribute, evs).
	Number uint32
	Type   Type
	// Vendor is the vendor of a vendor-specific attribute, nil otherwise.
	Vendor *Vendor
	// Parent is the containing attribute for TLV members, the children of
	// extended attributes (241.1's parent is 241) and attributes of an evs
	// (241.26.V.n's parent is 241.26); nil for the top level and for
	// attributes directly inside Vendor-Specific.
	Parent *Attribute

	HasTag  bool
	Encrypt int // encrypt=N: 1 User-Password, 2 Tunnel-Password, 3 Ascend-Secret
	Array   bool
	Concat  bool
	Virtual bool
	Secret  bool
	// Size is the fixed length of an octets[N] attribute, 0 otherwise.
	Size int
	// Internal marks server-internal attributes that never go on the wire:
	// top-level numbers above 255 (Acct-Unique-Session-Id, Tmp-*, Packet-*,
	// Timestamp ...) and FreeRADIUS-Proxied-To.
	Internal bool
	// Source is where the ATTRIBUTE line was read.
	Source Source

	values *valueTable // shared by every name of the same number
	// frozen: shared between dictionaries (Clone); never changed in place.
	frozen bool
}

type valueTable struct {
	byNumber map[uint64]string // the last name defined for a number is printed
	byName   map[string]uint64
	byLower  map[string]uint64

	// pending are generated VALUEs (freeradius_gen.go) not yet in the
	// maps: a table is filled on first use, so that the thousands of
	// VALUE names of vendors a process never meets cost nothing.
	pending []tableValue
	once    sync.Once
	// fresh: made by tableSet.apply, which is still filling it.
	fresh bool
	// frozen: shared between dictionaries (Clone); never changed in place.
	frozen bool
}

// ready fills t's maps with its pending generated VALUEs, once.
func (t *valueTable) ready() *valueTable {
	t.once.Do(func() {
		if len(t.pending) == 0 {
			return
		}
		if t.byNumber == nil {
			t.byNumber = make(map[uint64]string, len(t.pending))
			t.byName = make(map[string]uint64, len(t.pending))
			t.byLower = make(map[string]uint64, len(t.pending))
		}
		for _, tv := range t.pending {
			if tv.Printed {
				t.byNumber[tv.Number] = tv.Name
			}
			t.byName[tv.Name] = tv.Number
			t.byLower[strings.ToLower(tv.Name)] = tv.Number
		}
		t.pending = nil
	})
	return t
}

// copy returns a copy of t that may be changed.
func (t *valueTable) copy() *valueTable {
	t.ready()
	return &valueTable{byNumber: maps.Clone(t.byNumber), byName: maps.Clone(t.byName), byLower: maps.Clone(t.byLower)}
}

type pendingValue struct {
	attr, name string
	number     uint64
	file       string
	line       int
}

// New returns an empty dictionary.
func New() *Dictionary {
	return &Dictionary{
		vendors:       make(map[uint32]*Vendor),
		vendorByName:  make(map[string]*Vendor),
		vendorByLower: make(map[string]*Vendor),
		byName:        make(map[string]*Attribute),
		byLower:       make(map[string]*Attribute),
		byNum:         make(map[numKey]*Attribute),
	}
}

func (d *Dictionary) location() *time.Location {
	if d.Location != nil {
		return d.Location
	}
	return time.Local
}

// Attribute returns the attribute called name, compared case-insensitively
// as FreeRADIUS does. A name spelled as defined is found without allocating.
func (d *Dictionary) Attribute(name string) (*Attribute, bool) {
	if a, ok := d.byName[name]; ok {
		return a, true
	}
	a, ok := d.byLower[strings.ToLower(name)]
	return a, ok
}

// AttributeByNumber returns the attribute number n at the top level (vendor
// 0) or inside Vendor-Specific for the given vendor.
func (d *Dictionary) AttributeByNumber(vendor, n uint32) (*Attribute, bool) {
	a, ok := d.byNum[numKey{nil, vendor, n}]
	return a, ok
}

// Child returns the member numbered n of a TLV, extended or evs attribute
// (for evs, of the given vendor; vendor is ignored otherwise).
func (d *Dictionary) Child(parent *Attribute, vendor, n uint32) (*Attribute, bool) {
	if parent == nil || parent.Type != TypeEVS {
		vendor = 0
	}
	a, ok := d.byNum[numKey{parent, vendor, n}]
	return a, ok
}

// AttributeByOID returns the attribute at a numeric path as FreeRADIUS
// writes it after "Attr-": 1, 26.9.1, 241.1, 241.26.11344.1, 26.24757.1.1.
func (d *Dictionary) AttributeByOID(oid []uint32) (*Attribute, bool) {
	if len(oid) == 0 {
		return nil, false
	}
	var cur *Attribute
	i := 0
	if oid[0] == 26 && len(oid) >= 3 {
		a, ok := d.byNum[numKey{nil, oid[1], oid[2]}]
		if !ok {
			return nil, false
		}
		cur, i = a, 3
	} else {
		a, ok := d.byNum[numKey{nil, 0, oid[0]}]
		if !ok {
			return nil, false
		}
		cur, i = a, 1
	}
	for i < len(oid) {
		if cur.Type == TypeEVS {
			if i+1 >= len(oid) {
				return nil, false
			}
			a, ok := d.byNum[numKey{cur, oid[i], oid[i+1]}]
			if !ok {
				return nil, false
			}
			cur, i = a, i+2
			continue
		}
		a, ok := d.byNum[numKey{cur, 0, oid[i]}]
		if !ok {
			return nil, false
		}
		cur, i = a, i+1
	}
	return cur, true
}

// Vendor returns the vendor with the given Private Enterprise Number.
func (d *Dictionary) Vendor(id uint32) (*Vendor, bool) {
	v, ok := d.vendors[id]
	return v, ok
}

// VendorByName returns the vendor called name (case-insensitive).
func (d *Dictionary) VendorByName(name string) (*Vendor, bool) {
	if v, ok := d.vendorByName[name]; ok {
		return v, true
	}
	v, ok := d.vendorByLower[strings.ToLower(name)]
	return v, ok
}

// ValueName returns the VALUE name the dictionary prints for number n of
// attribute a.
func (a *Attribute) ValueName(n uint64) (string, bool) {
	if a.values == nil {
		return "", false
	}
	s, ok := a.values.ready().byNumber[n]
	return s, ok
}

// ValueNumber returns the number of the VALUE called name (case-insensitive)
// of attribute a.
func (a *Attribute) ValueNumber(name string) (uint64, bool) {
	if a.values == nil {
		return 0, false
	}
	if n, ok := a.values.ready().byName[name]; ok {
		return n, true
	}
	n, ok := a.values.byLower[strings.ToLower(name)]
	return n, ok
}

// OID returns the attribute's numeric path as FreeRADIUS prints it after
// "Attr-", e.g. "26.9.1" or "241.26.11344.1".
func (a *Attribute) OID() string {
	return string(a.appendOID(nil))
}

func (a *Attribute) appendOID(b []byte) []byte {
	if a.Parent != nil {
		b = a.Parent.appendOID(b)
		b = append(b, '.')
		if a.Parent.Type == TypeEVS && a.Vendor != nil {
			b = appendUint(b, uint64(a.Vendor.ID))
			b = append(b, '.')
		}
	} else if a.Vendor != nil {
		b = append(b, "26."...)
		b = appendUint(b, uint64(a.Vendor.ID))
		b = append(b, '.')
	}
	return appendUint(b, uint64(a.Number))
}

func appendUint(b []byte, n uint64) []byte {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(b, buf[i:]...)
}

// Clone returns a copy of d that may be extended without changing d. The
// copy shares d's definitions, which from then on are never changed in
// place: extending either dictionary copies what it changes (its maps on
// the first change, a VALUE table when a VALUE is added to it), so a copy
// costs next to nothing until it is extended.
func (d *Dictionary) Clone() *Dictionary {
	if !d.frozen {
		d.freeze()
	}
	c := *d
	c.pendingValues = append([]pendingValue(nil), d.pendingValues...)
	return &c
}

// freeze marks every definition of d as shared, so that no later change
// is made in place, and d's maps as shared with its copies.
func (d *Dictionary) freeze() {
	for _, v := range d.vendors {
		v.frozen = true
	}
	for _, v := range d.vendorByName {
		v.frozen = true
	}
	freezeAttr := func(a *Attribute) {
		for ; a != nil && !a.frozen; a = a.Parent {
			a.frozen = true
			if a.values != nil {
				a.values.frozen = true
			}
			if a.Vendor != nil {
				a.Vendor.frozen = true
			}
		}
	}
	for _, a := range d.byNum {
		freezeAttr(a)
	}
	for _, a := range d.byName {
		freezeAttr(a) // byLower holds no attribute byName does not
	}
	d.frozen = true
	d.sharedMaps = true
}

// own gives d maps of its own before it changes them, if they are shared
// with a copy.
func (d *Dictionary) own() {
	if !d.sharedMaps {
		return
	}
	d.sharedMaps = false
	d.frozen = false
	d.vendors = maps.Clone(d.vendors)
	d.vendorByName = maps.Clone(d.vendorByName)
	d.vendorByLower = maps.Clone(d.vendorByLower)
	d.byName = maps.Clone(d.byName)
	d.byLower = maps.Clone(d.byLower)
	d.byNum = maps.Clone(d.byNum)
}
