package listener

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// recoverSpool cuts off the part of a record a killed process left at the
// end of a spool file. A write(2) interrupted by SIGKILL can leave the
// beginning of a record; that record was never acknowledged (a response is
// sent only after the whole record is written and fsynced), and the NAS
// sends it again, so the fragment is removed, before anything is appended
// after it. A file of whole records ends with the empty line that ends its
// last record. It returns what it cut, for the log.
func recoverSpool(glob string) ([]string, error) {
	files, err := filepath.Glob(glob)
	if err != nil {
		return nil, err
	}
	var cut []string
	for _, f := range files {
		n, err := cutFragment(f)
		if err != nil {
			return cut, fmt.Errorf("spool: recovering %s: %w", f, err)
		}
		if n > 0 {
			cut = append(cut, fmt.Sprintf("%s: %d bytes", f, n))
		}
	}
	return cut, nil
}

// cutFragment truncates path after the last "\n\n" (to nothing when it has
// none) when it does not end with one, and returns how many bytes it cut.
func cutFragment(path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	if size == 0 {
		return 0, nil
	}
	const chunk = 64 << 10
	buf := make([]byte, chunk+1)
	end := size
	for end > 0 {
		start := max(end-chunk, 0)
		// One byte of overlap with the next chunk, so a "\n\n" across the
		// boundary is seen.
		n := end - start
		if end < size {
			n++
		}
		b := buf[:n]
		if _, err := f.ReadAt(b, start); err != nil && err != io.EOF {
			return 0, err
		}
		if i := bytes.LastIndex(b, []byte("\n\n")); i >= 0 {
			keep := start + int64(i) + 2
			if keep == size {
				return 0, nil
			}
			return size - keep, syncTruncate(f, keep)
		}
		end = start
	}
	return size, syncTruncate(f, 0)
}

func syncTruncate(f *os.File, size int64) error {
	if err := f.Truncate(size); err != nil {
		return err
	}
	return f.Sync()
}
