//go:build linux

package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/internal/tmpfstest"
)

// TestWriterFullDisk fills a real filesystem (a 64 KiB tmpfs) while writing
// batches of records, as the file sink does, then makes room and writes the
// failed records again, as the tailer does. At every failure the file holds
// only whole records; at the end every record is there exactly once.
func TestWriterFullDisk(t *testing.T) {
	jsonLine := func(dst []byte, rec *detail.Record) []byte {
		u, _ := rec.Get("User-Name")
		return append(dst, fmt.Sprintf(`{"user":%q,"pad":%q}`+"\n", u.Value, strings.Repeat("x", 300))...)
	}
	for _, tc := range []struct {
		name   string
		encode func([]byte, *detail.Record) []byte
		header string
	}{
		{"detail", nil, ""},
		{"jsonl", jsonLine, ""},
		{"csv-like with header", jsonLine, "user,pad\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tmpfstest.Mount(t, 64<<10)
			path := filepath.Join(dir, "out")
			w, err := New(Options{Template: path, Encode: tc.encode, Header: []byte(tc.header)})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			partial := 0
			w.write = func(f *os.File, b []byte) (int, error) {
				n, err := f.Write(b)
				if err != nil && n > 0 {
					partial++
				}
				return n, err
			}
			var recs []*detail.Record
			for i := range 600 {
				recs = append(recs, testRecord(fmt.Sprintf("user-%04d", i), 1795435059, "10.0.0.1"))
			}
			written := map[string]int{}
			// check reads the file back: whole records only, each once.
			check := func(final bool) {
				t.Helper()
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				got := map[string]int{}
				if tc.encode == nil {
					recs, errs := readAll(t, data, path)
					if len(errs) > 0 {
						t.Fatalf("%d malformed records, first: %v", len(errs), errs[0])
					}
					for _, r := range recs {
						u, _ := r.Get("User-Name")
						got[u.Value]++
					}
				} else {
					text := strings.TrimPrefix(string(data), tc.header)
					if tc.header != "" && len(data) > 0 && !strings.HasPrefix(string(data), tc.header) {
						t.Fatalf("file does not start with its header: %.40q", data)
					}
					if text != "" && !strings.HasSuffix(text, "\n") {
						t.Fatalf("file ends inside a line: ...%q", text[max(0, len(text)-40):])
					}
					for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
						if l == "" {
							continue
						}
						if !strings.HasPrefix(l, `{"user":"user-`) || !strings.HasSuffix(l, `"}`) {
							t.Fatalf("broken line %.60q", l)
						}
						got[l[9:18]]++
					}
				}
				for u, n := range got {
					if n != 1 || written[u] != 1 {
						t.Fatalf("%s is in the file %d times, written %d times", u, n, written[u])
					}
				}
				if len(got) != len(written) || (final && len(got) != len(recs)) {
					t.Fatalf("%d records in the file, %d written, of %d", len(got), len(written), len(recs))
				}
			}
			var pending []*detail.Record
			full := 0
			for i := 0; i < len(recs) || len(pending) > 0; {
				for len(pending) < 7 && i < len(recs) {
					pending = append(pending, recs[i])
					i++
				}
				errs := make([]error, len(pending))
				w.WriteBatch(pending, errs)
				var again []*detail.Record
				for k, err := range errs {
					if err != nil {
						if !errors.Is(err, syscall.ENOSPC) {
							t.Fatalf("record %d: %v", k, err)
						}
						again = append(again, pending[k])
						continue
					}
					u, _ := pending[k].Get("User-Name")
					written[u.Value]++
				}
				pending = again
				if len(again) > 0 {
					full++
					check(false)
					// Make room: the operator frees space, the tailer
					// writes what failed again.
					tmpfstest.Resize(t, dir, (64<<10)*(full+1)*2)
				}
			}
			check(true)
			if full == 0 {
				t.Fatal("the disk never filled up")
			}
			t.Logf("disk full %d times, %d writes cut part way", full, partial)
			if partial == 0 {
				t.Error("no write(2) was cut part way: the test did not test what it is for")
			}
		})
	}
}
