package archive

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

const sample = "Mon Nov 23 00:35:33 2026\n\tAcct-Status-Type = Start\n\tTimestamp = 1795400133\n\n"

func compress(t *testing.T, f Format, data string) []byte {
	t.Helper()
	var b bytes.Buffer
	switch f {
	case Text:
		b.WriteString(data)
	case Gzip:
		w := gzip.NewWriter(&b)
		w.Write([]byte(data))
		w.Close()
	case Xz:
		w, err := xz.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(data))
		w.Close()
	case Zstd:
		w, err := zstd.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(data))
		w.Close()
	case Bzip2:
		// The standard library reads bzip2 but does not write it.
		path, err := exec.LookPath("bzip2")
		if err != nil {
			t.Skip("bzip2 command not installed; bzip2 reading is the standard library's")
		}
		cmd := exec.Command(path, "-c")
		cmd.Stdin = bytes.NewReader([]byte(data))
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		b.Write(out)
	}
	return b.Bytes()
}

func TestNewReaderRoundTrip(t *testing.T) {
	for _, f := range []Format{Text, Gzip, Bzip2, Xz, Zstd} {
		t.Run(f.String(), func(t *testing.T) {
			data := compress(t, f, sample)
			if got := Detect(data); got != f {
				t.Fatalf("Detect = %v, want %v", got, f)
			}
			r, format, err := NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if format != f {
				t.Fatalf("NewReader format = %v, want %v", format, f)
			}
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != sample {
				t.Fatalf("read %q, want %q", got, sample)
			}
		})
	}
}

func TestNewReaderBinary(t *testing.T) {
	_, format, err := NewReader(bytes.NewReader([]byte("ELF\x00\x01\x02")))
	if format != Binary || !errors.Is(err, ErrBinary) {
		t.Fatalf("format %v, err %v; want binary, ErrBinary", format, err)
	}
}

func TestDetectEmptyAndShort(t *testing.T) {
	for _, head := range [][]byte{nil, []byte("M"), []byte("\x1f")} {
		if got := Detect(head); got != Text {
			t.Errorf("Detect(%q) = %v, want text", head, got)
		}
	}
}

func FuzzNewReader(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte{0x1f, 0x8b, 0, 0})
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 1, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, _, err := NewReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		io.Copy(io.Discard, io.LimitReader(r, 1<<20))
		r.Close()
	})
}

// TestNewReaderTruncated: an archive cut short is an error naming the
// truncation, never a clean end: readers of detail data take
// io.ErrUnexpectedEOF for one, so a cut xz, bzip2 or zstd file read as a
// well-formed file of 0 records ("radrelay check" said ok).
func TestNewReaderTruncated(t *testing.T) {
	data := strings.Repeat(sample, 2000)
	for _, f := range []Format{Gzip, Bzip2, Xz, Zstd} {
		t.Run(f.String(), func(t *testing.T) {
			full := compress(t, f, data)
			cut := full[:len(full)/2]
			r, _, err := NewReader(bytes.NewReader(cut))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			_, err = io.ReadAll(r)
			if !errors.Is(err, ErrTruncated) {
				t.Fatalf("reading the first half of a %v file: err = %v, want ErrTruncated", f, err)
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("err %v still matches io.ErrUnexpectedEOF, which readers take for a clean end", err)
			}
		})
	}
}
