package radius

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	layeh "layeh.com/radius"
)

// This file holds the health of an endpoint: alive, dead or probed; the
// zombie period that marks a silent server dead; revival by a probe request
// or by Status-Server (RFC 5997).

var (
	// errServerDead is returned for a request to a server marked dead.
	errServerDead = errors.New("server is marked dead")
	// errNoReply is returned when retransmissions are exhausted.
	errNoReply = errors.New("no reply")
)

// serverState is the health of one server.
type serverState int

const (
	stateAlive serverState = iota
	// stateDead: requests skip the server until it is revived.
	stateDead
	// stateProbing: dead, and one real request is testing it (when Status-Server is off).
	stateProbing
)

func (s serverState) String() string {
	switch s {
	case stateAlive:
		return "alive"
	case stateDead:
		return "dead"
	default:
		return "probing"
	}
}

// admit reports whether a new request may go to the server now, and whether
// that request is the probe of a dead server: without Status-Server, the
// first request after revive_interval tests a dead server. Requests that
// come while it does wait for its outcome when wait is set (broadcast: they
// must go to this server anyway) and skip the server otherwise.
func (e *endpoint) admit(ctx context.Context, wait bool) (ok, probe bool) {
	for {
		e.mu.Lock()
		switch e.state {
		case stateAlive:
			e.mu.Unlock()
			return true, false
		case stateDead:
			if e.timing.statusServer || e.now().Sub(e.deadSince) < e.timing.reviveInterval {
				e.mu.Unlock()
				return false, false
			}
			e.state = stateProbing
			e.probeDone = make(chan struct{})
			e.mu.Unlock()
			e.log.Info("radius server: probing with a request")
			return true, true
		}
		done := e.probeDone
		e.mu.Unlock()
		if !wait {
			return false, false
		}
		select {
		case <-done:
		case <-ctx.Done():
			return false, false
		case <-e.closed:
			return false, false
		}
	}
}

func (e *endpoint) alive() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.state == stateAlive
}

func (e *endpoint) busyStart(now time.Time) {
	e.mu.Lock()
	if e.busy == 0 {
		e.busySince = now
	}
	e.busy++
	e.armZombieLocked()
	e.mu.Unlock()
}

func (e *endpoint) busyEnd() {
	e.mu.Lock()
	e.busy--
	if e.busy == 0 && e.stopZombie != nil {
		e.stopZombie()
		e.stopZombie = nil
	}
	e.mu.Unlock()
}

func (e *endpoint) outstanding() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.busy
}

// replied records an acknowledged request, whose reply was read at now:
// the server is alive.
func (e *endpoint) replied(now time.Time) {
	e.stats.acked.Add(1)
	e.heard(now)
	e.mu.Lock()
	revived := e.state != stateAlive
	if e.state == stateProbing {
		close(e.probeDone)
	}
	if revived {
		e.dead = make(chan struct{})
	}
	e.state = stateAlive
	if e.busy > 0 {
		e.armZombieLocked()
	}
	e.mu.Unlock()
	if revived {
		e.stats.revivals.Add(1)
		e.log.Info("radius server: alive again")
	}
}

// heard records a sign of life read at now: an authentic reply (called by
// the reader as it reads it) or a Status-Server answered on a live RadSec
// connection. The time only moves forward: a request's goroutine that
// wakes late reports an older reply than the reader already did.
func (e *endpoint) heard(now time.Time) {
	if e.refused.Load() {
		e.answersAgain()
	}
	ns := now.UnixNano()
	for {
		cur := e.lastReply.Load()
		if ns <= cur || e.lastReply.CompareAndSwap(cur, ns) {
			return
		}
	}
}

