package detail

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzReader: no input panics the Reader; records and errors tile the input;
// reading it in small pieces (a growing file) gives the same result as
// reading it at once.
func FuzzReader(f *testing.F) {
	for _, glob := range []string{"testdata/reader/*.detail", "testdata/*.detail"} {
		files, _ := filepath.Glob(glob)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err == nil {
				f.Add(data, uint8(7))
			}
		}
	}
	f.Add([]byte("Mon Nov 23 11:57:39 2026\n\tA = \"\\\n\tB\t= \"x\"\t\tC = 1\n\n"), uint8(1))
	f.Add([]byte("\n\n\t\r\n x\n"), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, step uint8) {
		whole := dump(data, "f", t)
		checkOffsets(t, data, "f")

		// The same input arriving in pieces of step bytes.
		n := int(step%64) + 1
		src := &growingSource{data: data}
		r := NewReader(src, "f")
		r.MaxRecordSize = 4096
		fed := 0
		var spans int64
		for {
			rec, err := r.Next()
			if (errors.Is(err, ErrIncomplete) || err == io.EOF) && fed < len(data) {
				k := min(n, len(data)-fed)
				src.avail += k
				fed += k
				continue
			}
			if errors.Is(err, ErrIncomplete) {
				rec, err = r.Finish()
			}
			if err == io.EOF {
				break
			}
			var se *SyntaxError
			var te *TruncatedError
			switch {
			case err == nil:
				spans += rec.Length
			case errors.As(err, &se):
				spans += se.Length
			case errors.As(err, &te):
				spans += te.Length
			default:
				t.Fatalf("unexpected error %v", err)
			}
		}
		if spans > int64(len(data)) || r.Offset() > int64(len(data)) {
			t.Fatalf("spans %d, offset %d beyond the input (%d bytes)", spans, r.Offset(), len(data))
		}
		_ = whole
	})
}

// sanitizeName turns fuzz bytes into an attribute name a writer could have
// written.
func sanitizeName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < 64; i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' {
			b.WriteByte(c)
		}
	}
	n := b.String()
	if n == "" || strings.EqualFold(n, "Timestamp") || strings.EqualFold(n, "Donestamp") {
		n = "X-" + n
	}
	return n
}

// sanitizeBare turns fuzz bytes into an unquoted value: integers, names,
// addresses, 0x octets.
func sanitizeBare(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c > ' ' && c < 0x7f && c != '"' {
			b.WriteByte(c)
		}
	}
	v := strings.TrimLeft(b.String(), ":")
	if v == "" {
		v = "0"
	}
	return v
}

// FuzzRoundTrip: writing any list of attributes and reading it back gives the
// same attributes.
func FuzzRoundTrip(f *testing.F) {
	f.Add("User-Name", "carl\x00\x01\"\\\t\r\n\xff\xc0\x80é", "Acct-Status-Type", "Start", uint8(3), int64(1795435059), true)
	f.Add("Class", "0x01", "Tunnel-Type", "VLAN", uint8(1), int64(0), false)
	f.Add("A", "\\", "B", "::x", uint8(0), int64(-1), true)
	f.Fuzz(func(t *testing.T, name1, value1, name2, value2 string, tag uint8, ts int64, done bool) {
		rec := &Record{
			Header: "Mon Nov 23 11:57:39 2026",
			Attrs: []Attribute{
				{Name: sanitizeName(name1), Value: value1, Quoted: true},
				{Name: sanitizeName(name2), Value: sanitizeBare(value2), HasTag: tag%2 == 1, Tag: tag / 2},
				{Name: sanitizeName(name2), Value: value2 + value1, Quoted: true, HasTag: tag%3 == 0, Tag: tag},
				{Name: "Acct-Status-Type", Value: sanitizeBare(value2), Enum: tag%5 == 0},
			},
			Timestamp: ts, HasTimestamp: tag%7 != 0, Done: done,
		}
		if e := &rec.Attrs[3]; e.Enum && !isEnumValue("::"+e.Value) {
			e.Enum = false // "::1" is an IPv6 address, not an enumeration name
		}
		data := AppendRecord(nil, rec)
		got, errs := readAll(t, data, "rt")
		if len(errs) != 0 || len(got) != 1 {
			t.Fatalf("read back %d records, errors %v, from %q", len(got), errs, data)
		}
		g := got[0]
		if g.Header != rec.Header || g.HasTimestamp != rec.HasTimestamp || (rec.HasTimestamp && (g.Timestamp != rec.Timestamp || g.Done != rec.Done)) {
			t.Fatalf("record fields differ: %+v from %q", g, data)
		}
		if len(g.Attrs) != len(rec.Attrs) {
			t.Fatalf("%d attributes, want %d, from %q", len(g.Attrs), len(rec.Attrs), data)
		}
		for i, want := range rec.Attrs {
			a := g.Attrs[i]
			if a.Name != want.Name || a.HasTag != want.HasTag || (want.HasTag && a.Tag != want.Tag) ||
				a.Value != want.Value || a.Quoted != want.Quoted || a.Enum != want.Enum || a.Truncated || a.LineEndLost {
				t.Fatalf("attribute %d: got %+v, want %+v, from %q", i, a, want, data)
			}
		}
		if again := AppendRecord(nil, g); !bytes.Equal(again, data) {
			t.Fatalf("second write differs:\n%q\n%q", data, again)
		}
	})
}

