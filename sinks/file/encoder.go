// Package file is the sink that writes accounting records to files: a detail
// file (a local copy, a per-realm log; appended through spool.Writer,
// byte-compatible with FreeRADIUS 3.2), JSON Lines, or a comma-delimited
// accounting log with a header row, to a file or to standard output.
//
// Its Encoder is also what "radrelay cat" prints with, so the sink and the
// command produce the same bytes.
package file

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/dictionary"
)

// The formats an Encoder writes.
const (
	FormatDetail = "detail" // detail file, as FreeRADIUS 3.2 writes it
	FormatJSONL  = "jsonl"  // JSON Lines: one object per record
	FormatCSV    = "csv"    // comma-delimited, one row per record, header row
)

// DefaultColumns are the CSV columns when EncoderOptions.Columns is empty:
// the receive time, the attributes accounting reports are built from, and
// Other-Attributes holding every other attribute of the record, so no data
// is left out.
var DefaultColumns = []string{
	"Date", "Time", "Timestamp",
	"Acct-Status-Type", "User-Name", "NAS-IP-Address", "NAS-Identifier", "NAS-Port", "NAS-Port-Id",
	"Called-Station-Id", "Calling-Station-Id", "Framed-IP-Address",
	"Acct-Session-Id", "Acct-Unique-Session-Id", "Acct-Session-Time",
	"Acct-Input-Octets", "Acct-Output-Octets", "Acct-Input-Gigawords", "Acct-Output-Gigawords",
	"Acct-Input-Packets", "Acct-Output-Packets", "Acct-Terminate-Cause", "Acct-Delay-Time",
	"Event-Timestamp", "Other-Attributes",
}

// ValueFunc converts an attribute's value to a typed JSON value (a number
// for an integer attribute, say). It returns nil to have the value written as
// a string. Package dictionary provides one.
type ValueFunc func(a detail.Attribute) any

// EncoderOptions configures an Encoder.
type EncoderOptions struct {
	// Values, for JSON, types attribute values; nil writes every value as a
	// string.
	Values ValueFunc
	// Dictionary, for JSON, when set, types attribute values as Values
	// set to its JSONValue would (Values is then not used), without an
	// allocation per value: what the stream sinks encode with. The
	// encoder keeps what it looked up in it: do not change the dictionary
	// after NewEncoder.
	Dictionary *dictionary.Dictionary
	// Columns, for CSV, are the columns (default DefaultColumns): attribute
	// names, and the special columns Date and Time (of the record's
	// Timestamp, in Location), Timestamp (Unix seconds), Done, Header, File,
	// Line, Offset, and Other-Attributes (every attribute not in a column).
	Columns []string
	// Location is the time zone of the CSV Date and Time columns (default
	// time.Local, as the detail file's header).
	Location *time.Location
	// SchemaVersion, for JSON, when above 0, starts each object with
	// "schema_version":N, so that a reader of a stream (package
	// sinks/stream) can tell the layout it reads; the jsonl sink leaves it
	// 0 and writes what it always wrote.
	SchemaVersion int
	// NameCode, for JSON with a Dictionary, is a function of an attribute
	// name that AppendNameCodes reports per attribute. The encoder calls
	// it once per name it keeps (see nameCache), so a caller that needs
	// a code per attribute (package sinks/stream's record identity) gets
	// it without a lookup of its own per attribute.
	NameCode func(name string) uint8
}

// An Encoder formats records as one of the formats. It is safe for
// concurrent use.
type Encoder struct {
	format  string
	opts    EncoderOptions
	columns []string
	special []string       // per column: its special name in lower case, or ""
	attrCol map[string]int // lower-case attribute name → column
	other   int            // column of Other-Attributes, or -1
	names   *nameCache     // JSON with a Dictionary: the names seen
}

