// Package listener is radrelay's accounting server: it receives
// Accounting-Requests over UDP (and Status-Server probes), checks that each
// comes from a known client with a valid Request Authenticator and
// Message-Authenticator, writes it as a detail record in FreeRADIUS's layout
// (one directory per client, detail-%Y%m%d), and sends the
// Accounting-Response only once the record is fsynced. Many requests share
// one fsync (group commit). A request that cannot be written (disk full,
// spool limit) is not acknowledged: the NAS sends it again, and the listener
// accepts it as soon as it can write again.
//
// RFC 2866 §2: a server must not acknowledge a request it could not record.
// RFC 5080 §2.2.2: a retransmission (same source, Identifier and
// authenticator) is answered with the cached response, never written twice.
// RFC 5997: Status-Server is answered on the accounting port.
//
// The spool is read by the tailer like any FreeRADIUS detail directory, so
// "radrelay run" relays what it receives, each sink with its own cursor.
package listener
