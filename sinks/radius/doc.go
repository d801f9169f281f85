// Package radius is the RADIUS proxy sink: it sends every accounting record as
// an Accounting-Request to one or more RADIUS servers and counts a record as
// delivered only when an authentic Accounting-Response comes back.
//
// Unlike layeh.com/radius's Client.Exchange (a new socket per request, fixed
// resend ticker), the sink keeps a small pool of UDP sockets per server and
// multiplexes many requests over them: each socket has its own 256
// Identifiers, replies are matched by (socket, Identifier) and believed only
// when the Response Authenticator verifies. Retransmission follows RFC 5080
// (initial 2 s, doubling with ±10% jitter, capped at 16 s, with count and
// duration limits). Several servers can be combined with a policy: failover,
// load-balance or broadcast (every server must acknowledge). Dead servers are
// detected from timeouts, probed with Status-Server (RFC 5997) when enabled,
// and revived.
//
// Because a batch is done only when its last record is, a lost datagram must
// not wait out the 2 s timer: the number of requests in flight adapts to
// what the server takes without dropping (a window that shrinks on loss),
// and a request that a window-full of later ones overtook, or that is
// overdue by TCP's measure of the round trip, is resent at once.
//
// Records are encoded with package dictionary; server-internal attributes
// (Acct-Unique-Session-Id, Timestamp, Tmp-*, ...) are never sent, every other
// attribute is sent as it was received, NAS-IP-Address and NAS-Identifier
// included. See docs/radius.md for configuration and behaviour.
package radius
