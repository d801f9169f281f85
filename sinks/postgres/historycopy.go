package postgres

import (
	"context"
	"encoding/binary"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/radrelay/radrelay/detail"
)

// The history's rows are encoded here, in PostgreSQL's binary COPY format,
// straight into the bytes sent to the server, instead of through pgx's
// CopyFrom: that boxes every value in an interface, looks up an encode plan
// per value and builds each row's attribute JSON as a string first, which
// was a third of radrelay's CPU time in a replay into PostgreSQL. It is
// used when the history table has exactly the column types radrelay
// creates (historyColumnTypes); a table whose columns someone changed is
// written through pgx's CopyFrom, which adapts to the types it finds.

// historyColumnTypes are the types (format_type) of historyColumns in the
// table radrelay creates; attributes is json or jsonb
// (history_attributes_type; see docs/postgres.md).
var historyColumnTypes = map[string]string{
	"event_time": "timestamp with time zone", "fingerprint": "bytea",
	"received_time": "timestamp with time zone", "status_type": "text",
	"acctuniqueid": "text", "acctsessionid": "text", "username": "text", "realm": "text",
	"nasipaddress": "inet", "nasidentifier": "text", "nasportid": "text",
	"framedipaddress": "inet", "acctsessiontime": "bigint", "acctinputoctets": "bigint",
	"acctoutputoctets": "bigint", "acctterminatecause": "text", "attributes": "jsonb",
	"source_file": "text", "source_line": "integer",
}

// historyFormat is how the sink encodes rows for a history table.
type historyFormat int

const (
	// historyGeneric: through pgx's CopyFrom (column types not radrelay's).
	historyGeneric historyFormat = iota
	// historyBinaryJSONB, historyBinaryJSON: binary COPY, attributes
	// jsonb or json.
	historyBinaryJSONB
	historyBinaryJSON
)

// attributesType is the type of the attributes column a format writes,
// "" when the column types are not radrelay's.
func (f historyFormat) attributesType() string {
	switch f {
	case historyBinaryJSONB:
		return "jsonb"
	case historyBinaryJSON:
		return "json"
	}
	return ""
}

// historyFormatOf reads the column types of history table t and says how
// to encode its rows.
func historyFormatOf(ctx context.Context, conn *pgx.Conn, t tableName) (historyFormat, error) {
	rows, err := conn.Query(ctx, `SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
		WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`, t.quoted())
	if err != nil {
		return historyGeneric, err
	}
	types := map[string]string{}
	var name, typ string
	if _, err := pgx.ForEachRow(rows, []any{&name, &typ}, func() error {
		types[name] = typ
		return nil
	}); err != nil {
		return historyGeneric, err
	}
	format := historyBinaryJSONB
	for c, want := range historyColumnTypes {
		got := types[c]
		switch {
		case c == "attributes" && got == "json":
			format = historyBinaryJSON
		case got != want:
			return historyGeneric, nil
		}
	}
	return format, nil
}

// copyHistory copies the rows of accts[i] with isNew[i] into the history
// in binary COPY format; rows are encoded as the connection sends them.
func (w *historyWriter) copyHistory(ctx context.Context, tx pgx.Tx, accts []*acct, isNew []bool) error {
	src := &historyRows{accts: accts, isNew: isNew, jsonb: historyFormat(w.format.Load()) == historyBinaryJSONB}
	_, err := tx.Conn().PgConn().CopyFrom(ctx, src, copyStatement(w.table))
	return err
}

// copyStatement is the COPY statement of the binary path.
func copyStatement(t tableName) string {
	cols := make([]string, len(historyColumns))
	for i, c := range historyColumns {
		cols[i] = pgx.Identifier{c}.Sanitize()
	}
	return "COPY " + t.quoted() + " (" + strings.Join(cols, ", ") + ") FROM STDIN (FORMAT binary)"
}

// historyRows is an io.Reader of binary COPY data: the header, a tuple per
// new record, the trailer, encoded as they are read.
type historyRows struct {
	accts   []*acct
	isNew   []bool
	jsonb   bool
	next    int
	started bool
	done    bool
	buf     []byte
	off     int
}

