package radius

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
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
)

var (
	// errServerDead is returned for a request to a server marked dead.
	errServerDead = errors.New("server is marked dead")
	// errNoReply is returned when retransmissions are exhausted.
	errNoReply = errors.New("no reply")
)

// serverState is the health of one server.
type serverState int

const (
	stateAlive serverState = iota
	// stateDead: requests skip the server until it is revived.
	stateDead
	// stateProbing: dead, and one real request is testing it (when Status-Server is off).
	stateProbing
)

func (s serverState) String() string {
	switch s {
	case stateAlive:
		return "alive"
	case stateDead:
		return "dead"
	default:
		return "probing"
	}
}

// timing holds the retransmission and health knobs of a server.
type timing struct {
	backoff        backoff
	maxCount       int           // retransmissions after the first send; 0 = no limit
	maxDuration    time.Duration // since the first send; 0 = no limit
	zombiePeriod   time.Duration // no reply for this long while busy: dead
	reviveInterval time.Duration
	statusServer   bool
	updateDelay    bool
	// fastRetransmit: an unanswered request is resent at once when this
	// many requests sent after it were answered (0: never).
	fastRetransmit uint64
}

// counters are the statistics of one server.
type counters struct {
	requests        atomic.Int64 // exchanges started
	sent            atomic.Int64 // datagrams sent (first sends and retransmissions)
	retransmits     atomic.Int64
	fastRetransmits atomic.Int64
	newIDs          atomic.Int64 // resends with a new Identifier (Acct-Delay-Time changed)
	acked           atomic.Int64
	timeouts        atomic.Int64 // retransmission timers that expired
	failed          atomic.Int64 // exchanges that gave up (no reply)
	forged          atomic.Int64 // replies that failed authenticator or code checks
	unmatched       atomic.Int64 // replies to an Identifier not in use
	malformed       atomic.Int64 // datagrams too short or with a bad length
	writeErrors     atomic.Int64
	deaths          atomic.Int64
	revivals        atomic.Int64
	windowCuts      atomic.Int64
}

// ServerStats is a snapshot of one server's counters.
type ServerStats struct {
	Address     string
	State       string
	Requests    int64 // exchanges started
	Sent        int64 // datagrams sent, retransmissions included
	Retransmits int64
	// FastRetransmits counts the retransmissions sent before the timer
	// because later requests were answered (included in Retransmits).
	FastRetransmits int64
	NewIDs          int64 // resends that got a new Identifier because Acct-Delay-Time changed
	Acked           int64
	Timeouts        int64
	Failed          int64 // exchanges that gave up without a reply
	Forged          int64 // replies dropped: wrong code or Response Authenticator
	Unmatched       int64 // replies dropped: Identifier not in use
	Malformed       int64
	WriteErrors     int64
	Deaths          int64
	Revivals        int64
	// Window is the current adaptive window (at most max_outstanding) and
	// WindowCuts how often a loss shrank it.
	Window      int
	WindowCuts  int64
	Outstanding int
}

// endpoint is one RADIUS server: its sockets, window and health.
type endpoint struct {
	address string
	secret  []byte
	conns   []*conn
	next    atomic.Uint32
	window  *window
	timing  timing
	log     *slog.Logger
	stats   counters
	closed  chan struct{}
	wg      sync.WaitGroup
	epoch   time.Time // sentAt of slots counts from here
	// clock maps the real time to the time Acct-Delay-Time is computed
	// for (tests move it forward); the identity in production.
	clock  func(time.Time) time.Time
	rttMu  sync.Mutex
	srtt   int64 // smoothed round-trip time of first sends, ns (0: none yet)
	rttvar int64 // its mean deviation
	// overdueAfter is how long an unanswered request waits before an
	// early resend: max(srtt + 4*rttvar, 2*srtt, minOverdue); 0 until the
	// first answer.
	overdueAfter atomic.Int64

	mu        sync.Mutex
	state     serverState
	deadSince time.Time
	lastReply time.Time
	busy      int
	busySince time.Time
	probeDone chan struct{} // closed when the probe request (stateProbing) ends
	probing   bool          // a Status-Server prober is running
}

