package detail

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"sync"
)

// DefaultMaxRecordSize is the largest record, in bytes, a Reader accepts
// unless told otherwise (Reader.MaxRecordSize). A RADIUS packet carries at
// most 4096 bytes; even with every byte escaped as \ooo its record stays well
// under this limit, so a longer "record" is damage (a lost line end, binary
// garbage) and is reported as a SyntaxError and skipped.
const DefaultMaxRecordSize = 64 << 10

// readChunk is the initial size of a Reader's buffer and the size of its reads.
const readChunk = 128 << 10

// ErrIncomplete is returned by Reader.Next when the data ends inside a record:
// the record may still be being written. The Reader keeps what it has read;
// call Next again once the source has more data (a growing *os.File returns
// it on the next Read) and it continues exactly there, or call Finish when
// the source is known to be complete.
var ErrIncomplete = errors.New("detail: data ends inside a record (incomplete)")

// SyntaxError reports a malformed record. The Reader has skipped the whole
// record span (Offset, Length) and the next call to Next continues after it.
type SyntaxError struct {
	File string
	// Line is the 1-based line number of the offending line; RecordLine is
	// the line number of the first line of the span.
	Line       int
	RecordLine int
	// Msg says what is wrong.
	Msg string
	// Offset and Length delimit the bad span in the file (its empty line
	// included), as Record.Offset and Record.Length do.
	Offset int64
	Length int64
	// Raw is the text of the span, to be quarantined. For a record longer
	// than MaxRecordSize it holds only the first MaxRecordSize bytes.
	Raw []byte
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// TruncatedError is returned by Reader.Finish when a complete file ends in
// the middle of a line: the record's last line was cut off (a writer died
// while writing it, or the file was copied while being written).
type TruncatedError struct {
	File string
	// Line is the line number of the record's first line.
	Line   int
	Offset int64
	Length int64
	// Raw is the text of the truncated record.
	Raw []byte
}

func (e *TruncatedError) Error() string {
	return fmt.Sprintf("%s:%d: truncated record at end of file (offset %d, %d bytes; its last line has no line end)",
		e.File, e.Line, e.Offset, e.Length)
}

// A Reader reads the records of one detail file.
//
// A record is a header line (any line that does not start with white space),
// the attribute lines that follow it (lines starting with TAB or spaces), and
// the empty line that ends it. Empty lines between records are skipped. A
// record that is followed directly by the next header line, without an empty
// line, is accepted too.
//
// At the end of the data, a record that has not yet got its empty line is
// reported with ErrIncomplete by Next: a writer may still be appending to it.
// Finish treats the end of the data as the end of the file: such a record is
// returned normally if its last line is complete (the empty line is only
// missing) and as a *TruncatedError if its last line was cut off.
//
// Records returned by Next own their memory: nothing refers to the Reader's
// buffer, so callers may keep any number of them, and the Reader never
// changes a record it has returned. (To allocate about once per record,
// records and their attribute arrays are carved from shared blocks of 64
// records and 512 attributes; a block is freed when none of its records is
// referenced any more.) The Reader's memory is bounded by MaxRecordSize
// whatever the size of the file.
type Reader struct {
	// MaxRecordSize is the largest record accepted, in bytes; 0 means
	// DefaultMaxRecordSize. A longer record is returned as a *SyntaxError.
	// Set it before the first call to Next.
	MaxRecordSize int

	src  io.Reader
	name string

	buf        []byte
	start, end int // unconsumed data is buf[start:end]
	// text, for a Reader of bytes (newBytesReader), is a copy of buf as
	// one string, whose pieces the records get: one allocation for all the
	// records of the bytes instead of one each.
	text string
	off  int64 // file offset of buf[start]
	line int   // line number of the line starting at buf[start] (when at a line start)

	skip    *oversize // non-nil while skipping an oversized record
	scratch []byte    // reused when unescaping strings
	eols    []int     // line ends of the record being scanned
	// srcErr is an error the source returned (with or after data) that
	// Next reports once the whole records read before it are returned.
	srcErr error

	// Records and their attributes are carved from slabs, to allocate
	// once per many records. A slab is never reused: records only share
	// it, they never see each other's data change.
	recSlab  []Record
	attrSlab []Attribute
	// recN and attrN are the sizes of the last slabs: the first ones are
	// small and they double up to recSlabSize and attrSlabSize, so a
	// Reader of a file of a few records (a consume work file claimed
	// moments after the last) does not allocate for 64.
	recN, attrN int
}

const (
	recSlabSize  = 64
	attrSlabSize = 512
)

// readerBuffers holds the buffers of Readers that were Released, of size
// readChunk (the size of a Reader with the default MaxRecordSize).
var readerBuffers sync.Pool // of *[]byte

// Release gives the Reader's buffer back for the next Reader to use:
// files read one after another (a consume spool's work files) share a
// buffer instead of allocating and clearing one each. Records and errors
// the Reader returned are unaffected (they never refer to the buffer). The
// Reader must not be used after Release.
func (r *Reader) Release() {
	if len(r.buf) == readChunk {
		b := r.buf
		readerBuffers.Put(&b)
	}
	r.buf, r.src = nil, nil
	r.start, r.end = 0, 0
}

// newRecord returns a zeroed Record with room for n attributes.
func (r *Reader) newRecord(n int) *Record {
	if len(r.recSlab) == 0 {
		r.recN = min(max(2*r.recN, 8), recSlabSize)
		r.recSlab = make([]Record, r.recN)
	}
	rec := &r.recSlab[0]
	r.recSlab = r.recSlab[1:]
	if n > attrSlabSize/4 {
		rec.Attrs = make([]Attribute, 0, n)
		return rec
	}
	if len(r.attrSlab) < n {
		r.attrN = min(max(2*r.attrN, 64), attrSlabSize)
		r.attrSlab = make([]Attribute, max(r.attrN, n))
	}
	rec.Attrs = r.attrSlab[:0:n]
	r.attrSlab = r.attrSlab[n:]
	return rec
}

// oversize tracks a record being skipped because it exceeds MaxRecordSize.
type oversize struct {
	offset      int64
	line        int
	raw         []byte
	length      int64
	atLineStart bool // the next byte begins a line
	lineBlank   bool // the current line holds only white space so far
	pastFirst   bool // the first line of the span has been consumed
}

// NewReader returns a Reader reading the records of r. name is used in errors
// and as Record.File.
func NewReader(r io.Reader, name string) *Reader {
	return &Reader{src: r, name: name, line: 1}
}

// newBytesReader returns a Reader of the records of data, which it parses
// in place (never changing it) instead of copying it into a buffer of its
// own; the records' strings are pieces of one copy of data.
func newBytesReader(data []byte, name string) *Reader {
	return &Reader{src: eofReader{}, name: name, line: 1, buf: data[:len(data):len(data)], end: len(data), text: string(data)}
}

// eofReader is an empty source.
type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// SetPosition tells the Reader that its source starts at byte offset offset,
// which is the start of line line (1-based), of the file: a caller resuming
// from a checkpoint has seeked there. Record offsets and line numbers continue
// from there. Call it before the first call to Next.
func (r *Reader) SetPosition(offset int64, line int) {
	if line < 1 {
		line = 1
	}
	r.off = offset
	r.line = line
}

// Offset returns the file offset up to which the Reader has consumed the
// data: the end of the last record or error returned (blank lines after it
// may be included).
func (r *Reader) Offset() int64 { return r.off }

// Line returns the line number at Offset.
func (r *Reader) Line() int { return r.line }

// Next returns the next record. It returns io.EOF when the data ends between
// records, ErrIncomplete when it ends inside one, a *SyntaxError for a
// malformed record (after which Next continues with the following record),
// and any error of the source, wrapped. After io.EOF or ErrIncomplete, Next
// may be called again: it reads the source again and continues.
func (r *Reader) Next() (*Record, error) { return r.next(false) }

// Finish is Next for a source known to be complete (a file nobody writes to
// any more): at the end of the data, a pending record whose lines are all
// complete is returned even without its empty line, and one whose last line
// was cut off is returned as a *TruncatedError; both are consumed. Call it in
// a loop, like Next, until it returns io.EOF.
func (r *Reader) Finish() (*Record, error) { return r.next(true) }

func (r *Reader) maxRecordSize() int {
	if r.MaxRecordSize > 0 {
		return r.MaxRecordSize
	}
	return DefaultMaxRecordSize
}

func (r *Reader) next(final bool) (*Record, error) {
	if r.buf == nil {
		size := readChunk
		if m := r.maxRecordSize() + 1; m > size {
			size = m
		}
		if p, ok := readerBuffers.Get().(*[]byte); ok && size == readChunk {
			r.buf = *p
		} else {
			r.buf = make([]byte, size)
		}
	}
	max := r.maxRecordSize()
	sawEOF := false
	for {
		if r.skip != nil {
			if err := r.skipOversize(final && sawEOF); err != nil {
				return nil, err
			}
		} else {
			r.skipBlankLines()
			b := r.buf[r.start:r.end]
			if len(b) > 0 {
				n, lines, eols, ok := scanRecord(b, r.eols[:0])
				r.eols = eols
				if ok && n <= max {
					return r.emit(n, lines, eols)
				}
				if len(b) > max {
					r.startOversize(max)
					continue
				}
			}
		}
		if err := r.srcErr; err != nil {
			// The records complete before the failure have been returned;
			// what is left is not known to be whole. A later Next reads
			// the source again.
			r.srcErr = nil
			return nil, fmt.Errorf("detail: reading %s: %w", r.name, err)
		}
		if sawEOF {
			return r.atEnd(final)
		}
		n, err := r.fill()
		if err != nil && err != io.EOF {
			// A decompressor returns its last data with the error that
			// ends it (a truncated or damaged archive): the whole records
			// in that data are returned first.
			r.srcErr = err
			continue
		}
		if n == 0 {
			sawEOF = true
		}
	}
}

// atEnd handles the end of the data with no complete record in the buffer.
func (r *Reader) atEnd(final bool) (*Record, error) {
	if r.skip != nil {
		// final: skipOversize has already returned the error.
		return nil, ErrIncomplete
	}
	b := r.buf[r.start:r.end]
	if isBlank(b) {
		if final {
			r.consume(len(b), 0)
		}
		return nil, io.EOF
	}
	if !final {
		return nil, ErrIncomplete
	}
	if b[len(b)-1] == '\n' {
		return r.emit(len(b), bytes.Count(b, []byte{'\n'}), nil)
	}
	e := &TruncatedError{File: r.name, Line: r.line, Offset: r.off, Length: int64(len(b)), Raw: bytes.Clone(b)}
	r.consume(len(b), bytes.Count(b, []byte{'\n'}))
	return nil, e
}

// fill reads more data into the buffer, compacting or growing it as needed.
func (r *Reader) fill() (int, error) {
	if r.text != "" {
		return 0, io.EOF // a Reader of bytes: buf and text stay as they are
	}
	if r.end == len(r.buf) {
		if r.start > 0 {
			r.end = copy(r.buf, r.buf[r.start:r.end])
			r.start = 0
		} else {
			nb := make([]byte, 2*len(r.buf))
			r.end = copy(nb, r.buf[r.start:r.end])
			r.start = 0
			r.buf = nb
		}
	}
	n, err := r.src.Read(r.buf[r.end:])
	if n < 0 || n > len(r.buf)-r.end {
		return 0, fmt.Errorf("invalid read count %d", n)
	}
	r.end += n
	return n, err
}

func (r *Reader) consume(n, lines int) {
	r.start += n
	r.off += int64(n)
	r.line += lines
}

// skipBlankLines consumes complete lines holding only white space.
func (r *Reader) skipBlankLines() {
	for r.start < r.end {
		c := r.buf[r.start]
		if c != '\n' && c != '\r' && c != ' ' && c != '\t' {
			return
		}
		b := r.buf[r.start:r.end]
		i := bytes.IndexByte(b, '\n')
		if i < 0 || !isBlank(b[:i]) {
			return
		}
		r.consume(i+1, 1)
	}
}

// scanRecord finds the end of the record that starts at b[0]: after its
// first empty line, or before the next line that does not start with white
// space. It reports the span's length and number of lines, or ok == false
// when b ends before the record does. The offset in b of each line's line end
// is appended to eols, for parseRecord.
func scanRecord(b []byte, eols []int) (n, lines int, _ []int, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return 0, 0, eols, false
	}
	eols = append(eols, i)
	pos, lines := i+1, 1
	for pos < len(b) {
		c := b[pos]
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return pos, lines, eols, true // the next record's header line
		}
		j := bytes.IndexByte(b[pos:], '\n')
		if j < 0 {
			return 0, 0, eols, false
		}
		eols = append(eols, pos+j)
		line := b[pos : pos+j]
		pos += j + 1
		lines++
		if c == '\n' || isBlank(line) {
			return pos, lines, eols, true
		}
	}
	return 0, 0, eols, false
}

