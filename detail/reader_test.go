package detail

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// readAll reads every record of data as a complete file, returning the
// records and the errors in order.
func readAll(t testing.TB, data []byte, name string) (recs []*Record, errs []error) {
	t.Helper()
	r := NewReader(bytes.NewReader(data), name)
	for {
		rec, err := r.Next()
		if errors.Is(err, ErrIncomplete) {
			rec, err = r.Finish()
		}
		if err == io.EOF {
			return recs, errs
		}
		if err != nil {
			var se *SyntaxError
			var te *TruncatedError
			if !errors.As(err, &se) && !errors.As(err, &te) {
				t.Fatalf("unexpected error: %v", err)
			}
			errs = append(errs, err)
			continue
		}
		recs = append(recs, rec)
	}
}

// dump renders records and errors as text, for golden files.
func dump(data []byte, name string, t testing.TB) string {
	var sb strings.Builder
	r := NewReader(bytes.NewReader(data), name)
	for {
		rec, err := r.Next()
		if errors.Is(err, ErrIncomplete) {
			fmt.Fprintf(&sb, "-- incomplete at offset %d; finishing\n", r.Offset())
			rec, err = r.Finish()
		}
		if err == io.EOF {
			break
		}
		var se *SyntaxError
		var te *TruncatedError
		switch {
		case errors.As(err, &se):
			fmt.Fprintf(&sb, "ERROR %v [record line %d, offset %d, length %d, raw %d bytes]\n", se, se.RecordLine, se.Offset, se.Length, len(se.Raw))
			continue
		case errors.As(err, &te):
			fmt.Fprintf(&sb, "TRUNCATED %v [raw %q]\n", te, te.Raw)
			continue
		case err != nil:
			t.Fatalf("unexpected error %v", err)
		}
		fmt.Fprintf(&sb, "RECORD %s:%d offset=%d length=%d header=%q", rec.File, rec.Line, rec.Offset, rec.Length, rec.Header)
		if rec.HasTimestamp {
			fmt.Fprintf(&sb, " timestamp=%d done=%v tsoffset=%d", rec.Timestamp, rec.Done, rec.TimestampOffset)
		}
		if rec.CRLF {
			sb.WriteString(" crlf")
		}
		sb.WriteString("\n")
		for _, a := range rec.Attrs {
			fmt.Fprintf(&sb, "  %s", a.Name)
			if a.HasTag {
				fmt.Fprintf(&sb, " tag=%d", a.Tag)
			}
			fmt.Fprintf(&sb, " value=%q", a.Value)
			if a.Quoted {
				sb.WriteString(" quoted")
			}
			if a.Enum {
				sb.WriteString(" enum")
			}
			if a.Truncated {
				raw, _ := rec.CutRaw(&a, -1)
				fmt.Fprintf(&sb, " truncated raw=%q", raw)
			}
			sb.WriteString("\n")
		}
	}
	return sb.String()
}

