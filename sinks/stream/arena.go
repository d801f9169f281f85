package stream

// An Arena hands out copies of message bytes from a few large blocks, so
// that a sink holding a batch's messages until their acknowledgements
// allocates a few times per batch instead of once per key, value and
// header. A copy stays valid (and unchanged) as long as it is referenced,
// or until Reset; an Arena is not safe for concurrent use.
type Arena struct {
	block []byte
	// used are the blocks filled since the last Reset, spare those that
	// Reset made free again.
	used, spare [][]byte
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

// Room returns an empty slice with room for at least n bytes (up to a
// quarter of a block) in the current block, to append a message to in
// place instead of copying it afterwards; Keep then keeps what was
// appended. Appending past the room moves the bytes to an allocation of
// their own, which Keep keeps as it is.
func (a *Arena) Room(n int) []byte {
	n = min(n, arenaBlock/4)
	if cap(a.block)-len(a.block) < n {
		a.next()
	}
	return a.block[len(a.block):len(a.block)]
}

// Keep keeps b, which was appended to the slice of the latest Room, and
// returns it with its capacity cut to its length (appending to it cannot
// write into the next message).
func (a *Arena) Keep(b []byte) []byte {
	b = b[:len(b):len(b)]
	free := a.block[len(a.block):cap(a.block)]
	if len(b) > 0 && len(b) <= len(free) && &free[0] == &b[0] {
		a.block = a.block[:len(a.block)+len(b)]
	}
	return b
}

// Reset makes every block reusable. Only call it when no copy handed out
// since the last Reset is referenced any more (every message of the batch
// was acknowledged or failed): a later copy overwrites it.
func (a *Arena) Reset() {
	if a.block != nil {
		a.used = append(a.used, a.block)
		a.block = nil
	}
	for _, b := range a.used {
		a.spare = append(a.spare, b[:0])
	}
	clear(a.used)
	a.used = a.used[:0]
}

// take returns n bytes of the current block (a new one when it is full; a
// message larger than a block gets its own).
func (a *Arena) take(n int) []byte {
	if n > arenaBlock/4 {
		return make([]byte, n)
	}
	if cap(a.block)-len(a.block) < n {
		a.next()
	}
	start := len(a.block)
	a.block = a.block[:start+n]
	return a.block[start : start+n : start+n]
}

// next starts a new block: a spare one, or a new allocation.
func (a *Arena) next() {
	if a.block != nil {
		a.used = append(a.used, a.block)
	}
	if n := len(a.spare); n > 0 {
		a.block, a.spare[n-1] = a.spare[n-1], nil
		a.spare = a.spare[:n-1]
		return
	}
	a.block = make([]byte, 0, arenaBlock)
}
