package detail

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
)

// A ParallelReader reads the records of a complete detail file (one nobody
// writes to any more, as Reader.Finish treats it) with several goroutines:
// the file is cut into chunks at record boundaries, the chunks are parsed in
// parallel, and Next returns records and errors in file order, exactly as a
// Reader calling Next, then Finish at the end of the data, would.
//
// A record boundary is a line end followed by a line that does not start
// with white space (a header line): whatever state a Reader is in there, it
// ends the record or span it is in, so each chunk parses on its own, its
// offsets and line numbers continuing from the previous chunk. A stretch
// longer than parallelMaxSpan with no boundary (binary garbage, one endless
// line) makes the rest of the file be read by one Reader, so memory stays
// bounded whatever the file holds.
//
// The records of a chunk share one copy of its text (a record keeps the
// chunk's text alive, not the buffer it was read into): one allocation per
// chunk rather than one per record.
//
// Call Close when done (it stops the goroutines when Next has not reached the
// end). A ParallelReader is not safe for concurrent use.
type ParallelReader struct {
	// MaxRecordSize is as Reader.MaxRecordSize. Set it before the first
	// call to Next.
	MaxRecordSize int
	// Workers is how many chunks are parsed at once (default GOMAXPROCS).
	// Set it before the first call to Next.
	Workers int
	// ChunkSize is the size of the pieces the data is read in and cut at
	// record boundaries (default 256 KiB). Set it before the first call to
	// Next.
	ChunkSize int
	// Encode, when set, formats every record (AppendRecord, or a JSON or
	// CSV encoder) in the goroutine that parsed it, so that formatting runs
	// on every core too; Encoded returns the result. It must be safe for
	// concurrent use. Set it before the first call to Next.
	Encode func(dst []byte, rec *Record) []byte
	// Check, when set, is called with every record in the goroutine that
	// parsed it, while the record is in that core's cache, and Checked
	// returns what it said of the record Next returned last: a question
	// about every attribute costs a cache miss per record when the
	// consumer, many records later, asks it. It must be safe for
	// concurrent use. Set it before the first call to Next.
	Check func(rec *Record) bool

	src  io.Reader
	name string
	// chunkSize and maxSpan are parallelChunk and parallelMaxSpan; tests
	// make them small.
	chunkSize, maxSpan int

	started bool
	closed  bool
	order   chan *chunk // chunks in file order, to the consumer
	work    chan *chunk // chunks to parse, to the workers
	stop    chan struct{}
	wg      sync.WaitGroup

	buffers sync.Pool // of *[]byte of capacity chunkSize
	outs    sync.Pool // of *[]byte for chunk.out

	cur     *chunk
	i       int
	off     int64
	line    int
	encoded []byte
	checked bool
	seq     *Reader // the rest of the file, read without chunks
}

// parallelChunk is the size of the chunks the file is cut into.
const parallelChunk = 256 << 10

// parallelMaxSpan is the most a ParallelReader holds while looking for a
// record boundary before it reads the rest of the file with one Reader.
const parallelMaxSpan = 16 << 20

// chunk is a part of the file that starts and ends at record boundaries
// (or at the start and end of the file).
type chunk struct {
	data   []byte
	pooled []byte // the buffer data is in, to recycle
	off    int64  // file offset of data[0]
	line   int    // line number of data[0]
	// readErr is the error the source returned after data; the chunk's
	// last, incomplete record is left for it, as a Reader's Next does.
	readErr error
	// rest, when set, is the rest of the file after data, which is empty:
	// it is read with one Reader.
	rest io.Reader

	results []chunkResult
	out     []byte // the records formatted by Encode
	end     int64  // file offset after the chunk's last result
	endLine int    // line number at end
	done    chan struct{}
}

type chunkResult struct {
	rec      *Record
	err      error
	off      int64 // Offset after it
	line     int   // Line after it
	enc, end int   // rec formatted by Encode is out[enc:end]
	checked  bool  // what Check said of rec
}

// NewParallelReader returns a ParallelReader reading the records of r, a
// complete detail file; name is used in errors and as Record.File.
func NewParallelReader(r io.Reader, name string) *ParallelReader {
	return &ParallelReader{src: r, name: name, chunkSize: parallelChunk, maxSpan: parallelMaxSpan, line: 1}
}

