package file

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/dictionary"
)

// FuzzConfigFromURL: no sink URL panics the parser; an accepted one opens.
func FuzzConfigFromURL(f *testing.F) {
	for _, s := range []string{"detail:/var/x/detail-%Y%m%d", "jsonl:-", "csv:/tmp/x.csv?columns=A,B&fsync=1s", "detail:///x?lock=yes", "x", ":", "csv:?"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := ConfigFromURL(raw)
		if err != nil {
			return
		}
		if c.Path != "-" {
			c.Path = t.TempDir() + "/out" // never write where the fuzzer says
		}
		s, err := open(c, &bytes.Buffer{})
		if err != nil {
			return // e.g. a column list the encoder rejects
		}
		s.Close()
	})
}

// FuzzEncoders: any record gives one line of valid JSON and one CSV row
// that reads back as the header's number of fields.
func FuzzEncoders(f *testing.F) {
	f.Add("User-Name", "carl\x00\"\\\n\xff", "0x01", uint8(1), true)
	f.Add("A", "", "", uint8(0), false)
	f.Add("Acct-Status-Type", "Start", "12", uint8(0), false)
	f.Add("Acct-Input-Octets", "x\xffy", "4294967296", uint8(3), false)
	f.Add("Tunnel-Type", "VLAN", "0x10", uint8(1), false)
	f.Fuzz(func(t *testing.T, name, quoted, bare string, tag uint8, done bool) {
		rec := &detail.Record{
			Header: name,
			Attrs: []detail.Attribute{
				{Name: name, Value: quoted, Quoted: true},
				{Name: name, Value: bare, HasTag: tag%2 == 1, Tag: tag},
				{Name: "Acct-Session-Id", Value: quoted + bare, Quoted: true},
			},
			Timestamp: int64(tag) * 1000003, HasTimestamp: true, Done: done, File: bare,
		}
		js, _ := NewEncoder("jsonl", EncoderOptions{})
		line := js.Append(nil, rec)
		if !json.Valid(line) || bytes.Count(line, []byte("\n")) != 1 {
			t.Fatalf("invalid JSON line %q", line)
		}
		// A value, the header line or the file name (bare) that is not
		// UTF-8 is escaped, never replaced by U+FFFD (an attribute name,
		// also the header here, still is).
		if utf8.ValidString(name) && !strings.Contains(quoted+bare, "\uFFFD") &&
			bytes.Contains(line, []byte("\uFFFD")) {
			t.Fatalf("a value replaced by U+FFFD: %q", line)
		}
		// Typing by Dictionary writes what typing by its JSONValue writes.
		d := dictionary.Builtin()
		byValues, _ := NewEncoder("jsonl", EncoderOptions{Values: d.JSONValue})
		byDict, _ := NewEncoder("jsonl", EncoderOptions{Dictionary: d})
		if a, b := byValues.Append(nil, rec), byDict.Append(nil, rec); !bytes.Equal(a, b) {
			t.Fatalf("Values: %s\nDictionary: %s", a, b)
		}
		cs, _ := NewEncoder("csv", EncoderOptions{})
		rows, err := csv.NewReader(bytes.NewReader(append(cs.Header(), cs.Append(nil, rec)...))).ReadAll()
		if err != nil || len(rows) != 2 || len(rows[1]) != len(DefaultColumns) {
			t.Fatalf("CSV: %v, %q", err, rows)
		}
	})
}
