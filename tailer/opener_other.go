//go:build !linux

package tailer

import (
	"errors"
	"os"
)

// soleOpener cannot tell outside Linux (no file leases): a work file's end
// is final only after settle_time of silence.
func soleOpener(f *os.File) (bool, error) {
	return false, errors.New("file leases are Linux-only")
}
