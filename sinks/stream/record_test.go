package stream

import (
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/dictionary"
	"github.com/radrelay/radrelay/sinks"
	"github.com/radrelay/radrelay/sinks/file"
	"github.com/radrelay/radrelay/sinks/sinktest"
)

// TestValueIsTheJSONLDocument: the value is what the jsonl sink writes for
// the record, with schema_version first and no line end.
func TestValueIsTheJSONLDocument(t *testing.T) {
	d := dictionary.Builtin()
	enc, err := NewEncoder(Options{Dictionary: d})
	if err != nil {
		t.Fatal(err)
	}
	jsonl, _ := file.NewEncoder(file.FormatJSONL, file.EncoderOptions{Values: d.JSONValue})
	for _, rec := range append(sinktest.Records(9), sinktest.HostileRecords()...) {
		var m Message
		if err := enc.Encode(rec, &m); err != nil {
			t.Fatal(err)
		}
		line := string(jsonl.Append(nil, rec))
		want := `{"schema_version":1,` + strings.TrimSuffix(line[1:], "\n")
		if string(m.Value) != want {
			t.Fatalf("value\n%s\nwant\n%s", m.Value, want)
		}
	}
}

// TestValueMatchesSchema checks every value against
// docs/stream-record.schema.json with the schema checker (schema_test.go),
// which checks every keyword the schema uses, and beyond the schema: no
// field the schema does not describe (a field added to the encoder must be
// added to the schema), and "time" is the Timestamp. The records include
// hostile values, values, a header line and a file name that are not UTF-8
// (escaped, escaped_fields), a record marked done, one without a
// Timestamp, and Timestamps RFC 3339 cannot write.
func TestValueMatchesSchema(t *testing.T) {
	c := loadSchema(t, schemaPath)
	properties, _ := c.root["properties"].(map[string]any)
	enc, _ := NewEncoder(Options{Dictionary: dictionary.Builtin()})
	recs := append(sinktest.Records(9), sinktest.HostileRecords()...)
	done := *recs[0]
	done.Done = true
	notUTF8 := *recs[1]
	notUTF8.Header, notUTF8.File = "Mon Nov 23 \xff 2026", "/var/log/caf\xe9/detail"
	notUTF8.Attrs = append(notUTF8.Attrs[:len(notUTF8.Attrs):len(notUTF8.Attrs)],
		detail.Attribute{Name: "Reply-Message", Value: "bad \xfe", Quoted: true},
		detail.Attribute{Name: "Reply-Message", Value: "also \xfd", Quoted: true})
	recs = append(recs, &done, &notUTF8, &detail.Record{Header: "Mon Nov 23 11:57:39 2026"})
	// Timestamps RFC 3339 cannot write (a corrupt Timestamp line): a
	// "time" of year 10000 failed the schema's date-time format.
	for _, ts := range []int64{253402300799, 253402300800, 1 << 40, -62135596800, -62135596801, -62167219200, -1 << 40} {
		r := *recs[0]
		r.Timestamp = ts
		recs = append(recs, &r)
	}
	fields := map[string]int{}
	for _, rec := range recs {
		var m Message
		if err := enc.Encode(rec, &m); err != nil {
			t.Fatal(err)
		}
		bad, err := c.validate(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		if len(bad) > 0 {
			t.Errorf("%q\n%s", bad, m.Value)
		}
		var doc map[string]any
		if err := json.Unmarshal(m.Value, &doc); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, m.Value)
		}
		for k, v := range doc {
			fields[k]++
			if _, ok := properties[k]; !ok {
				t.Errorf("field %q is not in the schema", k)
			}
			if k == "time" {
				if tm, err := time.Parse(time.RFC3339, v.(string)); err != nil || tm.Unix() != rec.Timestamp {
					t.Errorf("time = %v: %v, the Timestamp is %d", v, err, rec.Timestamp)
				}
			}
		}
	}
	for k := range properties {
		if fields[k] == 0 {
			t.Errorf("no record has the schema's field %q: nothing checked it", k)
		}
	}
}

