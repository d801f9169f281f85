package listener

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/radrelay/radrelay/radsec"
)

// Defaults of RadSecConfig.
const (
	DefaultRadSecMaxConnections = 256
	DefaultRadSecIdleTimeout    = 5 * time.Minute
)

// RadSecHandshakeTimeout bounds a RadSec client's TLS handshake, from the
// accepted TCP connection to its certificate checked. A mutual-TLS
// handshake is two round trips; 10 s leaves room for a few TCP
// retransmissions on a poor WAN link, as radrelay's own RadSec client
// allows (radsec.HandshakeTimeout). radsecproxy gives a TLS client 30 s to
// finish SSL_accept. A connection still handshaking holds no
// max_connections slot (see radsecServer.startHandshake), so a silent
// client costs a goroutine and a descriptor for this long, never a real
// client's place.
const RadSecHandshakeTimeout = radsec.HandshakeTimeout

// RadSecConfig is the RadSec (RFC 6614) side of a listener: TLS on TCP,
// clients authenticated by certificate.
type RadSecConfig struct {
	// TLS is this server's certificate and key and the CA the clients'
	// certificates must chain to (mutual TLS), under FreeRADIUS's names.
	TLS radsec.TLS
	// RadSecClients name the clients: a connection's certificate must
	// carry one's Name as its subject CN or a DNS SAN, and its requests
	// are checked with that client's Secret (radsec.DefaultSecret when
	// empty). With no RadSecClients, every certificate the CA signed is a
	// client with the secret "radsec".
	RadSecClients []RadSecClient
	// MaxConnections bounds the open RadSec connections whose handshake
	// is done, and, apart, those still handshaking (when those are at the
	// bound, a new connection closes the one handshaking longest);
	// IdleTimeout closes a connection that sent nothing for that long.
	MaxConnections int
	IdleTimeout    time.Duration
}

// What became of a RadSec connection refused (its log line's reason), and
// the metric that counts them.
const (
	connHandshakeFailed = "handshake_failed"
	connRefused         = "max_connections"
	radsecConnsMetric   = "radrelay_listen_radsec_connections_total"
)

// RadSecClient is a RadSec client known by its certificate's name.
type RadSecClient struct {
	Name   string
	Secret string
}

func (c *Config) validateRadSec() []error {
	if len(c.RadSec) == 0 {
		return nil
	}
	var errs []error
	for _, a := range c.RadSec {
		if err := checkHostPort("tcp", a); err != nil {
			errs = append(errs, fmt.Errorf("radsec %q: %w (e.g. 0.0.0.0:2083)", a, err))
		}
	}
	errs = append(errs, c.TLS.Validate()...)
	if c.MaxConnections < 0 {
		// Taken as the default (256) before: not what was meant.
		errs = append(errs, fmt.Errorf("max_connections %d: negative (0 or unset: %d)", c.MaxConnections, DefaultRadSecMaxConnections))
	}
	for _, rc := range c.RadSecClients {
		if rc.Name == "" {
			errs = append(errs, errors.New("radsec client: empty name (the certificate's CN or DNS name)"))
		}
	}
	return errs
}

type radsecServer struct {
	l    *Listener
	sem  chan struct{}
	idle time.Duration

	mu     sync.Mutex
	conns  map[net.Conn]bool
	closed bool
	// handshaking are the connections whose handshake runs, oldest
	// first; evicted those closed to make room for a newer one.
	handshaking []net.Conn
	evicted     map[net.Conn]bool
}

