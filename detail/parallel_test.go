package detail

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

// readEvents renders what a reader returns, record by record, with
// positions: two readers agree when their events are equal.
func readEvents(next func() (*Record, error), offset func() int64, line func() int) []string {
	var out []string
	for {
		rec, err := next()
		if err == io.EOF {
			return append(out, fmt.Sprintf("EOF at %d line %d", offset(), line()))
		}
		var se *SyntaxError
		var te *TruncatedError
		switch {
		case errors.As(err, &se):
			out = append(out, fmt.Sprintf("syntax %s line %d/%d at %d+%d raw %d: %s", se.File, se.Line, se.RecordLine, se.Offset, se.Length, len(se.Raw), se.Msg))
		case errors.As(err, &te):
			out = append(out, fmt.Sprintf("truncated %s line %d at %d+%d: %q", te.File, te.Line, te.Offset, te.Length, te.Raw))
		case err != nil:
			return append(out, "error: "+err.Error())
		default:
			out = append(out, fmt.Sprintf("record %s line %d at %d+%d ts %d/%v/%v crlf %v tsoff %d\n%s", rec.File, rec.Line, rec.Offset, rec.Length,
				rec.Timestamp, rec.HasTimestamp, rec.Done, rec.CRLF, rec.TimestampOffset, AppendRecord(nil, rec)))
		}
		out = append(out, fmt.Sprintf("offset %d line %d", offset(), line()))
	}
}

func sequentialEvents(data []byte, max int) []string {
	return sequentialEventsAt(data, max, 0, 1)
}

// sequentialEventsAt reads data with a Reader told that it starts at offset
// and line of the file.
func sequentialEventsAt(data []byte, max int, offset int64, line int) []string {
	r := NewReader(bytes.NewReader(data), "f")
	r.MaxRecordSize = max
	r.SetPosition(offset, line)
	return readEvents(func() (*Record, error) {
		rec, err := r.Next()
		if errors.Is(err, ErrIncomplete) {
			rec, err = r.Finish()
		}
		return rec, err
	}, r.Offset, r.Line)
}

// parallelEvents reads src with a ParallelReader that also formats every
// record (Encode); a record whose Encoded bytes are not AppendRecord's is
// an event of its own.
func parallelEvents(src io.Reader, max, chunk, span, workers int) []string {
	return parallelEventsAt(src, max, chunk, span, workers, 0, 1)
}

func parallelEventsAt(src io.Reader, max, chunk, span, workers int, offset int64, line int) []string {
	p := NewParallelReader(src, "f")
	p.MaxRecordSize, p.Workers, p.chunkSize, p.maxSpan = max, workers, chunk, span
	p.SetPosition(offset, line)
	p.Encode = AppendRecord
	// Check's answer must be the one for the record Next returns, on the
	// chunks' goroutines and on the one Reader after a long span alike.
	check := func(rec *Record) bool { return (len(rec.Attrs)+rec.Line)%2 == 1 }
	p.Check = check
	defer p.Close()
	return readEvents(func() (*Record, error) {
		rec, err := p.Next()
		if err == nil && !bytes.Equal(p.Encoded(), AppendRecord(nil, rec)) {
			return nil, fmt.Errorf("Encoded %q is not the record %q", p.Encoded(), AppendRecord(nil, rec))
		}
		if err == nil && p.Checked() != check(rec) {
			return nil, fmt.Errorf("Checked %v for the record at line %d, Check says %v", p.Checked(), rec.Line, check(rec))
		}
		if err != nil && p.Checked() {
			return nil, fmt.Errorf("Checked true after the error %v", err)
		}
		return rec, err
	}, p.Offset, p.Line)
}

// checkSameAsReader fails when a ParallelReader, with small chunks, returns
// anything other than what a Reader returns for data.
func checkSameAsReader(t *testing.T, data []byte, max int) {
	t.Helper()
	want := sequentialEvents(data, max)
	for _, chunk := range []int{1, 7, 64, 300, 4096, 1 << 20} {
		for _, span := range []int{chunk, 4 * chunk, 1 << 30} {
			got := parallelEvents(bytes.NewReader(data), max, chunk, span, 3)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				for i := range min(len(got), len(want)) {
					if got[i] != want[i] {
						t.Fatalf("chunk %d span %d: event %d differs:\n got %s\nwant %s", chunk, span, i, got[i], want[i])
					}
				}
				t.Fatalf("chunk %d span %d: %d events, want %d; last %q", chunk, span, len(got), len(want), got[len(got)-1])
			}
		}
	}
}

