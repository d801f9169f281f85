package tailer

import (
	"math/rand/v2"
	"time"
)

// Default retry policy: FreeRADIUS retries a detail record every 30 s
// forever; radrelay backs off exponentially instead, so a server coming back
// gets the backlog within a second and a dead one is not hammered.
const (
	DefaultRetryInitial = time.Second
	DefaultRetryMax     = time.Minute
)

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Initial <= 0 {
		p.Initial = DefaultRetryInitial
	}
	if p.Max <= 0 {
		p.Max = DefaultRetryMax
	}
	if p.Max < p.Initial {
		p.Max = p.Initial
	}
	return p
}

// Backoff returns the wait before retry number attempt (1 = the first
// retry): Initial·2^(attempt−1), capped at Max, with "equal jitter" (a random
// value between half and all of it) so many records or many radrelays do not
// retry in lockstep.
func (p RetryPolicy) Backoff(attempt int) time.Duration {
	p = p.withDefaults()
	d := p.Initial
	for i := 1; i < attempt && d < p.Max; i++ {
		d *= 2
	}
	if d > p.Max {
		d = p.Max
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// Exhausted reports whether a record that failed attempts times, the first
// time at first, has reached the policy's limits.
func (p RetryPolicy) Exhausted(attempts int, first, now time.Time) bool {
	if p.MaxAttempts > 0 && attempts >= p.MaxAttempts {
		return true
	}
	if p.MaxDuration > 0 && now.Sub(first) >= p.MaxDuration {
		return true
	}
	return false
}
