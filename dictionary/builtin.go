package dictionary

import (
	"embed"
	"sync"
)

//go:generate go run ./internal/gendict -tree /usr/share/freeradius/dictionary -o freeradius_gen.go

// builtinFS holds the primary-source part of the built-in dictionary, in
// FreeRADIUS format, under builtin/ (entry point builtin/dictionary), and
// radrelay's deliberate differences from FreeRADIUS
// (builtin/after-freeradius.dict).
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
// then FreeRADIUS's tables (its names win for printing), then radrelay's
// deliberate differences from FreeRADIUS.
func loadBuiltin() (*Dictionary, error) {
	d, err := loadPrimary()
	if err != nil {
		return nil, err
	}
	freeradiusTables.apply(d, true)
	if err := d.loadFS(builtinFS, "builtin/after-freeradius.dict", true); err != nil {
		return nil, err
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
