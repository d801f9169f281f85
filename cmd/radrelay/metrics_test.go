package main

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks"
	"github.com/radrelay/radrelay/sinks/radius"
	"github.com/radrelay/radrelay/tailer"
)

// fakeStats is a tailer.Stats the test changes between scrapes.
type fakeStats struct {
	mu sync.Mutex
	st tailer.Stats
}

func (f *fakeStats) get() tailer.Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.st
	st.Sinks = append([]tailer.SinkStats(nil), f.st.Sinks...)
	return st
}

func (f *fakeStats) set(st tailer.Stats) {
	f.mu.Lock()
	f.st = st
	f.mu.Unlock()
}

// fakeRadius stands for a RADIUS sink: per-server counters, concurrent sends.
type fakeRadius struct{ results []error }

func (f *fakeRadius) Send(_ context.Context, recs []*detail.Record, results []error) {
	copy(results, f.results)
}
func (f *fakeRadius) Close() error         { return nil }
func (f *fakeRadius) ConcurrentSends() int { return 4 }
func (f *fakeRadius) Stats() []radius.ServerStats {
	return []radius.ServerStats{{Address: "127.0.0.1:1813", State: "alive", Requests: 9, Acked: 7, Retransmits: 3,
		Timeouts: 2, Forged: 5, Unmatched: 1, Window: 64, Outstanding: 2}, {Address: "127.0.0.2:1813", State: "dead"}}
}

// wrapper stands for a wrapper between the CLI and a sink (a route filter)
// that keeps ConcurrentSends.
type wrapper struct{ sinks.Sink }

func (w wrapper) Unwrap() sinks.Sink { return w.Sink }

func (w wrapper) ConcurrentSends() int { return w.Sink.(sinks.ConcurrentSender).ConcurrentSends() }

// scrape returns every sample of /metrics, parsed, by "name{labels}".
func scrape(t *testing.T, m *monitor) (map[string]float64, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	m.metricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics is not valid exposition text: %v\n%s", err, body)
	}
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.Metric {
			var labels []string
			for _, l := range m.Label {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			key := name
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[key+"_count"] = float64(m.Histogram.GetSampleCount())
			default:
				out[key] = m.GetUntyped().GetValue()
			}
		}
	}
	return out, body
}

