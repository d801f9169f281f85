package nats

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
)

// TestConnStateLogsAReasonOnce: attempts that fail alike, each from a new
// local port (a server that accepts and never answers), are one reason,
// logged once while the connection stays down; another reason is logged
// too.
func TestConnStateLogsAReasonOnce(t *testing.T) {
	var buf bytes.Buffer
	c := newConnState(slog.New(slog.NewTextHandler(&buf, nil)), []string{"nats://127.0.0.1:4222"})
	server := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4222}
	for port := 40000; port < 40020; port++ {
		c.failed(nil, &net.OpError{Op: "read", Net: "tcp", Source: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}, Addr: server, Err: os.ErrDeadlineExceeded})
	}
	c.failed(nil, fmt.Errorf("wrapped: %w", &net.OpError{Op: "dial", Net: "tcp", Addr: server, Err: os.ErrPermission}))
	if n := strings.Count(buf.String(), "cannot connect"); n != 2 {
		t.Errorf("logged %d times, want 2 (one a reason):\n%s", n, buf.String())
	}
	if err := c.notConnected(); !strings.Contains(err.Error(), "permission") {
		t.Errorf("notConnected() = %v, want the last attempt's error", err)
	}
}
