package radius

import (
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// This file holds the endpoint: one server's sockets, counters and the
// knobs its health (health.go) and exchanges (exchange.go) use.

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
	connects        atomic.Int64 // RadSec connections opened
	connectErrors   atomic.Int64 // RadSec connections that failed (connect or handshake)
	connectionsLost atomic.Int64 // RadSec connections that broke with requests to resend
	refusals        atomic.Int64 // "connection refused" (ICMP port unreachable) on a read or write
}

// ServerStats is a snapshot of one server's counters.
type ServerStats struct {
	Address     string
	Transport   string // TransportUDP or TransportRadSec
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
	// RTT is the smoothed round-trip time of the server's answers to first
	// sends (RFC 6298; retransmitted requests are not sampled), RTTVar its
	// mean deviation; both 0 until the first answer.
	RTT, RTTVar time.Duration
	// RadSec: connections opened, failed to open (the log says why and
	// what to fix) and lost.
	Connects        int64
	ConnectErrors   int64
	ConnectionsLost int64
	// Refused: the host answered "connection refused" (an ICMP port
	// unreachable: nothing listens on the port) and the server has not
	// answered since. State is then "refused" while the server is not yet
	// marked dead. Refusals counts every refusal read.
	Refused  bool
	Refusals int64
}

// endpoint is one RADIUS server: its sockets, window and health.
type endpoint struct {
	address string
	secret  []byte
	conns   []*conn
	link    *radsecLink // the TLS connections of a radsec server (conns is empty)
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
	// refusedAt and forgedAt (Unix ns, 0: never) are the last "connection
	// refused" (an ICMP port unreachable) and the last reply failing the
	// authenticator check: they say why a server does not answer
	// (diagnose.go).
	refusedAt atomic.Int64
	forgedAt  atomic.Int64
	// refused is set by a refusal and cleared by the next authentic reply:
	// one warning per episode (diagnose.go).
	refused atomic.Bool
	// forgedLoggedAt is when a forged reply was last warned about.
	forgedLoggedAt atomic.Int64
	// lastReply is when the last authentic reply was read (health clock,
	// Unix ns; 0: none yet). The reader goroutine sets it as it reads the
	// reply, not the request's goroutine when it wakes: on a CPU-starved
	// process the latter can run long after, and the server would look
	// quieter than it is (see heard).
	lastReply atomic.Int64

	// now and afterFunc are the clock of the health checks (the zombie
	// period, revive_interval); time.Now and time.AfterFunc in production,
	// a manual clock in tests.
	now       func() time.Time
	afterFunc func(time.Duration, func()) (stop func() bool)

	mu    sync.Mutex
	state serverState
	// dead is closed when the server is marked dead, so that requests
	// waiting for it move on at once; a new one is made on revival.
	dead chan struct{}
	// stopZombie stops the zombie timer; nil when none is armed.
	stopZombie func() bool
	deadSince  time.Time
	busy       int
	busySince  time.Time
	probeDone  chan struct{} // closed when the probe request (stateProbing) ends
	probing    bool          // a Status-Server prober is running
}

// newEndpoint makes the endpoint of one server, without a transport yet.
func newEndpoint(address string, secret []byte, window int, t timing, log *slog.Logger) *endpoint {
	return &endpoint{
		address: address,
		secret:  secret,
		window:  newWindow(window, t.backoff.initial),
		timing:  t,
		log:     log.With("server", address),
		closed:  make(chan struct{}),
		epoch:   time.Now(),
		clock:   func(t time.Time) time.Time { return t },
		now:     time.Now,
		afterFunc: func(d time.Duration, f func()) func() bool {
			return time.AfterFunc(d, f).Stop
		},
		dead: make(chan struct{}),
	}
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
	e := newEndpoint(address, secret, window, t, log)
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
	e.mu.Lock()
	if e.stopZombie != nil {
		e.stopZombie()
		e.stopZombie = nil
	}
	e.mu.Unlock()
	for _, c := range e.conns {
		c.udp.Close()
	}
	if e.link != nil {
		e.link.close()
	}
	e.wg.Wait()
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

func (e *endpoint) snapshot() ServerStats {
	e.mu.Lock()
	state, busy := e.state, e.busy
	e.mu.Unlock()
	s := &e.stats
	size, _ := e.window.current()
	e.rttMu.Lock()
	srtt, rttvar := e.srtt, e.rttvar
	e.rttMu.Unlock()
	transport := TransportUDP
	if e.link != nil {
		transport = TransportRadSec
	}
	refused := e.refused.Load()
	shown := state.String()
	if refused && state == stateAlive {
		shown = "refused"
	}
	return ServerStats{
		Address: e.address, Transport: transport, State: shown, Outstanding: busy,
		Refused: refused, Refusals: s.refusals.Load(),
		Requests: s.requests.Load(), Sent: s.sent.Load(), Retransmits: s.retransmits.Load(), FastRetransmits: s.fastRetransmits.Load(),
		NewIDs: s.newIDs.Load(), Acked: s.acked.Load(), Timeouts: s.timeouts.Load(),
		Failed: s.failed.Load(), Forged: s.forged.Load(), Unmatched: s.unmatched.Load(),
		Malformed: s.malformed.Load(), WriteErrors: s.writeErrors.Load(),
		Deaths: s.deaths.Load(), Revivals: s.revivals.Load(),
		Window: size, WindowCuts: s.windowCuts.Load(),
		RTT: time.Duration(srtt), RTTVar: time.Duration(rttvar),
		Connects: s.connects.Load(), ConnectErrors: s.connectErrors.Load(), ConnectionsLost: s.connectionsLost.Load(),
	}
}
