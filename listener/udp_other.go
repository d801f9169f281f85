//go:build !linux

package listener

import (
	"net"
	"net/netip"
)

// Elsewhere than on Linux a UDP socket is read and answered one datagram
// per system call.

// udpSocket is a listening UDP socket.
type udpSocket struct {
	conn *net.UDPConn
}

func newUDPSocket(c *net.UDPConn) (*udpSocket, error) {
	return &udpSocket{conn: c}, nil
}

// replyAddr is where a response goes.
type replyAddr struct {
	ap netip.AddrPort
}

// udpReader reads a socket's datagrams, one at a time.
type udpReader struct {
	sock *udpSocket
	buf  [maxDatagram]byte
	to   replyAddr
	out  [1]datagram
}

func newUDPReader(s *udpSocket) *udpReader {
	return &udpReader{sock: s}
}

// read waits for a datagram and returns it. An error from the socket's
// deadline or closing ends the reader; another is the caller's to ignore.
func (r *udpReader) read() ([]datagram, error) {
	n, from, err := r.sock.conn.ReadFromUDPAddrPort(r.buf[:])
	if err != nil {
		return nil, err
	}
	r.to.ap = from
	r.out[0] = datagram{b: r.buf[:n], from: from, to: &r.to}
	return r.out[:], nil
}

// outgoing is a response to send on a UDP socket.
type outgoing struct {
	b  []byte
	to *replyAddr
}

// udpSender sends the responses of a group commit.
type udpSender struct{}

// send sends out on s. A response the kernel refuses is skipped: the
// client sends its request again, as after a lost datagram.
func (u *udpSender) send(s *udpSocket, out []outgoing) {
	for _, o := range out {
		s.conn.WriteToUDPAddrPort(o.b, o.to.ap)
	}
}
