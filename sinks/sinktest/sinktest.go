// Package sinktest is the conformance test every radrelay sink passes, and a
// source of realistic accounting records for other tests.
//
// A sink package's test calls Run with a Harness that opens the sink to a
// fresh, empty destination (a temp file, a throwaway database, a RADIUS server
// started by the test) and reads back what the destination holds:
//
//	func TestConformance(t *testing.T) {
//		sinktest.Run(t, sinktest.Harness{
//			New:       func(t *testing.T) sinks.Sink { ... },
//			Delivered: func(t *testing.T) []string { ... },
//		})
//	}
package sinktest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks"
)

// Harness opens a sink to a fresh, empty destination and reads back what that destination holds.
type Harness struct {
	New func(t *testing.T) sinks.Sink
	// Delivered returns the Acct-Session-Id of every record the destination holds, in arrival order, duplicates included.
	//
	// A destination that merges the records of one session (an SQL
	// accounting table keeps one row per session) returns each session once;
	// the conformance test only relies on which ids are present.
	//
	// Delivered is called while the sink is still open, right after Send
	// returned: an acknowledged record must already be at the destination
	// (written, committed, answered), not in a buffer that Close flushes.
	Delivered func(t *testing.T) []string
}

// hangLimit bounds how long a Send or Close may take before the test calls it
// stuck. It detects deadlocks; it is not a performance threshold.
const hangLimit = 30 * time.Second

// notSet is stored in every result before Send, to find results Send left alone.
var notSet = errors.New("sinktest: Send left this result unset")

// Run runs the conformance subtests against the sink h opens. Each subtest
// opens its own sink with h.New, so h.New must give a fresh, empty
// destination every time it is called. The subtests:
//
//   - OneRecord, ManyRecordsInBatches (batch sizes 1, 3, 9, ... up to 600
//     records), EmptyBatch: every record gets an outcome, nil for good
//     records, and every acknowledged record is at the destination, nothing else;
//   - HostileValues: HostileRecords are all acknowledged and delivered;
//   - CancelledContext: Send with a cancelled context returns with an outcome
//     for every record, what it acknowledged is delivered, and the sink
//     still works afterwards;
//   - DoesNotRetainRecords: records and results scribbled over after Send
//     never reach the destination;
//   - CloseWithoutSend: Close returns and the destination stays empty.
//
// Send and Close must return within 30 s (a deadlock detector, not a
// performance threshold).
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil || h.Delivered == nil {
		t.Fatal("sinktest: Harness needs New and Delivered")
	}
	t.Run("OneRecord", func(t *testing.T) {
		s := h.New(t)
		recs := records("one", 1)
		mustDeliver(t, s, recs)
		checkDestination(t, h, recs, nil)
		mustClose(t, s)
	})
	t.Run("ManyRecordsInBatches", func(t *testing.T) {
		s := h.New(t)
		recs := records("many", 600)
		// Batch sizes 1, 2, 3, ... up to a single large batch, so sinks that
		// split or coalesce batches meet uneven boundaries.
		rest, size := recs, 1
		for len(rest) > 0 {
			n := min(size, len(rest))
			mustDeliver(t, s, rest[:n])
			rest = rest[n:]
			size *= 3
		}
		checkDestination(t, h, recs, nil)
		mustClose(t, s)
	})
	t.Run("EmptyBatch", func(t *testing.T) {
		s := h.New(t)
		send(t, context.Background(), s, nil)
		mustClose(t, s)
	})
	t.Run("HostileValues", func(t *testing.T) {
		s := h.New(t)
		recs := HostileRecords()
		mustDeliver(t, s, recs)
		checkDestination(t, h, recs, nil)
		mustClose(t, s)
	})
	t.Run("CancelledContext", func(t *testing.T) {
		s := h.New(t)
		recs := records("cancel", 50)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		results := send(t, ctx, s, recs)
		var acked []*detail.Record
		for i, err := range results {
			if err == nil {
				acked = append(acked, recs[i])
			}
		}
		t.Logf("with a cancelled context, %d of %d records were acknowledged", len(acked), len(recs))
		checkPresent(t, h, acked)
		// The sink must still work afterwards.
		more := records("after-cancel", 5)
		mustDeliver(t, s, more)
		checkPresent(t, h, more)
		mustClose(t, s)
	})
	t.Run("DoesNotRetainRecords", func(t *testing.T) {
		s := h.New(t)
		recs := records("keep", 30)
		results := send(t, context.Background(), s, recs[:15])
		for i, err := range results {
			if err != nil {
				t.Fatalf("record %d was not acknowledged: %v", i, err)
			}
		}
		// Scribble over what Send was given; a sink that kept a reference
		// and writes it later would now deliver the scribbles.
		for _, r := range recs[:15] {
			for j := range r.Attrs {
				r.Attrs[j].Value = "mutated-" + r.Attrs[j].Value
			}
			r.Attrs = r.Attrs[:len(r.Attrs)-1]
		}
		for i := range results {
			results[i] = notSet
		}
		// Another batch makes a sink that defers work do it now.
		mustDeliver(t, s, recs[15:])
		mustClose(t, s)
		want := records("keep", 30)
		checkDestination(t, h, want, func(id string) bool { return strings.HasPrefix(id, "mutated-") })
	})
	t.Run("CloseWithoutSend", func(t *testing.T) {
		s := h.New(t)
		mustClose(t, s)
		if got := h.Delivered(t); len(got) != 0 {
			t.Errorf("the destination of a sink that was never sent anything holds %d records: %q", len(got), got)
		}
	})
}

