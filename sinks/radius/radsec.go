package radius

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	layeh "layeh.com/radius"

	"github.com/radrelay/radrelay/radsec"
)

// This file holds the RadSec (RFC 6614) transport of an endpoint: TLS
// connections opened on demand, many requests in flight on each (one
// Identifier space per connection, another connection when it is full),
// no retransmission on a connection (§2.5) — a request is sent again only
// on a new connection, after the one it went out on broke or stayed silent.
// Health (zombie period, dead, revival, Status-Server) is the endpoint's,
// as for UDP.

// maxUnanswered is how many connections in a row may be closed by the
// server before answering anything before the server is marked dead as
// refusing us.
const maxUnanswered = 3

// errSilent closes a connection that answered nothing while a request
// waited for initial_rtx and longer.
var errSilent = errors.New("no reply on this connection to a request")

// radsecLink is the set of TLS connections to one RadSec server.
type radsecLink struct {
	e        *endpoint
	tls      *tls.Config
	maxConns int

	mu       sync.Mutex
	conns    []*tlsConn
	dialing  chan struct{} // closed when the dial in progress ends; nil when none
	failures int           // consecutive failed dials
	retryAt  time.Time     // no dial before this (backoff)
	lastHint string        // the problem last logged, so that a repeat is not (cleared by an answer)
	hinted   atomic.Bool   // lastHint is set
	// unanswered counts the connections in a row that the server closed
	// before answering anything on them: under TLS 1.3 a refused client
	// certificate can look like that (the alert lost to a reset).
	unanswered atomic.Int32
	closed     bool
}

// dialRadSecEndpoint makes the endpoint of a RadSec server. Nothing is
// dialled until the first request: a server that is down is found out then.
func dialRadSecEndpoint(sc ServerConfig, secret []byte, window int, t timing, log *slog.Logger) (*endpoint, error) {
	host, _, err := net.SplitHostPort(sc.Address)
	if err != nil {
		return nil, fmt.Errorf("radius server %s: %w", sc.Address, err)
	}
	cfg, err := sc.tls().ClientConfig(host)
	if err != nil {
		return nil, fmt.Errorf("radius server %s: %w", sc.Address, err)
	}
	e := newEndpoint(sc.Address, secret, window, t, log.With("transport", TransportRadSec))
	// One Identifier per request in flight (a request is never sent twice
	// on one connection), plus one for a Status-Server.
	e.link = &radsecLink{e: e, tls: cfg, maxConns: (window + 1 + 255) / 256}
	return e, nil
}

// tlsConn is one TLS connection with its 256 Identifiers.
type tlsConn struct {
	link *radsecLink
	c    *radsec.Conn
	out  chan []byte // packets for the writer, which coalesces them
	identifiers
	lastReply atomic.Int64 // nanoseconds since the endpoint's epoch
	lost      chan struct{}
	once      sync.Once
	err       error
	forgedLog atomic.Bool
	watching  atomic.Bool // a watchdog Status-Server is out
}

// get returns a connection with a free Identifier, dialling one when none
// has (after the backoff of earlier failures).
func (l *radsecLink) get(ctx context.Context, dead <-chan struct{}) (*tlsConn, error) {
	e := l.e
	for {
		select {
		case <-dead:
			return nil, errServerDead
		default:
		}
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return nil, net.ErrClosed
		}
		for _, tc := range l.conns {
			if tc.usable() {
				l.mu.Unlock()
				return tc, nil
			}
		}
		if len(l.conns) >= l.maxConns {
			l.mu.Unlock()
			return nil, errNoIdentifier
		}
		var wait <-chan time.Time
		if ch := l.dialing; ch != nil {
			l.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-e.closed:
				return nil, net.ErrClosed
			case <-dead:
				return nil, errServerDead
			}
		}
		if d := time.Until(l.retryAt); d > 0 {
			l.mu.Unlock()
			t := time.NewTimer(d)
			wait = t.C
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-e.closed:
				t.Stop()
				return nil, net.ErrClosed
			case <-dead:
				t.Stop()
				return nil, errServerDead
			}
		}
		ch := make(chan struct{})
		l.dialing = ch
		l.mu.Unlock()

		tc, err := l.dial(ctx)

		l.mu.Lock()
		l.dialing = nil
		close(ch)
		if err != nil {
			l.failures++
			l.retryAt = time.Now().Add(jitter(min(100*time.Millisecond<<min(l.failures-1, 6), 5*time.Second)))
			l.mu.Unlock()
			return nil, err
		}
		if l.closed {
			l.mu.Unlock()
			tc.fail(net.ErrClosed)
			return nil, net.ErrClosed
		}
		recovered := l.failures > 0
		l.failures = 0
		l.conns = append(l.conns, tc)
		l.mu.Unlock()
		e.stats.connects.Add(1)
		if recovered {
			e.log.Info("radsec: connected again")
		} else {
			e.log.Debug("radsec: connected")
		}
		return tc, nil
	}
}

