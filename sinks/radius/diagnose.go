package radius

import "time"

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
