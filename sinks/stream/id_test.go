package stream

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/dictionary"
	"github.com/radrelay/radrelay/sinks/sinktest"
)

// TestIDNamesFrozen: the names ID encodes as one byte are part of every
// record's identity. Changing the list changes the ID of records that carry
// one of the names, and a record resent across that upgrade would be stored
// twice: this digest of the list must never change.
func TestIDNamesFrozen(t *testing.T) {
	sum := sha256.Sum256([]byte(strings.Join(idNames[:], "\n")))
	if got := hex.EncodeToString(sum[:8]); got != idNamesDigest {
		t.Fatalf("idNames changed (digest %s, was %s): record IDs would change", got, idNamesDigest)
	}
	if len(idNames) > 255 {
		t.Fatalf("%d names: codes are one byte", len(idNames))
	}
	seen := map[string]bool{}
	for _, n := range idNames {
		if seen[n] || n == "" {
			t.Fatalf("%q listed twice or empty", n)
		}
		seen[n] = true
	}
}

const idNamesDigest = "518b4c89d22c7979"

// TestIDMatchesEncode: the ID the Encoder puts in a message (with the name
// codes its JSON encoder cached) is ID of the record, with or without a
// dictionary, for FreeRADIUS-written, hostile and generated records, and
// for records with more attributes than the encoder's stack buffer.
func TestIDMatchesEncode(t *testing.T) {
	recs := append(goldenRecords(t), sinktest.Records(50)...)
	long := &detail.Record{Header: "Mon Nov 23 11:57:39 2026", Timestamp: 1, HasTimestamp: true}
	for i := range 100 {
		long.Attrs = append(long.Attrs, detail.Attribute{Name: idNames[i%3] + strings.Repeat("x", i%2), Value: itoa(int64(i))})
	}
	recs = append(recs, long)
	for _, o := range []Options{{Dictionary: dictionary.Builtin()}, {}} {
		enc, err := NewEncoder(o)
		if err != nil {
			t.Fatal(err)
		}
		var m Message
		for _, rec := range recs {
			if err := enc.Encode(rec, &m); err != nil {
				t.Fatal(err)
			}
			if want := ID(rec); m.ID != want {
				t.Fatalf("%s:%d: Encode's ID %s, ID %s", rec.File, rec.Line, m.ID, want)
			}
		}
	}
}

// TestIDUnambiguous: records that differ only in where one field ends and
// the next begins, in a tag, in whether a name is a well-known one, or in
// whether a Timestamp line was there, have different IDs.
func TestIDUnambiguous(t *testing.T) {
	at := func(attrs ...detail.Attribute) *detail.Record {
		return &detail.Record{Header: "Mon Nov 23 11:57:39 2026", Timestamp: 1795435059, HasTimestamp: true, Attrs: attrs}
	}
	pairs := [][2]*detail.Record{
		// A NUL in a value mimicking an attribute boundary (the first
		// layout separated fields with NUL).
		{at(detail.Attribute{Name: "User-Name", Value: "a\x00\x00Class\x00b"}),
			at(detail.Attribute{Name: "User-Name", Value: "a"}, detail.Attribute{Name: "Class", Value: "b"})},
		{at(detail.Attribute{Name: "X", Value: "ab"}), at(detail.Attribute{Name: "Xa", Value: "b"})},
		{at(detail.Attribute{Name: "Tunnel-Type", Value: "VLAN"}), at(detail.Attribute{Name: "Tunnel-Type", Value: "VLAN", HasTag: true})},
		{at(detail.Attribute{Name: "Tunnel-Type", Value: "VLAN", HasTag: true, Tag: 1}), at(detail.Attribute{Name: "Tunnel-Type", Value: "VLAN", HasTag: true, Tag: 2})},
		{at(detail.Attribute{Name: "User-Name", Value: "a"}), at(detail.Attribute{Name: "user-name", Value: "a"})},
		{at(detail.Attribute{Name: "\x01", Value: "a"}), at(detail.Attribute{Name: idNames[0], Value: "a"})},
		{at(), &detail.Record{Header: "Mon Nov 23 11:57:39 2026", Timestamp: 1795435059}},
		{&detail.Record{Header: "h"}, &detail.Record{Header: "h", HasTimestamp: true}},
		{at(detail.Attribute{Name: "A", Value: "1"}, detail.Attribute{Name: "B", Value: "2"}),
			at(detail.Attribute{Name: "B", Value: "2"}, detail.Attribute{Name: "A", Value: "1"})},
	}
	for i, p := range pairs {
		if ID(p[0]) == ID(p[1]) {
			t.Errorf("pair %d: the same ID for different records", i)
		}
	}
}

