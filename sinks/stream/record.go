package stream

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/dictionary"
	"github.com/radrelay/radrelay/sinks"
	"github.com/radrelay/radrelay/sinks/file"
)

// SchemaVersion is the value of "schema_version" in every message. It
// changes only when a change would break a reader (a field renamed or
// retyped); fields may be added within a version.
const SchemaVersion = 1

// DefaultKey is the key template when none is configured.
const DefaultKey = "Acct-Unique-Session-Id"

// DefaultMaxMessageBytes is the largest message (key, value and headers)
// sent when none is configured: 1 MiB, the default limit of both a NATS
// server (max_payload) and a Kafka broker (message.max.bytes).
const DefaultMaxMessageBytes = 1 << 20

// The headers of every message.
const (
	HeaderSchema     = "Radrelay-Schema-Version" // "1"
	HeaderStatusType = "Radrelay-Status-Type"    // Acct-Status-Type: "Start", "Stop", ...; absent when the record has none
	HeaderSource     = "Radrelay-Source"         // "FILE:OFFSET" of the record's header line
	HeaderKey        = "Radrelay-Key"            // the key (NATS has no message key of its own)
	HeaderID         = "Radrelay-Id"             // the record's identity (ID), to de-duplicate on
	// HeaderEscaped names (comma-separated) the headers above whose value
	// is escaped (escapeHeaders); absent when none is.
	HeaderEscaped = "Radrelay-Escaped"
)

// ErrTooLarge is the cause of a record whose message exceeds the limit.
var ErrTooLarge = errors.New("message too large")

// Options configures an Encoder.
type Options struct {
	// Key is the message key: an attribute name ("Acct-Unique-Session-Id",
	// the default) or a template of %{Attribute} fields and text
	// ("%{NAS-IP-Address}/%{Acct-Session-Id}").
	Key string
	// MaxBytes is the largest message; 0 means DefaultMaxMessageBytes.
	MaxBytes int
	// Dictionary types attribute values (as its JSONValue does); nil
	// writes every value as a string.
	Dictionary *dictionary.Dictionary
}

// A Header is one message header.
type Header struct{ Name, Value string }

// A Message is what one record becomes.
type Message struct {
	Key     string
	Value   []byte
	Headers []Header
	// ID identifies the record's content (32 hex digits): the same record
	// sent again has the same ID.
	ID string
}

// Size is the message's size as the limit counts it: key, value, and each
// header's name and value.
func (m *Message) Size() int {
	n := len(m.Key) + len(m.Value)
	for _, h := range m.Headers {
		n += len(h.Name) + len(h.Value)
	}
	return n
}

// An Encoder turns records into messages. It is safe for concurrent use.
type Encoder struct {
	json     *file.Encoder
	key      []keyPart
	maxBytes int
}

// keyPart is a piece of the key template: literal text, or an attribute.
type keyPart struct {
	text string
	attr bool
}

// ParseKey parses a key template; see Options.Key.
func ParseKey(s string) ([]keyPart, error) {
	if strings.TrimSpace(s) == "" {
		s = DefaultKey
	}
	if !strings.Contains(s, "%{") {
		if strings.ContainsAny(s, "{}% \t") {
			return nil, fmt.Errorf("%q: want an attribute name or a template such as %%{NAS-IP-Address}/%%{Acct-Session-Id}", s)
		}
		return []keyPart{{text: s, attr: true}}, nil
	}
	var parts []keyPart
	rest := s
	for rest != "" {
		i := strings.Index(rest, "%{")
		if i < 0 {
			parts = append(parts, keyPart{text: rest})
			break
		}
		if i > 0 {
			parts = append(parts, keyPart{text: rest[:i]})
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("%q: %%{ without a closing }", s)
		}
		name := strings.TrimSpace(rest[i+2 : i+j])
		if name == "" {
			return nil, fmt.Errorf("%q: empty %%{}", s)
		}
		parts = append(parts, keyPart{text: name, attr: true})
		rest = rest[i+j+1:]
	}
	return parts, nil
}

// NewEncoder returns an Encoder, or an error naming what is wrong with
// opts.Key.
func NewEncoder(opts Options) (*Encoder, error) {
	key, err := ParseKey(opts.Key)
	if err != nil {
		return nil, err
	}
	if opts.MaxBytes < 0 {
		return nil, fmt.Errorf("max message bytes %d is negative", opts.MaxBytes)
	}
	enc, err := file.NewEncoder(file.FormatJSONL, file.EncoderOptions{Dictionary: opts.Dictionary, SchemaVersion: SchemaVersion, NameCode: nameCode})
	if err != nil {
		return nil, err
	}
	e := &Encoder{json: enc, key: key, maxBytes: opts.MaxBytes}
	if e.maxBytes == 0 {
		e.maxBytes = DefaultMaxMessageBytes
	}
	return e, nil
}

