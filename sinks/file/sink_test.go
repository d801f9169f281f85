package file

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks"
	"github.com/radrelay/radrelay/sinks/sinktest"
)

// readDetail reads every record of a detail file.
func readDetail(t *testing.T, data []byte) []*detail.Record {
	t.Helper()
	r := detail.NewReader(bytes.NewReader(data), "out")
	var recs []*detail.Record
	for {
		rec, err := r.Next()
		if errors.Is(err, detail.ErrIncomplete) {
			rec, err = r.Finish()
		}
		if err == io.EOF {
			return recs
		}
		if err != nil {
			t.Fatalf("reading the sink's output: %v", err)
		}
		recs = append(recs, rec)
	}
}

// sessionIDs reads back the Acct-Session-Id of every record a sink wrote in
// format to data.
func sessionIDs(t *testing.T, format string, data []byte) []string {
	t.Helper()
	var ids []string
	switch format {
	case FormatDetail:
		for _, rec := range readDetail(t, data) {
			ids = append(ids, sinktest.SessionID(rec))
		}
	case FormatJSONL:
		dec := json.NewDecoder(bytes.NewReader(data))
		for {
			var obj struct {
				Attributes map[string]any `json:"attributes"`
			}
			if err := dec.Decode(&obj); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("bad JSON line: %v", err)
			}
			id, _ := obj.Attributes["Acct-Session-Id"].(string)
			ids = append(ids, id)
		}
	case FormatCSV:
		if len(data) == 0 {
			return nil
		}
		rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
		if err != nil {
			t.Fatalf("bad CSV: %v", err)
		}
		col := -1
		for i, c := range rows[0] {
			if c == "Acct-Session-Id" {
				col = i
			}
		}
		for _, row := range rows[1:] {
			ids = append(ids, row[col])
		}
	}
	return ids
}

func TestConformance(t *testing.T) {
	for _, format := range []string{FormatDetail, FormatJSONL, FormatCSV} {
		t.Run(format, func(t *testing.T) {
			var path string
			sinktest.Run(t, sinktest.Harness{
				New: func(t *testing.T) sinks.Sink {
					path = filepath.Join(t.TempDir(), "out")
					s, err := New(Config{Format: format, Path: path, Fsync: "each"})
					if err != nil {
						t.Fatal(err)
					}
					return s
				},
				Delivered: func(t *testing.T) []string {
					data, err := os.ReadFile(path)
					if errors.Is(err, os.ErrNotExist) {
						return nil
					}
					if err != nil {
						t.Fatal(err)
					}
					return sessionIDs(t, format, data)
				},
			})
		})
	}
}

// TestDetailCopyIsExact: a detail sink's file is the records as FreeRADIUS
// wrote them, byte for byte.
func TestDetailCopyIsExact(t *testing.T) {
	src, err := os.ReadFile("../../detail/testdata/freeradius/packets-hostile.detail")
	if err != nil {
		t.Fatal(err)
	}
	recs := readDetail(t, src)
	path := filepath.Join(t.TempDir(), "copy", "detail")
	s, err := New(Config{Format: "detail", Path: path, Lock: true})
	if err != nil {
		t.Fatal(err)
	}
	results := make([]error, len(recs))
	s.Send(context.Background(), recs, results)
	for _, err := range results {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if !bytes.Equal(got, src) {
		t.Fatal("the copy differs from the source")
	}
}

func TestStdoutAndCSVHeaderOnce(t *testing.T) {
	var out bytes.Buffer
	s, err := open(Config{Format: "csv", Path: "-", Columns: []string{"Acct-Session-Id", "Other-Attributes"}}, &out)
	if err != nil {
		t.Fatal(err)
	}
	recs := sinktest.Records(3)
	results := make([]error, 3)
	s.Send(context.Background(), recs[:2], results[:2])
	s.Send(context.Background(), recs[2:], results[2:])
	s.Close()
	if got := strings.Count(out.String(), "Acct-Session-Id,Other-Attributes\r\n"); got != 1 {
		t.Fatalf("header rows: %d\n%s", got, out.String())
	}
	if ids := sessionIDs(t, FormatCSV, out.Bytes()); len(ids) != 3 {
		t.Fatalf("ids %v", ids)
	}

	// A CSV file that already has rows gets no second header.
	path := filepath.Join(t.TempDir(), "a.csv")
	for range 2 {
		s, err := New(Config{Format: "csv", Path: path})
		if err != nil {
			t.Fatal(err)
		}
		s.Send(context.Background(), recs[:1], results[:1])
		s.Close()
	}
	data, _ := os.ReadFile(path)
	if n := bytes.Count(data, []byte("Date,Time,")); n != 1 {
		t.Fatalf("%d header rows in an appended CSV file", n)
	}
}

func TestConfigFromURL(t *testing.T) {
	tests := []struct {
		in   string
		want Config
		err  bool
	}{
		{in: "detail:/var/spool/copy/detail-%Y%m%d", want: Config{Format: "detail", Path: "/var/spool/copy/detail-%Y%m%d"}},
		{in: "jsonl:-", want: Config{Format: "jsonl", Path: "-"}},
		{in: "csv:/tmp/x.csv", want: Config{Format: "csv", Path: "/tmp/x.csv"}},
		{in: "detail:///var/x?fsync=each&lock=yes", want: Config{Format: "detail", Path: "/var/x", Fsync: "each", Lock: true}},
		{in: "csv:/tmp/x.csv?columns=User-Name,Acct-Session-Id&fsync=2s", want: Config{Format: "csv", Path: "/tmp/x.csv", Fsync: "2s", Columns: []string{"User-Name", "Acct-Session-Id"}}},
		{in: "xml:/tmp/x", err: true},
		{in: "detail:", err: true},
		{in: "detail:/x?fsync=sometimes", err: true},
		{in: "detail:/x?color=red", err: true},
		{in: "detail:/x?file_mode=9", err: true},
		{in: "/tmp/x", err: true},
	}
	for _, tt := range tests {
		got, err := ConfigFromURL(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("%s: error %v", tt.in, err)
			continue
		}
		if !tt.err && (got.Format != tt.want.Format || got.Path != tt.want.Path || got.Fsync != tt.want.Fsync || got.Lock != tt.want.Lock || strings.Join(got.Columns, ",") != strings.Join(tt.want.Columns, ",")) {
			t.Errorf("%s: got %+v, want %+v", tt.in, got, tt.want)
		}
	}
}