// dialEndpoint opens the socket pool of one server.
func dialEndpoint(address string, secret []byte, source string, sockets, window int, t timing, log *slog.Logger) (*endpoint, error) {
	raddr, err := net.ResolveUDPAddr("udp", address)
	if err != nil {
		return nil, fmt.Errorf("radius server %s: %w", address, err)
	}
	var laddr *net.UDPAddr
	if source != "" {
		if laddr, err = net.ResolveUDPAddr("udp", source); err != nil {
			return nil, fmt.Errorf("radius server %s: source_address %s: %w", address, source, err)
		}
	}
	e := &endpoint{
		address: address,
		secret:  secret,
		window:  newWindow(window, t.backoff.initial),
		timing:  t,
		log:     log.With("server", address),
		closed:  make(chan struct{}),
		epoch:   time.Now(),
		clock:   func(t time.Time) time.Time { return t },
	}
	for i := 0; i < sockets; i++ {
		udp, err := dialUDP(laddr, raddr)
		if err != nil {
			e.close()
			return nil, fmt.Errorf("radius server %s: socket: %w", address, err)
		}
		c := newConn(udp, e)
		e.conns = append(e.conns, c)
		e.wg.Add(1)
		go func() { defer e.wg.Done(); c.readLoop() }()
	}
	if t.fastRetransmit > 0 {
		e.wg.Add(1)
		go func() { defer e.wg.Done(); e.fastRetransmitLoop() }()
	}
	return e, nil
}

// sampleRTT folds the round trip of a first send into the smoothed RTT
// and its mean deviation, as TCP does (RFC 6298; Karn: retransmitted
// requests are ambiguous and not sampled).
func (e *endpoint) sampleRTT(sentAt int64) {
	rtt := int64(time.Since(e.epoch)) - sentAt
	if rtt <= 0 {
		return
	}
	e.rttMu.Lock()
	defer e.rttMu.Unlock()
	if e.srtt == 0 {
		e.srtt, e.rttvar = rtt, rtt/2
	} else {
		dev := e.srtt - rtt
		if dev < 0 {
			dev = -dev
		}
		e.rttvar += (dev - e.rttvar) / 4
		e.srtt += (rtt - e.srtt) / 8
	}
	e.overdueAfter.Store(max(e.srtt+4*e.rttvar, 2*e.srtt, int64(minOverdue)))
}

// minOverdue is the least time a request waits before an early resend for
// lack of an answer, however fast the server usually answers.
const minOverdue = 50 * time.Millisecond

// fastRetransmitLoop looks for requests that a window-full of later ones
// (at least fast_retransmit) overtook:
// on a server that answers in order, such a request or its answer was
// lost, and waiting out the retransmission timer (2 s) would stall every
// batch it is part of. Resending it at once costs one datagram; if the
// server did have it, the identical resend is answered from its duplicate
// cache.
func (e *endpoint) fastRetransmitLoop() {
	period := min(max(e.timing.backoff.initial/40, 5*time.Millisecond), 50*time.Millisecond)
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-e.closed:
			return
		case <-tick.C:
		}
		// A server that answers nothing gets at most one early resend per
		// request and retransmission round (fastUsed), so no storm.
		// A request unanswered for well over the usual round trip (TCP's
		// retransmission timeout, RFC 6298) was probably lost; this catches
		// the last requests of a batch, which nothing sent later overtakes.
		overdue := int64(-1)
		if after := e.overdueAfter.Load(); after > 0 {
			overdue = int64(time.Since(e.epoch)) - after
		}
		// A server with a thread pool answers out of order, but not by more
		// than what is in flight: wait for a full window to overtake.
		size, _ := e.window.current()
		distance := max(e.timing.fastRetransmit, uint64(size))
		for _, c := range e.conns {
			c.overtaken(distance, overdue)
		}
	}
}

// dialUDP opens a socket connected to raddr, from laddr when set. A fixed
// source port is shared by the sink's servers (SO_REUSEADDR): connected UDP
// sockets with the same local address are told apart by their peer.
func dialUDP(laddr, raddr *net.UDPAddr) (*net.UDPConn, error) {
	d := net.Dialer{}
	if laddr != nil {
		d.LocalAddr = laddr
		if laddr.Port != 0 {
			d.Control = func(_, _ string, c syscall.RawConn) error {
				var serr error
				err := c.Control(func(fd uintptr) {
					serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
				})
				if err != nil {
					return err
				}
				return serr
			}
		}
	}
	c, err := d.Dial("udp", raddr.String())
	if err != nil {
		return nil, err
	}
	udp := c.(*net.UDPConn)
	udp.SetReadBuffer(1 << 20)
	udp.SetWriteBuffer(1 << 20)
	return udp, nil
}

