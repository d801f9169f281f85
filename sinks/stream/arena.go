package stream

// An Arena hands out copies of message bytes from a few large blocks, so
// that a sink holding a batch's messages until their acknowledgements
// allocates a few times per batch instead of once per key, value and
// header. A copy stays valid (and unchanged) as long as it is referenced;
// an Arena is not reused, and not safe for concurrent use.
type Arena struct {
	block []byte
}

// arenaBlock is the size of an Arena's blocks: a dozen 1.2 KB messages, in the
// allocator's small size classes (a large block costs page faults).
const arenaBlock = 16 << 10

// Copy returns a copy of b.
func (a *Arena) Copy(b []byte) []byte {
	dst := a.take(len(b))
	copy(dst, b)
	return dst
}

// CopyString returns a copy of s as bytes.
func (a *Arena) CopyString(s string) []byte {
	dst := a.take(len(s))
	copy(dst, s)
	return dst
}

// take returns n bytes of the current block (a new one when it is full; a
// message larger than a block gets its own).
func (a *Arena) take(n int) []byte {
	if n > arenaBlock/4 {
		return make([]byte, n)
	}
	if cap(a.block)-len(a.block) < n {
		a.block = make([]byte, 0, arenaBlock)
	}
	start := len(a.block)
	a.block = a.block[:start+n]
	return a.block[start : start+n : start+n]
}