// SetPosition tells the ParallelReader that its source starts at byte offset
// offset, which is the start of line line (1-based), of the file, as
// Reader.SetPosition does. Call it before the first call to Next.
func (p *ParallelReader) SetPosition(offset int64, line int) {
	p.off, p.line = offset, max(line, 1)
}

// Offset returns the file offset up to which records and errors have been
// returned, as Reader.Offset.
func (p *ParallelReader) Offset() int64 { return p.off }

// Line returns the line number at Offset, as Reader.Line.
func (p *ParallelReader) Line() int { return p.line }

// Encoded returns the record Next returned last as Encode formatted it (nil
// without Encode). It is valid until the next call to Next.
func (p *ParallelReader) Encoded() []byte { return p.encoded }

// Checked returns what Check said of the record Next returned last (false
// without Check, or after an error).
func (p *ParallelReader) Checked() bool { return p.checked }

// Next returns the next record, in file order. It returns io.EOF at the end
// of the file, a *SyntaxError for a malformed record (after which Next
// continues with the following record), a *TruncatedError for a last record
// cut off in the middle of a line, and an error of the source, wrapped, after
// which it returns io.EOF.
func (p *ParallelReader) Next() (*Record, error) {
	if !p.started {
		p.start()
	}
	p.checked = false
	for {
		if p.seq != nil {
			rec, err := p.seq.Next()
			if errors.Is(err, ErrIncomplete) {
				rec, err = p.seq.Finish()
			}
			p.off, p.line = p.seq.Offset(), p.seq.Line()
			if p.Encode != nil && err == nil {
				p.encoded = p.Encode(p.encoded[:0], rec)
			}
			p.checked = p.Check != nil && err == nil && p.Check(rec)
			return rec, err
		}
		if p.cur != nil && p.i < len(p.cur.results) {
			r := p.cur.results[p.i]
			p.cur.results[p.i] = chunkResult{}
			p.i++
			p.off, p.line = r.off, r.line
			p.encoded = p.cur.out[r.enc:r.end]
			p.checked = r.checked
			return r.rec, r.err
		}
		if p.cur != nil {
			p.off, p.line = p.cur.end, p.cur.endLine
			p.recycleOut(p.cur)
			if p.cur.rest != nil { // data is empty
				p.seq = NewReader(p.cur.rest, p.name)
				p.seq.MaxRecordSize = p.MaxRecordSize
				p.seq.SetPosition(p.cur.off, p.cur.line)
				p.cur, p.encoded = nil, nil
				continue
			}
		}
		c, ok := <-p.order
		if !ok {
			p.cur = nil
			return nil, io.EOF
		}
		<-c.done
		p.cur, p.i = c, 0
	}
}

// Close stops the goroutines. It does not close the source.
func (p *ParallelReader) Close() error {
	if p.started && !p.closed {
		p.closed = true
		close(p.stop)
		for range p.order { // let the splitter finish
		}
		p.wg.Wait()
	}
	return nil
}

func (p *ParallelReader) start() {
	p.started = true
	if p.ChunkSize > 0 {
		p.chunkSize = p.ChunkSize
		p.maxSpan = max(p.maxSpan, p.chunkSize)
	}
	workers := p.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	p.order = make(chan *chunk, workers+1)
	p.work = make(chan *chunk, workers)
	p.stop = make(chan struct{})
	p.wg.Add(workers + 1)
	for range workers {
		go p.parseChunks()
	}
	go p.split(p.off, p.line)
}

// split reads the source, which starts at off and line, cuts it into chunks
// and hands them out.
func (p *ParallelReader) split(off int64, line int) {
	defer p.wg.Done()
	defer close(p.order)
	defer close(p.work)
	send := func(c *chunk) bool {
		c.done = make(chan struct{})
		select {
		case p.order <- c:
		case <-p.stop:
			return false
		}
		if c.rest != nil {
			c.end, c.endLine = c.off, c.line
			close(c.done) // nothing to parse
			return true
		}
		select {
		case p.work <- c:
			return true
		case <-p.stop:
			close(c.done)
			return false
		}
	}
	buf := p.buffer(0)
	for {
		carry := len(buf)
		buf = buf[:cap(buf)]
		n, err := io.ReadFull(p.src, buf[carry:])
		buf = buf[:carry+n]
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			send(&chunk{data: buf, pooled: buf, off: off, line: line})
			return
		}
		if err != nil {
			send(&chunk{data: buf, pooled: buf, off: off, line: line, readErr: err})
			return
		}
		cut := LastRecordStart(buf)
		if cut <= 0 {
			if len(buf) >= p.maxSpan {
				// No boundary in sight: one Reader reads on from here.
				send(&chunk{off: off, line: line, rest: io.MultiReader(bytes.NewReader(buf), p.src)})
				return
			}
			next := make([]byte, len(buf), 2*len(buf))
			copy(next, buf)
			p.recycle(buf)
			buf = next
			continue
		}
		c := &chunk{data: buf[:cut:cut], pooled: buf, off: off, line: line}
		// The rest goes to the next buffer before c is handed out (and
		// its buffer recycled).
		next := p.buffer(len(buf) - cut)
		copy(next, buf[cut:])
		buf = next
		off += int64(cut)
		line += bytes.Count(c.data, []byte{'\n'})
		if !send(c) {
			return
		}
	}
}

