package radius

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"time"
)

// This file holds the exchange of one request with an endpoint: sending,
// retransmission (by timer and fast), and the round-trip time that decides
// when an unanswered request is overdue.

// sampleRTT folds the round trip of a first send into the smoothed RTT
// and its mean deviation, as TCP does (RFC 6298; Karn: retransmitted
// requests are ambiguous and not sampled).
func (e *endpoint) sampleRTT(sentAt int64) {
	rtt := int64(time.Since(e.epoch)) - sentAt
	if rtt <= 0 {
		return
	}
	e.rttMu.Lock()
	defer e.rttMu.Unlock()
	if e.srtt == 0 {
		e.srtt, e.rttvar = rtt, rtt/2
	} else {
		dev := e.srtt - rtt
		if dev < 0 {
			dev = -dev
		}
		e.rttvar += (dev - e.rttvar) / 4
		e.srtt += (rtt - e.srtt) / 8
	}
	e.overdueAfter.Store(max(e.srtt+4*e.rttvar, 2*e.srtt, int64(minOverdue)))
}

// maxOvertaken bounds the early resends of one request per retransmission
// round for being overtaken by a window-full of later requests.
const maxOvertaken = 4

// minOverdue is the least time a request waits before an early resend for
// lack of an answer, however fast the server usually answers.
const minOverdue = 50 * time.Millisecond

// fastRetransmitLoop looks for requests that a window-full of later ones
// (at least fast_retransmit) overtook:
// on a server that answers in order, such a request or its answer was
// lost, and waiting out the retransmission timer (2 s) would stall every
// batch it is part of. Resending it at once costs one datagram; if the
// server did have it, the identical resend is answered from its duplicate
// cache.
func (e *endpoint) fastRetransmitLoop() {
	period := min(max(e.timing.backoff.initial/40, 5*time.Millisecond), 50*time.Millisecond)
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-e.closed:
			return
		case <-tick.C:
		}
		// A server that answers nothing gets at most one early resend per
		// request and retransmission round (fastUsed), so no storm.
		// A request unanswered for well over the usual round trip (TCP's
		// retransmission timeout, RFC 6298) was probably lost; this catches
		// the last requests of a batch, which nothing sent later overtakes.
		overdue := int64(-1)
		if after := e.overdueAfter.Load(); after > 0 {
			overdue = int64(time.Since(e.epoch)) - after
		}
		// A server with a thread pool answers out of order, but not by more
		// than what is in flight: wait for a full window to overtake.
		size, _ := e.window.current()
		distance := max(e.timing.fastRetransmit, uint64(size))
		for _, c := range e.conns {
			c.overtaken(distance, overdue)
		}
	}
}

// transmission is one (socket, Identifier) a request was sent with.
type transmission struct {
	c  *conn
	id byte
	s  *slot
}

func (t *transmission) release() {
	if t.s != nil {
		t.c.release(t.id, t.s)
		t.s = nil
	}
}