func (l *Listener) openRadSec() error {
	rs := &radsecServer{l: l, conns: map[net.Conn]bool{}}
	l.radsec = rs
	if len(l.cfg.RadSec) == 0 {
		return nil
	}
	l.cfg.TLS.OnReload = func(err error) {
		if err != nil {
			l.log.Error("radsec: the certificate files changed but cannot be loaded: still presenting the previous certificate", "err", err.Error())
			return
		}
		l.log.Info("radsec: certificate files changed: the new certificate is presented from now on", "certificate_file", l.cfg.TLS.CertificateFile)
	}
	tc, err := l.cfg.TLS.ServerConfig()
	if err != nil {
		return fmt.Errorf("radsec: %w", err)
	}
	max := l.cfg.MaxConnections
	if max <= 0 {
		max = DefaultRadSecMaxConnections
	}
	rs.sem = make(chan struct{}, max)
	rs.idle = l.cfg.IdleTimeout
	if rs.idle <= 0 {
		rs.idle = DefaultRadSecIdleTimeout
	}
	for _, a := range l.cfg.RadSec {
		ln, err := tls.Listen("tcp", a, tc)
		if err != nil {
			return fmt.Errorf("radsec %s: %w", a, err)
		}
		l.tcp = append(l.tcp, ln)
	}
	return nil
}

func (rs *radsecServer) serve(ln net.Listener) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if !rs.track(c) {
			c.Close()
			return
		}
		// Here, not in the goroutine: the connections handshaking are
		// in the order they were accepted.
		rs.startHandshake(c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer rs.untrack(c)
			rs.conn(c.(*tls.Conn))
		}()
	}
}

// startHandshake records that c's handshake starts. A connection takes a
// max_connections slot only once its handshake is done: one that never
// handshakes (a port scan, a half-open connection, a client that does
// not speak TLS) must not keep a real client out. Those handshaking are
// bounded apart, by max_connections too: at the bound, the connection
// handshaking longest is closed to make room.
func (rs *radsecServer) startHandshake(c net.Conn) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if len(rs.handshaking) >= cap(rs.sem) {
		old := rs.handshaking[0]
		rs.handshaking = slices.Delete(rs.handshaking, 0, 1)
		if rs.evicted == nil {
			rs.evicted = map[net.Conn]bool{}
		}
		rs.evicted[old] = true
		old.Close()
	}
	rs.handshaking = append(rs.handshaking, c)
}

// endHandshake records that c's handshake ended, and reports whether c was
// closed to make room for a newer connection.
func (rs *radsecServer) endHandshake(c net.Conn) (evicted bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if i := slices.Index(rs.handshaking, c); i >= 0 {
		rs.handshaking = slices.Delete(rs.handshaking, i, i+1)
	}
	evicted = rs.evicted[c]
	delete(rs.evicted, c)
	return evicted
}

func (rs *radsecServer) track(c net.Conn) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.closed {
		return false
	}
	rs.conns[c] = true
	return true
}

func (rs *radsecServer) untrack(c net.Conn) {
	rs.mu.Lock()
	delete(rs.conns, c)
	rs.mu.Unlock()
	c.Close()
}

// stop makes every connection's next read fail: requests read before are
// written and answered.
func (rs *radsecServer) stop() {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.closed = true
	for c := range rs.conns {
		c.SetReadDeadline(time.Now())
	}
}

// stopping reports whether stop was called.
func (rs *radsecServer) stopping() bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.closed
}

// identify finds the client of a connection from its certificate.
func (rs *radsecServer) identify(c *tls.Conn) (*Client, error) {
	certs := c.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil, errors.New("no client certificate")
	}
	names := certNames(certs[0])
	from, _ := netip.ParseAddrPort(c.RemoteAddr().String())
	if len(rs.l.cfg.RadSecClients) == 0 {
		return &Client{Prefix: netip.PrefixFrom(from.Addr(), from.Addr().BitLen()), Secret: radsec.DefaultSecret, Name: names[0]}, nil
	}
	for _, rc := range rs.l.cfg.RadSecClients {
		for _, n := range names {
			if strings.EqualFold(n, rc.Name) {
				secret := rc.Secret
				if secret == "" {
					secret = radsec.DefaultSecret
				}
				return &Client{Prefix: netip.PrefixFrom(from.Addr(), from.Addr().BitLen()), Secret: secret, Name: rc.Name}, nil
			}
		}
	}
	return nil, fmt.Errorf("certificate names %q match no radsec client", names)
}

func certNames(c *x509.Certificate) []string {
	names := []string{c.Subject.CommonName}
	return append(names, c.DNSNames...)
}

