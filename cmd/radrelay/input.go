package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/radrelay/radrelay/archive"
)

// exitUnreadable is the exit status of check and cat when a FILE cannot be
// opened or read: distinct from 1 (a bad record), so that a script can tell a
// missing or unreadable file from a damaged one.
const exitUnreadable = 3

// input is a detail file opened by a command: its text, decompressed when the
// file is a compressed archive.
type input struct {
	io.Reader
	format  archive.Format
	closers []io.Closer
}

func (in *input) Close() error {
	var errs []error
	for i := len(in.closers) - 1; i >= 0; i-- {
		errs = append(errs, in.closers[i].Close())
	}
	return errors.Join(errs...)
}

// openInput opens the detail file a command was given ("-" is standard
// input) and reads it through archive.NewReader: a gzip, bzip2, xz or zstd
// file (logrotate's rotated detail files) is read decompressed, recognised by
// its content whatever its name. Binary data that is none of these is an
// error. Errors say "cannot be opened" or "cannot be read".
func (e *env) openInput(name string) (*input, error) {
	var src io.Reader = e.stdin
	in := &input{}
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("cannot be opened: %w", err)
		}
		src = f
		in.closers = append(in.closers, f)
	}
	r, format, err := archive.NewReader(src)
	if err != nil {
		in.Close()
		return nil, fmt.Errorf("cannot be read: %w", err)
	}
	in.Reader, in.format = r, format
	in.closers = append(in.closers, r)
	return in, nil
}

// parsingGC sets the garbage collector for check, cat, replay and run, and
// returns what restores it. Parsing and relaying allocate fast and keep
// little (a few chunks of the file and their records, the records in
// flight: a few MB): collecting a quarter as often saves a tenth of the CPU
// or more, and the memory limit keeps the heap small all the same. The
// limit grows with inFlight, the records the sinks' windows may hold at
// once (max_outstanding, summed), by parsingGCPerRecord each: below what
// they need, the collector runs whenever the heap reaches the limit, far
// more often than GOGC says (a replay into PostgreSQL with a window of
// 20,000 records under a 64 MiB limit: radrelay's CPU went from 3.5-4.4
// to 10-12 s, half of it collecting; see docs/benchmarks.md). GOGC or
// GOMEMLIMIT in the environment win: the user tuned the collector.
func parsingGC(inFlight int) (restore func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	gc := debug.SetGCPercent(400)
	limit := debug.SetMemoryLimit(parsingGCBase + int64(inFlight)*parsingGCPerRecord)
	return func() {
		debug.SetGCPercent(gc)
		debug.SetMemoryLimit(limit)
	}
}

// parsingGCBase and parsingGCPerRecord make parsingGC's memory limit: a
// base for the reader's chunks and the program, and what a record in
// flight holds (its text, attributes and what a sink keeps of it: about
// 3 KiB for a postgres sink's records of 22-27 attributes).
const (
	parsingGCBase      = 64 << 20
	parsingGCPerRecord = 3 << 10
)