// exchange sends m to the server and retransmits it until an authentic
// Accounting-Response arrives, the retransmission limits are reached, the
// server is marked dead (unless this request is the probe), or ctx is done.
//
// A resend keeps the bytes and Identifier of the previous send unless
// Acct-Delay-Time changed (updateDelay): then it is a new request
// (RFC 2866 §5.2) with a new Identifier and Request Authenticator. The
// previous Identifier stays reserved so that a late reply to it still counts.
func (e *endpoint) exchange(ctx context.Context, m *message, probe bool) (err error) {
	if probe {
		// However the probe ends without an answer (no reply, cancelled,
		// closed), the server stays dead and waiting requests move on.
		defer func() {
			if err != nil {
				e.probeFailed(e.now())
			}
		}()
	}
	if err := e.window.acquire(ctx, e.closed); err != nil {
		return err
	}
	defer e.window.release()
	if !probe && !e.alive() {
		return errServerDead
	}
	start := time.Now()
	e.busyStart(e.now())
	// A probe goes to a server already dead; the others stop waiting
	// when it is marked dead (by the zombie timer) and fail over.
	var dead <-chan struct{}
	if !probe {
		dead = e.deadSignal()
	}
	defer e.busyEnd()
	e.stats.requests.Add(1)

	if e.link != nil {
		return e.link.exchange(ctx, m, probe, dead, start)
	}

	p := newPending()
	buf := make([]byte, 20+len(m.attrs))
	copy(buf[20:], m.attrs)
	var cur, prev transmission
	defer func() { cur.release(); prev.release() }()

	rt := e.timing.backoff.first()
	timer := time.NewTimer(rt)
	defer timer.Stop()
	sentDelay := uint32(0)
	rounds := 0 // retransmission timers expired: what max_rtx_count limits
	// Early resends per timer round: one for being overdue (time alone
	// says little on a busy machine, and a server that answers nothing
	// gets no more), up to maxOvertaken for being overtaken. The latter are
	// clocked by answers (a window-full of later requests answered after
	// the resend), so a resend lost in the same burst of drops as the
	// original is recovered in a few round trips instead of initial_rtx,
	// and a server that answers nothing never triggers one.
	overdueUsed := false
	overtakenLeft := maxOvertaken
	early := false // this send is a fast retransmission
	for sends := 0; ; sends++ {
		now := time.Now()
		delay := m.delayAt(e.clock(now))
		// A fast retransmission keeps the bytes (and Identifier) of the send
		// it repeats, so that a server that did get it answers from its
		// duplicate cache instead of counting the record twice.
		if sends == 0 || (!early && m.delayOff >= 0 && delay != sentDelay) {
			c, id, s, err := e.acquireID(p)
			if err != nil {
				return err
			}
			prev.release()
			prev, cur = cur, transmission{c: c, id: id, s: s}
			if m.delayOff >= 0 {
				binary.BigEndian.PutUint32(buf[20+m.delayOff:], delay)
				sentDelay = delay
			}
			signAccountingRequest(buf, id, e.secret)
			c.mu.Lock()
			copy(s.header[:], buf[:20])
			c.mu.Unlock()
			if sends > 0 {
				e.stats.newIDs.Add(1)
			}
		}
		if sends > 0 {
			e.stats.retransmits.Add(1)
		}
		e.stats.sent.Add(1)
		seq := cur.c.sendSeq.Add(1)
		cur.c.mu.Lock()
		cur.s.seq, cur.s.early = seq, false
		cur.s.overdueUsed, cur.s.overtakenLeft = overdueUsed, overtakenLeft
		cur.s.sentAt, cur.s.first = int64(time.Since(e.epoch)), sends == 0
		cur.c.mu.Unlock()
		early = false
		if _, err := cur.c.udp.Write(buf); err != nil {
			e.writeFailed(err)
		}
		select {
		case <-p.early:
			// Overtaken by later requests: resend now; the timer keeps running.
			early = true
			if p.overtaken.Load() {
				overtakenLeft--
				if e.window.lost(time.Now()) {
					e.stats.windowCuts.Add(1)
				}
			} else {
				overdueUsed = true
			}
			e.stats.fastRetransmits.Add(1)
			continue
		case <-p.acked:
			e.replied(p.repliedAt())
			e.window.acked(time.Now())
			return nil
		case <-dead:
			return errServerDead
		case <-ctx.Done():
			return ctx.Err()
		case <-e.closed:
			return net.ErrClosed
		case now := <-timer.C:
			rounds++
			overdueUsed, overtakenLeft = false, maxOvertaken
			isDead := e.timedOut()
			if !isDead && e.answeredWithin(e.now(), rt) && e.window.lost(now) {
				size, _ := e.window.current()
				e.stats.windowCuts.Add(1)
				e.log.Debug("radius server: request lost while others were answered; window reduced", "max_outstanding_now", size)
			}
			elapsed := now.Sub(start)
			t := e.timing
			if (t.maxCount > 0 && rounds > t.maxCount) || (t.maxDuration > 0 && elapsed >= t.maxDuration) {
				e.stats.failed.Add(1)
				return fmt.Errorf("%w after %d sends in %s%s", errNoReply, sends+1, elapsed.Round(time.Millisecond), e.noReplyHint())
			}
			if isDead && !probe {
				return errServerDead
			}
			rt = t.backoff.next(rt)
			if t.maxDuration > 0 && elapsed+rt > t.maxDuration {
				rt = t.maxDuration - elapsed
			}
			timer.Reset(rt)
		}
	}
}