// TestReaderGolden reads every testdata/reader/*.detail file and compares the
// records and errors it yields with the .golden file next to it. Run
// "go test ./detail -run TestReaderGolden -update" to rewrite them.
func TestReaderGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/reader/*.detail")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got := dump(data, filepath.Base(f), t)
			golden := strings.TrimSuffix(f, ".detail") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from %s:\n--- got\n%s", f, golden, got)
			}
			checkOffsets(t, data, filepath.Base(f))
		})
	}
}

// checkOffsets verifies that records and errors tile the file: each span
// starts at or after the end of the previous one, only blank lines between.
func checkOffsets(t testing.TB, data []byte, name string) {
	t.Helper()
	r := NewReader(bytes.NewReader(data), name)
	var prev int64
	for {
		rec, err := r.Next()
		if errors.Is(err, ErrIncomplete) {
			rec, err = r.Finish()
		}
		if err == io.EOF {
			break
		}
		var off, length int64
		var se *SyntaxError
		var te *TruncatedError
		switch {
		case errors.As(err, &se):
			off, length = se.Offset, se.Length
		case errors.As(err, &te):
			off, length = te.Offset, te.Length
		case err != nil:
			t.Fatalf("unexpected error %v", err)
		default:
			off, length = rec.Offset, rec.Length
			if rec.TimestampOffset >= 0 {
				// Names are matched without regard to case, as FreeRADIUS does.
				at := data[rec.TimestampOffset:min(len(data), int(rec.TimestampOffset)+10)]
				if !bytes.EqualFold(at, []byte("\tTimestamp")) && !bytes.EqualFold(at, []byte("\tDonestamp")) {
					t.Errorf("TimestampOffset %d does not point at a Timestamp line", rec.TimestampOffset)
				}
			}
		}
		if off < prev || off+length > int64(len(data)) || length <= 0 {
			t.Fatalf("span [%d,+%d) after %d, file %d bytes", off, length, prev, len(data))
		}
		if !isBlank(data[prev:off]) {
			t.Fatalf("non-blank bytes %q between spans at %d", data[prev:off], prev)
		}
		prev = off + length
	}
	if !isBlank(data[prev:]) {
		t.Fatalf("unread non-blank bytes at the end: %q", data[prev:])
	}
}

func TestReaderLivingston(t *testing.T) {
	data, err := os.ReadFile("testdata/livingston-1.16.detail")
	if err != nil {
		t.Fatal(err)
	}
	recs, errs := readAll(t, data, "livingston")
	if len(errs) != 0 || len(recs) != 4 {
		t.Fatalf("got %d records, errors %v; want 4 records", len(recs), errs)
	}
	wantStatus := []string{"Start", "Stop", "Start", "Stop"}
	for i, rec := range recs {
		if rec.HasTimestamp {
			t.Errorf("record %d has a Timestamp", i)
		}
		if a, _ := rec.Get("Acct-Status-Type"); a.Value != wantStatus[i] {
			t.Errorf("record %d Acct-Status-Type = %q", i, a.Value)
		}
	}
	if a, _ := recs[2].Get("user-name"); a.Value != "Pdan" || !a.Quoted {
		t.Errorf("User-Name = %+v", a)
	}
	if recs[3].Header != "Thu Oct  6 16:15:57 1994" || recs[3].Line != 38 {
		t.Errorf("record 4 header %q line %d", recs[3].Header, recs[3].Line)
	}
	// Re-emitting through the writer reproduces the file.
	var out []byte
	for _, rec := range recs {
		out = AppendRecord(out, rec)
	}
	if !bytes.Equal(out, data) {
		t.Errorf("round trip differs:\n%s", out)
	}
}

func TestReaderUnescape(t *testing.T) {
	tests := []struct {
		raw, want string
	}{
		{`"plain"`, "plain"},
		{`""`, ""},
		{`"a\"b"`, `a"b`},
		{`"a\\b"`, `a\b`},
		{`"\t\r\n"`, "\t\r\n"},
		{`"\001\177\351\377"`, "\x01\x7f\xe9\xff"},
		{`"\400"`, `\400`},    // not a byte: kept
		{`"\x41"`, `\x41`},    // unknown escape: kept
		{`"\12"`, `\12`},      // two digits only: kept
		{`"ends\\"`, `ends\`}, // escaped backslash before the closing quote
		{`"unterminated`, "unterminated"},
		{`"cut \"`, `cut "`},
		{`"say "hi" now"`, `say "hi" now`}, // Cistron: quotes not escaped
		{`"%'"`, `%'`},
		{`"héllo"`, "héllo"},
	}
	for _, tt := range tests {
		rec := "Mon Nov 23 11:57:39 2026\n\tReply-Message = " + tt.raw + "\n\tTimestamp = 1\n\n"
		recs, errs := readAll(t, []byte(rec), "x")
		if len(errs) != 0 || len(recs) != 1 {
			t.Fatalf("%s: errors %v", tt.raw, errs)
		}
		a := recs[0].Attrs[0]
		if a.Value != tt.want || !a.Quoted {
			t.Errorf("%s: got %+v, want value %q", tt.raw, a, tt.want)
		}
		// A cut value's text as written is kept: the Writer writes it again.
		if raw, ok := recs[0].CutRaw(&a, 0); a.Truncated != ok || ok && raw != tt.raw {
			t.Errorf("%s: truncated %v, Cut %+v", tt.raw, a.Truncated, recs[0].Cut)
		}
	}
}

func TestReaderSyntaxErrors(t *testing.T) {
	const good = "Mon Nov 23 11:57:39 2026\n\tUser-Name = \"ok\"\n\tTimestamp = 5\n\n"
	tests := []struct {
		name, bad string
		line      int
		msg       string
	}{
		{"no equals", "Mon Nov 23 11:57:40 2026\n\tUser-Name \"x\"\n\n", 6, `has no " = "`},
		{"no name", "Mon Nov 23 11:57:40 2026\n\t = 5\n\n", 6, "no name"},
		{"no value", "Mon Nov 23 11:57:40 2026\n\tUser-Name = \n\n", 6, "has no value"},
		{"space in name", "Mon Nov 23 11:57:40 2026\n\tUser Name = x\n\n", 6, "white space"},
		{"bad timestamp", "Mon Nov 23 11:57:40 2026\n\tUser-Name = x\n\tTimestamp = soon\n\n", 7, "not a number"},
		{"two timestamps", "Mon Nov 23 11:57:40 2026\n\tTimestamp = 1\n\tTimestamp = 2\n\n", 7, "second Timestamp"},
		{"orphan", "\tUser-Name = x\n\tTimestamp = 2\n\n", 5, "outside a record"},
		{"header only", "Mon Nov 23 11:57:40 2026\n\n", 5, "not followed by attribute lines"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := good + tt.bad + good
			recs, errs := readAll(t, []byte(data), "spool/detail-x")
			if len(recs) != 2 || len(errs) != 1 {
				t.Fatalf("got %d records, errors %v", len(recs), errs)
			}
			var se *SyntaxError
			if !errors.As(errs[0], &se) {
				t.Fatalf("error %T %v", errs[0], errs[0])
			}
			if se.Line != tt.line || !strings.Contains(se.Msg, tt.msg) || se.File != "spool/detail-x" {
				t.Errorf("got %v (line %d), want line %d and %q", se, se.Line, tt.line, tt.msg)
			}
			if se.Offset != int64(len(good)) || string(se.Raw) != tt.bad || se.Length != int64(len(tt.bad)) {
				t.Errorf("span offset %d length %d raw %q", se.Offset, se.Length, se.Raw)
			}
			if !strings.HasPrefix(se.Error(), fmt.Sprintf("spool/detail-x:%d: ", tt.line)) {
				t.Errorf("Error() = %q", se.Error())
			}
			if recs[1].Offset != int64(len(good)+len(tt.bad)) {
				t.Errorf("record after the error at %d", recs[1].Offset)
			}
		})
	}
}

func TestReaderOversize(t *testing.T) {
	good := "Mon Nov 23 11:57:39 2026\n\tUser-Name = \"ok\"\n\tTimestamp = 5\n\n"
	huge := "Mon Nov 23 11:57:40 2026\n\tClass = 0x" + strings.Repeat("ab", 3000) + "\n\tTimestamp = 6\n\n"
	data := good + huge + good
	r := NewReader(bytes.NewReader([]byte(data)), "x")
	r.MaxRecordSize = 1000
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	_, err := r.Next()
	var se *SyntaxError
	if !errors.As(err, &se) || se.Offset != int64(len(good)) || se.Length != int64(len(huge)) || len(se.Raw) != 1000 || se.Line != 5 {
		t.Fatalf("got %v %+v", err, se)
	}
	rec, err := r.Next()
	if err != nil || rec.Offset != int64(len(good)+len(huge)) || rec.Line != 9 {
		t.Fatalf("after oversize: %v %+v", err, rec)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("want EOF, got %v", err)
	}
}

// growingSource returns its data in pieces: io.EOF after each piece until
// more is appended, as a growing file does.
type growingSource struct {
	data  []byte
	avail int
}

func (g *growingSource) Read(p []byte) (int, error) {
	if len(g.data) > 0 && g.avail == 0 {
		return 0, io.EOF
	}
	n := copy(p, g.data[:g.avail])
	g.data = g.data[n:]
	g.avail -= n
	return n, nil
}

func TestReaderGrowingFile(t *testing.T) {
	data, err := os.ReadFile("testdata/livingston-1.16.detail")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := readAll(t, data, "g")
	// Feed the file in every piece size from 1 to 40 bytes; every record must
	// come out the same, with ErrIncomplete while a record is unfinished.
	for step := 1; step <= 40; step++ {
		src := &growingSource{data: data}
		r := NewReader(src, "g")
		var got []*Record
		fed := 0
		for len(got) < len(want) {
			rec, err := r.Next()
			switch {
			case err == nil:
				got = append(got, rec)
			case errors.Is(err, ErrIncomplete) || err == io.EOF:
				if fed >= len(data) {
					rec, err = r.Finish()
					if err != nil {
						t.Fatalf("step %d: Finish: %v", step, err)
					}
					got = append(got, rec)
					continue
				}
				n := min(step, len(data)-fed)
				src.avail += n
				fed += n
			default:
				t.Fatalf("step %d: %v", step, err)
			}
		}
		for i := range want {
			if fmt.Sprint(*got[i]) != fmt.Sprint(*want[i]) {
				t.Fatalf("step %d record %d: got %+v want %+v", step, i, got[i], want[i])
			}
		}
	}
}

func TestReaderTruncatedTail(t *testing.T) {
	good := "Mon Nov 23 11:57:39 2026\n\tUser-Name = \"ok\"\n\tTimestamp = 5\n\n"
	cut := "Mon Nov 23 11:57:40 2026\n\tUser-Name = \"tr"
	r := NewReader(strings.NewReader(good+cut), "d")
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("want ErrIncomplete, got %v", err)
	}
	_, err := r.Finish()
	var te *TruncatedError
	if !errors.As(err, &te) || te.Offset != int64(len(good)) || string(te.Raw) != cut || te.Line != 5 {
		t.Fatalf("got %v", err)
	}
	if _, err := r.Finish(); err != io.EOF {
		t.Fatalf("want EOF, got %v", err)
	}
	// A last record whose lines are complete but whose empty line is missing
	// is a record.
	r = NewReader(strings.NewReader(strings.TrimSuffix(good, "\n")), "d")
	if _, err := r.Next(); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("want ErrIncomplete, got %v", err)
	}
	rec, err := r.Finish()
	if err != nil || rec.Length != int64(len(good)-1) || rec.Timestamp != 5 {
		t.Fatalf("got %v %+v", err, rec)
	}
}

func TestReaderSetPosition(t *testing.T) {
	data, _ := os.ReadFile("testdata/livingston-1.16.detail")
	all, _ := readAll(t, data, "p")
	at := all[2]
	r := NewReader(bytes.NewReader(data[at.Offset:]), "p")
	r.SetPosition(at.Offset, at.Line)
	rec, err := r.Next()
	if err != nil || rec.Offset != at.Offset || rec.Line != at.Line || rec.Length != at.Length {
		t.Fatalf("got %v %+v, want offset %d line %d", err, rec, at.Offset, at.Line)
	}
}

// TestReaderRecordsOwnMemory checks records do not alias the read buffer.
func TestReaderRecordsOwnMemory(t *testing.T) {
	var data []byte
	for i := range 5000 {
		data = append(data, fmt.Sprintf("Mon Nov 23 11:57:39 2026\n\tUser-Name = \"user%d\"\n\tTimestamp = %d\n\n", i, i)...)
	}
	recs, errs := readAll(t, data, "m")
	if len(errs) != 0 || len(recs) != 5000 {
		t.Fatal(len(recs), errs)
	}
	for i, rec := range recs {
		if rec.Attrs[0].Value != fmt.Sprintf("user%d", i) || rec.Timestamp != int64(i) {
			t.Fatalf("record %d corrupted: %+v", i, rec)
		}
	}
}

// A Reader's buffer given back by Release serves the next Reader: what the
// first one returned stays intact while the second overwrites the buffer.
func TestReaderReleaseKeepsRecords(t *testing.T) {
	file := func(tag string) []byte {
		var b []byte
		for i := range 300 {
			b = fmt.Appendf(b, "Mon Nov 23 11:57:39 2026\n\tUser-Name = \"%s%d\"\n\tClass = 0x0102\n\tTimestamp = %d\n\n", tag, i, i)
		}
		return b
	}
	var kept []*Record
	for _, tag := range []string{"first", "second", "third"} {
		rd := NewReader(bytes.NewReader(file(tag)), tag)
		for {
			rec, err := rd.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			kept = append(kept, rec)
		}
		rd.Release()
	}
	if len(kept) != 900 {
		t.Fatalf("%d records", len(kept))
	}
	for i, rec := range kept {
		tag := []string{"first", "second", "third"}[i/300]
		if want := fmt.Sprintf("%s%d", tag, i%300); rec.Attrs[0].Value != want || rec.Attrs[1].Value != "0x0102" || rec.Timestamp != int64(i%300) {
			t.Fatalf("record %d changed after Release: %+v", i, rec)
		}
	}
}

// TestReaderEnumOrIPv6 checks that a FreeRADIUS 4 enumeration ("::Start") is
// told from an IPv6 address or prefix that starts with "::".
func TestReaderEnumOrIPv6(t *testing.T) {
	tests := []struct {
		raw, value string
		enum       bool
	}{
		{"::Start", "Start", true},
		{"::Interim-Update", "Interim-Update", true},
		{"::1", "::1", false},
		{"::", "::", false},
		{"::ffff:10.0.0.1", "::ffff:10.0.0.1", false},
		{"::/0", "::/0", false},
		{"::abcd:1/64", "::abcd:1/64", false},
	}
	for _, tt := range tests {
		rec := "Mon Nov 23 11:57:39 2026\n\tX = " + tt.raw + "\n\tTimestamp = 1\n\n"
		recs, errs := readAll(t, []byte(rec), "x")
		if len(errs) != 0 || len(recs) != 1 {
			t.Fatalf("%s: errors %v", tt.raw, errs)
		}
		a := recs[0].Attrs[0]
		if a.Value != tt.value || a.Enum != tt.enum {
			t.Errorf("%s: got value %q enum %v, want %q %v", tt.raw, a.Value, a.Enum, tt.value, tt.enum)
		}
		if out := AppendRecord(nil, recs[0]); string(out) != rec {
			t.Errorf("%s: written back as %q", tt.raw, out)
		}
	}
}

// failingSource returns its data together with an error, as a decompressor
// does with the last data of a truncated or damaged archive.
type failingSource struct {
	data []byte
	err  error
}

func (s *failingSource) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, s.err
	}
	n := copy(p, s.data)
	s.data = s.data[n:]
	if len(s.data) == 0 {
		return n, s.err
	}
	return n, nil
}

// TestReaderSourceErrorAfterData: the whole records read with a failing
// read are returned before the error, so a damaged archive's good part is
// delivered instead of quarantined as unreadable.
func TestReaderSourceErrorAfterData(t *testing.T) {
	rec := "Mon Nov 23 00:35:33 2026\n\tAcct-Status-Type = Start\n\tTimestamp = 1795400133\n\n"
	boom := errors.New("boom")
	src := &failingSource{data: []byte(rec + rec + "Mon Nov 23 00:35:34 2026\n\tAcct-Sta"), err: boom}
	r := NewReader(src, "cut.gz")
	for i := 0; i < 2; i++ {
		if _, err := r.Next(); err != nil {
			t.Fatalf("record %d: %v, want the record", i+1, err)
		}
	}
	if _, err := r.Next(); !errors.Is(err, boom) {
		t.Fatalf("after the whole records: err = %v, want the source's error", err)
	}
	if got := r.Offset(); got != int64(2*len(rec)) {
		t.Fatalf("Offset = %d, want %d (the end of the whole records)", got, 2*len(rec))
	}
}
