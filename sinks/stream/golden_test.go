package stream

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"testing"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/dictionary"
	"github.com/radrelay/radrelay/sinks/sinktest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenRecords are the records of the golden test: FreeRADIUS-written
// detail files (hostile values, repeated and tagged attributes, enums,
// bytes that are not UTF-8; and whole sessions), then sinktest's records.
func goldenRecords(t testing.TB) []*detail.Record {
	var recs []*detail.Record
	for _, name := range []string{"packets-hostile.detail", "packets-sessions.detail"} {
		n := 0
		f, err := os.Open("../../detail/testdata/freeradius/" + name)
		if err != nil {
			t.Fatal(err)
		}
		r := detail.NewReader(f, name)
		for {
			rec, err := r.Next()
			if errors.Is(err, detail.ErrIncomplete) {
				rec, err = r.Finish()
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if n++; n <= 60 { // a few sessions are enough; the file is large
				recs = append(recs, rec)
			}
		}
		f.Close()
	}
	return append(append(recs, sinktest.Records(20)...), sinktest.HostileRecords()...)
}

// TestMessagesGolden pins the stream-record contract: the key, identity,
// headers and value of every message, byte for byte, against
// testdata/messages.golden (written by the encoder before it was made
// faster). A change here is a change consumers see: it needs a new
// SchemaVersion or an added field, never a silent difference.
func TestMessagesGolden(t *testing.T) {
	recs := goldenRecords(t)
	d := dictionary.Builtin()
	var out bytes.Buffer
	for _, o := range []Options{
		{Dictionary: d},
		{Key: "%{NAS-IP-Address}/%{Acct-Session-Id}", Dictionary: d},
		{Key: "User-Name"}, // values untyped
	} {
		enc, err := NewEncoder(o)
		if err != nil {
			t.Fatal(err)
		}
		var m Message // reused, as the sinks do
		for _, rec := range recs {
			if err := enc.Encode(rec, &m); err != nil {
				t.Fatal(err)
			}
			line, _ := json.Marshal(struct {
				Key     string
				ID      string
				Headers []Header
			}{m.Key, m.ID, m.Headers})
			out.Write(line)
			out.WriteByte('\n')
			out.Write(m.Value)
			out.WriteByte('\n')
		}
	}
	const golden = "testdata/messages.golden"
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		got, wantLines := bytes.Split(out.Bytes(), []byte("\n")), bytes.Split(want, []byte("\n"))
		for i := range min(len(got), len(wantLines)) {
			if !bytes.Equal(got[i], wantLines[i]) {
				t.Fatalf("%s line %d differs:\n got %s\nwant %s", golden, i+1, got[i], wantLines[i])
			}
		}
		t.Fatalf("%s: %d lines, want %d", golden, len(got), len(wantLines))
	}
}

// BenchmarkEncodeFreeRADIUS (internal micro-benchmark): encoding the
// FreeRADIUS-written records of the golden test, typed by the built-in
// dictionary, as the sinks do.
func BenchmarkEncodeFreeRADIUS(b *testing.B) {
	recs := goldenRecords(b)
	enc, _ := NewEncoder(Options{Dictionary: dictionary.Builtin()})
	var m Message
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := enc.Encode(recs[i%len(recs)], &m); err != nil {
			b.Fatal(err)
		}
	}
}
