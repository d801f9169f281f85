package tailer

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks"
)

// preparingSink is a memSink that prepares records (sinks.Preparer) and
// counts the records that reached Send without its mark.
type preparingSink struct {
	*memSink
	mu         sync.Mutex
	prepared   int
	unprepared int
}

type prepareMark struct{ rec *detail.Record }

func (s *preparingSink) Prepare(rec *detail.Record) {
	s.mu.Lock()
	s.prepared++
	s.mu.Unlock()
	rec.Prepared = &prepareMark{rec}
}

func (s *preparingSink) Send(ctx context.Context, recs []*detail.Record, results []error) {
	s.mu.Lock()
	for _, r := range recs {
		if m, ok := r.Prepared.(*prepareMark); !ok || m.rec != r {
			s.unprepared++
		}
	}
	s.mu.Unlock()
	s.memSink.Send(ctx, recs, results)
}

// hiding wraps a sink and hides every interface of it but sinks.Sink, as
// radrelay's metrics wrapper does.
type hiding struct{ next sinks.Sink }

func (h hiding) Send(ctx context.Context, recs []*detail.Record, results []error) {
	h.next.Send(ctx, recs, results)
}
func (h hiding) Close() error { return h.next.Close() }

// TestPreparerSeesEveryRecordBeforeSend: a sinks.Preparer gets Prepare for
// every record as it is read, before the record's Send, whether the spec's
// Sink is the preparer itself or a wrapper that declares it in Preparer.
func TestPreparerSeesEveryRecordBeforeSend(t *testing.T) {
	for _, wrapped := range []bool{false, true} {
		dir := t.TempDir()
		a := filepath.Join(dir, "detail-20261122")
		writeRecords(t, a, 0, 700)
		ps := &preparingSink{memSink: newMemSink(0)}
		spec := SinkSpec{Name: "mem", Sink: ps, MaxOutstanding: 64}
		if wrapped {
			spec.Sink, spec.Preparer = hiding{ps}, ps
		}
		tl, err := New(Config{
			Inputs:        []Input{{Files: []string{a}, Mode: Replay}},
			Sinks:         []SinkSpec{spec},
			QuarantineDir: filepath.Join(dir, "quarantine"),
			Logger:        testLogger(t),
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := tl.Run(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		checkExactlyOnce(t, "mem", ps.memSink, 700)
		if ps.prepared != 700 || ps.unprepared != 0 {
			t.Errorf("wrapped %v: %d records prepared, %d sent unprepared; want 700 and 0", wrapped, ps.prepared, ps.unprepared)
		}
	}
}