// emit parses the n bytes at the start of the buffer as one record span and
// consumes them. eols, when not nil, holds the offsets of its line ends.
func (r *Reader) emit(n, lines int, eols []int) (*Record, error) {
	var text string
	if r.text != "" {
		text = r.text[r.start : r.start+n]
	} else {
		text = string(r.buf[r.start : r.start+n])
	}
	off, line := r.off, r.line
	r.consume(n, lines)
	return r.parseRecord(text, off, line, lines, eols)
}

func (r *Reader) startOversize(max int) {
	r.skip = &oversize{
		offset:      r.off,
		line:        r.line,
		raw:         bytes.Clone(r.buf[r.start : r.start+max]),
		atLineStart: true,
		lineBlank:   true,
	}
}

// skipOversize consumes the oversized record's bytes until its end. It
// returns the SyntaxError for the record when the end is found (or, if final,
// at the end of the data) and nil when it needs more data.
func (r *Reader) skipOversize(final bool) error {
	sk := r.skip
	for r.start < r.end {
		b := r.buf[r.start:r.end]
		if sk.atLineStart && sk.pastFirst {
			if c := b[0]; c != ' ' && c != '\t' && c != '\r' && c != '\n' {
				return r.endOversize()
			}
		}
		j := bytes.IndexByte(b, '\n')
		if j < 0 {
			sk.lineBlank = sk.lineBlank && isBlank(b)
			sk.atLineStart = false
			sk.length += int64(len(b))
			r.start, r.off = r.end, r.off+int64(len(b))
			break
		}
		blank := sk.lineBlank && isBlank(b[:j])
		sk.length += int64(j + 1)
		r.consume(j+1, 1)
		sk.atLineStart, sk.lineBlank = true, true
		if blank && sk.pastFirst {
			return r.endOversize()
		}
		sk.pastFirst = true
	}
	if final {
		return r.endOversize()
	}
	return nil
}

