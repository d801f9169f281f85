// Package archive recognises files that are not plain detail text — rotated
// detail files compressed by logrotate (gzip, bzip2, xz, zstd) and other
// binary data — and opens compressed ones for reading.
//
// Detection is by content, never by name: logrotate's compressext, a
// ".old" suffix or no suffix at all must not change what radrelay does with
// a file.
package archive

import "bytes"

// Format is what the first bytes of a file say it is.
type Format int

const (
	// Text is anything that looks like a plain detail file.
	Text Format = iota
	Gzip
	Bzip2
	Xz
	Zstd
	// Binary is data that is neither text nor a known compression format.
	Binary
)

// String names the format as an operator would ("gzip", "text").
func (f Format) String() string {
	switch f {
	case Text:
		return "text"
	case Gzip:
		return "gzip"
	case Bzip2:
		return "bzip2"
	case Xz:
		return "xz"
	case Zstd:
		return "zstd"
	default:
		return "binary"
	}
}

// Compressed reports whether f is a compression format this package can open.
func (f Format) Compressed() bool { return f >= Gzip && f <= Zstd }

// HeadSize is how many leading bytes Detect looks at; passing fewer (a short
// file) is fine.
const HeadSize = 512

var magics = []struct {
	prefix []byte
	format Format
}{
	{[]byte{0x1f, 0x8b}, Gzip},
	{[]byte("BZh"), Bzip2},
	{[]byte{0xfd, '7', 'z', 'X', 'Z', 0x00}, Xz},
	{[]byte{0x28, 0xb5, 0x2f, 0xfd}, Zstd},
}

// Detect tells the format of a file from its first bytes (up to HeadSize).
// A NUL byte marks binary data: detail files are text and never hold one.
func Detect(head []byte) Format {
	for _, m := range magics {
		if bytes.HasPrefix(head, m.prefix) {
			return m.format
		}
	}
	if len(head) > HeadSize {
		head = head[:HeadSize]
	}
	if bytes.IndexByte(head, 0) >= 0 {
		return Binary
	}
	return Text
}