// copyHeader is the binary COPY signature, flags and header extension length.
var copyHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// Read encodes rows straight into p, which the connection sends as it is
// (encoding them into a buffer of their own and copying that into p moved
// every byte of the history twice). A row that does not fit in what is
// left of p is encoded into h.buf, and its rest handed out by the next Read.
func (h *historyRows) Read(p []byte) (int, error) {
	n := copy(p, h.buf[h.off:])
	h.off += n
	if h.off < len(h.buf) {
		return n, nil
	}
	h.buf, h.off = h.buf[:0], 0
	for n < len(p) && !h.done {
		var b []byte
		if len(p)-n >= historyRowRoom {
			b = p[n:n:len(p)] // encoded in place while it fits
		} else {
			b = h.buf[:0]
		}
		if !h.started {
			h.started = true
			b = append(b, copyHeader...)
		} else {
			for h.next < len(h.accts) && !h.isNew[h.next] {
				h.next++
			}
			if h.next >= len(h.accts) {
				b = append(b, 0xff, 0xff) // trailer: a tuple of -1 fields
				h.done = true
			} else {
				b = appendHistoryTuple(b, h.accts[h.next], h.jsonb)
				h.next++
			}
		}
		if len(p)-n >= historyRowRoom && cap(b) == len(p)-n {
			n += len(b) // it fit: it is in p already
			continue
		}
		// Encoded into h.buf, or it outgrew p (and append copied it to a
		// new array): hand out what fits, keep the rest.
		k := copy(p[n:], b)
		n += k
		h.buf = append(h.buf[:0], b[k:]...)
		h.off = 0
		break
	}
	if n == 0 && h.done {
		return 0, io.EOF
	}
	return n, nil
}

// historyRowRoom is the room left in Read's p below which a row is encoded
// into the reader's own buffer (rows are 0.5-2 KB; one that needs more
// than the room grows a copy, once).
const historyRowRoom = 4096

// pgEpoch is 2000-01-01 00:00:00 UTC in Unix seconds, PostgreSQL's epoch
// for timestamps.
const pgEpoch = 946684800

// appendHistoryTuple appends a's history row (historyColumns in order) as a
// binary COPY tuple; the values are those insert's generic path gives pgx.
func appendHistoryTuple(b []byte, a *acct, jsonb bool) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(historyColumns)))
	b = appendTimestamp(b, a.event)
	b = appendField(b, a.fingerprint[:])
	if a.received != 0 {
		b = appendTimestamp(b, a.received)
	} else {
		b = appendNull(b)
	}
	status := a.status.String()
	if a.status == statusOther {
		status = text(a.statusV)
	}
	b = appendNullIf(b, status)
	b = appendText(b, a.uniqueID)
	b = appendNullIf(b, a.sessionID)
	b = appendNullIf(b, a.userName)
	b = appendNullIf(b, a.realm)
	b = appendInet(b, &a.nas)
	b = appendNullIf(b, a.nasIdentifier)
	b = appendNullIf(b, a.nasPortID)
	b = appendInet(b, a.framedIP)
	if a.sessionTime != nil {
		b = appendInt8(b, *a.sessionTime)
	} else {
		b = appendNull(b)
	}
	b = appendInt8(b, a.inputOctets)
	b = appendInt8(b, a.outputOctets)
	b = appendNullIf(b, a.terminateCause)
	// attributes: the length is known once the JSON is written.
	at := len(b)
	b = append(b, 0, 0, 0, 0)
	if jsonb {
		b = append(b, 1) // jsonb's binary format: version 1, then the text
	}
	b = appendAttributesJSON(b, a.rec.Attrs)
	binary.BigEndian.PutUint32(b[at:], uint32(len(b)-at-4))
	if a.rec.File != "" {
		b = appendText(b, text(a.rec.File))
	} else {
		b = appendNull(b)
	}
	if a.rec.Line > 0 {
		b = binary.BigEndian.AppendUint32(b, 4)
		b = binary.BigEndian.AppendUint32(b, uint32(int32(a.rec.Line)))
	} else {
		b = appendNull(b)
	}
	return b
}

func appendNull(b []byte) []byte { return append(b, 0xff, 0xff, 0xff, 0xff) }