func (e *endpoint) close() {
	select {
	case <-e.closed:
		return
	default:
	}
	close(e.closed)
	for _, c := range e.conns {
		c.udp.Close()
	}
	e.wg.Wait()
}

// admit reports whether a new request may go to the server now, and whether
// that request is the probe of a dead server: without Status-Server, the
// first request after revive_interval tests a dead server. Requests that
// come while it does wait for its outcome when wait is set (broadcast: they
// must go to this server anyway) and skip the server otherwise.
func (e *endpoint) admit(ctx context.Context, wait bool) (ok, probe bool) {
	for {
		e.mu.Lock()
		switch e.state {
		case stateAlive:
			e.mu.Unlock()
			return true, false
		case stateDead:
			if e.timing.statusServer || time.Since(e.deadSince) < e.timing.reviveInterval {
				e.mu.Unlock()
				return false, false
			}
			e.state = stateProbing
			e.probeDone = make(chan struct{})
			e.mu.Unlock()
			e.log.Info("radius server: probing with a request")
			return true, true
		}
		done := e.probeDone
		e.mu.Unlock()
		if !wait {
			return false, false
		}
		select {
		case <-done:
		case <-ctx.Done():
			return false, false
		case <-e.closed:
			return false, false
		}
	}
}

func (e *endpoint) alive() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.state == stateAlive
}

func (e *endpoint) busyStart(now time.Time) {
	e.mu.Lock()
	if e.busy == 0 {
		e.busySince = now
	}
	e.busy++
	e.mu.Unlock()
}

func (e *endpoint) busyEnd() {
	e.mu.Lock()
	e.busy--
	e.mu.Unlock()
}

func (e *endpoint) outstanding() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.busy
}

// replied records a reply: the server is alive.
func (e *endpoint) replied(now time.Time) {
	e.stats.acked.Add(1)
	e.mu.Lock()
	e.lastReply = now
	revived := e.state != stateAlive
	if e.state == stateProbing {
		close(e.probeDone)
	}
	e.state = stateAlive
	e.mu.Unlock()
	if revived {
		e.stats.revivals.Add(1)
		e.log.Info("radius server: alive again")
	}
}

// answeredWithin reports whether the server answered anything in the last d.
func (e *endpoint) answeredWithin(now time.Time, d time.Duration) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return now.Sub(e.lastReply) < d
}

// timedOut records an expired retransmission timer and marks the server dead
// when it has been busy without a single reply for the zombie period. It
// reports whether the server is now dead.
func (e *endpoint) timedOut(now time.Time) bool {
	e.stats.timeouts.Add(1)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state != stateAlive {
		return true
	}
	quietSince := e.busySince
	if e.lastReply.After(quietSince) {
		quietSince = e.lastReply
	}
	if now.Sub(quietSince) < e.timing.zombiePeriod {
		return false
	}
	e.markDeadLocked(now, fmt.Sprintf("no reply for %s", now.Sub(quietSince).Round(time.Millisecond)))
	return true
}

// probeFailed puts a probed server back to dead.
func (e *endpoint) probeFailed(now time.Time) {
	e.mu.Lock()
	if e.state == stateProbing {
		close(e.probeDone)
		e.state = stateDead
		e.deadSince = now
		e.log.Warn("radius server: probe request got no reply, still dead", "revive_interval", e.timing.reviveInterval)
	}
	e.mu.Unlock()
}

func (e *endpoint) markDeadLocked(now time.Time, why string) {
	e.state = stateDead
	e.deadSince = now
	e.stats.deaths.Add(1)
	e.log.Warn("radius server: marked dead", "reason", why, "revive_interval", e.timing.reviveInterval, "status_server", e.timing.statusServer)
	closing := false
	select {
	case <-e.closed:
		closing = true
	default:
	}
	if e.timing.statusServer && !e.probing && !closing {
		e.probing = true
		e.wg.Add(1)
		go func() { defer e.wg.Done(); e.statusProber() }()
	}
}