// Dictionary returns the dictionary that types attribute values in the
// sinks' messages: the built-in one extended by the file env names, as the
// jsonl sink's.
func Dictionary(env sinks.Env) (*dictionary.Dictionary, error) {
	d := dictionary.Builtin()
	if env.Dictionary != "" {
		if err := d.LoadFile(env.Dictionary); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// Key returns the key of rec. A record without the attributes of the key
// (no Acct-Unique-Session-Id, say) gets Acct-Session-Id qualified by its
// NAS, "NAS/Acct-Session-Id", so that its session still keeps one key.
func (e *Encoder) Key(rec *detail.Record) string {
	b, direct, ok := e.appendKey(nil, rec)
	if ok {
		return direct
	}
	return string(b)
}

// appendKey returns the key of rec as direct, ok when it is an attribute's
// value as it is (no copy needed), and else appends it to b.
func (e *Encoder) appendKey(b []byte, rec *detail.Record) (_ []byte, direct string, ok bool) {
	if len(e.key) == 1 && e.key[0].attr { // an attribute: its value, not a copy
		if a, ok := rec.Get(e.key[0].text); ok && a.Value != "" {
			return b, a.Value, true
		}
		return appendFallbackKey(b, rec), "", false
	}
	start := len(b)
	found := false
	for _, p := range e.key {
		if !p.attr {
			b = append(b, p.text...)
			continue
		}
		if a, ok := rec.Get(p.text); ok {
			b = append(b, a.Value...)
			found = found || a.Value != ""
		}
	}
	if found {
		return b, "", false
	}
	return appendFallbackKey(b[:start], rec), "", false
}

// appendFallbackKey appends the key of a record without the attributes of
// the key.
func appendFallbackKey(b []byte, rec *detail.Record) []byte {
	for _, n := range [...]string{"NAS-IP-Address", "NAS-IPv6-Address", "NAS-Identifier"} {
		if a, ok := rec.Get(n); ok && a.Value != "" {
			b = append(b, a.Value...)
			break
		}
	}
	sid, _ := rec.Get("Acct-Session-Id")
	return append(append(b, '/'), sid.Value...)
}

// Encode fills m with the message of rec, reusing m's buffers. Its error is
// permanent (sinks.Permanent wrapping ErrTooLarge) when the message
// exceeds the limit: the same record can never be sent.
func (e *Encoder) Encode(rec *detail.Record, m *Message) error {
	var small [64]uint8 // the ID's name codes, from the JSON encoder's cache
	codes := small[:0]
	if len(rec.Attrs) <= len(small) {
		codes = small[:len(rec.Attrs)]
	} else {
		codes = make([]uint8, len(rec.Attrs))
	}
	m.Value = e.json.AppendNameCodes(m.Value[:0], rec, codes)
	if n := len(m.Value); n > 0 && m.Value[n-1] == '\n' {
		m.Value = m.Value[:n-1]
	}
	// The ID, "FILE:OFFSET" and a key that is not an attribute's value as
	// it is are made in one allocation, not three.
	var scratch [256]byte
	sum := idSum(rec, codes)
	b := hex.AppendEncode(scratch[:0], sum[:16])
	srcEnd := len(b)
	if rec.File != "" {
		b = append(append(b, rec.File...), ':')
		b = strconv.AppendInt(b, rec.Offset, 10)
		srcEnd = len(b)
	}
	b, key, direct := e.appendKey(b, rec)
	all := string(b)
	m.ID = all[:32]
	m.Key = key
	if !direct {
		m.Key = all[srcEnd:]
	}
	m.Headers = append(m.Headers[:0], Header{HeaderSchema, strconv.Itoa(SchemaVersion)})
	if st, ok := rec.Get("Acct-Status-Type"); ok {
		m.Headers = append(m.Headers, Header{HeaderStatusType, strings.TrimPrefix(st.Value, "::")})
	}
	if rec.File != "" {
		m.Headers = append(m.Headers, Header{HeaderSource, all[32:srcEnd]})
	}
	m.Headers = append(m.Headers, Header{HeaderKey, m.Key}, Header{HeaderID, m.ID})
	escapeHeaders(m)
	if n := m.Size(); n > e.maxBytes {
		return sinks.Permanent(fmt.Errorf("%w: %d bytes, the limit is %d (max_message_bytes)", ErrTooLarge, n, e.maxBytes))
	}
	return nil
}

// MaxBytes is the encoder's message size limit.
func (e *Encoder) MaxBytes() int { return e.maxBytes }

// escapeHeaders escapes the header values that are not plain text (valid
// UTF-8 without control characters) as the detail file writes a value
// between its quotes (\\, \", \n, \r, \t, \ooo for any other byte below
// 0x20, 0x7f and every byte that is not part of valid UTF-8), and names
// them in a Radrelay-Escaped header, as the value's "escaped" names its
// escaped attributes. A key or a file name is bytes: a Kafka consumer
// decoding a header as UTF-8 got U+FFFD for them, and a NATS header line
// cannot hold CR or LF (the client turns them into spaces). The message
// key itself (Kafka's) stays the bytes as they are, and so does the ID.
func escapeHeaders(m *Message) {
	var escaped []byte
	for i := range m.Headers {
		h := &m.Headers[i]
		if plainText(h.Value) {
			continue
		}
		q := detail.AppendQuoted(nil, h.Value)
		h.Value = string(q[1 : len(q)-1])
		if escaped != nil {
			escaped = append(escaped, ',')
		}
		escaped = append(escaped, h.Name...)
	}
	if escaped != nil {
		m.Headers = append(m.Headers, Header{HeaderEscaped, string(escaped)})
	}
}

// plainText reports whether s is valid UTF-8 without control characters
// (below 0x20, 0x7f).
func plainText(s string) bool {
	high := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f {
			return false
		}
		high = high || c >= 0x80
	}
	return !high || utf8.ValidString(s)
}