func (rs *radsecServer) conn(c *tls.Conn) {
	l := rs.l
	c.SetDeadline(time.Now().Add(RadSecHandshakeTimeout))
	err := c.Handshake()
	// A refused connection is logged as a dropped request is: a NAS that
	// is refused connects again and again.
	from, _ := netip.ParseAddrPort(c.RemoteAddr().String())
	if rs.endHandshake(c) {
		l.c.radsecHandshakeFailed.Add(1)
		l.drops.warnCounted(l.log, connHandshakeFailed, from, radsecConnsMetric, "radsec: closed a connection that had not finished its TLS handshake, to make room for a new one", "handshaking", cap(rs.sem))
		return
	}
	if err != nil {
		if rs.stopping() {
			// stop ended the handshake (its read deadline): a shutdown,
			// not a client that failed. Neither counted nor a warning.
			l.log.Debug("radsec: closed a connection still handshaking: radrelay is stopping", "from", from.String())
			return
		}
		l.c.radsecHandshakeFailed.Add(1)
		l.drops.warnCounted(l.log, connHandshakeFailed, from, radsecConnsMetric, "radsec: handshake failed", "err", err.Error())
		return
	}
	c.SetDeadline(time.Time{})
	select {
	case rs.sem <- struct{}{}:
		defer func() { <-rs.sem }()
	default:
		l.c.radsecRefused.Add(1)
		l.drops.warnCounted(l.log, connRefused, from, radsecConnsMetric, "radsec: refused a connection: max_connections reached", "max_connections", cap(rs.sem))
		return
	}
	cl, err := rs.identify(c)
	if err != nil {
		l.c.drop(DropUnknownClient)
		l.drops.warn(l.log, DropUnknownClient, from, "radsec: closed a connection from an unknown client", "err", err.Error())
		return
	}
	l.c.radsecOpened.Add(1)
	l.log.Info("radsec: client connected", "client", cl.Name, "from", from.String())
	to := replyTo{radsec: &radsecReplier{c: c}}
	var w worker
	buf := make([]byte, radsec.MaxPacketLength)
	packets := 0
	for {
		c.SetReadDeadline(time.Now().Add(rs.idle))
		p, err := radsec.ReadPacket(c, buf)
		if err != nil {
			if errors.Is(err, radsec.ErrFraming) {
				l.c.drop(DropMalformed)
				l.log.Warn("radsec: closed a connection out of sync", "client", cl.Name, "err", err)
			}
			l.log.Info("radsec: client disconnected", "client", cl.Name, "from", from.String(), "reason", rs.closeReason(err), "packets", packets)
			return
		}
		packets++
		l.c.received.Add(1)
		b := l.getBatch()
		l.handle(&w, p, from, cl, to, b)
		if len(b.items) == 0 {
			l.putBatch(b)
			continue
		}
		l.queue <- b
	}
}

// closeReason says why a client's connection ended, its read having failed
// with err.
func (rs *radsecServer) closeReason(err error) string {
	switch {
	case errors.Is(err, io.EOF):
		return "closed by the client"
	case errors.Is(err, radsec.ErrFraming):
		return "out of sync: " + err.Error()
	case errors.Is(err, os.ErrDeadlineExceeded):
		if rs.stopping() {
			return "radrelay is stopping"
		}
		return fmt.Sprintf("idle for idle_timeout (%s)", rs.idle)
	}
	return err.Error()
}

// radsecReplier writes responses on a RadSec connection: the committers
// and the connection's reader (Status-Server, duplicates) share it.
type radsecReplier struct {
	mu sync.Mutex
	c  *tls.Conn
}

// write writes the packets of b (whole RADIUS packets, one after another),
// each in its own TLS record: FreeRADIUS 3.2, as a RadSec client, answered
// only the first packet of a record holding several
// (TestListenInteropFreeRADIUS).
func (r *radsecReplier) write(b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	for len(b) >= 4 {
		n := min(int(b[2])<<8|int(b[3]), len(b))
		if n < 4 {
			return
		}
		if _, err := r.c.Write(b[:n]); err != nil {
			return
		}
		b = b[n:]
	}
}