func appendField(b, v []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

func appendText(b []byte, v string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

// appendNullIf is NULLIF(v, ”).
func appendNullIf(b []byte, v string) []byte {
	if v == "" {
		return appendNull(b)
	}
	return appendText(b, v)
}

func appendInt8(b []byte, v int64) []byte {
	b = binary.BigEndian.AppendUint32(b, 8)
	return binary.BigEndian.AppendUint64(b, uint64(v))
}

// appendTimestamp appends Unix seconds as a timestamptz (microseconds since
// 2000-01-01 UTC).
func appendTimestamp(b []byte, unix int64) []byte {
	return appendInt8(b, (unix-pgEpoch)*1000000)
}

// appendInet appends a validated address or prefix text as inet, as pgx
// encodes the netip.Prefix inet gives it; nil is NULL.
func appendInet(b []byte, s *string) []byte {
	if s == nil {
		return appendNull(b)
	}
	var p netip.Prefix
	if q, err := netip.ParsePrefix(*s); err == nil {
		p = q
	} else if a, err := netip.ParseAddr(*s); err == nil {
		p = netip.PrefixFrom(a, a.BitLen())
	} else {
		// Cannot happen: parseRecord validated it. As text it would be
		// refused by the server and bisected to its record.
		return appendText(b, *s)
	}
	if p.Addr().Is4() {
		a := p.Addr().As4()
		b = binary.BigEndian.AppendUint32(b, 8)
		b = append(b, 2, byte(p.Bits()), 0, 4) // PGSQL_AF_INET, bits, is_cidr, length
		return append(b, a[:]...)
	}
	a := p.Addr().As16()
	b = binary.BigEndian.AppendUint32(b, 20)
	b = append(b, 3, byte(p.Bits()), 0, 16) // PGSQL_AF_INET6
	return append(b, a[:]...)
}

// attributesJSON is the record's attributes as a JSON object: name (with
// ":tag" for a tagged attribute) to value, an array of values for an
// attribute that occurs more than once. Values are the text of the detail
// file (quoted strings unescaped), made storable as in text.
func attributesJSON(a *acct) string {
	return string(appendAttributesJSON(nil, a.rec.Attrs))
}

// appendAttributesJSON appends attributesJSON's object for attrs to b.
//
// A record of up to 32 attributes without tags (nearly all) is grouped in
// one pass: a small open-addressing table of the names' hashes maps each
// attribute to the first one of its name (names that hash alike are
// compared in full). The general way below, for the others, zeroed 1.8 KB
// of stack per record and compared every pair of hashes when a name
// repeats (Cisco-AVPair, Class).
func appendAttributesJSON(b []byte, attrs []detail.Attribute) []byte {
	n := len(attrs)
	if n > 32 {
		return appendAttributesJSONGeneral(b, attrs)
	}
	for i := range attrs {
		if attrs[i].HasTag {
			return appendAttributesJSONGeneral(b, attrs)
		}
	}
	var (
		hashes [32]uint32
		first  [32]uint8 // index of the first attribute of the same name
		count  [32]uint8 // at a first index: attributes of that name
		slots  [64]uint8 // 1 + index of the attribute owning the slot; 0 empty
	)
	repeated := false
	for i := 0; i < n; i++ {
		name := attrs[i].Name
		h := keyHash(name)
		hashes[i] = h
		for j := h & 63; ; j = (j + 1) & 63 {
			o := slots[j]
			if o == 0 {
				slots[j] = uint8(i + 1)
				first[i], count[i] = uint8(i), 1
				break
			}
			if k := o - 1; hashes[k] == h && attrs[k].Name == name {
				first[i] = k
				count[k]++
				repeated = true
				break
			}
		}
	}
	b = append(b, '{')
	if !repeated {
		for i := range attrs {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONText(b, attrs[i].Name)
			b = append(b, ':')
			b = appendJSONText(b, attrs[i].Value)
		}
		return append(b, '}')
	}
	comma := false
	for i := 0; i < n; i++ {
		if int(first[i]) != i {
			continue
		}
		if comma {
			b = append(b, ',')
		}
		comma = true
		b = appendJSONText(b, attrs[i].Name)
		b = append(b, ':')
		if count[i] == 1 {
			b = appendJSONText(b, attrs[i].Value)
			continue
		}
		b = append(b, '[')
		for j := i; j < n; j++ {
			if int(first[j]) == i {
				if j > i {
					b = append(b, ',')
				}
				b = appendJSONText(b, attrs[j].Value)
			}
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendAttributesJSONGeneral is appendAttributesJSON for any attributes
// (tagged ones are keyed "Name:tag").
func appendAttributesJSONGeneral(b []byte, attrs []detail.Attribute) []byte {
	// Keys are compared by a hash first: records have a few dozen
	// attributes, almost never repeated, and comparing every pair of
	// names was a tenth of the sink's CPU time.
	var keyStack [64]string
	var hashStack [64]uint32
	keys, hashes := keyStack[:0], hashStack[:0]
	if len(attrs) > len(keyStack) {
		keys, hashes = make([]string, 0, len(attrs)), make([]uint32, 0, len(attrs))
	}
	for _, at := range attrs {
		k := at.Name
		if at.HasTag {
			k += ":" + strconv.Itoa(int(at.Tag))
		}
		keys = append(keys, k)
		hashes = append(hashes, keyHash(k))
	}
	b = append(b, '{')
	if len(keys) <= len(keyStack) && !repeatedHash(hashes) {
		// No two keys alike: each attribute is one member.
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONText(b, k)
			b = append(b, ':')
			b = appendJSONText(b, attrs[i].Value)
		}
		return append(b, '}')
	}
	same := func(i, j int) bool { return hashes[i] == hashes[j] && keys[i] == keys[j] }
	first := true
	for i, k := range keys {
		before, after := false, false
		for j := range keys {
			if j != i && same(i, j) {
				if j < i {
					before = true
					break
				}
				after = true
			}
		}
		if before {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONText(b, k)
		b = append(b, ':')
		if !after {
			b = appendJSONText(b, attrs[i].Value)
			continue
		}
		b = append(b, '[')
		n := 0
		for j := i; j < len(keys); j++ {
			if !same(i, j) {
				continue
			}
			if n > 0 {
				b = append(b, ',')
			}
			n++
			b = appendJSONText(b, attrs[j].Value)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// repeatedHash reports whether two of hashes (at most 64) are equal, with
// a small open-addressing set.
func repeatedHash(hashes []uint32) bool {
	var set [128]uint32 // hash|1; 0 is an empty slot
	for _, h := range hashes {
		v := h | 1
		for i := h & 127; ; i = (i + 1) & 127 {
			if set[i] == 0 {
				set[i] = v
				break
			}
			if set[i] == v {
				return true
			}
		}
	}
	return false
}

// keyHash is a hash of attribute name s for repeatedHash: FNV-1a of a
// short name; of a longer one, its length and its first and last eight
// bytes (names of a record that hash alike are compared in full, so a
// collision costs time, never a wrong object). Hashing every byte of every
// name was a sixth of the attributes' JSON.
func keyHash(s string) uint32 {
	if len(s) < 8 {
		h := uint32(2166136261)
		for i := 0; i < len(s); i++ {
			h ^= uint32(s[i])
			h *= 16777619
		}
		return h
	}
	h := load64(s)*0x9e3779b97f4a7c15 ^ load64(s[len(s)-8:])*0xc2b2ae3d27d4eb4f ^ uint64(len(s))
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	return uint32(h ^ h>>32)
}

// load64 is the first eight bytes of s, little-endian (one load).
func load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// jsonPlain are the bytes appendJSONText copies as they are: printable
// ASCII but '"' and '\\'.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendJSONText appends text(s) as a JSON string.
func appendJSONText(b []byte, s string) []byte {
	mark := len(b)
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		if jsonPlain[s[i]] {
			continue
		}
		c := s[i]
		if c == 0 || c >= 0x80 {
			// Not plain ASCII: made storable first (text) — rare.
			return appendJSONString(b[:mark], text(s))
		}
		b = appendJSONEscape(append(b, s[start:i]...), c)
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendJSONString appends s (valid UTF-8 without NUL, see text) as a JSON
// string.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c != 0x7f {
			continue
		}
		b = appendJSONEscape(append(b, s[start:i]...), c)
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendJSONEscape appends the JSON escape of ASCII byte c.
func appendJSONEscape(b []byte, c byte) []byte {
	const hexDigits = "0123456789abcdef"
	switch c {
	case '"', '\\':
		return append(b, '\\', c)
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	}
	return append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}