func TestParallelReaderSameAsReader(t *testing.T) {
	hostile, _ := os.ReadFile("testdata/freeradius/packets-hostile.detail")
	sessions, _ := os.ReadFile("testdata/freeradius/packets-sessions.detail")
	header, _ := os.ReadFile("testdata/freeradius/packets-hostile-header.detail")
	long := strings.Repeat("x", 3000)
	for _, tc := range []struct {
		name string
		data string
		max  int
	}{
		{"empty", "", 0},
		{"blank", "\n\n  \n", 0},
		{"hostile", string(hostile), 0},
		{"sessions", string(sessions), 0},
		{"header", string(header), 0},
		{"damaged", string(hostile[:2000]) + "Mon Nov 23 12:00:00 2026\n\tUser-Name \"x\"\n\tTimestamp = 1\n\n" + string(hostile[:777]) + "Mon Nov 23 12:00:01 2026\n\tUser-Name = \"cut", 0},
		{"no blank lines", "H1\n\tA = 1\nH2\n\tA = 2\nH3\n\tA = 3\n", 0},
		{"orphan attribute lines", "\tA = 1\n\tB = 2\n\nH\n\tA = 1\n\n\tC = 3\n", 0},
		{"header only lines", strings.Repeat("garbage line\n", 50), 0},
		{"crlf", strings.ReplaceAll(string(hostile[:3000]), "\n", "\r\n"), 0},
		{"oversize", "H\n\tA = \"" + long + "\"\n\tB = 1\n\nH2\n\tA = 2\n\n" + "H3\n\tA = \"" + long + "\"\nH4\n\tA = 4\n", 1000},
		{"oversize first line", long + "\n\tA = 1\n\nH\n\tA = 2\n\n" + long, 1000},
		{"no line end at all", long, 1000},
		{"truncated last", "H\n\tA = 1\n\nH\n\tA = \"x", 0},
		{"last without blank line", "H\n\tA = 1\n\nH\n\tA = 2\n", 0},
	} {
		t.Run(tc.name, func(t *testing.T) { checkSameAsReader(t, []byte(tc.data), tc.max) })
	}
}

// errAfter returns data, then err.
type errAfter struct {
	data []byte
	err  error
}

func (r *errAfter) Read(b []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(b, r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestParallelReaderSourceError: the records before a read error come out,
// then the error, then io.EOF.
func TestParallelReaderSourceError(t *testing.T) {
	sessions, _ := os.ReadFile("testdata/freeradius/packets-sessions.detail")
	data := sessions[:len(sessions)/2+17] // ends inside a record
	boom := errors.New("boom")
	want := sequentialEvents(data, 0)
	want = want[:len(want)-1] // the sequential EOF
	for len(want) > 0 && !strings.HasPrefix(want[len(want)-1], "offset") {
		want = want[:len(want)-1]
	}
	p := NewParallelReader(&errAfter{data: data, err: boom}, "f")
	p.chunkSize, p.Workers = 4096, 2
	defer p.Close()
	var got []string
	for {
		rec, err := p.Next()
		if err != nil {
			if !errors.Is(err, boom) || !strings.Contains(err.Error(), "reading f") {
				t.Fatalf("after %d events: %v", len(got), err)
			}
			break
		}
		got = append(got, fmt.Sprintf("record %s line %d at %d+%d ts %d/%v/%v crlf %v tsoff %d\n%s", rec.File, rec.Line, rec.Offset, rec.Length,
			rec.Timestamp, rec.HasTimestamp, rec.Done, rec.CRLF, rec.TimestampOffset, AppendRecord(nil, rec)), fmt.Sprintf("offset %d line %d", p.Offset(), p.Line()))
	}
	// The sequential list ends with the truncated last record; leave it out.
	if len(want) >= 2 && strings.HasPrefix(want[len(want)-2], "truncated") {
		want = want[:len(want)-2]
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got %d events, want %d", len(got), len(want))
	}
	if _, err := p.Next(); err != io.EOF {
		t.Fatalf("after the error: %v", err)
	}
}

// TestParallelReaderCloseEarly: a caller that stops reading and closes does
// not leave goroutines blocked (the race detector and -count catch leaks as
// hangs).
func TestParallelReaderCloseEarly(t *testing.T) {
	sessions, _ := os.ReadFile("testdata/freeradius/packets-sessions.detail")
	data := bytes.Repeat(sessions, 20)
	p := NewParallelReader(bytes.NewReader(data), "f")
	p.chunkSize = 4096
	if _, err := p.Next(); err != nil {
		t.Fatal(err)
	}
	p.Close()
	p.Close()
}

// FuzzParallelReader: for any data, a ParallelReader with tiny chunks
// returns what a Reader returns.
func FuzzParallelReader(f *testing.F) {
	hostile, _ := os.ReadFile("testdata/freeradius/packets-hostile.detail")
	f.Add(hostile[:1500], 7)
	f.Add([]byte("H\n\tA = 1\nH2\n \n\tB\n\n\n"), 3)
	f.Fuzz(func(t *testing.T, data []byte, chunk int) {
		chunk = 1 + (chunk&0xff)%64
		want := sequentialEvents(data, 200)
		got := parallelEvents(bytes.NewReader(data), 200, chunk, 4*chunk, 2)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("chunk %d: parallel differs from sequential:\n%q\n%q", chunk, got, want)
		}
	})
}

// TestParallelReaderSetPosition: a ParallelReader told where its source
// starts numbers offsets and lines from there, as a Reader does.
func TestParallelReaderSetPosition(t *testing.T) {
	sessions, _ := os.ReadFile("testdata/freeradius/packets-sessions.detail")
	for _, pos := range []struct {
		off  int64
		line int
	}{{0, 1}, {12345, 678}, {1 << 40, 1 << 20}} {
		want := sequentialEventsAt(sessions, 0, pos.off, pos.line)
		for _, chunk := range []int{64, 4096, 1 << 20} {
			got := parallelEventsAt(bytes.NewReader(sessions), 0, chunk, 1<<30, 2, pos.off, pos.line)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("at %d line %d, chunk %d: got %d events, want %d; last %q, want %q", pos.off, pos.line, chunk, len(got), len(want), got[len(got)-1], want[len(want)-1])
			}
		}
	}
}