// dial opens one connection and starts its reader and writer.
func (l *radsecLink) dial(ctx context.Context) (*tlsConn, error) {
	e := l.e
	c, err := radsec.Dial(ctx, e.address, l.tls)
	if err != nil {
		e.stats.connectErrors.Add(1)
		l.report(err)
		return nil, err
	}
	tc := &tlsConn{link: l, c: c, out: make(chan []byte, 1024), lost: make(chan struct{})}
	e.wg.Add(2)
	go func() { defer e.wg.Done(); tc.readLoop() }()
	go func() { defer e.wg.Done(); tc.writeLoop() }()
	return tc, nil
}

// report logs a failed dial once per distinct problem, with what to fix.
func (l *radsecLink) report(err error) {
	hint := radsec.Explain(err)
	var de *radsec.DialError
	if errors.As(err, &de) {
		hint = de.Hint()
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		l.e.refusedSeen() // shown in the server's state; said just below
	}
	l.mu.Lock()
	repeat := hint == l.lastHint
	l.lastHint = hint
	l.hinted.Store(true)
	l.mu.Unlock()
	if repeat {
		l.e.log.Debug("radsec: cannot connect", "error", err)
		return
	}
	l.e.log.Warn("radsec: cannot connect", "error", err, "fix", hint)
}

// refused reports whether a dial error is one retrying cannot fix (the
// handshake failed: certificates, CA, versions), so that the server is
// marked dead at once instead of after zombie_period.
func refused(err error) bool { return radsec.Refused(err) }

func (l *radsecLink) remove(tc *tlsConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, c := range l.conns {
		if c == tc {
			l.conns = append(l.conns[:i], l.conns[i+1:]...)
			return
		}
	}
}

func (l *radsecLink) close() {
	l.mu.Lock()
	l.closed = true
	conns := append([]*tlsConn(nil), l.conns...)
	l.mu.Unlock()
	for _, tc := range conns {
		tc.fail(net.ErrClosed)
	}
}