// lastReplyTime is when the last authentic reply was read (zero: none).
func (e *endpoint) lastReplyTime() time.Time {
	ns := e.lastReply.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// answeredWithin reports whether the server answered anything in the last d.
func (e *endpoint) answeredWithin(now time.Time, d time.Duration) bool {
	last := e.lastReplyTime()
	return !last.IsZero() && now.Sub(last) < d
}

// timedOut records an expired retransmission timer. It reports whether the
// server is dead (the zombie timer decides that, see armZombieLocked).
func (e *endpoint) timedOut() bool {
	e.stats.timeouts.Add(1)
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.state != stateAlive
}

// quietSinceLocked is when the server's silence began: the first request
// sent after its last reply (or after it was last idle), or the last reply
// when requests were in flight then.
func (e *endpoint) quietSinceLocked() time.Time {
	if last := e.lastReplyTime(); last.After(e.busySince) {
		return last
	}
	return e.busySince
}

// armZombieLocked starts the zombie timer when the server is alive and busy
// and none runs: it fires zombie_period after the silence began, so that a
// silent server is marked dead on time, not when some request's
// retransmission timer happens to expire (with the default backoff, 2, 6,
// 14 and 30 s after a send: up to 10 s late).
func (e *endpoint) armZombieLocked() {
	if e.stopZombie != nil || e.state != stateAlive || e.busy == 0 || e.timing.zombiePeriod <= 0 {
		return
	}
	d := e.quietSinceLocked().Add(e.timing.zombiePeriod).Sub(e.now())
	e.stopZombie = e.afterFunc(max(d, 0), e.zombieCheck)
}

// zombieCheck marks the server dead when it has been busy without a single
// reply for the zombie period, and otherwise rearms the timer for the end of
// the current silence.
func (e *endpoint) zombieCheck() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stopZombie = nil
	if e.state != stateAlive || e.busy == 0 {
		return
	}
	select {
	case <-e.closed:
		return
	default:
	}
	now := e.now()
	quiet := now.Sub(e.quietSinceLocked())
	if quiet < e.timing.zombiePeriod {
		e.armZombieLocked()
		return
	}
	why := fmt.Sprintf("no reply for %s", quiet.Round(time.Millisecond))
	if e.link == nil {
		why += e.noReplyHint()
	}
	if e.link != nil {
		why += " (a RadSec server drops requests signed with a wrong secret: check it)"
	}
	e.markDeadLocked(now, why)
}

// markDead marks a live server dead at once, for a reason that waiting
// cannot fix (a RadSec handshake refused).
func (e *endpoint) markDead(why string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state == stateAlive {
		e.markDeadLocked(e.now(), why)
	}
}

// deadSignal returns a channel closed when the server is marked dead.
func (e *endpoint) deadSignal() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.dead
}

// probeFailed puts a probed server back to dead.
func (e *endpoint) probeFailed(now time.Time) {
	e.mu.Lock()
	if e.state == stateProbing {
		close(e.probeDone)
		e.state = stateDead
		e.deadSince = now
		e.log.Warn("radius server: probe request got no reply, still dead", "revive_interval", e.timing.reviveInterval)
	}
	e.mu.Unlock()
}

func (e *endpoint) markDeadLocked(now time.Time, why string) {
	e.state = stateDead
	close(e.dead)
	e.deadSince = now
	e.stats.deaths.Add(1)
	e.log.Warn("radius server: marked dead", "reason", why, "revive_interval", e.timing.reviveInterval, "status_server", e.timing.statusServer)
	closing := false
	select {
	case <-e.closed:
		closing = true
	default:
	}
	if e.timing.statusServer && !e.probing && !closing {
		e.probing = true
		e.wg.Add(1)
		go func() { defer e.wg.Done(); e.statusProber() }()
	}
}

// statusProber sends a Status-Server (RFC 5997) every revive_interval while
// the server is dead and revives it on the first authentic answer.
func (e *endpoint) statusProber() {
	defer func() {
		e.mu.Lock()
		e.probing = false
		e.mu.Unlock()
	}()
	tick := time.NewTicker(e.timing.reviveInterval)
	defer tick.Stop()
	for {
		select {
		case <-e.closed:
			return
		case <-tick.C:
		}
		if e.alive() {
			return
		}
		if e.statusServer() {
			e.replied(e.now())
			return
		}
	}
}

// statusServer sends one Status-Server and waits one initial retransmission
// time for the answer.
func (e *endpoint) statusServer() bool {
	if e.link != nil {
		return e.link.statusServer()
	}
	p := newPending()
	c, id, s, err := e.acquireID(p)
	if err != nil {
		return false
	}
	t := transmission{c: c, id: id, s: s}
	defer t.release()
	buf := statusServerPacket(id, e.secret)
	c.mu.Lock()
	copy(s.header[:], buf[:20])
	c.mu.Unlock()
	e.stats.sent.Add(1)
	if _, err := c.udp.Write(buf); err != nil {
		e.writeFailed(err)
	}
	timer := time.NewTimer(e.timing.backoff.initial)
	defer timer.Stop()
	select {
	case <-p.acked:
		return true
	case <-timer.C:
		e.log.Debug("radius server: no answer to Status-Server")
		return false
	case <-e.closed:
		return false
	}
}

// statusServerPacket builds a Status-Server with a random Request
// Authenticator and the Message-Authenticator RFC 5997 requires:
// HMAC-MD5(secret, packet with the Message-Authenticator value zeroed).
func statusServerPacket(id byte, secret []byte) []byte {
	const length = 20 + 18
	buf := make([]byte, length)
	buf[0] = byte(layeh.CodeStatusServer)
	buf[1] = id
	binary.BigEndian.PutUint16(buf[2:4], length)
	rand.Read(buf[4:20])
	buf[20] = 80 // Message-Authenticator
	buf[21] = 18
	mac := hmac.New(md5.New, secret)
	mac.Write(buf)
	mac.Sum(buf[22:22])
	return buf
}
