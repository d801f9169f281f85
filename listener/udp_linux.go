package listener

import (
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// On Linux a UDP socket is read with recvmmsg(2) and answered with
// sendmmsg(2): one system call for every request waiting in the socket, one
// for every response of a group commit, instead of one per datagram. The
// calls go through the socket's syscall.RawConn, so they wait in the Go
// runtime's poller like any other read and honour the read deadline that
// stops the listener.

// udpSocket is a listening UDP socket.
type udpSocket struct {
	conn *net.UDPConn
	raw  syscall.RawConn
}

func newUDPSocket(c *net.UDPConn) (*udpSocket, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &udpSocket{conn: c, raw: raw}, nil
}

// replyAddr is where a response goes: the request's source address as the
// kernel gave it (an IPv6 one keeps its scope), sent back as it is.
type replyAddr struct {
	sa  unix.RawSockaddrInet6 // large enough for a RawSockaddrInet4 too
	len uint32
}

// addrPort is the address and port of a.
func (a *replyAddr) addrPort() (netip.AddrPort, bool) {
	switch a.sa.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&a.sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), networkPort(sa.Port)), true
	case unix.AF_INET6:
		addr := netip.AddrFrom16(a.sa.Addr)
		if a.sa.Scope_id != 0 {
			// A link-local source: as the net package does for an
			// interface it cannot name, the zone is the index.
			addr = addr.WithZone(strconv.FormatUint(uint64(a.sa.Scope_id), 10))
		}
		return netip.AddrPortFrom(addr, networkPort(a.sa.Port)), true
	}
	return netip.AddrPort{}, false
}

// networkPort is a port as a sockaddr holds it, in network byte order.
func networkPort(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}

// udpReader reads a socket's datagrams, up to readBatch at a time.
type udpReader struct {
	sock  *udpSocket
	bufs  [readBatch][maxDatagram]byte
	iovs  [readBatch]unix.Iovec
	names [readBatch]replyAddr
	msgs  [readBatch]unix.Mmsghdr
	out   []datagram
}

func newUDPReader(s *udpSocket) *udpReader {
	r := &udpReader{sock: s, out: make([]datagram, 0, readBatch)}
	for i := range r.msgs {
		r.iovs[i].Base = &r.bufs[i][0]
		r.iovs[i].SetLen(maxDatagram)
		r.msgs[i].Hdr.Name = (*byte)(unsafe.Pointer(&r.names[i].sa))
		r.msgs[i].Hdr.Iov = &r.iovs[i]
		r.msgs[i].Hdr.SetIovlen(1)
	}
	return r
}

// read waits for datagrams and returns those waiting (at least one). An
// error from the socket's deadline or closing ends the reader; another is
// the caller's to ignore.
func (r *udpReader) read() ([]datagram, error) {
	for i := range r.msgs {
		r.msgs[i].Hdr.Namelen = uint32(unsafe.Sizeof(r.names[i].sa))
		r.msgs[i].Hdr.Flags = 0
		r.msgs[i].Len = 0
	}
	var n int
	var errno syscall.Errno
	err := r.sock.raw.Read(func(fd uintptr) bool {
		for {
			m, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.msgs[0])), uintptr(len(r.msgs)), unix.MSG_DONTWAIT, 0, 0)
			switch e {
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return false // wait in the poller until the socket is readable
			}
			n, errno = int(m), e
			return true
		}
	})
	if err != nil {
		return nil, err
	}
	if errno != 0 {
		return nil, errno
	}
	out := r.out[:0]
	for i := range n {
		r.names[i].len = r.msgs[i].Hdr.Namelen
		from, ok := r.names[i].addrPort()
		if !ok {
			continue
		}
		out = append(out, datagram{b: r.bufs[i][:r.msgs[i].Len], from: from, to: &r.names[i]})
	}
	return out, nil
}

// outgoing is a response to send on a UDP socket.
type outgoing struct {
	b  []byte
	to *replyAddr
}

// udpSender sends the responses of a group commit; each committer has its
// own (the message headers are reused).
type udpSender struct {
	iovs []unix.Iovec
	msgs []unix.Mmsghdr
}

// send sends out on s, as many per system call as the kernel takes. A
// response the kernel refuses is skipped: the client sends its request
// again, as after a lost datagram.
func (u *udpSender) send(s *udpSocket, out []outgoing) {
	if len(out) == 0 {
		return
	}
	if cap(u.msgs) < len(out) {
		u.msgs = make([]unix.Mmsghdr, len(out))
		u.iovs = make([]unix.Iovec, len(out))
	}
	msgs, iovs := u.msgs[:len(out)], u.iovs[:len(out)]
	for i, o := range out {
		iovs[i].Base = &o.b[0]
		iovs[i].SetLen(len(o.b))
		msgs[i] = unix.Mmsghdr{}
		msgs[i].Hdr.Name = (*byte)(unsafe.Pointer(&o.to.sa))
		msgs[i].Hdr.Namelen = o.to.len
		msgs[i].Hdr.Iov = &iovs[i]
		msgs[i].Hdr.SetIovlen(1)
	}
	for sent := 0; sent < len(msgs); {
		var n int
		var errno syscall.Errno
		err := s.raw.Write(func(fd uintptr) bool {
			for {
				m, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&msgs[sent])), uintptr(len(msgs)-sent), unix.MSG_DONTWAIT, 0, 0)
				switch e {
				case unix.EINTR:
					continue
				case unix.EAGAIN:
					return false // the send buffer is full: wait until it is not
				}
				n, errno = int(m), e
				return true
			}
		})
		if err != nil {
			break // the socket is closed
		}
		if errno != 0 {
			n = 1 // the first message failed: skip it
		}
		sent += n
	}
	// Keep no pointer into the group that is done.
	clear(msgs)
	clear(iovs)
}