func (r *Reader) endOversize() error {
	sk := r.skip
	r.skip = nil
	return &SyntaxError{
		File: r.name, Line: sk.line, RecordLine: sk.line,
		Msg:    fmt.Sprintf("record is longer than %d bytes (the maximum record size); %d bytes skipped", r.maxRecordSize(), sk.length),
		Offset: sk.offset, Length: sk.length, Raw: sk.raw,
	}
}

// parseRecord parses one record span (see scanRecord) that starts at file
// offset off and line line. eols, when not nil, holds the offsets in text of
// its line ends, as scanRecord found them.
func (r *Reader) parseRecord(text string, off int64, line, lines int, eols []int) (*Record, error) {
	eol := func(li, pos int) int { // offset of the line end of line li, which starts at pos
		if li < len(eols) {
			return eols[li]
		}
		return pos + strings.IndexByte(text[pos:], '\n')
	}
	fail := func(at int, format string, args ...any) error {
		return &SyntaxError{
			File: r.name, Line: at, RecordLine: line, Msg: fmt.Sprintf(format, args...),
			Offset: off, Length: int64(len(text)), Raw: []byte(text),
		}
	}
	hdrEnd := eol(0, 0)
	header := text[:hdrEnd]
	// Room for every line but the header, and but the empty line that
	// ends the record (the Timestamp line's room is needed while it is
	// parsed): the attribute slabs are most of what parsing allocates.
	room := lines - 1
	if lines >= 2 && len(eols) >= lines && isBlankString(text[eols[lines-2]+1:eols[lines-1]]) {
		room--
	}
	rec := r.newRecord(room)
	rec.File, rec.Line, rec.Offset, rec.Length, rec.TimestampOffset = r.name, line, off, int64(len(text)), -1
	if strings.HasSuffix(header, "\r") {
		header = header[:len(header)-1]
		rec.CRLF = true
	}
	if header[0] == ' ' || header[0] == '\t' || header[0] == '\r' {
		return nil, fail(line, "attribute line outside a record (no header line before it): %s", quoteLine(header))
	}
	rec.Header = header
	pos, ln := hdrEnd+1, line+1
	for li := 1; pos < len(text); li++ {
		end := eol(li, pos)
		start := pos
		l := text[pos:end]
		pos = end + 1
		if strings.HasSuffix(l, "\r") {
			l = l[:len(l)-1]
		}
		if isBlankString(l) {
			break
		}
		lpos := start // offset of l within text
		for {
			n := len(rec.Attrs)
			if n == cap(rec.Attrs) {
				rec.Attrs = append(rec.Attrs, Attribute{}) // a glued line: one more
			} else {
				rec.Attrs = rec.Attrs[:n+1]
			}
			a := &rec.Attrs[n]
			restAt, raw, msg := r.parseAttribute(a, l)
			if msg != "" {
				return nil, fail(ln, "%s", msg)
			}
			if a.Truncated {
				rec.Cut = append(rec.Cut, CutValue{Value: a.Value, Raw: raw})
			}
			if len(a.Name) == 9 && (strings.EqualFold(a.Name, "Timestamp") || strings.EqualFold(a.Name, "Donestamp")) {
				if a.Quoted || a.HasTag {
					return nil, fail(ln, "%s value %s is not a number of seconds", a.Name, raw)
				}
				ts, err := strconv.ParseInt(a.Value, 10, 64)
				if err != nil {
					return nil, fail(ln, "%s value %s is not a number of seconds", a.Name, quoteLine(raw))
				}
				if rec.HasTimestamp {
					return nil, fail(ln, "second Timestamp/Donestamp line in one record")
				}
				rec.Timestamp, rec.HasTimestamp, rec.Done = ts, true, strings.EqualFold(a.Name, "Donestamp")
				if len(l) > len(a.Name) && l[0] == '\t' && l[1:1+len(a.Name)] == a.Name {
					rec.TimestampOffset = off + int64(lpos)
				}
				*a = Attribute{}
				rec.Attrs = rec.Attrs[:n]
			}
			if restAt < 0 {
				break
			}
			l, lpos = l[restAt:], lpos+restAt
		}
		ln++
	}
	if len(rec.Attrs) == 0 && !rec.HasTimestamp {
		return nil, fail(line, "header line %s is not followed by attribute lines", quoteLine(header))
	}
	return rec, nil
}