// splitEvents reads data[:cut] as a complete file and data[cut:] with a
// Reader told where it starts: what a tailer does when it hands the whole
// records of a backlog to a ParallelReader and reads on from their end.
func splitEvents(t *testing.T, data []byte, max, cut int) []string {
	t.Helper()
	first := sequentialEvents(data[:cut], max)
	end := first[len(first)-1] // "EOF at OFFSET line LINE"
	var off int64
	var line int
	if _, err := fmt.Sscanf(end, "EOF at %d line %d", &off, &line); err != nil {
		t.Fatalf("%q: %v", end, err)
	}
	if off != int64(cut) || line != 1+bytes.Count(data[:cut], []byte{'\n'}) {
		t.Fatalf("the first part ends at %d line %d, want %d line %d", off, line, cut, 1+bytes.Count(data[:cut], []byte{'\n'}))
	}
	return append(first[:len(first)-1], sequentialEventsAt(data[cut:], max, off, line)...)
}

func TestLastRecordStart(t *testing.T) {
	hostile, _ := os.ReadFile("testdata/freeradius/packets-hostile.detail")
	long := strings.Repeat("x", 3000)
	for _, tc := range []struct {
		name string
		data string
		want int // -1: none; 0: check only that the split reads the same
		max  int
	}{
		{"empty", "", -1, 0},
		{"one line", "H\n", -1, 0},
		{"header being written", "H\n\tA = 1\n\nH2", 10, 0},
		{"record being written", "H\n\tA = 1\n\nH2\n\tA = 2\n", 10, 0},
		{"attribute lines only", "\tA = 1\n\tB = 2\n \n\r\n", -1, 0},
		{"malformed before", "H\n\tno equals sign\n\tA = 1\nH2\n\tA = 2\n\n", 25, 0},
		{"oversized before", "H\n\tA = \"" + long + "\"\n\tB = 1\nH2\n\tA = 2\n", 0, 1000},
		{"oversized first line", long + "\n\tA = 1\nH\n\tA = 2\n", 0, 1000},
		{"crlf", "H\r\n\tA = 1\r\n\r\nH2\r\n", 13, 0},
		{"hostile", string(hostile), 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.data)
			cut := LastRecordStart(data)
			if tc.want != 0 && cut != tc.want {
				t.Fatalf("LastRecordStart = %d, want %d", cut, tc.want)
			}
			if cut <= 0 {
				return
			}
			want := sequentialEvents(data, tc.max)
			if got := splitEvents(t, data, tc.max, cut); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("cut at %d:\n got %q\nwant %q", cut, got, want)
			}
		})
	}
}

// FuzzLastRecordStart: for any data and any prefix of it (a file being
// written), the whole records before the prefix's LastRecordStart read as a
// complete file, then the rest read on from there, give what one Reader
// gives.
func FuzzLastRecordStart(f *testing.F) {
	hostile, _ := os.ReadFile("testdata/freeradius/packets-hostile.detail")
	f.Add(hostile[:1500], uint16(1200))
	f.Add([]byte("H\n\tA = 1\nH2\n \n\tB\n\n\nH3\n\tC = \"x"), uint16(20))
	f.Fuzz(func(t *testing.T, data []byte, prefix uint16) {
		cut := LastRecordStart(data[:min(int(prefix), len(data))])
		if cut == 0 || cut > len(data) || (cut > 0 && (data[cut-1] != '\n' || isBlank(data[cut:cut+1]))) {
			t.Fatalf("LastRecordStart = %d: not the start of a header line", cut)
		}
		if cut < 0 {
			return
		}
		want := sequentialEvents(data, 200)
		if got := splitEvents(t, data, 200, cut); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("cut at %d:\n got %q\nwant %q", cut, got, want)
		}
	})
}
