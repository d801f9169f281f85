// Package holdingserver is a RADIUS accounting server for tests that prove
// a sender has several requests in flight at once: it holds its answers
// until it has a given number of requests unanswered, then answers
// everything, and records the most it saw unanswered at once. A sender
// that sends one batch at a time, smaller than that number, never gets
// there; after a while the server gives up holding (that path only ends a
// failing test).
package holdingserver

import (
	"net"
	"sync"
	"testing"
	"time"

	layeh "layeh.com/radius"
)

// giveUp is when the server stops holding if the sender never gets to hold
// requests unanswered: a failing test then ends instead of hanging.
const giveUp = 20 * time.Second

// Server is a holding RADIUS accounting server on a loopback UDP port.
type Server struct {
	conn   net.PacketConn
	secret []byte
	hold   int

	mu sync.Mutex
	// pending is by record (recordKey): a retransmission is the same
	// record, not one more.
	pending map[string]held
	most    int
	holding bool
}

type held struct {
	addr net.Addr
	resp []byte
}

// Start starts a server that answers requests signed with secret once hold
// of them are unanswered at once (and every one at once from then on). It
// stops when the test ends.
func Start(t testing.TB, secret string, hold int) *Server {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{conn: conn, secret: []byte(secret), hold: hold, holding: true, pending: map[string]held{}}
	t.Cleanup(func() { conn.Close() })
	timer := time.AfterFunc(giveUp, s.release)
	t.Cleanup(func() { timer.Stop() })
	go s.serve()
	return s
}

// Addr is the server's address, "127.0.0.1:PORT".
func (s *Server) Addr() string { return s.conn.LocalAddr().String() }

// MostUnanswered is the most requests (records) the server had unanswered
// at once.
func (s *Server) MostUnanswered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.most
}

func (s *Server) serve() {
	buf := make([]byte, 4096)
	for {
		n, addr, err := s.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		p, err := layeh.Parse(buf[:n], s.secret)
		if err != nil {
			continue
		}
		resp, err := p.Response(layeh.CodeAccountingResponse).Encode()
		if err != nil {
			continue
		}
		s.mu.Lock()
		s.pending[recordKey(p)] = held{addr, resp}
		s.most = max(s.most, len(s.pending))
		now := !s.holding || len(s.pending) >= s.hold
		s.mu.Unlock()
		if now {
			s.release()
		}
	}
}

// release answers every held request and stops holding.
func (s *Server) release() {
	s.mu.Lock()
	h := s.pending
	s.pending, s.holding = map[string]held{}, false
	s.mu.Unlock()
	for _, r := range h {
		s.conn.WriteTo(r.resp, r.addr)
	}
}

// recordKey identifies the record a request carries: its attributes but
// Acct-Delay-Time, which a retransmission raises (with a new Identifier).
func recordKey(p *layeh.Packet) string {
	var b []byte
	for _, a := range p.Attributes {
		if a.Type != 41 {
			b = append(append(b, byte(a.Type), byte(len(a.Attribute))), a.Attribute...)
		}
	}
	return string(b)
}
