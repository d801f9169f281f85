package radsec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// RADIUS packet length limits (RFC 2865 §3).
const (
	MinPacketLength = 20
	MaxPacketLength = 4096
)

// ErrFraming means the stream does not hold a RADIUS packet where one must
// start. There is no way to find the next packet: the connection must be
// closed (RFC 6614 §2.5 leaves nothing else).
var ErrFraming = errors.New("radsec: stream out of sync")

// ReadPacket reads the next RADIUS packet from a RadSec stream into buf
// (which must hold MaxPacketLength octets) and returns it. A clean end of
// the stream between packets is io.EOF; an end within one is
// io.ErrUnexpectedEOF; a Length outside 20..4096 is ErrFraming.
func ReadPacket(r io.Reader, buf []byte) ([]byte, error) {
	if len(buf) < MaxPacketLength {
		return nil, fmt.Errorf("radsec: read buffer of %d octets, need %d", len(buf), MaxPacketLength)
	}
	if _, err := io.ReadFull(r, buf[:4]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(buf[2:4]))
	if n < MinPacketLength || n > MaxPacketLength {
		return nil, fmt.Errorf("%w: packet length %d (code %d, identifier %d)", ErrFraming, n, buf[0], buf[1])
	}
	if _, err := io.ReadFull(r, buf[4:n]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf[:n], nil
}

// CheckPacket reports whether p can be written as one RadSec packet: its
// Length field must be its size, within 20..4096 octets.
func CheckPacket(p []byte) error {
	if len(p) < MinPacketLength || len(p) > MaxPacketLength {
		return fmt.Errorf("radsec: packet of %d octets, want %d..%d", len(p), MinPacketLength, MaxPacketLength)
	}
	if n := int(binary.BigEndian.Uint16(p[2:4])); n != len(p) {
		return fmt.Errorf("radsec: packet of %d octets says its length is %d", len(p), n)
	}
	return nil
}