// send calls s.Send with a results slice pre-filled with notSet and fails the
// test when Send hangs or leaves a result unset.
func send(t *testing.T, ctx context.Context, s sinks.Sink, recs []*detail.Record) []error {
	t.Helper()
	results := make([]error, len(recs))
	for i := range results {
		results[i] = notSet
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Send(ctx, recs, results)
	}()
	select {
	case <-done:
	case <-time.After(hangLimit):
		t.Fatalf("Send of %d records did not return within %v", len(recs), hangLimit)
	}
	for i, err := range results {
		if err == notSet {
			t.Errorf("Send returned without an outcome for record %d (%s)", i, SessionID(recs[i]))
		}
	}
	return results
}

// mustDeliver sends recs to a healthy sink and requires every one to be acknowledged.
func mustDeliver(t *testing.T, s sinks.Sink, recs []*detail.Record) {
	t.Helper()
	for i, err := range send(t, context.Background(), s, recs) {
		if err != nil {
			t.Fatalf("record %d (%s, %s:%d) was not acknowledged: %v (permanent: %v)",
				i, SessionID(recs[i]), recs[i].File, recs[i].Line, err, sinks.IsPermanent(err))
		}
	}
}

func mustClose(t *testing.T, s sinks.Sink) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(hangLimit):
		t.Fatalf("Close did not return within %v", hangLimit)
	}
}

// checkPresent requires every record of recs to be at the destination.
func checkPresent(t *testing.T, h Harness, recs []*detail.Record) {
	t.Helper()
	have := map[string]bool{}
	for _, id := range h.Delivered(t) {
		have[id] = true
	}
	for _, r := range recs {
		if id := SessionID(r); !have[id] {
			t.Errorf("acknowledged record %s (line %d) is not at the destination", id, r.Line)
		}
	}
}

// checkDestination requires every record of recs to be at the destination and
// nothing else to be there; bad, when set, names ids that must never appear.
func checkDestination(t *testing.T, h Harness, recs []*detail.Record, bad func(string) bool) {
	t.Helper()
	want := map[string]bool{}
	for _, r := range recs {
		want[SessionID(r)] = true
	}
	got := h.Delivered(t)
	have := map[string]bool{}
	for _, id := range got {
		have[id] = true
		if bad != nil && bad(id) {
			t.Errorf("the destination holds %q: the sink used a record after Send returned", id)
		} else if !want[id] {
			t.Errorf("the destination holds %q, which was never sent", id)
		}
	}
	var missing []string
	for id := range want {
		if !have[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d acknowledged sessions are not at the destination, e.g. %s", len(missing), first(missing, 5))
	}
}

func first(ids []string, n int) string {
	if len(ids) > n {
		return fmt.Sprintf("%q ...", ids[:n])
	}
	return fmt.Sprintf("%q", ids)
}
