package radius

import (
	"math/rand/v2"
	"time"
)

// backoff computes retransmission timeouts as RFC 5080 §2.2.1 describes
// (the RFC 3315 algorithm): RT = IRT + RAND*IRT for the first wait, then
// RT = 2*RTprev + RAND*RTprev, and once RT exceeds MRT, RT = MRT + RAND*MRT.
// RAND is uniform in [-0.1, 0.1] so that many clients that lost the same
// server do not retransmit in lockstep.
type backoff struct {
	initial, max time.Duration
}

// jitter returns d + RAND*d.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()*0.2-0.1)*float64(d))
}

// first returns the first retransmission timeout.
func (b backoff) first() time.Duration { return jitter(b.initial) }

// next returns the timeout that follows prev.
func (b backoff) next(prev time.Duration) time.Duration {
	rt := 2*prev + time.Duration((rand.Float64()*0.2-0.1)*float64(prev))
	if b.max > 0 && rt > b.max {
		rt = jitter(b.max)
	}
	return rt
}
