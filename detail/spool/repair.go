package spool

import (
	"fmt"
	"io"
	"os"
)

// A write(2) that fails part way (a full disk, a quota) leaves the beginning
// of a record at the end of the file. The caller is told the record was not
// written and writes it again, so the fragment must go: the Writer truncates
// the file back to the end of the last whole record at once, before anyone
// else may append (it holds the file's lock when Lock is set). After any
// failed write the file holds only whole records.
//
// Should ftruncate fail, the fragment is ended at once with a terminator
// readers of the format reject (see Writer.terminator), so it is quarantined
// as malformed and never read as a short valid record. Should that write fail
// too, the fragment is remembered as a pendingCut and dealt with (truncated,
// else ended) before the next record for that file is written, and that
// record fails if it cannot be. Writers sharing a file must take Lock: a
// writer in another process that appends after a fragment before it is cut
// leaves it followed by a record.

// pendingCut is a fragment left at the end of a file that could not be
// truncated at once.
type pendingCut struct {
	file  os.FileInfo
	start int64  // where the fragment begins: the end of the last whole record
	end   int64  // the file's size just after the fragment was written
	term  []byte // what is still to be written if the fragment cannot be truncated
}

// cutTerminator ends a detail record that a failed write cut off with a line
// readers reject (it has no " = "), so the fragment is quarantined as
// malformed; the caller, told that the write failed, writes the whole record
// again.
func cutTerminator(endsWithLF bool) []byte {
	const line = "\tradrelay: a failed write cut off this record here; it was written again after it\n\n"
	if endsWithLF {
		return []byte(line)
	}
	return []byte("\n" + line)
}

// terminator returns what ends a fragment that cannot be truncated: for
// detail files, see cutTerminator; for other formats (Encode set), a line
// end, so the broken line (invalid JSON, a short CSV row) stays on its own.
func (w *Writer) terminator(endsWithLF bool) []byte {
	if !w.detailFormat {
		if endsWithLF {
			return nil
		}
		return []byte("\n")
	}
	return cutTerminator(endsWithLF)
}

// cutBack removes the last frag bytes of the file of of, what the write that
// just failed wrote: the part of a record, whose last byte is lastByte, or
// (lastByte 0) whole records whose fsync failed, which are left in place
// when they cannot be cut. w.mu is held, and the file's lock when Lock is
// set.
func (w *Writer) cutBack(path string, of *openFile, frag int, lastByte byte) {
	if frag <= 0 {
		return
	}
	pos, err := of.f.Seek(0, io.SeekCurrent) // O_APPEND: just after our write
	st, serr := of.f.Stat()
	if err != nil || serr != nil {
		// Without the position nothing can be cut safely; end the fragment.
		if serr == nil && lastByte != 0 {
			w.cut[path] = &pendingCut{file: st, start: -1, end: -1, term: w.terminator(lastByte == '\n')}
		}
		return
	}
	c := &pendingCut{file: st, start: pos - int64(frag), end: pos}
	if lastByte != 0 {
		c.term = w.terminator(lastByte == '\n')
	}
	if st.Size() == pos {
		if w.truncate(of.f, c.start) == nil {
			return
		}
		// Cannot truncate: end the fragment now, before anything follows it.
		if len(c.term) > 0 {
			n, err := w.write(of.f, c.term)
			c.term, c.end = c.term[n:], c.end+int64(n)
			if err == nil && len(c.term) == 0 {
				return
			}
		}
	}
	w.cut[path] = c
}

// repair deals with a fragment an earlier failed write left in the file of
// of (see pendingCut) before a new record is appended. It returns an error
// when the fragment is still there, so that nothing is appended after it.
// w.mu is held, and the file's lock when Lock is set.
func (w *Writer) repair(path string, of *openFile) error {
	c := w.cut[path]
	if c == nil {
		return nil
	}
	st, err := of.f.Stat()
	if err != nil {
		return fmt.Errorf("spool: stat %s: %w", path, err)
	}
	if c.start < 0 && c.end < 0 {
		// The position was unknown: end the fragment.
		c.end = st.Size()
	}
	if !os.SameFile(st, c.file) {
		// A reader took the file away with the fragment; it reports it as a
		// truncated or malformed record. This file is a new one.
		delete(w.cut, path)
		return nil
	}
	if st.Size() != c.end {
		// Another writer (without Lock) appended after the fragment:
		// nothing written now can end it any more.
		delete(w.cut, path)
		return nil
	}
	if c.start >= 0 && w.truncate(of.f, c.start) == nil {
		delete(w.cut, path)
		return nil
	}
	for len(c.term) > 0 {
		n, err := w.write(of.f, c.term)
		c.term, c.end = c.term[n:], c.end+int64(n)
		if err == nil && n == 0 {
			err = io.ErrShortWrite
		}
		if err != nil {
			return fmt.Errorf("spool: ending the part of a record a failed write left in %s: %w", path, err)
		}
	}
	delete(w.cut, path)
	return nil
}
