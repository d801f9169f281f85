package tailer

// A backlog (a large stretch of a file not read yet: a replay, a restart
// after downtime, a consume spool that filled while a sink was down) is
// parsed on every core with a detail.ParallelReader; what follows it, and
// every small append, is read by one detail.Reader as it arrives.
//
// A plain file's backlog is the region from the reader's position to the
// start of the last header line before the file's current size
// (detail.LastRecordStart): every record before that line is whole, so the
// region is parsed as a complete file and yields exactly what one Reader
// would, while the record at its end, which a writer may still be
// appending, is left to the Reader that goes on from there. Positions,
// quarantined spans and their order are therefore the same on both paths
// (TestBacklogSameAsSerial).

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/radrelay/radrelay/archive"
	"github.com/radrelay/radrelay/detail"
)

// defaultParallelMin is the backlog, in bytes of a plain file, from which a
// sink's reader parses it with every core (detail.ParallelReader); below it
// one goroutine keeps up and starts at once. A compressed file (Replay) is
// parsed in parallel from an eighth of that on disk.
const defaultParallelMin = 1 << 20

// backlogLookBack bounds how far before a file's size the end of a backlog
// region (the last header line) is looked for; a longer stretch without one
// (binary garbage) is read by one Reader.
const backlogLookBack = 1 << 20

// errShrunk is what a backlog region's source returns when the file ends
// before the region does: it was truncated while being read.
var errShrunk = errors.New("the file shrank while being read (truncated?)")

// regionReader reads [off, end) of a file through the shared descriptor.
type regionReader struct {
	f        *os.File
	off, end int64
}

func (r *regionReader) Read(p []byte) (int, error) {
	if r.off >= r.end {
		return 0, io.EOF
	}
	if int64(len(p)) > r.end-r.off {
		p = p[:r.end-r.off]
	}
	n, err := r.f.ReadAt(p, r.off)
	r.off += int64(n)
	if n > 0 {
		return n, nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return 0, errShrunk
	}
	return 0, err
}

// backlogEnd returns where a backlog region of the plain file, read from
// fr.off, ends: the start of the last header line before size; -1 when
// there is none within backlogLookBack.
func (fr *fileReader) backlogEnd(size int64) int64 {
	for look := int64(64 << 10); ; look = backlogLookBack {
		from := max(fr.off, size-look)
		buf := make([]byte, size-from)
		if n, _ := fr.of.f.ReadAt(buf, from); n < len(buf) {
			return -1 // shrunk meanwhile: the read path sees it
		}
		if cut := detail.LastRecordStart(buf); cut > 0 {
			return from + int64(cut)
		}
		if from == fr.off || look == backlogLookBack {
			return -1
		}
	}
}

// startBacklog starts parsing the plain file's backlog in parallel when it
// is large enough to pay; it reports whether it did.
func (r *sinkRunner) startBacklog(fr *fileReader, name string, size int64) bool {
	min := r.t.parallelMin
	if fr.par != nil || fr.run != nil || min <= 0 || size-fr.off < min {
		return false
	}
	end := fr.backlogEnd(size)
	if end-fr.off < min {
		return false
	}
	// A Reader open on the file is dropped: its position past fr.off is at
	// most blank lines and the start of a record, read again from fr.off.
	fr.closeReader()
	fr.par = r.newParallel(&regionReader{f: fr.of.f, off: fr.off, end: end}, name, fr.off, fr.line)
	return true
}

// newParallel returns a ParallelReader of src, which starts at off and line.
func (r *sinkRunner) newParallel(src io.Reader, name string, off int64, line int) *detail.ParallelReader {
	p := detail.NewParallelReader(src, name)
	p.ChunkSize = r.t.parallelChunk
	// Asked of every record while a parsing goroutine has it in cache:
	// the reader goroutine asking it of a record parsed long before
	// spent 4% of radrelay's CPU into JetStream in cache misses.
	p.Check = recordMayBeAnnotated
	p.SetPosition(off, line)
	return p
}

// endBacklog goes on from the end of a plain file's backlog region with one
// Reader, exactly where the region's parsing stopped (its Offset includes
// the blank lines at its end; fr.off, the commit position, does not).
func (fr *fileReader) endBacklog(name string) {
	off, line := fr.par.Offset(), fr.par.Line()
	fr.closeReader()
	fr.src = offsetReader{f: fr.of.f, off: off}
	fr.rd = detail.NewReader(&fr.src, name)
	fr.rd.SetPosition(off, line)
}

// openCompressed starts reading a compressed file (Replay) at the reader's
// position: positions are offsets in the decompressed stream, so the stream
// is decompressed from its start and the bytes before the position skipped.
// A large file is parsed in parallel to its end (it is complete), the
// decompression running on a goroutine of its own.
func (r *sinkRunner) openCompressed(fr *fileReader, name string) error {
	dec, _, err := archive.NewReader(io.NewSectionReader(fr.of.f, 0, math.MaxInt64))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if fr.off > 0 {
		if _, err := io.CopyN(io.Discard, dec, fr.off); err != nil {
			dec.Close()
			return fmt.Errorf("%s: skipping to the saved position %d: %w", name, fr.off, err)
		}
	}
	fr.dec = dec
	if size, err := fr.of.size(); err == nil && r.t.parallelMin > 0 && size >= r.t.parallelMin/8 {
		fr.par = r.newParallel(dec, name, fr.off, fr.line)
		return nil
	}
	fr.rd = detail.NewReader(dec, name)
	fr.rd.SetPosition(fr.off, fr.line)
	return nil
}
