package detail

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestRoundTripFreeRADIUS reads every file FreeRADIUS 3.2 wrote in
// testdata/freeradius (see generate.sh there) and writes its records back
// with AppendRecord: the output must be the file, byte for byte.
func TestRoundTripFreeRADIUS(t *testing.T) {
	files, err := filepath.Glob("testdata/freeradius/*.detail")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			recs, errs := readAll(t, data, f)
			if len(errs) != 0 {
				t.Fatalf("errors reading a FreeRADIUS file: %v", errs)
			}
			var out []byte
			for _, rec := range recs {
				if !rec.HasTimestamp {
					t.Errorf("%s:%d: no Timestamp", f, rec.Line)
				}
				out = AppendRecord(out, rec)
			}
			if !bytes.Equal(out, data) {
				i := 0
				for i < len(out) && i < len(data) && out[i] == data[i] {
					i++
				}
				lo := max(0, i-80)
				t.Fatalf("round trip differs at byte %d:\nfile:  %q\nwrote: %q", i, data[lo:min(len(data), i+80)], out[lo:min(len(out), i+80)])
			}
			checkOffsets(t, data, f)
		})
	}
}

// TestFreeRADIUSHostileValues checks the values the Reader decodes from what
// FreeRADIUS wrote for the hostile packets of packets-hostile.txt.
func TestFreeRADIUSHostileValues(t *testing.T) {
	data, err := os.ReadFile("testdata/freeradius/packets-hostile.detail")
	if err != nil {
		t.Fatal(err)
	}
	recs, errs := readAll(t, data, "hostile")
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	byUser := map[string]*Record{}
	for _, rec := range recs {
		if u, ok := rec.Get("User-Name"); ok {
			byUser[u.Value] = rec
		}
	}
	get := func(user, attr string) Attribute {
		t.Helper()
		rec := byUser[user]
		if rec == nil {
			t.Fatalf("no record for %q", user)
		}
		a, ok := rec.Get(attr)
		if !ok {
			t.Fatalf("record %q has no %s", user, attr)
		}
		return a
	}
	var ctrl []byte
	for b := 1; b < 32; b++ {
		ctrl = append(ctrl, byte(b))
	}
	ctrl = append(ctrl, 127, 128, 129, 255, 254, 192, 128, 226, 130)
	if a := get("ctrl-bytes", "Reply-Message"); a.Value != string(ctrl) {
		t.Errorf("control bytes: got %q", a.Value)
	}
	if _, ok := byUser[`quote"back\slash%percent'apos`]; !ok {
		t.Errorf("quotes and backslashes not decoded")
	}
	if a := get("max-escaped-a", "Reply-Message"); !a.Truncated || a.LineEndLost || a.Value != string(bytes.Repeat([]byte{255}, 251)) {
		t.Errorf("cut line: %+v", a)
	}
	if a := get("cut-align-1", "Reply-Message"); !a.Truncated || a.Value != "a"+string(bytes.Repeat([]byte{255}, 250)) {
		t.Errorf("cut in an escape: truncated %v value %q", a.Truncated, a.Value)
	}
	if a := get("cut-align-2", "Reply-Message"); !a.Truncated || !a.LineEndLost || a.Value != "ab"+string(bytes.Repeat([]byte{255}, 250)) {
		t.Errorf("glued line: %+v", a)
	}
	if a := get("cut-align-2", "Event-Timestamp"); !a.Quoted || len(a.Value) != len("Nov 23 2026 12:21:35 UTC") {
		t.Errorf("attribute glued onto the cut line: %+v", a)
	}
	if a := get("cut-align-3", "Reply-Message"); a.Truncated || len(a.Value) != 253 {
		t.Errorf("exactly 1022 characters: %+v", a)
	}
	if a := get("tunnel", "Tunnel-Type"); !a.HasTag || a.Tag != 1 || a.Value != "VLAN" {
		t.Errorf("tag: %+v", a)
	}
	if a := get("vsa", "Attr-26.99999.1"); a.Value != "0x0102030405" || a.Quoted {
		t.Errorf("unknown vendor: %+v", a)
	}
}

// TestRoundTripOtherWriters: files in the exact format of other writers
// (CR LF line ends, FreeRADIUS 4's :: enumerations, Donestamp) are
// reproduced too.
func TestRoundTripOtherWriters(t *testing.T) {
	for _, f := range []string{"testdata/reader/crlf.detail", "testdata/reader/freeradius4.detail", "testdata/livingston-1.16.detail"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		recs, errs := readAll(t, data, f)
		if len(errs) != 0 {
			t.Fatal(errs)
		}
		var out []byte
		for _, rec := range recs {
			out = AppendRecord(out, rec)
		}
		if !bytes.Equal(out, data) {
			t.Errorf("%s: round trip differs:\n%q\n%q", f, data, out)
		}
	}
}