// FuzzGet: Record.Get finds the first attribute strings.EqualFold says is
// named name, whatever the bytes (case, non-ASCII runes that fold to ASCII
// letters such as the Kelvin sign, invalid UTF-8).
func FuzzGet(f *testing.F) {
	f.Add("Acct-Status-Type", "acct-status-type\nUser-Name\nACCT-STATUS-TYPE")
	f.Add("kelvin", "\u212aelvin\nkelvin")
	f.Add("s", "\u017f\nS")
	f.Add("", "\nx")
	f.Add("a\xff", "A\xff\nA\xfe")
	f.Fuzz(func(t *testing.T, name, names string) {
		rec := &Record{}
		for i, n := range strings.Split(names, "\n") {
			rec.Attrs = append(rec.Attrs, Attribute{Name: n, Value: strings.Repeat("v", i)})
		}
		want := -1
		for i, a := range rec.Attrs {
			if strings.EqualFold(a.Name, name) {
				want = i
				break
			}
		}
		a, ok := rec.Get(name)
		if ok != (want >= 0) || ok && (a.Name != rec.Attrs[want].Name || a.Value != rec.Attrs[want].Value) {
			t.Fatalf("Get(%q) in %q = %q, %v; want attribute %d", name, names, a.Name, ok, want)
		}
	})
}

// FuzzNameScan: nameFast, where it finds the "=", finds what nameSlow
// (the way names were always found) finds.
func FuzzNameScan(f *testing.F) {
	for _, l := range []string{"\tUser-Name = \"x\"", "\tTunnel-Type:1 = VLAN", "\tA:B:12\t= 1", "\tA B = 1", "\t\"A\" = 1", "\t= 1", "\tA", "  A:  =x", "\tA==1"} {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, l string) {
		i := 0
		for i < len(l) && (l[i] == ' ' || l[i] == '\t') {
			i++
		}
		eq, j, colon := nameFast(l, i)
		if eq < 0 {
			return
		}
		seq, sj, scolon, msg := nameSlow(l, i)
		if msg != "" || eq != seq || j != sj || colon != scolon {
			t.Fatalf("%q: nameFast %d %d %d, nameSlow %d %d %d %q", l, eq, j, colon, seq, sj, scolon, msg)
		}
	})
}

// FuzzPlainQuoted: a value plainQuoted accepts is read as the searches
// for a glued line and the full unquoting read it.
func FuzzPlainQuoted(f *testing.F) {
	for _, v := range []string{`""`, `"x"`, `"a\"b"`, `"a` + "\t" + `b"`, `"a\\"`, `"abc`, `"a"b"`} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, body string) {
		v := `"` + body
		if !plainQuoted(v) {
			return
		}
		var r Reader
		value, truncated := r.unquote(v)
		if strings.IndexByte(v, '\t') >= 0 || truncated || value != v[1:len(v)-1] {
			t.Fatalf("%q: unquote %q %v", v, value, truncated)
		}
	})
}
