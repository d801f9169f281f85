package tailer

// Reading quarantine files back, for "radrelay quarantine": what each entry
// is, whether it can be sent again as it is, and the editable detail record
// it came from.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/radrelay/radrelay/detail"
)

// QuarantineEntry is one quarantined record read back from a quarantine file.
type QuarantineEntry struct {
	File   string // the quarantine file
	Line   int    // the entry's first line in it
	Reason string
	Source string // "file:line:offset" of the record in its source
	Sink   string
	Time   time.Time
	// Raw holds the bytes that could not be parsed (malformed, truncated);
	// RawFile, when set, holds all of them (Raw only the first).
	Raw     []byte
	RawFile string
	// Record is the record without its quarantine annotations (nil for an
	// unparseable entry).
	Record *detail.Record
}

// NeedsRepair reports an entry whose record could not be parsed: it must be
// unpacked and edited before it can be delivered. Other entries (rejected
// by a sink, retries exhausted) can be sent again as they are, once the
// sink-side cause is fixed.
func (e QuarantineEntry) NeedsRepair() bool { return e.Record == nil }

// ReadQuarantine reads the entries of a quarantine file.
func ReadQuarantine(r io.Reader, name string) ([]QuarantineEntry, error) {
	rd := detail.NewReader(r, name)
	var out []QuarantineEntry
	for {
		rec, err := rd.Finish()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		e := QuarantineEntry{File: name, Line: rec.Line}
		if a, ok := rec.Get(QuarantineReasonAttr); ok {
			e.Reason = a.Value
		}
		if a, ok := rec.Get(QuarantineSourceAttr); ok {
			e.Source = a.Value
		}
		if a, ok := rec.Get(QuarantineSinkAttr); ok {
			e.Sink = a.Value
		}
		if a, ok := rec.Get(QuarantineTimeAttr); ok {
			if n, err := strconv.ParseInt(a.Value, 10, 64); err == nil {
				e.Time = time.Unix(n, 0)
			}
		}
		if a, ok := rec.Get(QuarantineRawAttr); ok {
			e.Raw = []byte(a.Value)
			if f, ok := rec.Get(QuarantineRawFileAttr); ok {
				e.RawFile = f.Value
			}
		} else {
			c := *rec
			c.Attrs = stripQuarantine(rec.Attrs)
			e.Record = &c
		}
		out = append(out, e)
	}
}

// Unpacked returns the entry as an editable detail record, ending with a
// blank line: the bytes that could not be parsed exactly as they were in
// the source (read from the side file when the entry has one), or the
// record without its quarantine annotations. Replaying it (after editing)
// delivers it like any record.
func (e QuarantineEntry) Unpacked() ([]byte, error) {
	if e.Record != nil {
		return detail.AppendRecord(nil, e.Record), nil
	}
	raw := e.Raw
	if e.RawFile != "" {
		p := e.RawFile
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(e.File), p)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: the side file of the entry: %w", e.File, e.Line, err)
		}
		raw = data
	}
	raw = bytes.TrimRight(raw, "\r\n")
	if len(raw) == 0 {
		return nil, nil
	}
	return append(raw, '\n', '\n'), nil
}