func TestMetricsFamilies(t *testing.T) {
	now := time.Unix(1795435059, 0)
	stats := &fakeStats{st: tailer.Stats{BacklogBytes: 4096, BacklogFiles: 2, Sinks: []tailer.SinkStats{
		{Name: "zeta", Read: 10, Delivered: 9, Retried: 3, Quarantined: 1, InFlight: 1, BytesDone: 1000, BytesPassed: 1000, OldestUndelivered: now.Add(-90 * time.Second)},
		{Name: "rad", Read: 5, Delivered: 5, BytesDone: 10, BytesPassed: 10},
	}}}
	m := newMonitor(now.Add(-time.Hour))
	m.now = func() time.Time { return now }
	m.watch("zeta", "jsonl", &memorySink{})
	rad := m.watch("rad", "radius", wrapper{&fakeRadius{results: []error{nil, errors.New("no reply")}}})
	if cs, ok := rad.(sinks.ConcurrentSender); !ok || cs.ConcurrentSends() != 4 {
		t.Errorf("the watched RADIUS sink lost ConcurrentSends: %T", rad)
	}
	m.attach(stats.get, func() map[string]int64 { return map[string]int64{"zeta": 4} })
	rad.Send(context.Background(), make([]*detail.Record, 2), make([]error, 2))

	got, body := scrape(t, m)
	for key, want := range map[string]float64{
		`radrelay_records_read_total{sink=zeta}`:                                                         10,
		`radrelay_records_delivered_total{sink=zeta}`:                                                    9,
		`radrelay_records_retried_total{sink=zeta}`:                                                      3,
		`radrelay_records_quarantined_total{sink=zeta}`:                                                  1,
		`radrelay_records_filtered_total{sink=zeta}`:                                                     4,
		`radrelay_records_in_flight{sink=zeta}`:                                                          1,
		`radrelay_bytes_done_total{sink=zeta}`:                                                           1000,
		`radrelay_lag_seconds{sink=zeta}`:                                                                90,
		`radrelay_lag_seconds{sink=rad}`:                                                                 0,
		`radrelay_sink_up{sink=rad}`:                                                                     1,
		`radrelay_delivery_failures_total{kind=retryable,sink=rad}`:                                      1,
		`radrelay_last_delivery_timestamp_seconds{sink=rad}`:                                             float64(now.Unix()),
		`radrelay_delivery_duration_seconds{sink=rad}_count`:                                             1,
		`radrelay_backlog_bytes`:                                                                         4096,
		`radrelay_backlog_files`:                                                                         2,
		`radrelay_start_time_seconds`:                                                                    float64(now.Add(-time.Hour).Unix()),
		`radrelay_radius_server_up{server=127.0.0.1:1813,sink=rad}`:                                      1,
		`radrelay_radius_server_up{server=127.0.0.2:1813,sink=rad}`:                                      0,
		`radrelay_radius_server_window{server=127.0.0.1:1813,sink=rad}`:                                  64,
		`radrelay_radius_server_outstanding{server=127.0.0.1:1813,sink=rad}`:                             2,
		`radrelay_radius_retransmits_total{server=127.0.0.1:1813,sink=rad}`:                              3,
		`radrelay_radius_timeouts_total{server=127.0.0.1:1813,sink=rad}`:                                 2,
		`radrelay_radius_replies_dropped_total{reason=bad_authenticator,server=127.0.0.1:1813,sink=rad}`: 5,
		`radrelay_radius_replies_dropped_total{reason=unknown_id,server=127.0.0.1:1813,sink=rad}`:        1,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
	for _, prefix := range []string{"go_goroutines", "go_memstats_", "process_cpu_seconds_total", "process_resident_memory_bytes"} {
		if !strings.Contains(body, "\n"+prefix) {
			t.Errorf("no %s* metric (Go and process collectors)", prefix)
		}
	}
}

// TestBytesDoneNeverFalls: the tailer's BytesDone counts only files still
// listed, so it falls when a finished work file is deleted; the counter
// radrelay exports follows BytesPassed and must not fall.
func TestBytesDoneNeverFalls(t *testing.T) {
	stats := &fakeStats{}
	m := newMonitor(time.Now())
	m.watch("s", "jsonl", &memorySink{})
	m.attach(stats.get, nil)
	var last float64
	for i, st := range []struct{ done, passed int64 }{{0, 0}, {326754, 326754}, {0, 326754}, {100, 326854}, {5000, 331754}} {
		stats.set(tailer.Stats{Sinks: []tailer.SinkStats{{Name: "s", BytesDone: st.done, BytesPassed: st.passed}}})
		got, _ := scrape(t, m)
		v := got["radrelay_bytes_done_total{sink=s}"]
		if v < last {
			t.Fatalf("scrape %d: radrelay_bytes_done_total fell from %v to %v", i, last, v)
		}
		last = v
	}
	if last != 331754 {
		t.Errorf("radrelay_bytes_done_total = %v, want %v", last, 331754)
	}
}

func TestSinkUpFollowsOutcomes(t *testing.T) {
	m := newMonitor(time.Now())
	fail := &fakeRadius{results: []error{errors.New("connection refused")}}
	s := m.watch("r", "radius", fail)
	m.attach(func() tailer.Stats { return tailer.Stats{} }, nil)
	up := func() float64 { got, _ := scrape(t, m); return got["radrelay_sink_up{sink=r}"] }
	if up() != 1 {
		t.Error("a sink that has not failed yet is not up")
	}
	s.Send(context.Background(), make([]*detail.Record, 1), make([]error, 1))
	if up() != 0 {
		t.Error("a sink whose every call fails is up")
	}
	snap := m.sample()
	if snap.Sinks[0].LastError != "connection refused" || snap.Sinks[0].FailingSince.IsZero() {
		t.Errorf("last error %q, failing since %v", snap.Sinks[0].LastError, snap.Sinks[0].FailingSince)
	}
	// A permanent rejection is not an outage; a shutdown is not either.
	fail.results = []error{sinks.Permanent(errors.New("bad value")), context.Canceled, nil}
	s.Send(context.Background(), make([]*detail.Record, 3), make([]error, 3))
	if up() != 1 {
		t.Error("a sink that delivered again is not up")
	}
	if got := m.sample().Sinks[0].LastError; got != "rejected: bad value" {
		t.Errorf("last error %q", got)
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 1500 * time.Millisecond: "2s", 4*time.Minute + 10*time.Second: "4m10s", 4 * time.Minute: "4m",
		2*time.Hour + 5*time.Minute + 20*time.Second: "2h5m", 75 * time.Hour: "3d3h", -time.Second: "0s",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestReadyzBound: a failing sink makes /readyz answer 503 unless its
// backlog is within ready_max_backlog; /healthz answers 200 regardless.
func TestReadyzBound(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "radacct")
	os.Mkdir(spool, 0o700)
	files, _ := replayFiles(t, spool, false)
	var backlog int64
	for _, f := range files {
		fi, _ := os.Stat(f)
		backlog += fi.Size()
	}
	m := newMonitor(time.Now())
	s := m.watch("down", "radius", &fakeRadius{results: []error{errors.New("no reply")}})
	m.attach(func() tailer.Stats { return tailer.Stats{} }, nil)
	tc := tailer.Config{StateDir: filepath.Join(dir, "state"), Inputs: []tailer.Input{{Glob: filepath.Join(spool, "detail-*"), Mode: tailer.Follow}}}
	pub := newStatusPublisher(m, "run", time.Now(), tc)
	get := func(bound int64, path string) (int, string) {
		srv := &statusServer{m: m, pub: pub, readyMaxBacklog: bound, stateDir: tc.StateDir}
		rec := httptest.NewRecorder()
		srv.handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code, rec.Body.String()
	}
	if code, body := get(0, "/readyz"); code != 200 {
		t.Errorf("/readyz before any delivery call: %d %s", code, body)
	}
	s.Send(context.Background(), make([]*detail.Record, 1), make([]error, 1))
	if code, body := get(backlog-1, "/readyz"); code != 503 || !strings.Contains(body, "sink down failing since") {
		t.Errorf("/readyz with %d bytes behind, bound %d: %d %s", backlog, backlog-1, code, body)
	}
	if code, body := get(backlog, "/readyz"); code != 200 {
		t.Errorf("/readyz with %d bytes behind, bound %d: %d %s", backlog, backlog, code, body)
	}
	if code, _ := get(0, "/healthz"); code != 200 {
		t.Errorf("/healthz: %d", code)
	}
	if code, _ := get(0, "/nothing"); code != 404 {
		t.Errorf("/nothing: %d, want 404", code)
	}
}