// buffer returns a buffer of length n, of capacity chunkSize at least, from
// the pool of chunk buffers.
func (p *ParallelReader) buffer(n int) []byte {
	if n <= p.chunkSize {
		if b, ok := p.buffers.Get().(*[]byte); ok {
			return (*b)[:n]
		}
	}
	return make([]byte, n, max(p.chunkSize, 2*n))
}

// recycle gives the buffer of a parsed chunk back to the pool. Records do not
// refer to it: a Reader copies what it returns.
func (p *ParallelReader) recycle(b []byte) {
	if cap(b) == p.chunkSize {
		b = b[:0]
		p.buffers.Put(&b)
	}
}

// recycleOut gives the formatted records of a chunk the consumer is done
// with back to the pool (Encoded is valid only until the next Next).
func (p *ParallelReader) recycleOut(c *chunk) {
	if c.out != nil && cap(c.out) <= 16*p.chunkSize {
		b := c.out[:0]
		p.outs.Put(&b)
	}
	c.out = nil
	p.encoded = nil
}

// LastRecordStart returns the offset in b of the last line, other than the
// first, that starts with neither white space nor a line end — a header
// line — or -1 when there is none. Whatever a Reader is in the middle of
// there (a record, a malformed span, an oversized record being skipped), it
// ends before that line, so b[:cut] read as a complete file (Reader.Finish
// at its end) followed by b[cut:] read by a Reader told where it starts
// (SetPosition) returns exactly what one Reader returns for b. A reader of a
// growing file can so hand the whole records before cut to several
// goroutines while the record at cut may still be being written.
func LastRecordStart(b []byte) int {
	for end := len(b) - 1; end > 0; {
		i := bytes.LastIndexByte(b[:end], '\n')
		if i < 0 {
			return -1
		}
		if c := b[i+1]; c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return i + 1
		}
		end = i
	}
	return -1
}

// parseChunks parses the chunks handed out by split.
func (p *ParallelReader) parseChunks() {
	defer p.wg.Done()
	for c := range p.work {
		r := newBytesReader(c.data, p.name)
		r.MaxRecordSize = p.MaxRecordSize
		r.SetPosition(c.off, c.line)
		// Room for the records of a chunk of FreeRADIUS records (about
		// 800 bytes each), so that appending rarely grows the slices.
		c.results = make([]chunkResult, 0, len(c.data)/512+4)
		if p.Encode != nil {
			if b, ok := p.outs.Get().(*[]byte); ok {
				c.out = *b
			} else {
				c.out = make([]byte, 0, len(c.data)+len(c.data)/4)
			}
		}
		for {
			rec, err := r.Next()
			if errors.Is(err, ErrIncomplete) {
				if c.readErr != nil {
					break
				}
				rec, err = r.Finish()
			}
			if err == io.EOF {
				break
			}
			res := chunkResult{rec: rec, err: err, off: r.Offset(), line: r.Line()}
			if p.Encode != nil && err == nil {
				res.enc = len(c.out)
				c.out = p.Encode(c.out, rec)
				res.end = len(c.out)
			}
			res.checked = p.Check != nil && err == nil && p.Check(rec)
			c.results = append(c.results, res)
		}
		c.end, c.endLine = r.Offset(), r.Line()
		r.buf = nil
		p.recycle(c.pooled)
		c.data, c.pooled = nil, nil
		if c.readErr != nil {
			c.results = append(c.results, chunkResult{err: fmt.Errorf("detail: reading %s: %w", p.name, c.readErr), off: c.end, line: c.endLine})
		}
		close(c.done)
	}
}
