package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// connState turns what franz-go meets while it connects to the brokers
// into what an operator can act on, logged once per condition. The
// producer connects and retries in the background, and a record's own
// error comes only after delivery_timeout (30 s by default), as franz-go's
// words ("EOF" for a refused SASL password, a 10 s dial timeout for TLS
// to a plaintext broker): the hooks see each attempt as it fails.
type connState struct {
	logger *slog.Logger
	sasl   string // "user USER (MECHANISM)", "" without SASL: never the password

	// failing counts the addresses in failed: a request answered (every
	// produce request) costs no lock while every broker is up.
	failing atomic.Int64
	mu      sync.Mutex
	failed  map[string]string // an address's last failure (described), while it lasts
	// fresh: the addresses connected to (without SASL) whose first
	// request has not been answered yet; freshN counts them.
	fresh  map[string]bool
	freshN atomic.Int64
	logged map[string]string // the descriptions logged, by description: their address
	// The connection attempts under way (dial), by address and step:
	// what a record that times out before any attempt fails (a
	// delivery_timeout shorter than the dial's 10 s, or than franz-go's
	// read timeout) is waiting for. opening holds the connections dialled
	// whose initialisation (API versions, SASL) has not ended
	// (OnBrokerConnect).
	dialing   map[string]int
	handshake map[string]int
	opening   map[net.Conn]string
}

var (
	_ kgo.HookBrokerConnect = (*connState)(nil)
	_ kgo.HookBrokerE2E     = (*connState)(nil)
)

// maxLogged bounds the conditions remembered (a cluster of many brokers,
// each failing its own way).
const maxLogged = 64

func newConnState(logger *slog.Logger, cfg Config) *connState {
	c := &connState{logger: logger, failed: map[string]string{}, logged: map[string]string{}, fresh: map[string]bool{},
		dialing: map[string]int{}, handshake: map[string]int{}, opening: map[net.Conn]string{}}
	if cfg.SASLMechanism != "" {
		c.sasl = "user " + cfg.SASLUser + " (" + strings.ToUpper(cfg.SASLMechanism) + ")"
	}
	return c
}

func brokerAddr(m kgo.BrokerMetadata) string {
	return net.JoinHostPort(m.Host, strconv.Itoa(int(m.Port)))
}

// OnBrokerConnect implements kgo.HookBrokerConnect: err is the dial's, the
// TLS handshake's, or the connection's initialisation's (API versions,
// SASL), with conn nil when the dial (or handshake) failed. A connection
// made is not yet a broker that works (one that requires SASL closes it at
// the first request): OnBrokerE2E says when it does.
func (c *connState) OnBrokerConnect(m kgo.BrokerMetadata, _ time.Duration, conn net.Conn, err error) {
	addr := brokerAddr(m)
	if conn != nil {
		c.mu.Lock()
		delete(c.opening, conn)
		c.mu.Unlock()
	}
	if err == nil {
		if c.sasl == "" {
			c.mu.Lock()
			if !c.fresh[addr] {
				c.fresh[addr] = true
				c.freshN.Add(1)
			}
			c.mu.Unlock()
		}
		return
	}
	if closing(err) {
		return
	}
	c.down(addr, c.describe(addr, conn != nil, err))
}

// Kafka API keys of the requests that open a connection.
const (
	keySASLHandshake    = 17
	keyAPIVersions      = 18
	keySASLAuthenticate = 36
)

// OnBrokerE2E implements kgo.HookBrokerE2E: a request answered (other than
// those that open a connection, which OnBrokerConnect reports) means the
// broker works. A broker that requires SASL of a client that does not
// authenticate accepts the connection and closes it at the first request,
// which only that request's outcome shows.
func (c *connState) OnBrokerE2E(m kgo.BrokerMetadata, key int16, e kgo.BrokerE2E) {
	if key == keyAPIVersions || key == keySASLHandshake || key == keySASLAuthenticate {
		return
	}
	if c.failing.Load() == 0 && c.freshN.Load() == 0 {
		return // every produce request while all is well: no lock
	}
	addr := brokerAddr(m)
	err := e.Err()
	c.mu.Lock()
	fresh := c.fresh[addr]
	if fresh {
		delete(c.fresh, addr)
		c.freshN.Add(-1)
	}
	c.mu.Unlock()
	switch {
	case err == nil:
		c.up(addr)
	case fresh && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)):
		c.down(addr, fmt.Sprintf("broker %s closed the connection at the first request: does it require SASL (sasl_mechanism, sasl_user)?", addr))
	}
}

