package dictionary

import (
	"embed"
	"sync"
)

//go:generate go run -tags gendict ./internal/gendict -tree /usr/share/freeradius/dictionary -o freeradius_gen.go

// builtinFS holds the primary-source part of the built-in dictionary, in
// FreeRADIUS format, under builtin/ (entry point builtin/dictionary).
//
//go:embed builtin
var builtinFS embed.FS

var (
	builtinOnce sync.Once
	builtinDict *Dictionary
	builtinErr  error
)

// Builtin returns a fresh copy of radrelay's built-in dictionary: every
// vendor, attribute and VALUE of FreeRADIUS's dictionary tree (generated
// tables, freeradius_gen.go) over the attributes written from the RFCs and
// vendor documents (builtin/), the Livingston-era names and the FreeRADIUS
// internal attributes found in detail files. Where the two disagree,
// FreeRADIUS's names are the ones printed and the others stay readable.
// The caller owns the copy and may extend it (LoadFile). It panics if the
// embedded files do not parse, which the package's tests rule out.
func Builtin() *Dictionary {
	builtinOnce.Do(func() {
		builtinDict, builtinErr = loadBuiltin()
		if builtinErr == nil {
			// Frozen once here, so that Clone only reads it, from any goroutine.
			builtinDict.freeze()
		}
	})
	if builtinErr != nil {
		panic("dictionary: built-in dictionary: " + builtinErr.Error())
	}
	return builtinDict.Clone()
}

// loadBuiltin builds the built-in dictionary: the primary-source files,
// then FreeRADIUS's tables over them, so that FreeRADIUS's names and VALUE
// names are the ones printed and the primary sources' other spellings stay
// readable.
func loadBuiltin() (*Dictionary, error) {
	d, err := loadPrimary()
	if err != nil {
		return nil, err
	}
	primary := make([]*Attribute, 0, len(d.byNum))
	for _, a := range d.byNum {
		primary = append(primary, a)
	}
	freeradiusTables.apply(d, true)
	// A primary-source attribute whose name FreeRADIUS gives to another
	// number (RFC 5090's Digest-Realm 104 is FreeRADIUS's internal 1063)
	// would print a name that reads back as that other number: its number
	// is printed as Attr-N instead, as FreeRADIUS prints it.
	for _, a := range primary {
		k := a.key()
		if d.byNum[k] != a {
			continue // FreeRADIUS defines the number itself
		}
		if x, ok := d.Attribute(a.Name); ok && x != a && x.key() != k {
			delete(d.byNum, k)
		}
	}
	return d, nil
}

// loadPrimary reads the part of the built-in dictionary written from the
// RFCs and vendor documents alone.
func loadPrimary() (*Dictionary, error) {
	d := New()
	if err := d.loadFS(builtinFS, "builtin/dictionary", true); err != nil {
		return nil, err
	}
	return d, nil
}
