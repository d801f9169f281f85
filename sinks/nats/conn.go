package nats

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
)

// connState remembers why the connection is down, for the logs and errors
// an operator reads. The client connects and reconnects in the background
// (RetryOnFailedConnect, MaxReconnects -1) and, with no reconnect buffer, a
// record sent meanwhile fails with "outbound buffer limit exceeded": that
// the server refused the credentials, the TLS handshake failed or nothing
// listens would be said nowhere.
type connState struct {
	logger  *slog.Logger
	servers string

	mu      sync.Mutex
	lastErr error           // the last failed attempt's; nil once connected
	logged  map[string]bool // the errors logged since the connection was last up
}

func newConnState(logger *slog.Logger, servers []string) *connState {
	return &connState{logger: logger, servers: strings.Join(servers, ",")}
}

// failed notes a failed connection attempt (nats.ReconnectErrHandler). Each
// distinct error is logged once while the connection stays down: the
// client tries every server every few seconds.
func (c *connState) failed(_ *nats.Conn, err error) {
	if err == nil {
		return
	}
	c.mu.Lock()
	c.lastErr = err
	msg := reason(err)
	first := !c.logged[msg] && len(c.logged) < 16
	if first {
		if c.logged == nil {
			c.logged = map[string]bool{}
		}
		c.logged[msg] = true
	}
	c.mu.Unlock()
	if first {
		c.logger.Warn("nats sink: cannot connect; retrying", "servers", c.servers, "err", err)
	}
}

// reason is err's text without the local address of the attempt's socket
// ("read tcp 127.0.0.1:45050->127.0.0.1:4222: i/o timeout"): every attempt
// has a new local port, so with it a server that accepts connections and
// never answers made each attempt a distinct error, logged again each time.
func reason(err error) string {
	msg := err.Error()
	var op *net.OpError
	if errors.As(err, &op) && op.Source != nil && op.Addr != nil {
		msg = strings.Replace(msg, op.Source.String()+"->", "", 1)
	}
	return msg
}

// connected notes that the connection is up (again).
func (c *connState) connected() {
	c.mu.Lock()
	c.lastErr, c.logged = nil, nil
	c.mu.Unlock()
}

// down reports whether an attempt to connect failed since the connection
// was last up.
func (c *connState) down() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr != nil
}

// notConnected is the (retryable) error of a record sent while the
// connection is down: what the last attempt to connect met.
func (c *connState) notConnected() error {
	c.mu.Lock()
	err := c.lastErr
	c.mu.Unlock()
	if err == nil {
		return fmt.Errorf("nats sink: not connected to %s (reconnecting)", c.servers)
	}
	return fmt.Errorf("nats sink: not connected to %s: %w", c.servers, err)
}
