package tailer

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/radrelay/radrelay/detail"
)

// flipContext is a context that ends after its Err has been asked after
// times: a shutdown landing at a chosen moment of the tailer's work.
type flipContext struct {
	context.Context
	after int32
	asked atomic.Int32
	done  chan struct{}
}

func (c *flipContext) Err() error {
	if c.asked.Add(1) > c.after {
		return context.Canceled
	}
	return nil
}

func (c *flipContext) Done() <-chan struct{} { return c.done }

// failingSink fails every record retryably.
type failingSink struct{}

func (failingSink) Send(_ context.Context, recs []*detail.Record, results []error) {
	for i := range recs {
		results[i] = errTemporary
	}
}

func (failingSink) Close() error { return nil }

// TestResolveShutdownBetweenRecords: a shutdown that lands while the
// results of a failed batch are being looked at leaves every failed
// record of the batch unresolved. Asked record by record, it made the
// first records retries and the next ones unresolved, and the batch
// counted the first ones as resolved: their position was committed and
// they were never delivered nor quarantined (TestReplayResumesWithStateDir
// lost record 100 under load, 1 run in a few hundred).
func TestResolveShutdownBetweenRecords(t *testing.T) {
	for after := int32(0); after <= 3; after++ {
		t.Run(fmt.Sprintf("ends after %d questions", after), func(t *testing.T) {
			r := &sinkRunner{
				t:    &Tailer{cfg: Config{FailureReminder: time.Minute}},
				spec: SinkSpec{Name: "s", Sink: failingSink{}, Retry: RetryPolicy{Initial: time.Hour, Max: time.Hour}},
				log:  slog.New(slog.NewTextHandler(io.Discard, nil)),
			}
			done := make(chan struct{})
			close(done) // the backoff's wait ends at once
			ctx := &flipContext{Context: context.Background(), after: after, done: done}
			var batch []*item
			for i := range 3 {
				rec := &detail.Record{Attrs: []detail.Attribute{{Name: "Acct-Session-Id", Value: fmt.Sprint(i)}}}
				batch = append(batch, &item{kind: itemRecord, rec: rec, plain: true})
			}
			if n := r.resolve(ctx, batch); n != 0 {
				t.Errorf("resolve says the first %d records are resolved; none was delivered or quarantined", n)
			}
		})
	}
}
