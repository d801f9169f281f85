package radius

import (
	"errors"
	"syscall"
	"time"
)

// Why a server does not answer. FreeRADIUS drops a request signed with a
// wrong secret without a word, so a dead server, a closed port and a wrong
// secret all look like "no reply"; what came back instead (an ICMP port
// unreachable, replies failing the authenticator check) tells them apart.

// recentDiagnosis is how long a refusal or a forged reply explains silence.
const recentDiagnosis = 5 * time.Minute

// forgedLogEvery bounds the warnings about replies failing the
// authenticator check: the first, then one a minute.
const forgedLogEvery = time.Minute

// noteForged records a reply that failed the authenticator check and
// warns (rate-limited): it is the one sign of a wrong shared secret.
func (e *endpoint) noteForged() {
	now := time.Now().UnixNano()
	e.forgedAt.Store(now)
	last := e.forgedLoggedAt.Load()
	if last != 0 && time.Duration(now-last) < forgedLogEvery {
		return
	}
	if !e.forgedLoggedAt.CompareAndSwap(last, now) {
		return // another reader warns
	}
	e.log.Warn("radius server: replies fail the authenticator check and are dropped: the shared secret differs from the server's (or something else answers on that port)",
		"replies_dropped", e.stats.forged.Load())
}

// noReplyHint says, after "no reply", what the silence most likely means.
func (e *endpoint) noReplyHint() string {
	now := time.Now().UnixNano()
	recent := func(at int64) bool { return at != 0 && time.Duration(now-at) < recentDiagnosis }
	switch {
	case recent(e.refusedAt.Load()):
		return ` (the host answers "connection refused", an ICMP port unreachable: nothing listens on that port)`
	case recent(e.forgedAt.Load()):
		return " (replies came back but failed the authenticator check: the shared secret differs from the server's)"
	}
	return " (nothing came back: the server is down, a firewall drops the packets, or the shared secret is wrong — FreeRADIUS drops a request with a wrong secret silently; its log says so with -X)"
}

// noteRefused records a "connection refused" read from (or reported by a
// write to) the server's socket: an ICMP port unreachable, nothing listens
// on the port. The first one since the server last answered is warned
// about at once, naming the server: otherwise an operator learns of a
// wrong port or a stopped server only when zombie_period ends.
//
// A refusal is not a failure of the request: it is retransmitted as if it
// were lost (retryable, nothing dropped, the records stay pending) and the
// server is marked dead, and its records fail over, only when it has
// answered nothing for zombie_period, as for any silent server. ICMP is
// unauthenticated and a restarting server refuses for a moment; FreeRADIUS
// (unconnected proxy sockets) never sees the refusal and radsecproxy, like
// radrelay's own RadSec client, retries a refused connection until its
// server counts as dead (docs/radius.md, Dead servers).
func (e *endpoint) noteRefused() {
	if !e.refusedSeen() {
		return // said once per episode
	}
	e.log.Warn(`radius server: connection refused (an ICMP port unreachable: nothing listens on that port); records stay pending and are sent again`,
		"fix", "check the port, and that the server runs on that host",
		"zombie_period", e.timing.zombiePeriod)
}

// refusedSeen records a refusal and reports whether it is the first since
// the server last answered. A RadSec connection refused is recorded here
// too (its dial error is logged by report).
func (e *endpoint) refusedSeen() (first bool) {
	e.refusedAt.Store(time.Now().UnixNano())
	e.stats.refusals.Add(1)
	return !e.refused.Swap(true)
}

// answersAgain ends a refusal episode: the server answered.
func (e *endpoint) answersAgain() {
	if e.refused.CompareAndSwap(true, false) {
		e.log.Info("radius server: answering again after refusing connections")
	}
}

// writeFailed counts a failed send; a refusal reported by the write (a
// connected UDP socket returns a pending ICMP error on the next read or
// write, whichever comes first) is noted as such.
func (e *endpoint) writeFailed(err error) {
	e.stats.writeErrors.Add(1)
	if errors.Is(err, syscall.ECONNREFUSED) {
		e.noteRefused()
	}
}
