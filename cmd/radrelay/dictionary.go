package main

import (
	"flag"
	"fmt"

	"github.com/radrelay/radrelay/dictionary"
)

// dictionaryFlagUsage is the help of the --dictionary flag of check and cat.
const dictionaryFlagUsage = "a FreeRADIUS-format dictionary `PATH` (with its $INCLUDEs) that extends or overrides the built-in one, e.g. /usr/share/freeradius/dictionary"

// addDictionaryFlag declares --dictionary on fs, storing the path in *path.
func addDictionaryFlag(fs *flag.FlagSet, path *string) {
	*path = ""
	fs.StringVar(path, "dictionary", "", dictionaryFlagUsage)
}

// loadDictionary returns the built-in dictionary extended by the file at
// path, if any; the error names the file and line of a bad definition.
func loadDictionary(path string) (*dictionary.Dictionary, error) {
	d := dictionary.Builtin()
	if path == "" {
		return d, nil
	}
	if err := d.LoadFile(path); err != nil {
		return nil, fmt.Errorf("--dictionary: %w", err)
	}
	return d, nil
}
