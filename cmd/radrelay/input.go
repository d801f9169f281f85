package main

import (
	"errors"
	"io"
	"os"

	"github.com/radrelay/radrelay/detail"
)

// openInput opens the detail file a command was given; "-" is standard input.
func (e *env) openInput(name string) (io.ReadCloser, error) {
	if name == "-" {
		return io.NopCloser(e.stdin), nil
	}
	return os.Open(name)
}

// nextFinished returns the next record of a file that is complete (check,
// cat): at the end of the data a pending record is finished, so a last record
// without its empty line counts and a cut-off one is a *detail.TruncatedError.
func nextFinished(r *detail.Reader) (*detail.Record, error) {
	rec, err := r.Next()
	if errors.Is(err, detail.ErrIncomplete) {
		rec, err = r.Finish()
	}
	return rec, err
}
