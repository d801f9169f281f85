package file

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/dictionary"
	"github.com/radrelay/radrelay/sinks/sinktest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestEncoderGolden encodes the FreeRADIUS-written hostile fixture in every
// format and compares with testdata/hostile.{jsonl,csv}.
func TestEncoderGolden(t *testing.T) {
	src, err := os.ReadFile("../../detail/testdata/freeradius/packets-hostile.detail")
	if err != nil {
		t.Fatal(err)
	}
	recs := readDetail(t, src)
	for _, rec := range recs {
		rec.File = "packets-hostile.detail"
	}
	for _, format := range []string{FormatJSONL, FormatCSV} {
		enc, err := NewEncoder(format, EncoderOptions{Location: time.UTC})
		if err != nil {
			t.Fatal(err)
		}
		out := enc.Header()
		for _, rec := range recs {
			out = enc.Append(out, rec)
		}
		golden := "testdata/hostile." + format
		if *update {
			os.WriteFile(golden, out, 0o644)
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run with -update)", err)
		}
		if !bytes.Equal(out, want) {
			t.Errorf("%s output differs from %s:\n%s", format, golden, out)
		}
	}
}

func TestJSONValues(t *testing.T) {
	rec := &detail.Record{
		Header: "Mon Nov 23 11:57:39 2026",
		Attrs: []detail.Attribute{
			{Name: "User-Name", Value: "ca\"rl\n\x01é", Quoted: true},
			{Name: "Reply-Message", Value: "bad \xff utf8", Quoted: true},
			{Name: "Cisco-AVPair", Value: "a=b", Quoted: true},
			{Name: "Tunnel-Type", HasTag: true, Tag: 1, Value: "VLAN"},
			{Name: "Cisco-AVPair", Value: "c=d", Quoted: true},
			{Name: "Acct-Session-Time", Value: "60"},
		},
		Timestamp: 1795435059, HasTimestamp: true, Done: true,
	}
	typed := func(a detail.Attribute) any {
		if a.Name == "Acct-Session-Time" {
			return 60
		}
		return nil
	}
	enc, _ := NewEncoder("json", EncoderOptions{Values: typed})
	line := enc.Append(nil, rec)
	if !utf8.Valid(line) || !bytes.HasSuffix(line, []byte("}\n")) || bytes.Count(line, []byte("\n")) != 1 {
		t.Fatalf("not one line of UTF-8: %q", line)
	}
	var obj struct {
		Time       string         `json:"time"`
		Timestamp  int64          `json:"timestamp"`
		Done       bool           `json:"done"`
		Attributes map[string]any `json:"attributes"`
	}
	if err := json.Unmarshal(line, &obj); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	if obj.Time != "2026-11-23T11:57:39Z" || obj.Timestamp != 1795435059 || !obj.Done {
		t.Errorf("record fields: %+v", obj)
	}
	a := obj.Attributes
	if a["User-Name"] != "ca\"rl\n\x01é" || a["Reply-Message"] != `bad \377 utf8` || a["Tunnel-Type:1"] != "VLAN" || a["Acct-Session-Time"] != float64(60) {
		t.Errorf("attributes: %#v", a)
	}
	if avp, _ := a["Cisco-AVPair"].([]any); len(avp) != 2 || avp[0] != "a=b" || avp[1] != "c=d" {
		t.Errorf("repeated attribute: %#v", a["Cisco-AVPair"])
	}
	// Attribute order is file order.
	if i, j := bytes.Index(line, []byte("User-Name")), bytes.Index(line, []byte("Acct-Session-Time")); i > j {
		t.Errorf("order not kept: %s", line)
	}
}

func TestCSVOtherAttributes(t *testing.T) {
	rec := &detail.Record{
		Attrs: []detail.Attribute{
			{Name: "User-Name", Value: "a,b \"c\"", Quoted: true},
			{Name: "Class", Value: "0x01"},
			{Name: "User-Name", Value: "second", Quoted: true},
			{Name: "Reply-Message", Value: "x\ny", Quoted: true},
		},
	}
	enc, _ := NewEncoder("csv", EncoderOptions{Columns: []string{"User-Name", "Reply-Message", "Other-Attributes"}})
	got := string(enc.Header()) + string(enc.Append(nil, rec))
	want := "User-Name,Reply-Message,Other-Attributes\r\n\"a,b \"\"c\"\"\",x\\ny,\"Class = 0x01; User-Name = \"\"second\"\"\"\r\n"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if _, err := NewEncoder("xml", EncoderOptions{}); err == nil || !strings.Contains(err.Error(), "jsonl") {
		t.Errorf("unknown format: %v", err)
	}
}

