package radsec

import (
	"crypto/tls"
	"net"
	"sync"
)

// Conn is a RadSec connection: a TLS connection that can write many
// packets at once.
type Conn struct {
	*tls.Conn
	w   *heldWriter
	wmu sync.Mutex
}

// Client wraps raw as the client end of a RadSec connection; the
// handshake happens on first use or with Handshake.
func Client(raw net.Conn, cfg *tls.Config) *Conn {
	w := &heldWriter{Conn: raw}
	return &Conn{Conn: tls.Client(w, cfg), w: w}
}

// Server wraps raw as the server end of a RadSec connection.
func Server(raw net.Conn, cfg *tls.Config) *Conn {
	w := &heldWriter{Conn: raw}
	return &Conn{Conn: tls.Server(w, cfg), w: w}
}

// WritePackets writes packets, each in a TLS record of its own, all in one
// system call. One packet per record is what FreeRADIUS 3.2 needs: it reads
// one packet per record and closes a connection whose record holds more
// (tested); one system call for many is what keeps RadSec near UDP's rate.
func (c *Conn) WritePackets(packets ...[]byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.w.hold()
	for _, p := range packets {
		if _, err := c.Conn.Write(p); err != nil {
			c.w.flush()
			return err
		}
	}
	return c.w.flush()
}

// heldWriter passes writes through to the connection, except between hold
// and flush, when it gathers them.
type heldWriter struct {
	net.Conn
	mu   sync.Mutex
	held bool
	buf  []byte
}

func (w *heldWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.held {
		w.buf = append(w.buf, p...)
		return len(p), nil
	}
	return w.Conn.Write(p)
}

func (w *heldWriter) hold() {
	w.mu.Lock()
	w.held = true
	w.mu.Unlock()
}

func (w *heldWriter) flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.held = false
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.Conn.Write(w.buf)
	if cap(w.buf) > 64<<10 {
		w.buf = nil
	} else {
		w.buf = w.buf[:0]
	}
	return err
}
