package listener

import "net/netip"

// datagram is a received datagram: its bytes (in the reader's buffer,
// valid until its next read), its source, and where to answer it.
type datagram struct {
	b    []byte
	from netip.AddrPort
	to   *replyAddr
}