// TestJSONDictionaryIsValues: typing values by EncoderOptions.Dictionary
// writes the same bytes as typing them by its JSONValue, on the
// FreeRADIUS-written fixtures (hostile values, repeats, tags, enums).
func TestJSONDictionaryIsValues(t *testing.T) {
	d := dictionary.Builtin()
	byValues, _ := NewEncoder(FormatJSONL, EncoderOptions{Values: d.JSONValue})
	byDict, _ := NewEncoder(FormatJSONL, EncoderOptions{Dictionary: d})
	for _, name := range []string{"packets-hostile.detail", "packets-sessions.detail"} {
		src, err := os.ReadFile("../../detail/testdata/freeradius/" + name)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range readDetail(t, src) {
			if a, b := byValues.Append(nil, rec), byDict.Append(nil, rec); !bytes.Equal(a, b) {
				t.Fatalf("%s line %d:\nValues:     %s\nDictionary: %s", name, rec.Line, a, b)
			}
		}
	}
}

// TestJSONHeaderAndFileNotUTF8: the header line and the file name are
// bytes (a detail file under a directory named in Latin-1, a header line
// a broken writer left); JSON held U+FFFD in their place, the bytes lost,
// while attribute values were escaped and listed in "escaped". Now each is
// escaped as the detail file writes a value, and named in
// "escaped_fields"; valid UTF-8 is written as it always was.
func TestJSONHeaderAndFileNotUTF8(t *testing.T) {
	base := detail.Record{Header: "Mon Nov 23 11:57:39 2026", File: "/var/log/radacct/10.0.0.1/detail-20261123", Line: 1,
		Attrs: []detail.Attribute{{Name: "User-Name", Value: "carl", Quoted: true}}}
	for _, tc := range []struct {
		name, header, file string
		reply              string // a Reply-Message value; "" for none
		want               string // what follows "attributes":{...}
	}{
		{"valid", base.Header, `/var/log/caf\é`, "", `}`},
		{"file", base.Header, "/var/log/caf\xe9/d\\x", "", `,"escaped_fields":["file"]}`},
		{"header", "Mon Nov 23 \xff 2026", base.File, "", `,"escaped_fields":["header"]}`},
		{"both and a value", "Mon\x01 \xfe", "/caf\xe9", "bad \xff", `,"escaped":["Reply-Message"],"escaped_fields":["header","file"]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := base
			rec.Header, rec.File = tc.header, tc.file
			if tc.reply != "" {
				rec.Attrs = append(rec.Attrs[:1:1], detail.Attribute{Name: "Reply-Message", Value: tc.reply, Quoted: true})
			}
			for _, opts := range []EncoderOptions{{}, {Dictionary: dictionary.Builtin()}} {
				enc, _ := NewEncoder("json", opts)
				line := enc.Append(nil, &rec)
				if !utf8.Valid(line) || bytes.Contains(line, []byte("\uFFFD")) {
					t.Fatalf("not UTF-8, or U+FFFD: %q", line)
				}
				if !bytes.HasSuffix(line, []byte(tc.want+"\n")) {
					t.Errorf("%s: does not end in %s", line, tc.want)
				}
				var obj struct {
					Header        string   `json:"header"`
					File          string   `json:"file"`
					EscapedFields []string `json:"escaped_fields"`
				}
				if err := json.Unmarshal(line, &obj); err != nil {
					t.Fatalf("%v: %s", err, line)
				}
				got := map[string]string{"header": obj.Header, "file": obj.File}
				for _, f := range obj.EscapedFields {
					got[f] = sinktest.DetailValue(t, got[f])
				}
				if got["header"] != tc.header || got["file"] != tc.file {
					t.Errorf("header %q, file %q (escaped_fields %q): want %q, %q", got["header"], got["file"], obj.EscapedFields, tc.header, tc.file)
				}
			}
		})
	}
}
