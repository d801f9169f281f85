package tailer

import (
	"errors"
	"strings"
	"sync"
	"time"
)

// The retry budget of a sink (RetryPolicy.MaxDuration) bounds how long a
// record is retried. Per record alone it would not bound a replay: every
// batch would spend the whole budget again before its records are
// quarantined, so a dead destination costs the budget once per batch (hours
// for a large file). So the budget is also kept per sink: once the sink has
// failed (retryably, without a single success) for longer than MaxDuration,
// what it is handed is settled at once — quarantined as "retries
// exhausted" without being sent — except one probe batch at a time, sent on
// the retry backoff schedule; the first success ends this.

// sinkHealth is the state of a sink's retry budget.
type sinkHealth struct {
	mu           sync.Mutex
	failingSince time.Time // zero: the last Send outcome was a success
	over         bool      // over budget (logged once per outage)
	probing      bool      // a probe batch is being sent
	nextProbe    time.Time
	probes       int
	// For the operator's log: records that failed at least once during
	// this outage, and when a reminder was last logged.
	waited       int
	lastReminder time.Time
	// cause is the cause last logged (causeOf), lastLogged when.
	cause      string
	lastLogged time.Time
}

// causeGap is how long after a line about an outage a changed cause is
// logged at the soonest: the records of one batch may fail in words that
// differ (the first record's error, then "not sent after an earlier
// record failed"), and a sink whose errors alternate must not write a line
// a retry.
const causeGap = 5 * time.Second

// causeOf is what tells one cause of an outage from another: the innermost
// error's words, digits left out (ports, counts, sequence numbers and
// durations change from one attempt to the next; the cause does not).
func causeOf(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			break
		}
		err = next
	}
	if err == nil {
		return ""
	}
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return -1
		}
		return r
	}, err.Error())
}

// noteSuccess records a delivered record: the sink works.
func (r *sinkRunner) noteSuccess() {
	h := &r.health
	h.mu.Lock()
	recovered := h.over
	since, waited := h.failingSince, h.waited
	h.failingSince, h.over, h.probes, h.waited = time.Time{}, false, 0, 0
	h.mu.Unlock()
	if !since.IsZero() {
		r.log.Info("sink recovered: delivering again", "down_for", time.Since(since).Round(time.Second).String(),
			"records_waited", waited, "over_retry_budget", recovered)
	}
}

// noteFailure records a retryable failure at now (first: the record's
// first failure). The first failure of an outage is logged with its cause;
// while the sink stays down, a reminder every Config.FailureReminder.
func (r *sinkRunner) noteFailure(now time.Time, first bool, err error) {
	h := &r.health
	h.mu.Lock()
	starts := h.failingSince.IsZero()
	if starts {
		h.failingSince, h.lastReminder = now, now
	}
	if first {
		h.waited++
	}
	remind := !starts && now.Sub(h.lastReminder) >= r.t.cfg.FailureReminder
	// A cause that changed during the outage (a sink that now connects and
	// is refused for another reason) is said when it is seen, not at the
	// next reminder, which may be a minute away. The cause is worked out
	// only when a line may be written: this runs for every failed record.
	mayChange := !starts && !remind && now.Sub(h.lastLogged) >= causeGap
	changed := false
	if starts || remind || mayChange {
		cause := causeOf(err)
		changed = mayChange && cause != h.cause
		if !mayChange || changed {
			h.lastReminder, h.lastLogged, h.cause = now, now, cause
		}
	}
	since, waited := h.failingSince, h.waited
	h.mu.Unlock()
	switch {
	case starts:
		r.log.Warn("sink is failing; retrying with backoff until it recovers", "err", err)
	case remind:
		r.log.Warn("sink still failing", "down_for", now.Sub(since).Round(time.Second).String(), "records_waiting", waited, "err", err)
	case changed:
		r.log.Warn("sink still failing, for another reason now", "down_for", now.Sub(since).Round(time.Second).String(), "records_waiting", waited, "err", err)
	}
}

// overBudget reports whether the sink has been failing for longer than its
// retry budget.
func (r *sinkRunner) overBudget(now time.Time) bool {
	budget := r.spec.Retry.MaxDuration
	if budget <= 0 {
		return false
	}
	h := &r.health
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failingSince.IsZero() || now.Sub(h.failingSince) < budget {
		return false
	}
	if !h.over {
		h.over = true
		h.nextProbe = now.Add(r.spec.Retry.Backoff(1))
		r.log.Warn("sink has failed for longer than its retry budget; records are quarantined at once, without being sent, until a probe succeeds",
			"failing_for", now.Sub(h.failingSince).Round(time.Millisecond), "max_duration", budget, "next_probe_in", h.nextProbe.Sub(now).Round(time.Millisecond))
	}
	return true
}

// budgetLeft is how long the sink may still fail before it is over budget
// (ok false when there is no budget or it is not failing).
func (r *sinkRunner) budgetLeft(now time.Time) (time.Duration, bool) {
	budget := r.spec.Retry.MaxDuration
	h := &r.health
	h.mu.Lock()
	defer h.mu.Unlock()
	if budget <= 0 || h.failingSince.IsZero() {
		return 0, false
	}
	return h.failingSince.Add(budget).Sub(now), true
}

// takeProbe reports whether a batch of a sink over budget may be sent, as the
// one probe in flight, now.
func (r *sinkRunner) takeProbe(now time.Time) bool {
	h := &r.health
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.probing || now.Before(h.nextProbe) {
		return false
	}
	h.probing = true
	return true
}

// endProbe ends a probe; a failed one sets the time of the next.
func (r *sinkRunner) endProbe(now time.Time) {
	h := &r.health
	h.mu.Lock()
	defer h.mu.Unlock()
	h.probing = false
	if h.over {
		h.probes++
		h.nextProbe = now.Add(r.spec.Retry.Backoff(h.probes + 1))
	}
}