// NewEncoder returns an Encoder for format: "detail", "jsonl" (or "json"),
// or "csv".
func NewEncoder(format string, opts EncoderOptions) (*Encoder, error) {
	e := &Encoder{opts: opts, other: -1}
	switch strings.ToLower(format) {
	case FormatDetail:
		e.format = FormatDetail
	case FormatJSONL, "json":
		e.format = FormatJSONL
	case FormatCSV:
		e.format = FormatCSV
	default:
		return nil, fmt.Errorf("unknown format %q: want detail, jsonl or csv", format)
	}
	if e.opts.Location == nil {
		e.opts.Location = time.Local
	}
	if e.format == FormatJSONL && opts.Dictionary != nil {
		e.names = new(nameCache)
	}
	if e.format == FormatCSV {
		e.columns = opts.Columns
		if len(e.columns) == 0 {
			e.columns = DefaultColumns
		}
		e.attrCol = map[string]int{}
		e.special = make([]string, len(e.columns))
		for i, c := range e.columns {
			c = strings.TrimSpace(c)
			if c == "" {
				return nil, fmt.Errorf("empty CSV column name")
			}
			switch {
			case strings.EqualFold(c, "Other-Attributes"):
				e.other = i
				e.special[i] = "other-attributes"
			case isSpecialColumn(c):
				e.special[i] = strings.ToLower(c)
			default:
				e.attrCol[strings.ToLower(c)] = i
			}
		}
	}
	return e, nil
}

func isSpecialColumn(c string) bool {
	switch strings.ToLower(c) {
	case "date", "time", "timestamp", "done", "header", "file", "line", "offset":
		return true
	}
	return false
}

// Format returns the encoder's format: detail, jsonl or csv.
func (e *Encoder) Format() string { return e.format }

// Header returns what starts a file of this format: the CSV header row, or
// nil.
func (e *Encoder) Header() []byte {
	if e.format != FormatCSV {
		return nil
	}
	var b []byte
	for i, c := range e.columns {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCSVField(b, c)
	}
	return append(b, "\r\n"...)
}

// Append appends rec, formatted, to dst.
func (e *Encoder) Append(dst []byte, rec *detail.Record) []byte {
	switch e.format {
	case FormatJSONL:
		return e.appendJSONChecked(dst, rec, nil)
	case FormatCSV:
		return e.appendCSV(dst, rec)
	default:
		return detail.AppendRecord(dst, rec)
	}
}

// AppendNameCodes is Append for JSON that also sets codes[i] to
// EncoderOptions.NameCode of the name of rec.Attrs[i]; codes has
// len(rec.Attrs) elements. Without a NameCode every code is 0.
func (e *Encoder) AppendNameCodes(dst []byte, rec *detail.Record, codes []uint8) []byte {
	if e.format != FormatJSONL {
		panic("file: AppendNameCodes on a " + e.format + " encoder")
	}
	return e.appendJSONChecked(dst, rec, codes)
}

// appendJSONChecked is appendJSON, then, for a record with a value that is
// not UTF-8 (rare), the record again, escaped where needed
// (appendJSONEscaped). One search of the line for notUTF8, instead of a
// check after every value in appendJSON, keeps that as fast as it was.
func (e *Encoder) appendJSONChecked(dst []byte, rec *detail.Record, codes []uint8) []byte {
	out := e.appendJSON(dst, rec, codes)
	if bytes.IndexByte(out[len(dst):], notUTF8) >= 0 {
		return e.appendJSONEscaped(out[:len(dst)], rec)
	}
	return out
}

// attrKey is the name an attribute is shown under: Name, or Name:tag.
func attrKey(a *detail.Attribute) string {
	if a.HasTag {
		return a.Name + ":" + strconv.Itoa(int(a.Tag))
	}
	return a.Name
}

// textValue returns a's value for text output: the value when it is valid
// UTF-8 (and, if printable is set, has no control characters); else the
// value escaped as in a detail file (without the quotes), so that no byte
// is lost or replaced.
func textValue(a *detail.Attribute, printable bool) string {
	v := a.Value
	if !a.Quoted {
		return v
	}
	ok := utf8.ValidString(v)
	if ok && printable {
		for i := 0; i < len(v); i++ {
			if v[i] < 0x20 || v[i] == 0x7f {
				ok = false
				break
			}
		}
	}
	if ok {
		return v
	}
	q := detail.AppendQuoted(nil, v)
	return string(q[1 : len(q)-1])
}