// pick returns the socket to send the next request on.
func (e *endpoint) acquireID(p *pending) (*conn, byte, *slot, error) {
	start := int(e.next.Add(1))
	for i := range e.conns {
		c := e.conns[(start+i)%len(e.conns)]
		if id, s, ok := c.acquire(p); ok {
			return c, id, s, nil
		}
	}
	return nil, 0, nil, errNoIdentifier
}

// transmission is one (socket, Identifier) a request was sent with.
type transmission struct {
	c  *conn
	id byte
	s  *slot
}

func (t *transmission) release() {
	if t.s != nil {
		t.c.release(t.id, t.s)
		t.s = nil
	}
}

// exchange sends m to the server and retransmits it until an authentic
// Accounting-Response arrives, the retransmission limits are reached, the
// server is marked dead (unless this request is the probe), or ctx is done.
//
// A resend keeps the bytes and Identifier of the previous send unless
// Acct-Delay-Time changed (updateDelay): then it is a new request
// (RFC 2866 §5.2) with a new Identifier and Request Authenticator. The
// previous Identifier stays reserved so that a late reply to it still counts.
func (e *endpoint) exchange(ctx context.Context, m *message, probe bool) (err error) {
	if probe {
		// However the probe ends without an answer (no reply, cancelled,
		// closed), the server stays dead and waiting requests move on.
		defer func() {
			if err != nil {
				e.probeFailed(time.Now())
			}
		}()
	}
	if err := e.window.acquire(ctx, e.closed); err != nil {
		return err
	}
	defer e.window.release()
	if !probe && !e.alive() {
		return errServerDead
	}
	start := time.Now()
	e.busyStart(start)
	defer e.busyEnd()
	e.stats.requests.Add(1)

	p := newPending()
	buf := make([]byte, 20+len(m.attrs))
	copy(buf[20:], m.attrs)
	var cur, prev transmission
	defer func() { cur.release(); prev.release() }()

	rt := e.timing.backoff.first()
	timer := time.NewTimer(rt)
	defer timer.Stop()
	sentDelay := uint32(0)
	rounds := 0       // retransmission timers expired: what max_rtx_count limits
	fastUsed := false // one fast retransmission per timer round
	early := false    // this send is a fast retransmission
	for sends := 0; ; sends++ {
		now := time.Now()
		delay := m.delayAt(e.clock(now))
		// A fast retransmission keeps the bytes (and Identifier) of the send
		// it repeats, so that a server that did get it answers from its
		// duplicate cache instead of counting the record twice.
		if sends == 0 || (!early && m.delayOff >= 0 && delay != sentDelay) {
			c, id, s, err := e.acquireID(p)
			if err != nil {
				return err
			}
			prev.release()
			prev, cur = cur, transmission{c: c, id: id, s: s}
			if m.delayOff >= 0 {
				binary.BigEndian.PutUint32(buf[20+m.delayOff:], delay)
				sentDelay = delay
			}
			signAccountingRequest(buf, id, e.secret)
			c.mu.Lock()
			copy(s.header[:], buf[:20])
			c.mu.Unlock()
			if sends > 0 {
				e.stats.newIDs.Add(1)
			}
		}
		if sends > 0 {
			e.stats.retransmits.Add(1)
		}
		e.stats.sent.Add(1)
		seq := cur.c.sendSeq.Add(1)
		cur.c.mu.Lock()
		cur.s.seq, cur.s.early = seq, fastUsed
		cur.s.sentAt, cur.s.first = int64(time.Since(e.epoch)), sends == 0
		cur.c.mu.Unlock()
		early = false
		if _, err := cur.c.udp.Write(buf); err != nil {
			e.stats.writeErrors.Add(1)
		}
		select {
		case <-p.early:
			// Overtaken by later requests: resend now; the timer keeps running.
			fastUsed, early = true, true
			if p.overtaken.Load() && e.window.lost(time.Now()) {
				e.stats.windowCuts.Add(1)
			}
			e.stats.fastRetransmits.Add(1)
			continue
		case <-p.acked:
			now := time.Now()
			e.replied(now)
			e.window.acked(now)
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-e.closed:
			return net.ErrClosed
		case now := <-timer.C:
			rounds++
			fastUsed = false
			dead := e.timedOut(now)
			if !dead && e.answeredWithin(now, rt) && e.window.lost(now) {
				size, _ := e.window.current()
				e.stats.windowCuts.Add(1)
				e.log.Debug("radius server: request lost while others were answered; window reduced", "max_outstanding_now", size)
			}
			elapsed := now.Sub(start)
			t := e.timing
			if (t.maxCount > 0 && rounds > t.maxCount) || (t.maxDuration > 0 && elapsed >= t.maxDuration) {
				e.stats.failed.Add(1)
				return fmt.Errorf("%w after %d sends in %s", errNoReply, sends+1, elapsed.Round(time.Millisecond))
			}
			if dead && !probe {
				return errServerDead
			}
			rt = t.backoff.next(rt)
			if t.maxDuration > 0 && elapsed+rt > t.maxDuration {
				rt = t.maxDuration - elapsed
			}
			timer.Reset(rt)
		}
	}
}