// describe says what went wrong connecting to addr; opened: the TCP
// connection (and TLS) was up, and the broker's API versions or SASL failed.
func (c *connState) describe(addr string, opened bool, err error) string {
	var hs *tlsHandshakeError
	if errors.As(err, &hs) {
		return hs.Error()
	}
	var first *kgo.ErrFirstReadEOF
	switch {
	case errors.Is(err, kerr.SaslAuthenticationFailed):
		return fmt.Sprintf("SASL authentication failed for %s at broker %s: %v", c.sasl, addr, err)
	case errors.Is(err, kerr.UnsupportedSaslMechanism):
		return fmt.Sprintf("SASL authentication failed for %s at broker %s: the broker does not enable this mechanism", c.sasl, addr)
	case opened && errors.As(err, &first):
		// At the API versions request: the connection was refused
		// before radrelay said anything but hello.
		return fmt.Sprintf("broker %s closed the connection at the first request: does it require TLS (tls = true)?", addr)
	case opened && c.sasl != "" && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)):
		// The API versions request was answered (its EOF would be an
		// ErrFirstReadEOF): the broker dropped the connection during
		// authentication, as a broker does on a wrong password.
		return fmt.Sprintf("SASL authentication failed for %s at broker %s: the broker closed the connection (wrong user or password?)", c.sasl, addr)
	case opened:
		// Without the connection's own addresses: a broker that
		// accepts and then never answers failed as "read tcp
		// 127.0.0.1:50670->...: i/o timeout", a new local port on every
		// retry, so the "once while it lasts" log said it every 10 s.
		return fmt.Sprintf("broker %s: %v", addr, dialCause(err))
	}
	return fmt.Sprintf("cannot connect to broker %s: %v", addr, dialCause(err))
}

// dialCause is the part of a dial's error an operator acts on ("connection
// refused", "no such host", "i/o timeout"), without the layers franz-go and
// package net wrap it in.
func dialCause(err error) error {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns
	}
	var op *net.OpError
	if errors.As(err, &op) {
		var sys *os.SyscallError
		if errors.As(op.Err, &sys) {
			return sys.Err
		}
		return op.Err
	}
	return err
}

// closing reports whether err is the client closing (Close), not a
// connection problem.
func closing(err error) bool {
	return errors.Is(err, kgo.ErrClientClosed) || errors.Is(err, context.Canceled)
}

// down notes that addr failed as what says, and logs what once while it
// lasts.
func (c *connState) down(addr, what string) {
	c.mu.Lock()
	if _, ok := c.failed[addr]; !ok {
		c.failing.Add(1)
	}
	c.failed[addr] = what
	_, seen := c.logged[what]
	first := !seen && len(c.logged) < maxLogged
	if first {
		c.logged[what] = addr
	}
	c.mu.Unlock()
	if !first {
		return
	}
	if strings.HasPrefix(what, "cannot connect") {
		c.logger.Warn("kafka sink: "+what+"; retrying", "broker", addr)
	} else {
		// Authentication, TLS: the broker answers, and a setting on one
		// side is wrong.
		c.logger.Error("kafka sink: "+what+"; retrying", "broker", addr)
	}
}

// up notes that addr connected, and says so if a failure of it was logged.
func (c *connState) up(addr string) {
	c.mu.Lock()
	_, wasDown := c.failed[addr]
	if wasDown {
		delete(c.failed, addr)
		c.failing.Add(-1)
	}
	logged := false
	for what, a := range c.logged {
		if a == addr {
			delete(c.logged, what)
			logged = true
		}
	}
	c.mu.Unlock()
	if wasDown && logged {
		c.logger.Info("kafka sink: connected to broker", "broker", addr)
	}
}

// cause is the failure of a broker that has not connected since, for a
// record's error; without one, what a connection attempt under way is
// still waiting for (a record can time out before the attempt does);
// "" when every broker tried is up.
func (c *connState) cause() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var causes []string
	for _, what := range c.failed {
		causes = append(causes, what)
	}
	if len(causes) == 0 {
		causes = c.waitingFor()
	}
	if len(causes) == 0 {
		return ""
	}
	// One, deterministically: the smallest.
	min := causes[0]
	for _, w := range causes[1:] {
		if w < min {
			min = w
		}
	}
	if len(causes) > 1 {
		min += fmt.Sprintf(" (and %d more brokers failing)", len(causes)-1)
	}
	return min
}

// waitingFor describes the connection attempts under way (c.mu held):
// each names the broker and what has not answered yet, in the words of the
// failure the attempt will end in if it never does.
func (c *connState) waitingFor() []string {
	var out []string
	seen := map[string]bool{} // several connections to a broker wait alike
	add := func(what string) {
		if !seen[what] {
			seen[what] = true
			out = append(out, what)
		}
	}
	for addr := range c.dialing {
		add(fmt.Sprintf("cannot connect to broker %s: no answer to the connection yet (i/o timeout so far: a wrong address, or a firewall dropping the packets?)", addr))
	}
	for addr := range c.handshake {
		add(fmt.Sprintf("TLS handshake with %s failed: the broker does not speak TLS? (no answer to the TLS hello yet)", addr))
	}
	for _, addr := range c.opening {
		add(c.noAnswer(addr))
	}
	for addr := range c.fresh {
		add(c.noAnswer(addr))
	}
	return out
}

