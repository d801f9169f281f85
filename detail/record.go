// Package detail reads and writes RADIUS accounting detail files, the plain-text
// spool that FreeRADIUS (and Cistron and Livingston before it) writes one record
// per Accounting-Request into.
//
// A record is a header line (the receive time, as ctime prints it), one
// "<TAB>Name = value" line per attribute, and an empty line:
//
//	Mon Nov 23 11:57:39 2026
//		User-Name = "carl"
//		Acct-Status-Type = Start
//		Timestamp = 1795435059
//
// The package works on the text level: it knows quoting and escaping, tags,
// Timestamp and Donestamp, but not attribute types. Turning a value into a
// typed value or a wire attribute is the job of package dictionary.
package detail

import "strings"

// Attribute is one "Name = value" line of a record.
type Attribute struct {
	// Name is the attribute name as written, without a ":tag" suffix.
	Name string
	// Value is the value: for a quoted string, its unescaped bytes; for an
	// unquoted value (integers, VALUE names, addresses, 0x octets), its text.
	// (How a value was written is Quoted, Enum and AppendQuoted; a value
	// that was cut, the Record's Cut. An Attribute has no field for the
	// text as written: records hold two to three times more attributes
	// than text, and a third field made every attribute 56 bytes instead
	// of 40, which cost radrelay 7-9% of its CPU in allocating, clearing
	// and collecting them; docs/benchmarks.md, "Seventh session".)
	Value string

	// HasTag reports whether the line was written "Name:tag"; Tag is the tag.
	HasTag bool
	Tag    uint8
	// Quoted reports whether the value is a double-quoted string. The Writer
	// escapes and quotes Value when it is set and writes Value as is when not.
	Quoted bool
	// Enum reports a FreeRADIUS 4 enumeration value written "::Name"; Value
	// holds the name without the "::" and the Writer puts it back.
	Enum bool
	// Truncated reports a quoted value without its closing quote: FreeRADIUS
	// 3 cuts an attribute line at 1022 characters (a 253-byte value escaped
	// as \ooo needs up to 1012), losing the end of the value and the quote.
	// Value holds the bytes before the cut (a half-written escape at the cut
	// is dropped); the Reader keeps the text as written in the Record's Cut,
	// and the Writer writes it again, so the file round-trips.
	Truncated bool
	// LineEndLost reports that the line had no line end: FreeRADIUS 3
	// sometimes drops the LF after a cut line, gluing the next attribute line
	// onto it. The Reader splits the glued lines at the TAB (FreeRADIUS
	// never writes a raw TAB inside a quoted value) and the Writer omits the
	// line end again.
	LineEndLost bool
}

// Record is one accounting record of a detail file.
type Record struct {
	// Header is the header line without its line end, e.g.
	// "Mon Nov 23 11:57:39 2026". The Writer formats one from Timestamp
	// when it is empty.
	Header string
	// Attrs are the attribute lines in file order, without the Timestamp or
	// Donestamp line.
	Attrs []Attribute
	// Timestamp is the Unix time of the Timestamp (or Donestamp) line;
	// HasTimestamp is false for writers that add none (Livingston).
	Timestamp    int64
	HasTimestamp bool
	// Done reports a Donestamp line: FreeRADIUS's "track = yes" marks a record
	// it has delivered by overwriting "\tTime" of its Timestamp line with "\tDone".
	Done bool
	// CRLF reports a header line ending in CR LF; the Writer then ends every
	// line of the record with CR LF so that such files round-trip.
	CRLF bool

	// File is the name the Reader was given, for messages.
	File string
	// Line is the 1-based line number of the header line.
	Line int
	// Offset is the byte offset of the header line in the file and Length the
	// number of bytes up to the start of the next record (the terminating
	// empty line included), so Offset+Length is where reading resumes.
	Offset int64
	Length int64
	// TimestampOffset is the byte offset of the Timestamp line's TAB within the
	// file (where a tracker writes "\tDone"), or -1 when the record has none.
	TimestampOffset int64

	// Cut holds the value as written (quote and escapes included) of each
	// Truncated attribute, in attribute order: the bytes a cut dropped (a
	// half-written escape) are not in its Value. The Writer writes a
	// Truncated attribute's value from the entry of the same Value; nil
	// when no value was cut (nearly always).
	Cut []CutValue

	// Prepared is what a sink worked out from the record ahead of Send,
	// on the goroutine that read it (sinks.Preparer); nil when nothing was.
	// Only that sink reads it, and only after checking that it was made
	// from this very record: a copy of a record (with its attributes
	// changed, say) carries the original's.
	Prepared any
}

// CutValue is the text as written of the value of a Truncated attribute.
type CutValue struct {
	// Value is the attribute's Value, which tells the attribute.
	Value string
	// Raw is the value as the file has it, from the opening quote to the
	// cut, line end excluded.
	Raw string
}

// CutRaw returns the text as written of the value of a Truncated attribute
// a of the record, and whether the record has it (see Cut): the entry of
// Cut at the k-th Truncated attribute when a has its Value (the record's
// attributes unchanged), else the first entry with that Value.
func (r *Record) CutRaw(a *Attribute, k int) (string, bool) {
	if k >= 0 && k < len(r.Cut) && r.Cut[k].Value == a.Value {
		return r.Cut[k].Raw, true
	}
	for _, c := range r.Cut {
		if c.Value == a.Value {
			return c.Raw, true
		}
	}
	return "", false
}

// Get returns the first attribute named name (compared case-insensitively, as
// FreeRADIUS does) and whether there is one.
func (r *Record) Get(name string) (Attribute, bool) {
	if name == "" {
		for i := range r.Attrs {
			if r.Attrs[i].Name == "" {
				return r.Attrs[i], true
			}
		}
		return Attribute{}, false
	}
	first, last := foldASCII(name[0]), foldASCII(name[len(name)-1])
	for i := range r.Attrs {
		a := &r.Attrs[i]
		// Most names differ from name in their first or last byte: an
		// ASCII byte is a rune of its own (also in invalid UTF-8), so two
		// ASCII bytes that differ other than in case mean EqualFold would
		// say no. (Only a byte above 0x7f may start a rune that folds to
		// an ASCII letter, the Kelvin sign to k, say: those are compared
		// in full.) The records' Get calls were a tenth of the parsing
		// CPU before.
		n := a.Name
		if len(n) == 0 || !sameASCIIFold(n[0], first) || !sameASCIIFold(n[len(n)-1], last) {
			continue
		}
		if strings.EqualFold(n, name) {
			return *a, true
		}
	}
	return Attribute{}, false
}

// foldASCII returns c in lower case when it is an ASCII letter.
func foldASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// sameASCIIFold reports whether c (a byte of a name) may be equal under
// case folding to the byte folded (foldASCII of a byte of the other name):
// false only when both are ASCII and differ other than in case.
func sameASCIIFold(c, folded byte) bool {
	return c >= 0x80 || folded >= 0x80 || foldASCII(c) == folded
}
