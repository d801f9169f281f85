package dictionary

import (
	"embed"
	"sync"
)

// builtinFS holds the built-in dictionary, in FreeRADIUS format, under
// builtin/ (entry point builtin/dictionary).
//
//go:embed builtin
var builtinFS embed.FS

var (
	builtinOnce sync.Once
	builtinDict *Dictionary
	builtinErr  error
)

// Builtin returns a fresh copy of radrelay's built-in dictionary: the IETF
// attributes, the vendors ISPs meet in accounting, the Livingston-era names
// and the FreeRADIUS internal attributes found in detail files. The caller
// owns the copy and may extend it (LoadFile). It panics if the embedded
// files do not parse, which the package's tests rule out.
func Builtin() *Dictionary {
	builtinOnce.Do(func() {
		d := New()
		builtinErr = d.LoadFS(builtinFS, "builtin/dictionary")
		builtinDict = d
	})
	if builtinErr != nil {
		panic("dictionary: built-in dictionary: " + builtinErr.Error())
	}
	return builtinDict.Clone()
}