// parseAttribute parses "<white space>Name[:tag] = value". It returns a
// non-empty message saying what is wrong when the line is malformed, the
// value as written (raw), and the index in l of a second attribute line
// glued onto this one (see Attribute.LineEndLost), or -1.
func (r *Reader) parseAttribute(a *Attribute, l string) (restAt int, raw, msg string) {
	restAt = -1
	i := 0
	for i < len(l) && (l[i] == ' ' || l[i] == '\t') {
		i++
	}
	eq, j, colon := nameFast(l, i)
	if eq < 0 {
		var bad string
		if eq, j, colon, bad = nameSlow(l, i); bad != "" {
			return -1, "", bad
		}
	}
	name := l[i:j]
	a.Name = name
	if colon > 0 && colon >= len(name)-4 && colon < len(name)-1 {
		t := 0
		for k := colon + 1; k < len(name); k++ {
			if c := name[k]; c >= '0' && c <= '9' {
				t = t*10 + int(c-'0')
			} else {
				t = -1
				break
			}
		}
		if t >= 0 && t <= 255 {
			a.Name, a.HasTag, a.Tag = name[:colon], true, uint8(t)
		}
	}
	k := eq + 1
	for k < len(l) && (l[k] == ' ' || l[k] == '\t') {
		k++
	}
	e := len(l)
	for e > k && (l[e-1] == ' ' || l[e-1] == '\t') {
		e--
	}
	v := l[k:e]
	if v == "" {
		return -1, "", "attribute " + name + " has no value"
	}
	if v[0] != '"' {
		a.Value = v
		if isEnumValue(v) {
			a.Value, a.Enum = v[2:], true
		}
		return -1, v, ""
	}
	if plainQuoted(v) { // the common case, in one pass instead of three searches
		a.Quoted, a.Value = true, v[1:len(v)-1]
		return -1, v, ""
	}
	if t := strings.IndexByte(v, '\t'); t > 0 && looksLikeAttribute(v[t:]) {
		// The next attribute line is glued onto this one.
		restAt = k + t
		v = v[:t]
		a.LineEndLost = true
	}
	a.Quoted = true
	a.Value, a.Truncated = r.unquote(v)
	return restAt, v, ""
}