// noAnswer describes a broker that accepted the connection and has not
// answered its first request.
func (c *connState) noAnswer(addr string) string {
	if c.sasl != "" {
		return fmt.Sprintf("broker %s accepted the connection but has not answered yet (i/o timeout so far; SASL for %s): not a Kafka listener, or does it require TLS (tls = true)?", addr, c.sasl)
	}
	return fmt.Sprintf("broker %s accepted the connection but has not answered yet (i/o timeout so far): not a Kafka listener, or does it require TLS (tls = true)?", addr)
}

// step counts a connection attempt to addr entering (+1) or leaving (-1)
// a step (dialing, handshake).
func (c *connState) step(m map[string]int, addr string, delta int) {
	c.mu.Lock()
	if m[addr] += delta; m[addr] <= 0 {
		delete(m, addr)
	}
	c.mu.Unlock()
}

// dialer dials a broker for franz-go (kgo.Dialer) and, with tc, makes the
// TLS handshake within timeout (see tlsHandshakeTimeout), as franz-go's
// own dialer does otherwise (its 10 s dial timeout; the server name is
// the broker's host unless tc names one); it notes each step under way for
// waitingFor.
func (c *connState) dialer(tc *tls.Config, timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 10 * time.Second} // franz-go's dial timeout
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c.step(c.dialing, addr, 1)
		raw, err := d.DialContext(ctx, network, addr)
		c.step(c.dialing, addr, -1)
		if err != nil {
			return nil, err
		}
		conn := raw
		if tc != nil {
			c.step(c.handshake, addr, 1)
			conn, err = tlsHandshake(ctx, raw, tc, addr, timeout)
			c.step(c.handshake, addr, -1)
			if err != nil {
				return nil, err
			}
		}
		c.mu.Lock()
		c.opening[conn] = addr
		c.mu.Unlock()
		return conn, nil
	}
}

// tlsHandshakeTimeout bounds a TLS handshake. A broker that does not speak
// TLS either closes the connection at the ClientHello (Apache Kafka: a
// request size it refuses) or waits for the rest of a "request" it never
// gets; without this bound the handshake waited for the 10 s dial timeout,
// and nothing said why.
const tlsHandshakeTimeout = 5 * time.Second

// A tlsHandshakeError is a TLS handshake with a broker that failed.
type tlsHandshakeError struct {
	addr string
	err  error
}

func (e *tlsHandshakeError) Error() string {
	var unknownCA x509.UnknownAuthorityError
	var record tls.RecordHeaderError
	switch {
	case errors.Is(e.err, context.DeadlineExceeded) || errors.Is(e.err, os.ErrDeadlineExceeded):
		// No time in the words: each condition is logged once, by them.
		return fmt.Sprintf("TLS handshake with %s failed: the broker does not speak TLS? (no answer to the TLS hello)", e.addr)
	case errors.Is(e.err, io.EOF) || errors.Is(e.err, syscall.ECONNRESET):
		return fmt.Sprintf("TLS handshake with %s failed: the broker does not speak TLS? (it closed the connection at the TLS hello)", e.addr)
	case errors.As(e.err, &record):
		return fmt.Sprintf("TLS handshake with %s failed: the broker does not speak TLS? (%v)", e.addr, e.err)
	case errors.As(e.err, &unknownCA):
		return fmt.Sprintf("TLS handshake with %s failed: %v (tls_ca_file names the CA that signed the broker's certificate)", e.addr, e.err)
	}
	return fmt.Sprintf("TLS handshake with %s failed: %v", e.addr, e.err)
}

func (e *tlsHandshakeError) Unwrap() error { return e.err }

// tlsHandshake makes the TLS handshake on raw within timeout (or the
// request's own deadline, a short delivery_timeout, when that comes first).
func tlsHandshake(ctx context.Context, raw net.Conn, tc *tls.Config, addr string, timeout time.Duration) (net.Conn, error) {
	cfg := tc.Clone()
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			raw.Close()
			return nil, err
		}
		cfg.ServerName = host
	}
	conn := tls.Client(raw, cfg)
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := conn.HandshakeContext(hctx); err != nil {
		raw.Close()
		if errors.Is(ctx.Err(), context.Canceled) {
			return nil, ctx.Err() // the client closing, not the broker
		}
		return nil, &tlsHandshakeError{addr: addr, err: err}
	}
	return conn, nil
}
