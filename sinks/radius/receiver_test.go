package radius

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	layeh "layeh.com/radius"
)

// receiver is a minimal in-process RADIUS accounting server for tests and
// benchmarks, with faults to inject. It records the Acct-Session-Id of every
// authentic Accounting-Request it acknowledges, in arrival order.
type receiver struct {
	t      testing.TB
	secret []byte
	addr   string

	mu            sync.Mutex
	udp           *net.UDPConn
	stopped       chan struct{}
	sessions      []string
	requests      int
	statusServers int
	// faults
	drop func(n int) bool // drop the n-th request (1-based)
	// dropCopy drops the k-th datagram (1-based) of a session's request.
	dropCopy    func(session string, k int) bool
	copies      map[string]int
	delay       time.Duration // answer this late
	wrongAuth   bool          // answer with a bad Response Authenticator
	noStatus    bool          // ignore Status-Server
	onRequest   func(n int)   // called after the n-th request is counted
	otherSecret bool          // requests fail our authenticator check: drop them, as a server with another secret does
	delays      []uint32      // Acct-Delay-Time of each acknowledged request
	lastFrom    *net.UDPAddr
	seen        []seenRequest // every Accounting-Request, dropped ones included
}

// newReceiver starts a receiver on a random loopback port.
func newReceiver(t testing.TB, secret string) *receiver {
	r := &receiver{t: t, secret: []byte(secret)}
	r.start("127.0.0.1:0")
	t.Cleanup(r.stop)
	return r
}

// reservedAddr returns a loopback address nobody listens on (yet).
func reservedAddr(t testing.TB) string {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	c.Close()
	return addr
}

// newReceiverAt prepares a receiver for addr without starting it.
func newStoppedReceiver(t testing.TB, secret, addr string) *receiver {
	r := &receiver{t: t, secret: []byte(secret), addr: addr}
	t.Cleanup(r.stop)
	return r
}

func (r *receiver) start(addr string) {
	laddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		r.t.Fatal(err)
	}
	udp, err := net.ListenUDP("udp", laddr)
	if err != nil {
		r.t.Fatal(err)
	}
	udp.SetReadBuffer(4 << 20)
	udp.SetWriteBuffer(4 << 20)
	stopped := make(chan struct{})
	r.mu.Lock()
	r.udp = udp
	r.addr = udp.LocalAddr().String()
	r.stopped = stopped
	r.mu.Unlock()
	go r.serve(udp, stopped)
}

// restart starts a stopped receiver again on the same address.
func (r *receiver) restart() { r.start(r.addr) }

// stop closes the socket and waits for the serving goroutine.
func (r *receiver) stop() {
	r.mu.Lock()
	udp, stopped := r.udp, r.stopped
	r.udp = nil
	r.mu.Unlock()
	if udp != nil {
		udp.Close()
		<-stopped
	}
}

func (r *receiver) serve(udp *net.UDPConn, stopped chan struct{}) {
	defer close(stopped)
	buf := make([]byte, 4096)
	for {
		n, from, err := udp.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		r.mu.Lock()
		r.lastFrom = from
		r.mu.Unlock()
		if reply := r.handle(buf[:n]); reply != nil {
			r.mu.Lock()
			delay := r.delay
			r.mu.Unlock()
			if delay > 0 {
				time.AfterFunc(delay, func() { udp.WriteToUDP(reply, from) })
			} else {
				udp.WriteToUDP(reply, from)
			}
		}
	}
}

// handle checks one request and returns the reply to send, or nil.
func (r *receiver) handle(b []byte) []byte {
	if len(b) < 20 {
		return nil
	}
	switch layeh.Code(b[0]) {
	case layeh.CodeAccountingRequest:
		if !layeh.IsAuthenticRequest(b, r.secret) {
			r.mu.Lock()
			other := r.otherSecret
			r.mu.Unlock()
			if other {
				return nil
			}
			r.t.Errorf("receiver: Accounting-Request with a bad authenticator")
			return nil
		}
	case layeh.CodeStatusServer:
		r.mu.Lock()
		r.statusServers++
		ignore := r.noStatus
		r.mu.Unlock()
		if ignore || !validMessageAuthenticator(b, r.secret) {
			return nil
		}
		return r.reply(b)
	default:
		return nil
	}
	session, delay, hasDelay, ok := scanRequest(b)
	if !ok {
		r.t.Errorf("receiver: malformed Accounting-Request")
		return nil
	}
	r.mu.Lock()
	r.requests++
	n := r.requests
	var auth [16]byte
	copy(auth[:], b[4:20])
	r.seen = append(r.seen, seenRequest{id: b[1], auth: auth, delay: delay})
	drop := r.drop != nil && r.drop(n)
	if r.dropCopy != nil {
		if r.copies == nil {
			r.copies = map[string]int{}
		}
		r.copies[session]++
		drop = drop || r.dropCopy(session, r.copies[session])
	}
	if !drop {
		r.sessions = append(r.sessions, session)
		if hasDelay {
			r.delays = append(r.delays, delay)
		}
	}
	hook := r.onRequest
	r.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	if drop {
		return nil
	}
	return r.reply(b)
}

func (r *receiver) reply(req []byte) []byte {
	resp := make([]byte, 20)
	resp[0] = byte(layeh.CodeAccountingResponse)
	resp[1] = req[1]
	binary.BigEndian.PutUint16(resp[2:], 20)
	h := md5.New()
	h.Write(resp[:4])
	h.Write(req[4:20])
	h.Write(r.secret)
	h.Sum(resp[4:4])
	r.mu.Lock()
	wrong := r.wrongAuth
	r.mu.Unlock()
	if wrong {
		resp[4] ^= 0xff
	}
	return resp
}

func validMessageAuthenticator(b, secret []byte) bool {
	for off := 20; off+2 <= len(b); {
		l := int(b[off+1])
		if l < 2 || off+l > len(b) {
			return false
		}
		if b[off] == 80 && l == 18 {
			got := append([]byte(nil), b[off+2:off+18]...)
			c := append([]byte(nil), b...)
			clear(c[off+2 : off+18])
			mac := hmac.New(md5.New, secret)
			mac.Write(c)
			return hmac.Equal(mac.Sum(nil), got)
		}
		off += l
	}
	return false
}

// Delivered returns the session ids acknowledged so far, in arrival order.
func (r *receiver) Delivered() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.sessions...)
}

func (r *receiver) set(f func(r *receiver)) {
	r.mu.Lock()
	f(r)
	r.mu.Unlock()
}

func (r *receiver) sentDelays() []uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]uint32(nil), r.delays...)
}

func (r *receiver) statusCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.statusServers
}

func (r *receiver) requestCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests
}

// scanRequest finds Acct-Session-Id and Acct-Delay-Time in a request.
func scanRequest(b []byte) (session string, delay uint32, hasDelay, ok bool) {
	end := int(binary.BigEndian.Uint16(b[2:4]))
	if end > len(b) || end < 20 {
		return "", 0, false, false
	}
	for off := 20; off < end; {
		if off+2 > end {
			return "", 0, false, false
		}
		l := int(b[off+1])
		if l < 2 || off+l > end {
			return "", 0, false, false
		}
		switch b[off] {
		case 44:
			session = string(b[off+2 : off+l])
		case attrAcctDelayTime:
			if l == 6 {
				delay, hasDelay = binary.BigEndian.Uint32(b[off+2:]), true
			}
		}
		off += l
	}
	return session, delay, hasDelay, true
}

type seenRequest struct {
	id    byte
	auth  [16]byte
	delay uint32
}

func (r *receiver) seenRequests() []seenRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seenRequest(nil), r.seen...)
}