// usable reports whether the connection is up with an Identifier free.
func (tc *tlsConn) usable() bool {
	select {
	case <-tc.lost:
		return false
	default:
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return tc.inUse < 256
}

// fail ends the connection: requests waiting on it are sent again on
// another one.
func (tc *tlsConn) fail(err error) {
	tc.once.Do(func() {
		tc.err = err
		tc.link.remove(tc)
		tc.mu.Lock()
		busy := tc.inUse
		tc.mu.Unlock()
		e := tc.link.e
		refusal := false
		if tc.lastReply.Load() == 0 && !errors.Is(err, net.ErrClosed) && !errors.Is(err, errSilent) && !radsec.Refused(err) {
			if tc.link.unanswered.Add(1) >= maxUnanswered {
				tc.link.unanswered.Store(0)
				e.stats.connectErrors.Add(1)
				tc.link.report(err)
				e.markDead(radsec.Explain(err))
				refusal = true
			}
		}
		// Marked dead first: the requests that wake now fail over rather
		// than dial again.
		close(tc.lost)
		// The TCP connection itself: tls.Conn.Close would first wait for
		// a write stuck on a dead peer to send close_notify.
		tc.c.NetConn().Close()
		if busy > 0 && !refusal && !errors.Is(err, net.ErrClosed) && !radsec.Refused(err) {
			e.stats.connectionsLost.Add(1)
			e.log.Info("radsec: connection lost; its requests go out again on a new one", "error", err, "requests", busy)
		}
	})
}

// send queues a packet for the writer.
func (tc *tlsConn) send(b []byte) {
	select {
	case tc.out <- b:
	case <-tc.lost:
	}
}

// writeLoop writes the queued packets, as many as are waiting at once
// (each in its own TLS record, all in one system call): with hundreds in
// flight that is what keeps RadSec close to UDP's rate.
func (tc *tlsConn) writeLoop() {
	var batch [][]byte
	for {
		select {
		case b := <-tc.out:
			batch = append(batch[:0], b)
		more:
			for len(batch) < 64 {
				select {
				case b := <-tc.out:
					batch = append(batch, b)
				default:
					break more
				}
			}
			tc.c.SetWriteDeadline(time.Now().Add(radsec.HandshakeTimeout))
			if err := tc.c.WritePackets(batch...); err != nil {
				tc.link.e.stats.writeErrors.Add(1)
				tc.fail(err)
				return
			}
		case <-tc.lost:
			return
		}
	}
}

// readLoop matches every packet to the request of its Identifier.
func (tc *tlsConn) readLoop() {
	buf := make([]byte, radsec.MaxPacketLength)
	for {
		b, err := radsec.ReadPacket(tc.c, buf)
		if err != nil {
			if errors.Is(err, radsec.ErrFraming) {
				tc.link.e.stats.malformed.Add(1)
			}
			if radsec.Refused(err) {
				// Under TLS 1.3 a server refuses our certificate after the
				// handshake: the refusal arrives at the first read.
				e := tc.link.e
				e.stats.connectErrors.Add(1)
				tc.link.report(err)
				e.markDead(radsec.Explain(err))
			}
			tc.fail(err)
			return
		}
		tc.handleReply(b)
	}
}

func (tc *tlsConn) handleReply(b []byte) {
	e := tc.link.e
	tc.mu.Lock()
	s := tc.slots[b[1]]
	var header [20]byte
	var owner *pending
	var status bool
	if s != nil {
		header, owner, status = s.header, s.owner, s.status
	}
	tc.mu.Unlock()
	if owner == nil {
		e.stats.unmatched.Add(1)
		return
	}
	code := layeh.Code(b[0])
	codeOK := code == layeh.CodeAccountingResponse || status && code == layeh.CodeAccessAccept
	if !codeOK || !layeh.IsAuthenticResponse(b, header[:], e.secret) {
		e.stats.forged.Add(1)
		if codeOK && !tc.forgedLog.Swap(true) {
			e.log.Warn("radsec: replies fail the authenticator check; they are dropped",
				"fix", "the shared secret differs from the server's (RadSec's default is \"radsec\")")
		}
		return
	}
	tc.lastReply.Store(int64(time.Since(e.epoch)))
	if tc.link.unanswered.Load() != 0 {
		tc.link.unanswered.Store(0)
	}
	if tc.link.hinted.Load() {
		// The server answers: a problem that comes back is news again.
		tc.link.mu.Lock()
		tc.link.lastHint = ""
		tc.link.hinted.Store(false)
		tc.link.mu.Unlock()
	}
	// The server answered now, whenever the request's goroutine runs.
	now := e.now()
	e.heard(now)
	owner.ackAt(now)
}

// answeredSince reports whether the connection answered anything after at
// (nanoseconds since the endpoint's epoch).
func (tc *tlsConn) answeredSince(at int64) bool { return tc.lastReply.Load() > at }

// exchange sends one request over RadSec and waits for its answer. The
// window, health and busy accounting are the caller's (endpoint.exchange).
func (l *radsecLink) exchange(ctx context.Context, m *message, probe bool, dead <-chan struct{}, start time.Time) error {
	e := l.e
	p := newPending()
	buf := make([]byte, 20+len(m.attrs))
	copy(buf[20:], m.attrs)
	var (
		tc     *tlsConn
		id     byte
		s      *slot
		sentAt int64
	)
	release := func() {
		if s != nil {
			tc.release(id, s)
			s = nil
		}
	}
	defer release()
	rt := e.timing.backoff.first()
	timer := time.NewTimer(rt)
	defer timer.Stop()
	rounds := 0
	for sends := 0; ; {
		if s == nil {
			c, err := l.get(ctx, dead)
			if err != nil {
				if refused(err) {
					e.markDead(radsec.Explain(err))
					return err
				}
				if errors.Is(err, errServerDead) || errors.Is(err, net.ErrClosed) || errors.Is(err, errNoIdentifier) || ctx.Err() != nil || probe {
					return err
				}
				continue // the backoff is in get; the zombie period ends it
			}
			var ok bool
			if id, s, ok = c.acquire(p); !ok {
				continue
			}
			tc = c
			if m.delayOff >= 0 {
				binary.BigEndian.PutUint32(buf[20+m.delayOff:], m.delayAt(e.clock(time.Now())))
			}
			signAccountingRequest(buf, id, e.secret)
			sentAt = int64(time.Since(e.epoch))
			tc.mu.Lock()
			copy(s.header[:], buf[:20])
			s.sentAt, s.first = sentAt, sends == 0
			tc.mu.Unlock()
			if sends > 0 {
				e.stats.retransmits.Add(1)
				e.stats.newIDs.Add(1)
			}
			sends++
			e.stats.sent.Add(1)
			tc.send(append([]byte(nil), buf...))
		}
		select {
		case <-p.acked:
			e.sampleRTT(sentAt)
			e.replied(p.repliedAt())
			e.window.acked(time.Now())
			return nil
		case <-tc.lost:
			select {
			case <-p.acked: // answered just before the connection went
				e.replied(p.repliedAt())
				e.window.acked(time.Now())
				return nil
			default:
			}
			release() // and send again on another connection
		case <-dead:
			return errServerDead
		case <-ctx.Done():
			return ctx.Err()
		case <-e.closed:
			return net.ErrClosed
		case now := <-timer.C:
			rounds++
			isDead := e.timedOut()
			elapsed := now.Sub(start)
			t := e.timing
			if (t.maxCount > 0 && rounds > t.maxCount) || (t.maxDuration > 0 && elapsed >= t.maxDuration) {
				e.stats.failed.Add(1)
				return fmt.Errorf("%w after %d sends in %s", errNoReply, sends, elapsed.Round(time.Millisecond))
			}
			if isDead && !probe {
				return errServerDead
			}
			// The connection watchdog: one that answered nothing since this
			// request went out is checked with a Status-Server, and closed
			// if that goes unanswered too; the request then goes out again
			// on a new connection (never twice on one, RFC 6614 §2.5).
			if s != nil && !tc.answeredSince(sentAt) {
				tc.watchdog()
			}
			rt = t.backoff.next(rt)
			if t.maxDuration > 0 && elapsed+rt > t.maxDuration {
				rt = t.maxDuration - elapsed
			}
			timer.Reset(rt)
		}
	}
}

// statusServer sends one Status-Server (RFC 5997) over a connection
// (dialling one if needed) and waits one initial retransmission time for
// the answer: FreeRADIUS answers with Accounting-Response, radsecproxy with
// Access-Accept.
func (l *radsecLink) statusServer() bool {
	e := l.e
	ctx, cancel := context.WithTimeout(context.Background(), radsec.HandshakeTimeout+e.timing.backoff.initial)
	defer cancel()
	tc, err := l.get(ctx, nil)
	if err != nil {
		return false
	}
	if !tc.statusServer(e.timing.backoff.initial) {
		e.log.Debug("radsec: no answer to Status-Server")
		tc.fail(errSilent)
		return false
	}
	return true
}

// statusServer sends a Status-Server on this connection and reports
// whether it was answered within timeout.
func (tc *tlsConn) statusServer(timeout time.Duration) bool {
	e := tc.link.e
	p := newPending()
	id, s, ok := tc.acquire(p)
	if !ok {
		return false
	}
	defer tc.release(id, s)
	buf := statusServerPacket(id, e.secret)
	tc.mu.Lock()
	copy(s.header[:], buf[:20])
	s.status = true
	tc.mu.Unlock()
	e.stats.sent.Add(1)
	tc.send(buf)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.acked:
		return true
	case <-timer.C:
	case <-tc.lost:
	case <-e.closed:
	}
	return false
}

// watchdog checks a connection that answered nothing since a request went
// out on it (RFC 6614 §2.6): a Status-Server on it, and no answer within
// initial_rtx closes it, so that its requests go out again on a new one.
// An answer keeps it (the server is slow, not gone; the request is not
// sent again on it, §2.5) and counts as a sign of life for zombie_period.
func (tc *tlsConn) watchdog() {
	if tc.watching.Swap(true) {
		return
	}
	e := tc.link.e
	go func() {
		defer tc.watching.Store(false)
		if tc.statusServer(e.timing.backoff.initial) {
			e.heard(e.now())
			return
		}
		select {
		case <-e.closed:
		default:
			tc.fail(fmt.Errorf("%w, nor to a Status-Server", errSilent))
		}
	}()
}
