package archive

import (
	"bufio"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// ErrBinary is returned by NewReader for data that is neither text nor a
// compression format radrelay reads.
var ErrBinary = errors.New("binary data, not a detail file (nor gzip, bzip2, xz or zstd)")

// ErrTruncated is returned by a decompressing reader when the compressed
// data ends before its stream does: the archive was cut short (a copy or a
// compression that did not finish, a full disk).
var ErrTruncated = errors.New("the compressed data ends before its end marker: the archive is truncated")

// NewReader looks at the first bytes of r and returns a reader of its
// content: r itself (buffered) for text, a decompressing reader for gzip,
// bzip2, xz and zstd (multi-member gzip and concatenated zstd frames are read
// through), and ErrBinary for anything else. Close releases the
// decompressor; it does not close r.
func NewReader(r io.Reader) (io.ReadCloser, Format, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(HeadSize)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, Text, err
	}
	format := Detect(head)
	switch format {
	case Text:
		return io.NopCloser(br), format, nil
	case Gzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, format, fmt.Errorf("gzip: %w", err)
		}
		return truncationReader{zr}, format, nil
	case Bzip2:
		return truncationReader{io.NopCloser(bzip2.NewReader(br))}, format, nil
	case Xz:
		xr, err := xz.NewReader(br)
		if err != nil {
			return nil, format, fmt.Errorf("xz: %w", err)
		}
		return truncationReader{io.NopCloser(xr)}, format, nil
	case Zstd:
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, format, fmt.Errorf("zstd: %w", err)
		}
		return truncationReader{zr.IOReadCloser()}, format, nil
	default:
		return nil, format, ErrBinary
	}
}

// truncationReader turns a decompressor's io.ErrUnexpectedEOF into
// ErrTruncated. Readers of detail data (io.ReadFull among them) take
// io.ErrUnexpectedEOF for a clean end of the data, so a truncated xz, bzip2
// or zstd file read as a well-formed file of 0 records.
type truncationReader struct{ io.ReadCloser }

func (r truncationReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = ErrTruncated
	}
	return n, err
}
