//go:build !linux

package tailer

import (
	"io/fs"
	"os"
)

// renameNoReplace renames old to new unless new exists. Outside Linux there
// is a small window between the check and the rename.
func renameNoReplace(old, new string) error {
	if _, err := os.Lstat(new); err == nil {
		return fs.ErrExist
	}
	return os.Rename(old, new)
}
