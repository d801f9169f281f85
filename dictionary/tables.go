package dictionary

import "strings"

// The built-in dictionary's vendor data is generated from FreeRADIUS's
// dictionaries (go generate; see internal/gendict and freeradius_gen.go)
// into the compact tables below, which load several times faster than
// the same definitions parsed as text. A table holds what the project's
// parser made of the FreeRADIUS tree, so applying it reproduces that
// parse exactly: every vendor, every attribute definition (including those
// a later definition replaced for printing), every name and VALUE.

// tableSet is one generated set of tables.
type tableSet struct {
	files   []string // Source.File of the definitions, by index
	vendors []tableVendor
	// vendorNames are the names a vendor is found by besides its own.
	vendorNames []tableVendorName
	attrs       []tableAttr
	// names are the names an attribute is found by besides its own
	// (ALIASes, and names whose own attribute was replaced).
	names  []tableName
	values []tableValue
}

type tableVendor struct {
	Name   string
	ID     uint32
	Format uint8 // type width<<4 | length width<<1 | continuation
	File   uint16
}

type tableVendorName struct {
	Name string
	ID   uint32
}

// Flags of a tableAttr.
const (
	tHasTag = 1 << iota
	tArray
	tConcat
	tVirtual
	tSecret
	tInternal
	// tPrinted: the definition printed for its number (the last one read).
	tPrinted
	// tBound: the attribute's own name finds it (no later definition took
	// the name).
	tBound
)

type tableAttr struct {
	Name string
	// Lower is Name in lower case (the key of case-insensitive lookups),
	// computed when the tables are generated rather than at every start.
	Lower string
	// Parent is 1 + the index in attrs of the containing attribute, 0 for
	// none.
	Parent  uint32
	Vendor  uint32 // vendor number, 0 for none
	Number  uint32
	Type    Type
	Flags   uint8
	Encrypt uint8
	Size    uint8
	File    uint16
}

type tableName struct {
	Name string
	Attr uint32 // index in attrs
}

type tableValue struct {
	Attr   uint32 // index in attrs of a definition of the number
	Name   string
	Number uint64
	// Printed: the name printed for Number.
	Printed bool
}

// apply adds the tables' definitions to d, as if the text they were made
// from were loaded with LoadFile: definitions of names and numbers d
// already has replace them for printing, and d's earlier names and VALUE
// names stay readable. For the built-in dictionary (builtin), the tables'
// VALUE names are the only ones printed for a number the tables define:
// a VALUE number only d named prints as the number, as FreeRADIUS prints
// it, its name staying readable.
func (t *tableSet) apply(d *Dictionary, builtin bool) {
	d.own()
	for _, tv := range t.vendors {
		v := &Vendor{Name: tv.Name, ID: tv.ID, TypeLen: int(tv.Format >> 4), LenLen: int(tv.Format>>1) & 7, Continuation: tv.Format&1 != 0,
			Source: Source{File: t.files[tv.File], Builtin: builtin}}
		if old, ok := d.vendors[v.ID]; ok {
			old.Name, old.TypeLen, old.LenLen, old.Continuation, old.Source = v.Name, v.TypeLen, v.LenLen, v.Continuation, v.Source
			v = old
		}
		d.vendors[v.ID] = v
		d.vendorByName[v.Name] = v
		d.vendorByLower[strings.ToLower(v.Name)] = v
	}
	for _, tn := range t.vendorNames {
		v := d.vendors[tn.ID]
		d.vendorByName[tn.Name] = v
		d.vendorByLower[strings.ToLower(tn.Name)] = v
	}

	d.reserve(len(t.attrs), len(t.attrs)+len(t.names))
	attrs := make([]Attribute, len(t.attrs))
	var (
		prevKey   numKey
		prevTable *valueTable
		// merged are the VALUE tables d had for numbers the tables define,
		// with the numbers the tables print a name for.
		merged = map[*valueTable]map[uint64]bool{}
	)
	for i := range t.attrs {
		ta := &t.attrs[i]
		a := &attrs[i]
		*a = Attribute{
			Name: ta.Name, Number: ta.Number, Type: ta.Type,
			HasTag: ta.Flags&tHasTag != 0, Array: ta.Flags&tArray != 0, Concat: ta.Flags&tConcat != 0,
			Virtual: ta.Flags&tVirtual != 0, Secret: ta.Flags&tSecret != 0, Internal: ta.Flags&tInternal != 0,
			Encrypt: int(ta.Encrypt), Size: int(ta.Size),
			Source: Source{File: t.files[ta.File], Builtin: builtin},
		}
		if ta.Vendor != 0 {
			a.Vendor = d.vendors[ta.Vendor]
		}
		if ta.Parent != 0 {
			a.Parent = &attrs[ta.Parent-1]
		}
		k := a.key()
		// The definitions of one number are adjacent and share its VALUE
		// names, with whatever d already had for the number.
		if i == 0 || k != prevKey {
			prevKey = k
			if old, ok := d.byNum[k]; ok && old.values != nil && old.values.frozen {
				prevTable = old.values.copy()
			} else if ok && old.values != nil {
				prevTable = old.values
				if builtin {
					merged[prevTable] = map[uint64]bool{}
				}
			} else {
				prevTable = &valueTable{fresh: true}
			}
		}
		a.values = prevTable
		if ta.Flags&tPrinted != 0 {
			d.byNum[k] = a
		}
		if ta.Flags&tBound != 0 {
			d.byName[a.Name] = a
			d.byLower[ta.Lower] = a
		}
	}
	for _, tn := range t.names {
		a := &attrs[tn.Attr]
		d.byName[tn.Name] = a
		d.byLower[strings.ToLower(tn.Name)] = a
	}
	// VALUE names go into their tables on first use (valueTable.ready).
	for i := 0; i < len(t.values); {
		n := 1
		for i+n < len(t.values) && t.values[i+n].Attr == t.values[i].Attr {
			n++
		}
		vt := attrs[t.values[i].Attr].values
		if !vt.fresh {
			// A table d already had (the primary-source VALUE names of the
			// number), which may be in use already: add to it now.
			if vt.byNumber == nil {
				vt.byNumber = make(map[uint64]string, n)
				vt.byName = make(map[string]uint64, n)
				vt.byLower = make(map[string]uint64, n)
			}
			for _, tv := range t.values[i : i+n] {
				if tv.Printed {
					vt.byNumber[tv.Number] = tv.Name
					if named := merged[vt]; named != nil {
						named[tv.Number] = true
					}
				}
				vt.byName[tv.Name] = tv.Number
				vt.byLower[strings.ToLower(tv.Name)] = tv.Number
			}
		} else {
			vt.pending = t.values[i : i+n : i+n]
		}
		i += n
	}
	for i := range attrs {
		attrs[i].values.fresh = false
	}
	for vt, named := range merged {
		vt.ready()
		for n := range vt.byNumber {
			if !named[n] {
				delete(vt.byNumber, n)
			}
		}
	}
}

// reserve grows d's attribute maps to take numbers and names more entries
// without rehashing on the way.
func (d *Dictionary) reserve(numbers, names int) {
	if numbers > 0 {
		m := make(map[numKey]*Attribute, len(d.byNum)+numbers)
		for k, v := range d.byNum {
			m[k] = v
		}
		d.byNum = m
	}
	if names > 0 {
		m := make(map[string]*Attribute, len(d.byName)+names)
		for k, v := range d.byName {
			m[k] = v
		}
		d.byName = m
		m = make(map[string]*Attribute, len(d.byLower)+names)
		for k, v := range d.byLower {
			m[k] = v
		}
		d.byLower = m
	}
}