// statusProber sends a Status-Server (RFC 5997) every revive_interval while
// the server is dead and revives it on the first authentic answer.
func (e *endpoint) statusProber() {
	defer func() {
		e.mu.Lock()
		e.probing = false
		e.mu.Unlock()
	}()
	tick := time.NewTicker(e.timing.reviveInterval)
	defer tick.Stop()
	for {
		select {
		case <-e.closed:
			return
		case <-tick.C:
		}
		if e.alive() {
			return
		}
		if e.statusServer() {
			e.replied(time.Now())
			return
		}
	}
}

// statusServer sends one Status-Server and waits one initial retransmission
// time for the answer.
func (e *endpoint) statusServer() bool {
	p := newPending()
	c, id, s, err := e.acquireID(p)
	if err != nil {
		return false
	}
	t := transmission{c: c, id: id, s: s}
	defer t.release()
	buf := statusServerPacket(id, e.secret)
	c.mu.Lock()
	copy(s.header[:], buf[:20])
	c.mu.Unlock()
	e.stats.sent.Add(1)
	if _, err := c.udp.Write(buf); err != nil {
		e.stats.writeErrors.Add(1)
	}
	timer := time.NewTimer(e.timing.backoff.initial)
	defer timer.Stop()
	select {
	case <-p.acked:
		return true
	case <-timer.C:
		e.log.Debug("radius server: no answer to Status-Server")
		return false
	case <-e.closed:
		return false
	}
}

// statusServerPacket builds a Status-Server with a random Request
// Authenticator and the Message-Authenticator RFC 5997 requires:
// HMAC-MD5(secret, packet with the Message-Authenticator value zeroed).
func statusServerPacket(id byte, secret []byte) []byte {
	const length = 20 + 18
	buf := make([]byte, length)
	buf[0] = byte(layeh.CodeStatusServer)
	buf[1] = id
	binary.BigEndian.PutUint16(buf[2:4], length)
	rand.Read(buf[4:20])
	buf[20] = 80 // Message-Authenticator
	buf[21] = 18
	mac := hmac.New(md5.New, secret)
	mac.Write(buf)
	mac.Sum(buf[22:22])
	return buf
}

func (e *endpoint) snapshot() ServerStats {
	e.mu.Lock()
	state, busy := e.state, e.busy
	e.mu.Unlock()
	s := &e.stats
	size, _ := e.window.current()
	return ServerStats{
		Address: e.address, State: state.String(), Outstanding: busy,
		Requests: s.requests.Load(), Sent: s.sent.Load(), Retransmits: s.retransmits.Load(), FastRetransmits: s.fastRetransmits.Load(),
		NewIDs: s.newIDs.Load(), Acked: s.acked.Load(), Timeouts: s.timeouts.Load(),
		Failed: s.failed.Load(), Forged: s.forged.Load(), Unmatched: s.unmatched.Load(),
		Malformed: s.malformed.Load(), WriteErrors: s.writeErrors.Load(),
		Deaths: s.deaths.Load(), Revivals: s.revivals.Load(),
		Window: size, WindowCuts: s.windowCuts.Load(),
	}
}
