package radius

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	layeh "layeh.com/radius"
)

// errNoIdentifier means every Identifier of every socket of a server is in
// use. The socket pool is sized so that this cannot happen within the window;
// seeing it means a bug, and the record is retried later.
var errNoIdentifier = errors.New("no free RADIUS Identifier")

// slot is one Identifier of one socket while a request uses it. header holds
// the first 20 octets of the request as sent (the Request Authenticator is
// what a reply is verified against).
type slot struct {
	owner  *pending
	header [20]byte
	seq    uint64 // the server's send sequence number of the last send with this slot
	sentAt int64  // when that send was, in nanoseconds since the endpoint opened
	first  bool   // that send was the request's first (its answer measures the RTT)
	early  bool   // a fast retransmission was requested for seq
	// overdueUsed: this retransmission round already had its early resend
	// for being overdue (a server that answers nothing gets no more).
	overdueUsed bool
	// overtakenLeft is how many more early resends for being overtaken
	// this round may have.
	overtakenLeft int
	status        bool // a Status-Server: answered with Accounting-Response or Access-Accept
}

// conn is one UDP socket to one server with its 256 Identifiers.
//
// A request takes an Identifier, sends, and gives the Identifier back when it
// is done. The reader goroutine matches every datagram to the slot of its
// Identifier and verifies its Response Authenticator against that slot's
// request: a reply that does not verify is dropped and counted, never
// believed.
type conn struct {
	udp    *net.UDPConn
	server *endpoint

	// sendSeq numbers the datagrams sent on this socket and acked is the
	// highest number answered: a server answers one socket's requests
	// roughly in order, so a request a window-full of later ones overtook
	// was lost. (Across sockets the order says nothing: their reader
	// goroutines run independently.)
	sendSeq atomic.Uint64
	acked   atomic.Uint64

	identifiers
}

// identifiers are the 256 Identifiers of one socket or connection.
type identifiers struct {
	mu     sync.Mutex
	slots  [256]*slot
	inUse  int
	cursor int // next Identifier to try: round robin, so a just-freed id is reused last
}

func newConn(udp *net.UDPConn, server *endpoint) *conn {
	return &conn{udp: udp, server: server}
}

// acquire reserves a free Identifier for p.
func (c *identifiers) acquire(p *pending) (byte, *slot, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inUse == 256 {
		return 0, nil, false
	}
	for i := 0; i < 256; i++ {
		id := (c.cursor + i) & 0xff
		if c.slots[id] == nil {
			s := &slot{owner: p}
			c.slots[id] = s
			c.inUse++
			c.cursor = (id + 1) & 0xff
			return byte(id), s, true
		}
	}
	return 0, nil, false
}

// release gives Identifier id back if s still holds it.
func (c *identifiers) release(id byte, s *slot) {
	c.mu.Lock()
	if c.slots[id] == s {
		c.slots[id] = nil
		c.inUse--
	}
	c.mu.Unlock()
}

// readLoop receives replies until the socket is closed.
func (c *conn) readLoop() {
	buf := make([]byte, layeh.MaxPacketLength)
	for {
		n, err := c.udp.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// ECONNREFUSED from an ICMP port unreachable and the like:
			// the request is retransmitted as if it were lost (see
			// noteRefused), and the refusal is said at once.
			if errors.Is(err, syscall.ECONNREFUSED) {
				c.server.noteRefused()
			}
			continue
		}
		c.handleReply(buf[:n])
	}
}

// handleReply matches one datagram to the request of its Identifier and
// acknowledges that request only when the datagram is an Accounting-Response
// whose Response Authenticator verifies against it.
func (c *conn) handleReply(b []byte) {
	stats := &c.server.stats
	if len(b) < 20 {
		stats.malformed.Add(1)
		return
	}
	length := int(b[2])<<8 | int(b[3])
	if length < 20 || length > len(b) {
		stats.malformed.Add(1)
		return
	}
	b = b[:length]
	id := b[1]
	c.mu.Lock()
	s := c.slots[id]
	var header [20]byte
	var owner *pending
	var seq uint64
	var sentAt int64
	var first bool
	if s != nil {
		header = s.header
		owner = s.owner
		seq, sentAt, first = s.seq, s.sentAt, s.first
	}
	c.mu.Unlock()
	if owner == nil {
		stats.unmatched.Add(1)
		return
	}
	if layeh.Code(b[0]) != layeh.CodeAccountingResponse ||
		!layeh.IsAuthenticResponse(b, header[:], c.server.secret) {
		stats.forged.Add(1)
		c.server.noteForged()
		return
	}
	c.ackedUpTo(seq)
	if first {
		c.server.sampleRTT(sentAt)
	}
	// The server answered now, whenever the request's goroutine runs.
	now := c.server.now()
	c.server.heard(now)
	owner.ackAt(now)
}

// ackedUpTo records that the datagram numbered seq was answered.
func (c *conn) ackedUpTo(seq uint64) {
	for {
		cur := c.acked.Load()
		if seq <= cur || c.acked.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// overtaken asks every unanswered request on this socket to retransmit now
// when a request sent distance sends after it on this socket was answered,
// or when it was sent before overdue (nanoseconds since the endpoint opened).
func (c *conn) overtaken(distance uint64, overdue int64) {
	acked := c.acked.Load()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inUse == 0 {
		return
	}
	for _, s := range c.slots {
		if s == nil || s.seq == 0 || s.early {
			continue
		}
		overtaken := s.seq+distance <= acked && s.overtakenLeft > 0
		if overtaken || (s.sentAt < overdue && !s.overdueUsed) {
			s.early = true
			s.owner.overtaken.Store(overtaken)
			select {
			case s.owner.early <- struct{}{}:
			default:
			}
		}
	}
}

// pending is one exchange with one server: a request waiting for its reply.
type pending struct {
	acked chan struct{}
	early chan struct{} // overtaken or overdue: retransmit before the timer
	// overtaken tells why: a window-full of later requests was answered (a
	// loss, and congestion) rather than only a long wait (which a busy
	// machine causes too).
	overtaken atomic.Bool
	// readAt is when the reader read the reply (health clock, Unix ns; 0:
	// none): the request's goroutine may wake long after.
	readAt atomic.Int64
}

func newPending() *pending {
	return &pending{acked: make(chan struct{}, 1), early: make(chan struct{}, 1)}
}

// ackAt signals the reply, read at now; duplicates are ignored.
func (p *pending) ackAt(now time.Time) {
	p.readAt.CompareAndSwap(0, now.UnixNano())
	p.ack()
}

// repliedAt is when the reply signalled on acked was read.
func (p *pending) repliedAt() time.Time {
	return time.Unix(0, p.readAt.Load())
}

// ack signals the reply; duplicates are ignored.
func (p *pending) ack() {
	select {
	case p.acked <- struct{}{}:
	default:
	}
}
