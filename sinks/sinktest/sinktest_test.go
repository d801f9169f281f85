package sinktest

import (
	"context"
	"sync"
	"testing"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks"
)

// memory is the smallest correct sink: it keeps the session ids it was sent.
type memory struct {
	mu  *sync.Mutex
	ids *[]string
}

func (m memory) Send(ctx context.Context, recs []*detail.Record, results []error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, r := range recs {
		if err := ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		*m.ids = append(*m.ids, SessionID(r))
		results[i] = nil
	}
}

func (m memory) Close() error { return nil }

func TestMemorySinkConforms(t *testing.T) {
	var mu sync.Mutex
	var ids []string
	Run(t, Harness{
		New: func(t *testing.T) sinks.Sink {
			mu.Lock()
			ids = nil
			mu.Unlock()
			return memory{&mu, &ids}
		},
		Delivered: func(t *testing.T) []string {
			mu.Lock()
			defer mu.Unlock()
			return append([]string(nil), ids...)
		},
	})
}

func TestRecords(t *testing.T) {
	recs := Records(9)
	if len(recs) != 9 {
		t.Fatalf("got %d records", len(recs))
	}
	wantStatus := []string{"Start", "Interim-Update", "Stop"}
	for i, r := range recs {
		st, _ := r.Get("Acct-Status-Type")
		if st.Value != wantStatus[i%3] {
			t.Errorf("record %d: Acct-Status-Type %q, want %q", i, st.Value, wantStatus[i%3])
		}
		for _, name := range []string{"User-Name", "Acct-Session-Id", "NAS-IP-Address", "Acct-Unique-Session-Id", "Event-Timestamp"} {
			if _, ok := r.Get(name); !ok {
				t.Errorf("record %d has no %s", i, name)
			}
		}
		if !r.HasTimestamp || r.Timestamp == 0 {
			t.Errorf("record %d has no Timestamp", i)
		}
		if i > 0 && r.Offset != recs[i-1].Offset+recs[i-1].Length {
			t.Errorf("record %d: offset %d does not follow the previous record", i, r.Offset)
		}
	}
	if SessionID(recs[0]) != SessionID(recs[2]) || SessionID(recs[2]) == SessionID(recs[3]) {
		t.Errorf("sessions should be three records each: %s %s %s", SessionID(recs[0]), SessionID(recs[2]), SessionID(recs[3]))
	}
	again := Records(9)
	if SessionID(again[8]) != SessionID(recs[8]) || again[8].Timestamp != recs[8].Timestamp {
		t.Error("Records is not deterministic")
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain":          `"plain"`,
		"a\"b\\c":        `"a\"b\\c"`,
		"\t\r\n\x01\x7f": `"\t\r\n\001\177"`,
		"\xff\xc0\x80":   `"\377\300\200"`,
		"x\xe2\x82":      `"x\342\202"`,
		"日本":             `"日本"`,
	} {
		if got := escape(in); got != want {
			t.Errorf("escape(%q) = %s, want %s", in, got, want)
		}
	}
}
