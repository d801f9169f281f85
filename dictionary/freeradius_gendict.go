//go:build gendict

package dictionary

// With the tag gendict (used only to build internal/gendict), the generated
// tables are left out, so that the generator builds even when
// freeradius_gen.go is stale or broken.

// FreeRADIUSVersion is empty: no tables are built in.
const FreeRADIUSVersion = ""

var freeradiusTables tableSet