// nameFast finds, in one pass, the "=" of a well-formed attribute line
// ("Name = ", "Name:tag\t= ") whose name starts at i, the end of the name
// (j) and its last colon (within the name, or -1). It returns eq -1 for
// anything else (no "=", no name, a quote or white space inside the name),
// which nameSlow then finds or says what is wrong with: its results are
// nameSlow's when eq >= 0 (FuzzNameScan).
func nameFast(l string, i int) (eq, j, colon int) {
	eq, j, colon = -1, -1, -1
	for k := i; k < len(l); {
		c := nameByteClass[l[k]]
		if c == 0 {
			k++
			continue
		}
		if c == nameColon {
			colon = k - i
			k++
			continue
		}
		j = k
		if c == nameBad {
			for k < len(l) && (l[k] == ' ' || l[k] == '\t') {
				k++
			}
		}
		if k < len(l) && l[k] == '=' && j > i {
			eq = k
		}
		break
	}
	return eq, j, colon
}

// nameSlow finds the "=" of an attribute line whose name starts at i, the
// end of the name (j) and its last colon (within the name, or -1), or says
// what is wrong.
func nameSlow(l string, i int) (eq, j, colon int, msg string) {
	eq = strings.IndexByte(l[i:], '=')
	if eq < 0 {
		return 0, 0, 0, "attribute line has no \" = \": " + quoteLine(l)
	}
	eq += i
	j = eq
	for j > i && (l[j-1] == ' ' || l[j-1] == '\t') {
		j--
	}
	name := l[i:j]
	if name == "" {
		return 0, 0, 0, "attribute line has no name before \"=\": " + quoteLine(l)
	}
	colon = -1
	for k := 0; k < len(name); k++ {
		if c := nameByteClass[name[k]]; c != 0 {
			if c == nameBad {
				return 0, 0, 0, "attribute name " + quoteLine(name) + " contains white space or a quote"
			}
			colon = k
		}
	}
	return eq, j, colon, ""
}