// The Timestamps a "time" is written for: years 0001 to 9999. A record's
// Timestamp outside them (a corrupt line: the reader takes any integer) has
// no "time", only "timestamp", which holds it exactly: a "time" of
// "10000-01-01T00:00:00Z" is not an RFC 3339 date-time, and a stream
// consumer validating the schema's format would reject the record. Year
// 0000 fits RFC 3339's four digits but not the date types consumers parse
// it into (Python's datetime and the jsonschema format checker built on
// it, which rejected "0000-12-31T23:59:59Z"; Java's Instant parses it but
// most databases do not), so it is left out too.
const (
	minRFC3339 = -62135596800 // 0001-01-01T00:00:00Z
	maxRFC3339 = 253402300799 // 9999-12-31T23:59:59Z
)

// appendJSON writes one JSON object:
//
//	{"time":"2026-11-23T11:57:39Z","timestamp":1795435059,"header":"Mon Nov 23 11:57:39 2026",
//	 "file":"detail-20261123","line":1,"offset":0,"attributes":{"User-Name":"carl",
//	 "Cisco-AVPair":["a=b","c=d"],"Tunnel-Type:1":"VLAN",...}}
//
// "done" is added for a record marked done; "time" is left out for a
// Timestamp past RFC 3339's years (minRFC3339). Attributes keep file order; an
// attribute that occurs several times becomes an array.
//
// codes, when not nil, gets the NameCode of each attribute's name.
func (e *Encoder) appendJSON(dst []byte, rec *detail.Record, codes []uint8) []byte {
	dst = append(dst, '{')
	if e.opts.SchemaVersion > 0 {
		dst = append(dst, `"schema_version":`...)
		dst = strconv.AppendInt(dst, int64(e.opts.SchemaVersion), 10)
		dst = append(dst, ',')
	}
	if rec.HasTimestamp {
		if rec.Timestamp >= minRFC3339 && rec.Timestamp <= maxRFC3339 {
			dst = append(dst, `"time":"`...)
			dst = time.Unix(rec.Timestamp, 0).UTC().AppendFormat(dst, time.RFC3339)
			dst = append(dst, `",`...)
		}
		dst = append(dst, `"timestamp":`...)
		dst = strconv.AppendInt(dst, rec.Timestamp, 10)
		dst = append(dst, ',')
		if rec.Done {
			dst = append(dst, `"done":true,`...)
		}
	}
	dst = append(dst, `"header":`...)
	dst = appendJSONText(dst, rec.Header)
	if rec.File != "" {
		dst = append(dst, `,"file":`...)
		dst = appendJSONText(dst, rec.File)
		dst = append(dst, `,"line":`...)
		dst = strconv.AppendInt(dst, int64(rec.Line), 10)
		dst = append(dst, `,"offset":`...)
		dst = strconv.AppendInt(dst, rec.Offset, 10)
	}
	dst = append(dst, `,"attributes":{`...)
	attrs := rec.Attrs
	// written[j]: attribute j is a repeat, written with the first
	// occurrence of its name and tag (as an array).
	var small [64]bool
	written := small[:0]
	if len(attrs) <= len(small) {
		written = small[:len(attrs)]
	} else {
		written = make([]bool, len(attrs))
	}
	// With the cache of names, each attribute's entry is looked up first:
	// a name whose cache slot no other attribute of the record has is not
	// repeated, and needs no search for its repeats (comparing every pair
	// of names cost a quarter of encoding). Names without an entry (a
	// slot taken by another name), or too many attributes, fall back to
	// the search for all.
	var entries *[64]*nameEntry
	var seen, repeated [len(nameCache{}.slots) / 64]uint64
	if e.names != nil && len(attrs) <= len(small) {
		entries = new([64]*nameEntry)
		for i := range attrs {
			en := e.names.lookup(e.opts.Dictionary, e.opts.NameCode, attrs[i].Name)
			if en == nil {
				entries = nil
				break
			}
			entries[i] = en
			w, bit := en.slot/64, uint64(1)<<(en.slot%64)
			repeated[w] |= seen[w] & bit
			seen[w] |= bit
		}
	}
	first := true
	for i := range attrs {
		if written[i] {
			continue
		}
		a := &attrs[i]
		var name *nameEntry
		if entries != nil {
			name = entries[i]
		}
		n := 1
		if name == nil || repeated[name.slot/64]&(uint64(1)<<(name.slot%64)) != 0 {
			for j := i + 1; j < len(attrs); j++ {
				if sameKey(&attrs[j], a) {
					n++
					written[j] = true
				}
			}
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		if name == nil && e.names != nil {
			name = e.names.lookup(e.opts.Dictionary, e.opts.NameCode, a.Name)
		}
		if codes != nil {
			code := uint8(0)
			switch {
			case name != nil:
				code = name.code
			case e.opts.NameCode != nil:
				code = e.opts.NameCode(a.Name)
			}
			codes[i] = code
			if n > 1 {
				for j := i + 1; j < len(attrs); j++ {
					if sameKey(&attrs[j], a) {
						codes[j] = code
					}
				}
			}
		}
		if name != nil {
			dst = append(dst, name.quoted...)
			if a.HasTag { // the tag goes inside the quotes
				dst[len(dst)-1] = ':'
				dst = strconv.AppendInt(dst, int64(a.Tag), 10)
				dst = append(dst, '"')
			}
		} else {
			dst = appendJSONKey(dst, a)
		}
		dst = append(dst, ':')
		if n == 1 {
			dst = e.appendJSONValue(dst, a, name)
			continue
		}
		dst = append(dst, '[')
		dst = e.appendJSONValue(dst, a, name)
		for j := i + 1; j < len(attrs); j++ {
			if sameKey(&attrs[j], a) {
				dst = append(dst, ',')
				dst = e.appendJSONValue(dst, &attrs[j], name)
			}
		}
		dst = append(dst, ']')
	}
	return append(dst, "}}\n"...)
}

// notUTF8 is what appendJSONValue appends in place of a string value that
// is not valid UTF-8: a byte that is never part of UTF-8, so never
// otherwise in the JSON appendJSON writes.
const notUTF8 = 0xff

// appendJSONEscaped appends rec as appendJSON does, for a record with a
// string value that is not valid UTF-8, which a JSON string cannot hold:
// every string value of such an attribute's key is written escaped
// (escapedValue), and the keys are listed in "escaped" after the
// attributes (appendEscapedKeys). Every other value is as appendJSON
// writes it. Such records are rare: this is appendJSON's loop again,
// without its shortcuts.
func (e *Encoder) appendJSONEscaped(dst []byte, rec *detail.Record) []byte {
	// What comes before the attributes, as appendJSON writes it: no
	// string before them can hold the text of the key (its quotes would
	// be escaped).
	line := e.appendJSON(dst, rec, nil)
	start := len(dst) + bytes.Index(line[len(dst):], []byte(`"attributes":{`)) + len(`"attributes":{`)
	head := line[:start]
	var fields []string
	if bytes.IndexByte(head[len(dst):], notUTF8) >= 0 {
		head, fields = appendHeadEscaped(dst, head, rec)
	}
	return e.appendJSONAttrsEscaped(head, rec.Attrs, fields)
}

// appendHeadEscaped rewrites head (what appendJSON wrote before the
// attributes, after dst) with the header line and file name that are not
// valid UTF-8 written escaped (escapedValue) in place of the notUTF8 byte
// appendJSONText put there, and returns them by field name ("header",
// "file"), for "escaped_fields". They come in that order, and no other
// byte of head is notUTF8 (JSON strings are UTF-8).
func appendHeadEscaped(dst, head []byte, rec *detail.Record) ([]byte, []string) {
	rest := slices.Clone(head[len(dst):])
	out := dst
	var fields []string
	for _, f := range [...]struct{ name, value string }{{"header", rec.Header}, {"file", rec.File}} {
		if f.value == "" || utf8.ValidString(f.value) {
			continue
		}
		i := bytes.IndexByte(rest, notUTF8)
		out = appendJSONString(append(out, rest[:i]...), escapedValue(f.value))
		rest = rest[i+1:]
		fields = append(fields, f.name)
	}
	return append(out, rest...), fields
}

// appendJSONAttrsEscaped is appendJSONEscaped's attributes, after
// "attributes":{, then "escaped" and, when fields (top-level fields
// written escaped) are not empty, "escaped_fields".
func (e *Encoder) appendJSONAttrsEscaped(dst []byte, attrs []detail.Attribute, fields []string) []byte {
	written := make([]bool, len(attrs))
	var escaped []int32
	for i := range attrs {
		if written[i] {
			continue
		}
		a := &attrs[i]
		n := 1
		for j := i + 1; j < len(attrs); j++ {
			if sameKey(&attrs[j], a) {
				n++
				written[j] = true
			}
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		var name *nameEntry
		if e.names != nil {
			name = e.names.lookup(e.opts.Dictionary, e.opts.NameCode, a.Name)
		}
		dst = append(appendJSONKey(dst, a), ':')
		var ok bool
		if dst, ok = e.appendJSONValues(dst, attrs, i, n, name, false); !ok {
			dst, _ = e.appendJSONValues(dst, attrs, i, n, name, true)
			escaped = append(escaped, int32(i))
		}
	}
	dst = append(dst, '}')
	if escaped != nil {
		dst = appendEscapedKeys(dst, attrs, escaped)
	}
	if fields != nil {
		dst = append(dst, `,"escaped_fields":[`...)
		for k, f := range fields {
			if k > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, f)
		}
		dst = append(dst, ']')
	}
	return append(dst, "}\n"...)
}

// appendJSONValues appends the value of attrs[i] (or, when n > 1, the
// array of the values of its key). Unless escape is set, it appends nothing
// and returns false when a string value is not valid UTF-8; with escape,
// numbers are as appendJSONValue writes them and every string is escaped
// (escapedValue), valid UTF-8 or not, so that a consumer unescapes every
// string of the key.
func (e *Encoder) appendJSONValues(dst []byte, attrs []detail.Attribute, i, n int, name *nameEntry, escape bool) ([]byte, bool) {
	mark := len(dst)
	notUTF8Seen := false
	value := func(dst []byte, a *detail.Attribute) []byte {
		if escape {
			if s, ok := e.stringValue(a, name); ok {
				return appendJSONString(dst, escapedValue(s))
			}
		}
		l := len(dst)
		dst = e.appendJSONValue(dst, a, name)
		notUTF8Seen = dst[l] == notUTF8
		return dst
	}
	a := &attrs[i]
	if n > 1 {
		dst = append(dst, '[')
	}
	for j := i; j < len(attrs) && !notUTF8Seen; j++ {
		if sameKey(&attrs[j], a) {
			if j > i {
				dst = append(dst, ',')
			}
			dst = value(dst, &attrs[j])
			if n == 1 {
				break
			}
		}
	}
	if notUTF8Seen {
		return dst[:mark], false
	}
	if n > 1 {
		dst = append(dst, ']')
	}
	return dst, true
}

// stringValue returns the string appendJSONValue writes for a, or false
// when it writes a number (or another JSON value) instead.
func (e *Encoder) stringValue(a *detail.Attribute, name *nameEntry) (string, bool) {
	if d := e.opts.Dictionary; d != nil {
		var kind dictionary.JSONKind
		var s string
		switch {
		case name == nil:
			kind, _, s = d.JSONTyped(a)
		case name.attr == nil:
			return a.Value, true
		default:
			kind, _, s = name.attr.JSONTyped(a)
		}
		return s, kind == dictionary.JSONString
	}
	if e.opts.Values != nil {
		switch v := e.opts.Values(*a).(type) {
		case nil:
		case string:
			return v, true
		default:
			if _, err := json.Marshal(v); err == nil {
				return "", false
			}
		}
	}
	return a.Value, true
}

// appendEscapedKeys appends the "escaped" field: the keys (Name, Name:tag)
// of the attributes at the indexes escaped, whose string values are not
// UTF-8 and are written escaped. A consumer unescapes those values (as it
// would a detail file's quoted value) to get the exact bytes; every other
// value is the text as is. It is an added field, so schema_version stays.
func appendEscapedKeys(dst []byte, attrs []detail.Attribute, escaped []int32) []byte {
	dst = append(dst, `,"escaped":[`...)
	for k, i := range escaped {
		if k > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONKey(dst, &attrs[i])
	}
	return append(dst, ']')
}

// escapedValue is s as a detail file writes it between its quotes:
// backslash, quote, \n, \r, \t, and \ooo (octal) for any other byte below
// 0x20, 0x7f and every byte that is not part of valid UTF-8. It is valid
// UTF-8, and unescaping it gives s back.
func escapedValue(s string) string {
	q := detail.AppendQuoted(nil, s)
	return string(q[1 : len(q)-1])
}

// sameKey reports whether a and b are shown under the same key (attrKey).
func sameKey(a, b *detail.Attribute) bool {
	return len(a.Name) == len(b.Name) && a.HasTag == b.HasTag && a.Tag == b.Tag && a.Name == b.Name
}

// appendJSONKey appends attrKey(a) as a JSON string, without making it.
func appendJSONKey(dst []byte, a *detail.Attribute) []byte {
	if !a.HasTag {
		return appendJSONString(dst, a.Name)
	}
	dst = appendJSONString(dst, a.Name)
	dst = append(dst[:len(dst)-1], ':') // the tag goes inside the quotes
	dst = strconv.AppendInt(dst, int64(a.Tag), 10)
	return append(dst, '"')
}

// appendJSONValue appends a's value; name, when not nil, is the entry of
// a's name in e.names. A string value that is not valid UTF-8 appends
// notUTF8 instead, and Append writes the record again with that key's
// values escaped (appendJSONEscaped).
func (e *Encoder) appendJSONValue(dst []byte, a *detail.Attribute, name *nameEntry) []byte {
	if d := e.opts.Dictionary; d != nil {
		var kind dictionary.JSONKind
		var n uint64
		var s string
		switch {
		case name == nil:
			kind, n, s = d.JSONTyped(a)
		case name.attr == nil: // not in the dictionary: a string
			s = a.Value
		default:
			kind, n, s = name.attr.JSONTyped(a)
		}
		switch kind {
		case dictionary.JSONUnsigned:
			if s != "" { // the digits FormatUint would write
				return append(dst, s...)
			}
			return strconv.AppendUint(dst, n, 10)
		case dictionary.JSONSigned:
			return strconv.AppendInt(dst, int64(n), 10)
		}
		if out, ok := appendValidJSONString(dst, s); ok {
			return out
		}
		return append(dst, notUTF8)
	}
	if e.opts.Values != nil {
		switch v := e.opts.Values(*a).(type) {
		case nil:
		case uint64: // the common typed values, without encoding/json's cost
			return strconv.AppendUint(dst, v, 10)
		case int64:
			return strconv.AppendInt(dst, v, 10)
		case string:
			if out, ok := appendValidJSONString(dst, v); ok {
				return out
			}
			return append(dst, notUTF8)
		default:
			if b, err := json.Marshal(v); err == nil {
				return append(dst, b...)
			}
		}
	}
	if out, ok := appendValidJSONString(dst, a.Value); ok {
		return out
	}
	return append(dst, notUTF8)
}

// appendJSONText appends s as a JSON string when it is valid UTF-8, and
// else notUTF8, for appendJSONChecked to write the record again with s
// escaped (appendJSONEscaped): the header line and file name, which the
// detail file and the file system take as bytes.
func appendJSONText(dst []byte, s string) []byte {
	if out, ok := appendValidJSONString(dst, s); ok {
		return out
	}
	return append(dst, notUTF8)
}

// appendJSONString appends s (valid UTF-8) as a JSON string.
func appendJSONString(dst []byte, s string) []byte {
	if out, ok := appendValidJSONString(dst, s); ok {
		return out
	}
	// Callers pass valid UTF-8; make sure.
	out, _ := appendValidJSONString(dst, strings.ToValidUTF8(s, "\uFFFD"))
	return out
}

// appendValidJSONString appends s as a JSON string and returns true, or
// returns dst unchanged and false when s is not valid UTF-8: one pass over
// s for both.
func appendValidJSONString(dst []byte, s string) ([]byte, bool) {
	const hex = "0123456789abcdef"
	mark := len(dst)
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// Eight bytes at a time while none needs a second look: most
		// values and names are plain ASCII.
		for i+8 <= len(s) && plainJSON8(s[i:i+8]) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				return dst[:mark], false
			}
			i += size
			continue
		}
		if c >= 0x20 && c != '"' && c != '\\' {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"'), true
}

