// Package sinks defines the Sink interface that every destination of radrelay
// implements, and how a sink tells a retryable failure from a permanent one.
//
// Each kind of destination lives in its own package below this one
// (sinks/radius, sinks/postgres, sinks/file, ...), and every one of them
// passes the shared conformance test in sinks/sinktest.
package sinks

import (
	"context"
	"errors"

	"github.com/radrelay/radrelay/detail"
)

// A Sink delivers accounting records to one destination.
//
// Send delivers recs and stores the outcome of recs[i] in results[i]
// (len(results) == len(recs)): nil when the destination acknowledged the
// record; an error marked with Permanent when it never will (the record is
// quarantined); any other error when a later retry may succeed. A permanent
// failure of one record must not hold up the others in the batch. Send returns
// when every record has an outcome or ctx is done; records without an outcome
// by then get ctx.Err(). Send must not keep recs or results after it returns.
//
// Send is called from one goroutine at a time per Sink, unless the sink is
// a ConcurrentSender; a sink that wants more concurrency either manages it
// inside Send or says so with ConcurrentSends.
type Sink interface {
	Send(ctx context.Context, recs []*detail.Record, results []error)
	// Close releases the sink's resources. It is called once, after the last Send.
	Close() error
}

// ConcurrentSender is implemented by a sink whose Send may run on several
// goroutines at once, each call with its own records and results. The
// tailer then hands it the next batch while earlier ones are still in
// flight (up to ConcurrentSends at a time), so a slow record at the end of
// one batch does not leave the sink idle. Positions are still committed in
// order.
type ConcurrentSender interface {
	Sink
	ConcurrentSends() int
}

// Preparer is implemented by a sink that can do part of its work on a
// record before the record is sent: the tailer calls Prepare on the
// goroutine that reads the records, as each is read, so that the work is
// done while earlier batches are being sent instead of at the start of
// the record's Send. Prepare may keep what it worked out in rec.Prepared
// (nothing else of rec may change); Send must give the same results for
// a record that was not prepared, or that was copied or changed after
// Prepare. Like ConcurrentSender, it is read from the package's sink: a
// filter in front of it hides it (the filter may hand on changed copies).
type Preparer interface {
	Sink
	Prepare(rec *detail.Record)
}

// permanentError marks an error as permanent.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as permanent: retrying the same record cannot succeed
// (the destination rejected its content). Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// IsPermanent reports whether err, or any error it wraps, was marked Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}