// rfc3339 is RFC 3339's date-time (section 5.6): a four-digit year.
var rfc3339 = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$`)

// TestTimestampKeptWithoutTime: a Timestamp RFC 3339 cannot write is kept,
// exactly, in "timestamp", and "time" is left out.
func TestTimestampKeptWithoutTime(t *testing.T) {
	enc, _ := NewEncoder(Options{Dictionary: dictionary.Builtin()})
	for _, tc := range []struct {
		ts       int64
		wantTime string
	}{
		{253402300799, "9999-12-31T23:59:59Z"},
		{253402300800, ""},
		{-62135596800, "0001-01-01T00:00:00Z"},
		// Year 0000: RFC 3339's four digits, but Python's datetime (and
		// the jsonschema format checker on it) has no year 0.
		{-62135596801, ""},
		{-62167219200, ""},
		{-62167219201, ""},
	} {
		rec := *sinktest.Records(1)[0]
		rec.Timestamp = tc.ts
		var m Message
		if err := enc.Encode(&rec, &m); err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Time      *string `json:"time"`
			Timestamp *int64  `json:"timestamp"`
		}
		if err := json.Unmarshal(m.Value, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Timestamp == nil || *doc.Timestamp != tc.ts {
			t.Errorf("Timestamp %d: \"timestamp\" is %v", tc.ts, doc.Timestamp)
		}
		switch {
		case tc.wantTime == "" && doc.Time != nil:
			t.Errorf("Timestamp %d: \"time\" is %q, want none", tc.ts, *doc.Time)
		case tc.wantTime != "" && (doc.Time == nil || *doc.Time != tc.wantTime):
			t.Errorf("Timestamp %d: \"time\" is %v, want %q", tc.ts, doc.Time, tc.wantTime)
		}
	}
}

func TestKey(t *testing.T) {
	rec := sinktest.Records(1)[0]
	uniq, _ := rec.Get("Acct-Unique-Session-Id")
	nas, _ := rec.Get("NAS-IP-Address")
	sid, _ := rec.Get("Acct-Session-Id")
	noUniq := &detail.Record{Attrs: []detail.Attribute{nas, sid}}
	for _, tc := range []struct {
		key  string
		rec  *detail.Record
		want string
	}{
		{"", rec, uniq.Value},
		{"acct-unique-session-id", rec, uniq.Value},
		{"User-Name", rec, "user0@example.net"},
		{"%{NAS-IP-Address}/%{Acct-Session-Id}", rec, nas.Value + "/" + sid.Value},
		{"", noUniq, nas.Value + "/" + sid.Value}, // the fallback
	} {
		enc, err := NewEncoder(Options{Key: tc.key})
		if err != nil {
			t.Fatal(err)
		}
		if got := enc.Key(tc.rec); got != tc.want {
			t.Errorf("key %q: %q, want %q", tc.key, got, tc.want)
		}
	}
	for _, bad := range []string{"%{User-Name", "%{}", "User Name", "a{b}"} {
		if _, err := NewEncoder(Options{Key: bad}); err == nil {
			t.Errorf("key %q accepted", bad)
		}
	}
}

func TestHeaders(t *testing.T) {
	enc, _ := NewEncoder(Options{})
	rec := sinktest.Records(3)[2]
	var m Message
	if err := enc.Encode(rec, &m); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, h := range m.Headers {
		got[h.Name] = h.Value
	}
	want := map[string]string{HeaderSchema: "1", HeaderStatusType: "Stop", HeaderSource: "sinktest:" + itoa(rec.Offset), HeaderKey: m.Key, HeaderID: ID(rec)}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("header %s = %q, want %q", k, got[k], v)
		}
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestID: the identity depends on the record's content only: not on where
// it was read from, nor on its Donestamp.
func TestID(t *testing.T) {
	recs := sinktest.Records(4)
	moved := *recs[0]
	moved.File, moved.Offset, moved.Line, moved.Done = "elsewhere", 99, 7, true
	if ID(recs[0]) != ID(&moved) {
		t.Error("the same record read elsewhere has another ID")
	}
	seen := map[string]bool{}
	for _, r := range recs {
		id := ID(r)
		if len(id) != 32 || seen[id] {
			t.Errorf("ID %q: want 32 hex digits, distinct per record", id)
		}
		seen[id] = true
	}
	changed := *recs[0]
	changed.Attrs = append([]detail.Attribute(nil), recs[0].Attrs...)
	changed.Attrs[0].Value += "x"
	if ID(&changed) == ID(recs[0]) {
		t.Error("a changed record keeps its ID")
	}
}

func TestTooLargeIsPermanent(t *testing.T) {
	enc, _ := NewEncoder(Options{MaxBytes: 512})
	var m Message
	err := enc.Encode(sinktest.Records(1)[0], &m)
	if !sinks.IsPermanent(err) || !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a record over 512 bytes: %v, want a permanent ErrTooLarge", err)
	}
}

func BenchmarkEncode(b *testing.B) {
	enc, _ := NewEncoder(Options{Dictionary: dictionary.Builtin()})
	recs := sinktest.Records(100)
	var m Message
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := enc.Encode(recs[i%len(recs)], &m); err != nil {
			b.Fatal(err)
		}
	}
}

// TestNotUTF8RoundTrip: a value that is not valid UTF-8 was written with
// U+FFFD in place of its bytes (lost). Now every string value of its key is
// written escaped as the detail file writes it, and the key is listed in
// "escaped": put back in a detail file, the escaped value reads as the exact
// bytes; every value of a key not listed is the bytes as they are. Both the
// stream encoder (a dictionary) and the jsonl one (a ValueFunc, or none).
func TestNotUTF8RoundTrip(t *testing.T) {
	d := dictionary.Builtin()
	recs := goldenRecords(t)
	mixed := *sinktest.Records(1)[0]
	mixed.Attrs = append(mixed.Attrs[:len(mixed.Attrs):len(mixed.Attrs)],
		detail.Attribute{Name: "Cisco-AVPair", Value: `back\slash "quoted"`, Quoted: true},
		detail.Attribute{Name: "Cisco-AVPair", Value: "latin-1 caf\xe9", Quoted: true},
		detail.Attribute{Name: "Class", Value: "\xff\x00\x01", Quoted: false})
	recs = append(recs, &mixed)
	stream, _ := NewEncoder(Options{Dictionary: d})
	jsonlTyped, _ := file.NewEncoder(file.FormatJSONL, file.EncoderOptions{Values: d.JSONValue})
	jsonlPlain, _ := file.NewEncoder(file.FormatJSONL, file.EncoderOptions{})
	escapedSeen := 0
	for _, enc := range []struct {
		name   string
		encode func(*detail.Record) []byte
	}{
		{"stream", func(r *detail.Record) []byte {
			var m Message
			if err := stream.Encode(r, &m); err != nil {
				t.Fatal(err)
			}
			return m.Value
		}},
		{"jsonl typed", func(r *detail.Record) []byte { return jsonlTyped.Append(nil, r) }},
		{"jsonl", func(r *detail.Record) []byte { return jsonlPlain.Append(nil, r) }},
	} {
		for _, rec := range recs {
			value := enc.encode(rec)
			if !utf8.Valid(value) {
				t.Fatalf("%s: not UTF-8: %q", enc.name, value)
			}
			var doc struct {
				Attributes map[string]json.RawMessage `json:"attributes"`
				Escaped    []string                   `json:"escaped"`
			}
			if err := json.Unmarshal(value, &doc); err != nil {
				t.Fatalf("%s: not JSON: %v\n%s", enc.name, err, value)
			}
			escaped := map[string]bool{}
			for _, k := range doc.Escaped {
				escaped[k] = true
				escapedSeen++
			}
			// The record's values by key, in order.
			raw := map[string][]string{}
			for _, a := range rec.Attrs {
				k := a.Name
				if a.HasTag {
					k += ":" + strconv.Itoa(int(a.Tag))
				}
				raw[k] = append(raw[k], a.Value)
			}
			for k, vals := range raw {
				var got []any
				var one any
				if err := json.Unmarshal(doc.Attributes[k], &one); err != nil {
					t.Fatalf("%s: %s: %v", enc.name, k, err)
				}
				if arr, ok := one.([]any); ok {
					got = arr
				} else {
					got = []any{one}
				}
				if len(got) != len(vals) {
					t.Fatalf("%s: %s has %d values, want %d", enc.name, k, len(got), len(vals))
				}
				needsEscape := false
				for i, v := range vals {
					needsEscape = needsEscape || !utf8.ValidString(v)
					s, ok := got[i].(string)
					if !ok {
						continue // typed: a number
					}
					if escaped[k] {
						s = sinktest.DetailValue(t, s)
					}
					if s != v && !(enc.name != "jsonl" && isTyped(d, k)) {
						t.Errorf("%s: %s value %d is %q, the record's %q (escaped: %v)", enc.name, k, i, s, v, escaped[k])
					}
				}
				if needsEscape != escaped[k] {
					t.Errorf("%s: %s: listed in escaped %v, a value not UTF-8 %v", enc.name, k, escaped[k], needsEscape)
				}
			}
		}
	}
	if escapedSeen == 0 {
		t.Fatal("no value was escaped: the test records hold none that is not UTF-8")
	}
}

// isTyped reports whether the dictionary may write attribute k's string
// value other than as it is (an enum's name for a number, say).
func isTyped(d *dictionary.Dictionary, k string) bool {
	name, _, _ := strings.Cut(k, ":")
	a, ok := d.Attribute(name)
	return ok && a.Type != dictionary.TypeString && a.Type != dictionary.TypeOctets
}

// TestGetByCode: looking an attribute up by its name code finds what
// Record.Get finds, whatever the case of the names and their order.
func TestGetByCode(t *testing.T) {
	recs := [][]detail.Attribute{
		{{Name: "Acct-Status-Type", Value: "Start"}, {Name: "Acct-Session-Id", Value: "s1"}},
		{{Name: "acct-status-type", Value: "lower"}, {Name: "Acct-Status-Type", Value: "exact"}},
		{{Name: "Acct-Status-Type", Value: "exact"}, {Name: "ACCT-STATUS-TYPE", Value: "upper"}},
		{{Name: "X-Vendor", Value: "1"}, {Name: "NAS-IP-Address", Value: "10.0.0.1"}, {Name: "NAS-IP-Address", Value: "10.0.0.2"}},
		{{Name: "NAS-Identifier", Value: "nas"}, {Name: "nas-ip-address", Value: "10.0.0.3"}},
		{{Name: "Acct-Session-\u212aey", Value: "kelvin"}, {Name: "Acct-Session-Key", Value: "k"}},
		{{Name: "Acct-Session-Id", Value: ""}, {Name: "Acct-Session-Id", Value: "second"}},
		{},
	}
	names := []string{"Acct-Status-Type", "Acct-Session-Id", "NAS-IP-Address", "NAS-IPv6-Address", "NAS-Identifier",
		"X-Vendor", "acct-status-type", "Acct-Session-Key", "Acct-Unique-Session-Id"}
	for k, attrs := range recs {
		rec := &detail.Record{Attrs: attrs}
		codes := make([]uint8, len(attrs))
		for i := range attrs {
			codes[i] = nameCode(attrs[i].Name)
		}
		for _, n := range names {
			want, wantOK := rec.Get(n)
			got, ok := get(rec, codes, nameCode(n), n)
			if got != want.Value || ok != wantOK {
				t.Errorf("record %d, %s: got %q %v, want %q %v", k, n, got, ok, want.Value, wantOK)
			}
		}
	}
}

// TestKeyWithCodes: Encode's key (with the JSON encoder's name codes) is
// Key's (without), for the default key, an attribute and a template.
func TestKeyWithCodes(t *testing.T) {
	recs := []*detail.Record{
		{Attrs: []detail.Attribute{{Name: "NAS-IP-Address", Value: "10.0.0.1"}, {Name: "Acct-Session-Id", Value: "s1"}}},
		{Attrs: []detail.Attribute{{Name: "acct-unique-session-id", Value: "u"}, {Name: "Acct-Unique-Session-Id", Value: "U"}}},
		{Attrs: []detail.Attribute{{Name: "NAS-Identifier", Value: "nas"}, {Name: "acct-session-id", Value: "s2"}, {Name: "User-Name", Value: "bob"}}},
		{Attrs: []detail.Attribute{{Name: "User-Name", Value: ""}}},
	}
	for _, key := range []string{"", "User-Name", "user-name", "%{NAS-Identifier}/%{Acct-Session-Id}", "%{X-Missing}"} {
		enc, err := NewEncoder(Options{Key: key})
		if err != nil {
			t.Fatal(err)
		}
		for k, rec := range recs {
			var m Message
			if err := enc.Encode(rec, &m); err != nil {
				t.Fatal(err)
			}
			if want := enc.Key(rec); m.Key != want {
				t.Errorf("key %q, record %d: Encode's key %q, Key's %q", key, k, m.Key, want)
			}
		}
	}
}

// TestHeadersNotPlainTextEscaped: a key or file name with bytes that are
// not UTF-8, or with control characters, went into the Radrelay-Key and
// Radrelay-Source headers as they were: a consumer decoding them as UTF-8
// got U+FFFD, and a NATS header cannot carry CR or LF (the client made
// them spaces). Such a value is now escaped as the detail file writes a
// value, and named in Radrelay-Escaped; the message key (Kafka's) and the
// ID stay those of the record's bytes, and a record of plain text has the
// headers it always had.
func TestHeadersNotPlainTextEscaped(t *testing.T) {
	enc, _ := NewEncoder(Options{Dictionary: dictionary.Builtin()})
	for _, tc := range []struct {
		name, key, file, status string
		wantEscaped             string
	}{
		{"plain", "carl@example.net", "/var/log/radacct/detail", "Stop", ""},
		{"latin-1 file", "carl", "/var/log/caf\xe9/detail", "Stop", "Radrelay-Source"},
		{"key with CR LF", "a\r\nInjected: yes", "/var/log/detail", "Stop", "Radrelay-Key"},
		{"all three", "k\xff", "/f\x01", "St\top", "Radrelay-Status-Type,Radrelay-Source,Radrelay-Key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &detail.Record{Header: "Mon Nov 23 11:57:39 2026", File: tc.file, Offset: 42, Attrs: []detail.Attribute{
				{Name: "Acct-Status-Type", Value: tc.status},
				{Name: "Acct-Unique-Session-Id", Value: tc.key, Quoted: true},
			}}
			var m Message
			if err := enc.Encode(rec, &m); err != nil {
				t.Fatal(err)
			}
			if m.Key != tc.key || m.ID != ID(rec) {
				t.Errorf("key %q, id %s: want the record's %q, %s", m.Key, m.ID, tc.key, ID(rec))
			}
			got := map[string]string{}
			for _, h := range m.Headers {
				if _, dup := got[h.Name]; dup {
					t.Errorf("header %s twice", h.Name)
				}
				got[h.Name] = h.Value
				if !utf8.ValidString(h.Value) || strings.ContainsAny(h.Value, "\r\n\x00") {
					t.Errorf("header %s = %q: not plain text", h.Name, h.Value)
				}
			}
			if got[HeaderEscaped] != tc.wantEscaped {
				t.Errorf("%s = %q, want %q", HeaderEscaped, got[HeaderEscaped], tc.wantEscaped)
			}
			escaped := map[string]bool{}
			if tc.wantEscaped != "" {
				for _, n := range strings.Split(got[HeaderEscaped], ",") {
					escaped[n] = true
				}
			}
			for name, want := range map[string]string{HeaderKey: tc.key, HeaderSource: tc.file + ":42", HeaderStatusType: tc.status} {
				v := got[name]
				if escaped[name] {
					v = sinktest.DetailValue(t, v)
				}
				if v != want {
					t.Errorf("%s = %q (escaped: %v), read back %q, want %q", name, got[name], escaped[name], v, want)
				}
			}
		})
	}
}