// plainJSON8 reports whether none of the 8 bytes of s needs escaping in a
// JSON string or UTF-8 checking: no control character, quote, backslash or
// byte above 0x7f. (Each test below is exact as "some byte is": a borrow
// can only mark bytes above one that truly matches.)
func plainJSON8(s string) bool {
	_ = s[7]
	x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	control := (x - 0x20*ones) &^ x // a byte below 0x20
	q := x ^ ('"' * ones)           // a zero byte where a quote was
	b := x ^ ('\\' * ones)          // a zero byte where a backslash was
	quote, backslash := (q-ones)&^q, (b-ones)&^b
	return (x|control|quote|backslash)&highs == 0 // x: a byte above 0x7f
}

// appendCSV writes one row; fields are quoted when they hold a comma, a
// quote, a line end or leading/trailing space (RFC 4180), rows end in CR LF.
func (e *Encoder) appendCSV(dst []byte, rec *detail.Record) []byte {
	fields := make([]string, len(e.columns))
	filled := make([]bool, len(e.columns))
	var other []byte
	var lower [64]byte
	for i := range rec.Attrs {
		a := &rec.Attrs[i]
		col, ok := -1, false
		if a.HasTag {
			col, ok = e.attrCol[strings.ToLower(attrKey(a))]
		}
		if !ok {
			col, ok = e.column(a.Name, lower[:0])
		}
		if ok && !filled[col] {
			fields[col] = textValue(a, true)
			filled[col] = true
			continue
		}
		if e.other >= 0 {
			if len(other) > 0 {
				other = append(other, "; "...)
			}
			other = append(other, attrKey(a)...)
			other = append(other, " = "...)
			switch {
			case a.Quoted:
				other = detail.AppendQuoted(other, a.Value)
			case a.Enum:
				other = append(other, "::"...)
				other = append(other, a.Value...)
			default:
				other = append(other, a.Value...)
			}
		}
	}
	var t time.Time
	if rec.HasTimestamp {
		t = time.Unix(rec.Timestamp, 0).In(e.opts.Location)
	}
	for i, c := range e.special {
		switch c {
		case "date":
			if rec.HasTimestamp {
				fields[i] = t.Format("2006-01-02")
			}
		case "time":
			if rec.HasTimestamp {
				fields[i] = t.Format("15:04:05")
			}
		case "timestamp":
			if rec.HasTimestamp {
				fields[i] = strconv.FormatInt(rec.Timestamp, 10)
			}
		case "done":
			fields[i] = strconv.FormatBool(rec.Done)
		case "header":
			fields[i] = rec.Header
		case "file":
			fields[i] = rec.File
		case "line":
			fields[i] = strconv.Itoa(rec.Line)
		case "offset":
			fields[i] = strconv.FormatInt(rec.Offset, 10)
		case "other-attributes":
			fields[i] = string(other)
		}
	}
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendCSVField(dst, f)
	}
	return append(dst, "\r\n"...)
}

// column returns the column of attribute name, compared case-insensitively,
// without allocating for names of up to 64 bytes.
func (e *Encoder) column(name string, scratch []byte) (int, bool) {
	if len(name) > cap(scratch) {
		col, ok := e.attrCol[strings.ToLower(name)]
		return col, ok
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		scratch = append(scratch, c)
	}
	col, ok := e.attrCol[string(scratch)]
	return col, ok
}

func appendCSVField(dst []byte, f string) []byte {
	if f == "" || !strings.ContainsAny(f, ",\"\r\n") && f[0] != ' ' && f[len(f)-1] != ' ' {
		return append(dst, f...)
	}
	dst = append(dst, '"')
	dst = append(dst, strings.ReplaceAll(f, `"`, `""`)...)
	return append(dst, '"')
}