// plainQuoted reports whether v, which starts with a quote, is a short
// quoted string ending in a quote with no TAB, quote or backslash
// between: no glued line, no escape, nothing after the closing quote. Its
// value is then v without the quotes.
func plainQuoted(v string) bool {
	if len(v) < 2 || len(v) > 64 || v[len(v)-1] != '"' {
		return false
	}
	for k := 1; k < len(v)-1; k++ {
		if c := v[k]; c == '\t' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// nameByteClass sorts the bytes of an attribute name: nameBad (white space,
// a quote) may not appear in one, nameColon may start a tag, nameEquals ends
// it; every other byte is 0. One load per byte is what parsing names costs.
var nameByteClass = [256]uint8{' ': nameBad, '\t': nameBad, '"': nameBad, ':': nameColon, '=': nameEquals}

const (
	nameBad    = 1
	nameColon  = 2
	nameEquals = 3
)

// looksLikeAttribute reports whether s, which starts with a TAB, is an
// attribute line: "<white space>Name = ...".
func looksLikeAttribute(s string) bool {
	s = strings.TrimLeft(s, " \t")
	eq := strings.Index(s, " = ")
	return eq > 0 && !strings.ContainsAny(s[:eq], " \t\"=")
}

// unquote returns the value of the double-quoted string v (which starts with
// a quote and has no trailing white space), and whether it lacks its closing
// quote.
//
// Besides FreeRADIUS's escaping it accepts two damaged forms without losing
// data: a string without its closing quote (FreeRADIUS 3 cuts lines at 1022
// characters, losing the quote) ends at the line end, a half-written escape
// at the cut dropped; a string with text after its first unescaped inner
// quote but ending in a quote (Cistron did not escape '"') ends at the last
// quote, inner quotes kept.
func (r *Reader) unquote(v string) (value string, truncated bool) {
	body := v[1:]
	if q := strings.IndexByte(body, '"'); q >= 0 && q == len(body)-1 && strings.IndexByte(body, '\\') < 0 {
		return body[:q], false // the common case: no escapes, nothing after the quote
	}
	end := len(body) // where the string's content ends
	if body != "" && body[len(body)-1] == '"' && !escapedAt(body, len(body)-1) {
		end = len(body) - 1
	} else {
		truncated = true
		// Drop a half-written escape: a backslash and up to two octal
		// digits at the cut.
		for k := 1; k <= 3 && k <= end; k++ {
			if body[end-k] == '\\' && !escapedAt(body, end-k) {
				if isOctalRun(body[end-k+1 : end]) {
					end -= k
				}
				break
			}
			if !isOctal(body[end-k]) {
				break
			}
		}
	}
	if strings.IndexByte(body[:end], '\\') < 0 {
		return body[:end], truncated
	}
	out := r.scratch[:0]
	for i := 0; i < end; i++ {
		c := body[i]
		if c != '\\' || i+1 >= end {
			out = append(out, c)
			continue
		}
		n := body[i+1]
		switch n {
		case '"', '\\', '\'':
			out = append(out, n)
			i++
		case 't':
			out = append(out, '\t')
			i++
		case 'r':
			out = append(out, '\r')
			i++
		case 'n':
			out = append(out, '\n')
			i++
		default:
			if i+3 < end && isOctal(n) && isOctal(body[i+2]) && isOctal(body[i+3]) && n <= '3' {
				out = append(out, (n-'0')<<6|(body[i+2]-'0')<<3|(body[i+3]-'0'))
				i += 3
			} else {
				out = append(out, c) // unknown escape: keep the backslash
			}
		}
	}
	r.scratch = out
	return string(out), truncated
}

func isOctalRun(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isOctal(s[i]) {
			return false
		}
	}
	return true
}

// escapedAt reports whether the byte at i of s is preceded by an odd number
// of backslashes.
func escapedAt(s string, i int) bool {
	n := 0
	for i > 0 && s[i-1] == '\\' {
		n++
		i--
	}
	return n%2 == 1
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

func isBlankString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// quoteLine quotes a line for an error message, shortened if long.
func quoteLine(s string) string {
	if len(s) > 80 {
		return strconv.Quote(s[:77]) + "..."
	}
	return strconv.Quote(s)
}

// isEnumValue reports whether an unquoted value is a FreeRADIUS 4 enumeration
// name ("::Start"). An IPv6 address or prefix may begin with "::" too
// ("::1", "::ffff:10.0.0.1", "::/0"); those are values, not enumerations.
func isEnumValue(v string) bool {
	if len(v) <= 2 || v[0] != ':' || v[1] != ':' {
		return false
	}
	if _, err := netip.ParseAddr(v); err == nil {
		return false
	}
	if _, err := netip.ParsePrefix(v); err == nil {
		return false
	}
	return true
}