// decodeIDInput parses what AppendIDInput wrote back into a record's
// identity, or returns false: that it always can, and gets the record back,
// is what makes the ID input unambiguous.
func decodeIDInput(b []byte) (*detail.Record, bool) {
	uv := func() (uint64, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 {
			return 0, false
		}
		b = b[k:]
		return n, true
	}
	bytesOf := func() (string, bool) {
		n, ok := uv()
		if !ok || n > uint64(len(b)) {
			return "", false
		}
		s := string(b[:n])
		b = b[n:]
		return s, true
	}
	if len(b) < 2 || b[0] != '2' || b[1] > 1 {
		return nil, false
	}
	rec := &detail.Record{HasTimestamp: b[1] == 1}
	b = b[2:]
	ts, k := binary.Varint(b)
	if k <= 0 {
		return nil, false
	}
	rec.Timestamp, b = ts, b[k:]
	var ok bool
	if rec.Header, ok = bytesOf(); !ok {
		return nil, false
	}
	for len(b) > 0 {
		var a detail.Attribute
		code := b[0]
		b = b[1:]
		switch {
		case code == 0:
			if a.Name, ok = bytesOf(); !ok {
				return nil, false
			}
		case int(code) <= len(idNames):
			a.Name = idNames[code-1]
		default:
			return nil, false
		}
		if len(b) == 0 || b[0] > 1 {
			return nil, false
		}
		if b[0] == 1 {
			if len(b) < 2 {
				return nil, false
			}
			a.HasTag, a.Tag, b = true, b[1], b[2:]
		} else {
			b = b[1:]
		}
		if a.Value, ok = bytesOf(); !ok {
			return nil, false
		}
		rec.Attrs = append(rec.Attrs, a)
	}
	return rec, true
}

// identity is the part of rec that ID covers.
func identity(rec *detail.Record) *detail.Record {
	out := &detail.Record{Header: rec.Header, Timestamp: rec.Timestamp, HasTimestamp: rec.HasTimestamp}
	for _, a := range rec.Attrs {
		b := detail.Attribute{Name: a.Name, Value: a.Value, HasTag: a.HasTag}
		if a.HasTag { // a Tag without HasTag means nothing
			b.Tag = a.Tag
		}
		out.Attrs = append(out.Attrs, b)
	}
	return out
}

// FuzzIDInput: the ID input of any record decodes back to the record's
// identity (so two records with one ID input are the same record), and the
// Encoder's ID is ID.
func FuzzIDInput(f *testing.F) {
	f.Add("User-Name", "carl", "Class", "a\x00\x00b", uint8(1), int64(1795435059), true)
	f.Add("X", "", "User-Name", "", uint8(0), int64(-1), false)
	f.Add("Acct-Status-Type", "Start", "Tunnel-Type", "VLAN", uint8(3), int64(0), true)
	f.Fuzz(func(t *testing.T, n1, v1, n2, v2 string, tag uint8, ts int64, hasTS bool) {
		rec := &detail.Record{
			Header: v2 + n1, Timestamp: ts, HasTimestamp: hasTS, File: n2, Offset: 3,
			Attrs: []detail.Attribute{
				{Name: n1, Value: v1, Quoted: true},
				{Name: n2, Value: v2, HasTag: tag%2 == 1, Tag: tag},
				{Name: n1, Value: v2},
				{Name: "Acct-Session-Id", Value: v1 + v2},
			},
		}
		got, ok := decodeIDInput(AppendIDInput(nil, rec))
		if !ok || !reflect.DeepEqual(got, identity(rec)) {
			t.Fatalf("ID input decodes to %+v, %v; want %+v", got, ok, identity(rec))
		}
		enc, _ := NewEncoder(Options{Dictionary: dictionary.Builtin()})
		var m Message
		if err := enc.Encode(rec, &m); err == nil && m.ID != ID(rec) {
			t.Fatalf("Encode's ID %s, ID %s", m.ID, ID(rec))
		}
	})
}

// TestIDInputDecodes: the ID input of every golden record decodes back to
// the record's identity.
func TestIDInputDecodes(t *testing.T) {
	for _, rec := range goldenRecords(t) {
		got, ok := decodeIDInput(AppendIDInput(nil, rec))
		if !ok || !reflect.DeepEqual(got, identity(rec)) {
			t.Fatalf("%s:%d: ID input decodes to %+v, %v; want %+v", rec.File, rec.Line, got, ok, identity(rec))
		}
	}
}
