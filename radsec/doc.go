// Package radsec is the transport of RADIUS over TLS (RadSec, RFC 6614)
// shared by radrelay's RadSec client (the radius sink's radsec:// servers)
// and server: the framing of RADIUS packets on a TLS stream, the TLS
// configuration both ends use (mutual authentication against a CA file,
// TLS 1.2 at least), and errors that tell an operator what to fix.
//
// RFC 6614 in brief: TCP port 2083; the shared secret is "radsec" unless
// configured; packets follow each other on the stream, each delimited by its
// own Length field; many requests may be in flight on one connection, told
// apart by Identifier; a request is never retransmitted on the same
// connection (§2.5), only after the connection is lost; an idle connection
// is checked with Status-Server (§2.6).
package radsec

import "time"

const (
	// DefaultPort is the RadSec port (RFC 6614 §2.3).
	DefaultPort = 2083
	// DefaultSecret is the shared secret RFC 6614 §2.3 prescribes when
	// none is configured.
	DefaultSecret = "radsec"
	// HandshakeTimeout bounds a TLS handshake.
	HandshakeTimeout = 10 * time.Second
)
