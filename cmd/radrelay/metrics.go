package main

import (
	"context"
	"errors"
	"net/http"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/listener"
	"github.com/radrelay/radrelay/sinks"
	"github.com/radrelay/radrelay/sinks/postgres"
	"github.com/radrelay/radrelay/sinks/radius"
	"github.com/radrelay/radrelay/tailer"
)

// monitor watches a running tailer and its sinks for the metrics endpoint,
// the status page and the status file: what the tailer counts (Stats), what
// each sink's Send calls returned (watchedSink), and what RADIUS sinks count
// per server.
type monitor struct {
	started time.Time
	now     func() time.Time

	// Set by attach once the tailer exists.
	stats    func() tailer.Stats
	filtered func() map[string]int64

	latency *prometheus.HistogramVec

	mu sync.Mutex
	// listeners returns the [[listen]] servers' counters, by address
	// (nil without listeners).
	listeners func() map[string]listener.Stats
	sinks     []*sinkWatch // in configuration order
	byName    map[string]*sinkWatch
}

// sinkWatch is what the monitor knows of one sink beyond tailer.Stats.
type sinkWatch struct {
	name, typ string
	// servers returns a RADIUS sink's per-server counters (nil otherwise).
	servers func() []radius.ServerStats
	// sessions returns a postgres sink's session counts (nil otherwise).
	sessions func() postgres.SessionStats

	// Guarded by monitor.mu.
	lastDelivery time.Time
	lastError    string
	lastErrorAt  time.Time
	failingSince time.Time
	retryable    int64 // records whose Send failed and will be retried
	permanent    int64 // records the sink rejected for good
	// bytesDone is radrelay_bytes_done_total: tailer.SinkStats.BytesPassed
	// (BytesDone counts only files still listed, so it falls when a
	// consumed file is deleted, and sampling its rises misses every file
	// consumed between two samples).
	bytesDone int64
	// rate: delivered records per second over the last samples.
	samples []deliverySample
}

type deliverySample struct {
	at        time.Time
	delivered int64
}

// rateWindow is how far back the delivery rate looks.
const rateWindow = 10 * time.Second

func newMonitor(started time.Time) *monitor {
	return &monitor{
		started: started,
		now:     time.Now,
		byName:  map[string]*sinkWatch{},
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "radrelay_delivery_duration_seconds",
			Help: "Time a delivery call to the sink took, from handing it a batch to the outcome of its last record.",
			// 100µs (a file) to 2 minutes (a RADIUS server's retransmissions).
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 11),
		}, []string{"sink"}),
	}
}

// watch wraps s so the monitor sees the outcome and duration of every Send,
// and finds the status a sink reports (a RADIUS sink's per-server
// counters, a postgres sink's sessions) behind any wrapper. The wrapper
// keeps every capability of s that the tailer looks for (ConcurrentSends).
func (m *monitor) watch(name, typ string, s sinks.Sink) sinks.Sink {
	w := &sinkWatch{name: name, typ: typ}
	if r, ok := behindWrappers[serverReporter](s); ok {
		w.servers = r.Stats
	}
	if r, ok := behindWrappers[sessionReporter](s); ok {
		w.sessions = r.SessionStats
	}
	m.mu.Lock()
	m.sinks = append(m.sinks, w)
	m.byName[name] = w
	m.mu.Unlock()
	ws := &watchedSink{next: s, m: m, w: w, latency: m.latency.WithLabelValues(name)}
	if cs, ok := s.(sinks.ConcurrentSender); ok {
		return &watchedConcurrentSink{watchedSink: ws, n: cs.ConcurrentSends()}
	}
	return ws
}

// serverReporter is a sink that reports the counters of each of its
// servers (the radius sink).
type serverReporter interface {
	Stats() []radius.ServerStats
}

// behindWrappers returns s, or the first sink behind its wrappers (sinks
// with Unwrap, as sinks/route's filter), that is a T.
func behindWrappers[T any](s sinks.Sink) (T, bool) {
	for inner := s; inner != nil; {
		if r, ok := inner.(T); ok {
			return r, true
		}
		u, ok := inner.(interface{ Unwrap() sinks.Sink })
		if !ok {
			break
		}
		inner = u.Unwrap()
	}
	var none T
	return none, false
}

// attach gives the monitor the running tailer's counters.
func (m *monitor) attach(stats func() tailer.Stats, filtered func() map[string]int64) {
	m.mu.Lock()
	m.stats, m.filtered = stats, filtered
	m.mu.Unlock()
}

// watchedSink passes Send and Close through to the sink and tells the
// monitor how each Send went.
type watchedSink struct {
	next    sinks.Sink
	m       *monitor
	w       *sinkWatch
	latency prometheus.Observer
}

func (s *watchedSink) Send(ctx context.Context, recs []*detail.Record, results []error) {
	start := time.Now()
	s.next.Send(ctx, recs, results)
	s.latency.Observe(time.Since(start).Seconds())
	s.m.outcome(s.w, results)
}

func (s *watchedSink) Close() error { return s.next.Close() }

// Unwrap returns the wrapped sink.
func (s *watchedSink) Unwrap() sinks.Sink { return s.next }

// watchedConcurrentSink is a watchedSink of a sinks.ConcurrentSender.
type watchedConcurrentSink struct {
	*watchedSink
	n int
}

func (s *watchedConcurrentSink) ConcurrentSends() int { return s.n }

// maxErrorLen bounds the last error kept per sink (a status page line).
const maxErrorLen = 400

// outcome records the results of one Send: a delivery when any record was
// acknowledged; a failure when none was and one failed retryably (the sink
// is down or refusing); a rejection for each permanent failure.
func (m *monitor) outcome(w *sinkWatch, results []error) {
	now := m.now()
	var ok, retry, perm int64
	var last error
	for _, err := range results {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			// Shutdown, not the sink's fault.
		case sinks.IsPermanent(err):
			perm++
			last = err
		default:
			retry++
			last = err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	w.retryable += retry
	w.permanent += perm
	if last != nil {
		msg := last.Error()
		if len(msg) > maxErrorLen {
			msg = msg[:maxErrorLen] + "…"
		}
		if sinks.IsPermanent(last) {
			msg = "rejected: " + msg
		}
		w.lastError, w.lastErrorAt = msg, now
	}
	switch {
	case ok > 0:
		w.lastDelivery = now
		w.failingSince = time.Time{}
	case retry > 0 && w.failingSince.IsZero():
		w.failingSince = now
	}
}

// sinkSnapshot is the live state of one sink.
type sinkSnapshot struct {
	tailer.SinkStats
	Type         string
	Filtered     int64
	BytesDone    int64 // monotonic (SinkStats.BytesPassed), unlike SinkStats.BytesDone
	LastDelivery time.Time
	LastError    string
	LastErrorAt  time.Time
	FailingSince time.Time
	Retryable    int64
	Permanent    int64
	Rate         float64 // records delivered per second, recently
	Servers      []radius.ServerStats
	Sessions     *postgres.SessionStats
}

// liveSnapshot is the live state of the whole run.
type liveSnapshot struct {
	At           time.Time
	Sinks        []sinkSnapshot
	BacklogBytes int64
	BacklogFiles int
	// Malformed: records that could not be parsed, counted once for all
	// sinks (tailer.Stats.Malformed).
	Malformed int64
}

// sample takes a snapshot and updates what is derived from successive
// snapshots (the monotonic byte counter, the delivery rate). It is called
// by every scrape and by the status file writer.
func (m *monitor) sample() liveSnapshot {
	m.mu.Lock()
	stats, filteredFn := m.stats, m.filtered
	m.mu.Unlock()
	var st tailer.Stats
	if stats != nil {
		st = stats()
	}
	var filtered map[string]int64
	if filteredFn != nil {
		filtered = filteredFn()
	}
	byName := map[string]tailer.SinkStats{}
	for _, s := range st.Sinks {
		byName[s.Name] = s
	}
	now := m.now()
	snap := liveSnapshot{At: now, BacklogBytes: st.BacklogBytes, BacklogFiles: st.BacklogFiles, Malformed: st.Malformed}
	m.mu.Lock()
	watches := append([]*sinkWatch(nil), m.sinks...)
	for _, w := range watches {
		ss := byName[w.name]
		ss.Name = w.name
		w.bytesDone = max(w.bytesDone, ss.BytesPassed)
		w.samples = append(w.samples, deliverySample{at: now, delivered: ss.Delivered})
		for len(w.samples) > 2 && now.Sub(w.samples[1].at) >= rateWindow {
			w.samples = w.samples[1:]
		}
		var rate float64
		if first := w.samples[0]; now.Sub(first.at) > 0 {
			rate = float64(ss.Delivered-first.delivered) / now.Sub(first.at).Seconds()
		}
		snap.Sinks = append(snap.Sinks, sinkSnapshot{
			SinkStats: ss, Type: w.typ, Filtered: filtered[w.name], BytesDone: w.bytesDone,
			LastDelivery: w.lastDelivery, LastError: w.lastError, LastErrorAt: w.lastErrorAt,
			FailingSince: w.failingSince, Retryable: w.retryable, Permanent: w.permanent, Rate: rate,
		})
	}
	m.mu.Unlock()
	for i, w := range watches {
		if w.servers != nil {
			snap.Sinks[i].Servers = w.servers()
		}
		if w.sessions != nil {
			st := w.sessions()
			snap.Sinks[i].Sessions = &st
		}
	}
	return snap
}

// registry returns a Prometheus registry with the Go and process collectors,
// the delivery-latency histogram and radrelay's own metrics.
func (m *monitor) registry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.latency,
		&monitorCollector{m: m},
	)
	return reg
}

// metricsHandler serves the registry in the Prometheus exposition formats.
func (m *monitor) metricsHandler() http.Handler {
	return promhttp.HandlerFor(m.registry(), promhttp.HandlerOpts{})
}

// monitorCollector turns a monitor snapshot into metrics at every scrape.
type monitorCollector struct{ m *monitor }

var (
	sinkLabel   = []string{"sink"}
	serverLabel = []string{"sink", "server"}

	descRead        = prometheus.NewDesc("radrelay_records_read_total", "Records read from detail files for the sink.", sinkLabel, nil)
	descDelivered   = prometheus.NewDesc("radrelay_records_delivered_total", "Records the sink acknowledged (including records its filter let pass).", sinkLabel, nil)
	descRetried     = prometheus.NewDesc("radrelay_records_retried_total", "Deliveries retried after a retryable failure.", sinkLabel, nil)
	descQuarantined = prometheus.NewDesc("radrelay_records_quarantined_total", "Records quarantined for the sink: rejected permanently by it, or retries exhausted (records that cannot be parsed are in radrelay_records_malformed_total).", sinkLabel, nil)
	descMalformed   = prometheus.NewDesc("radrelay_records_malformed_total", "Records that could not be parsed (malformed, truncated, unreadable), quarantined once for every sink and counted once.", nil, nil)
	descFiltered    = prometheus.NewDesc("radrelay_records_filtered_total", "Records the sink's filter acknowledged without delivering them.", sinkLabel, nil)
	descInFlight    = prometheus.NewDesc("radrelay_records_in_flight", "Records sent to the sink and not yet acknowledged.", sinkLabel, nil)
	descBytesDone   = prometheus.NewDesc("radrelay_bytes_done_total", "Bytes of detail files the sink has passed (never falls, also when a finished file is deleted).", sinkLabel, nil)
	descLag         = prometheus.NewDesc("radrelay_lag_seconds", "Now minus the Timestamp of the oldest record the sink has not acknowledged (0 when none).", sinkLabel, nil)
	descSinkUp      = prometheus.NewDesc("radrelay_sink_up", "1 while the sink delivers (its last delivery call acknowledged a record, or none failed yet), 0 while every call fails.", sinkLabel, nil)
	descFailures    = prometheus.NewDesc("radrelay_delivery_failures_total", "Records whose delivery failed: kind=\"retryable\" (tried again) or \"permanent\" (quarantined).", []string{"sink", "kind"}, nil)
	descLastDeliv   = prometheus.NewDesc("radrelay_last_delivery_timestamp_seconds", "Unix time the sink last acknowledged a record (0: not yet in this run).", sinkLabel, nil)
	descBacklog     = prometheus.NewDesc("radrelay_backlog_bytes", "Bytes of detail files not yet read by the slowest sink.", nil, nil)
	descBacklogN    = prometheus.NewDesc("radrelay_backlog_files", "Detail files not yet finished by the slowest sink.", nil, nil)
	descStart       = prometheus.NewDesc("radrelay_start_time_seconds", "Unix time radrelay started.", nil, nil)
	descBuild       = prometheus.NewDesc("radrelay_build_info", "The version of radrelay.", []string{"version"}, nil)

	listenLabel       = []string{"listen"}
	descLsnReceived   = prometheus.NewDesc("radrelay_listen_received_total", "Packets the listener received.", listenLabel, nil)
	descLsnAccepted   = prometheus.NewDesc("radrelay_listen_accepted_total", "Accounting-Requests written, fsynced and acknowledged.", listenLabel, nil)
	descLsnDuplicates = prometheus.NewDesc("radrelay_listen_duplicates_total", "Retransmissions answered from the duplicate cache (or dropped while being written), never written twice.", listenLabel, nil)
	descLsnStatus     = prometheus.NewDesc("radrelay_listen_status_server_total", "Status-Server probes answered.", listenLabel, nil)
	descLsnDropped    = prometheus.NewDesc("radrelay_listen_dropped_total", "Requests neither written nor answered, by reason: unknown_client, malformed, bad_authenticator, bad_message_authenticator, unsupported_code, spool_full, write_error.", []string{"listen", "reason"}, nil)
	descLsnSpool      = prometheus.NewDesc("radrelay_listen_spool_bytes", "Bytes in the listener's spool directory.", listenLabel, nil)
	descLsnPaused     = prometheus.NewDesc("radrelay_listen_paused", "1 while the listener does not acknowledge (disk full, write error, max_spool_bytes).", listenLabel, nil)
	descLsnFsyncs     = prometheus.NewDesc("radrelay_listen_fsyncs_total", "Group commits (one write and fsync for many requests).", listenLabel, nil)
	descLsnFsyncSec   = prometheus.NewDesc("radrelay_listen_fsync_seconds_total", "Time spent writing and fsyncing group commits.", listenLabel, nil)
	descLsnFsyncHist  = prometheus.NewDesc("radrelay_listen_fsync_duration_seconds", "Time of each group commit (write and fsync): its tail is the acknowledgements' tail.", listenLabel, nil)
	descLsnRadSec     = prometheus.NewDesc("radrelay_listen_radsec_connections_total", "RadSec connections the listener accepted, by event: opened (handshake done, the certificate is a client's), handshake_failed (no or a wrong certificate, not TLS, silent; the log says which), refused (max_connections reached).", []string{"listen", "event"}, nil)
	descLsnAckHist    = prometheus.NewDesc("radrelay_listen_ack_duration_seconds", "Time from receiving an accounting request to sending its Accounting-Response (after its fsync).", listenLabel, nil)

	descSrvUp       = prometheus.NewDesc("radrelay_radius_server_up", "1 while the RADIUS server is alive, 0 while it is marked dead, being probed, or refuses connections (ICMP port unreachable since its last answer).", serverLabel, nil)
	descSrvRefused  = prometheus.NewDesc("radrelay_radius_connection_refused_total", "Connections refused by the server's host (ICMP port unreachable: nothing listens on that port).", serverLabel, nil)
	descSrvWindow   = prometheus.NewDesc("radrelay_radius_server_window", "The server's adaptive in-flight window (at most max_outstanding).", serverLabel, nil)
	descSrvRTT      = prometheus.NewDesc("radrelay_radius_server_rtt_seconds", "Smoothed round-trip time of the server's answers to first sends (RFC 6298; 0 until the first answer).", serverLabel, nil)
	descSrvRTTVar   = prometheus.NewDesc("radrelay_radius_server_rtt_variation_seconds", "Mean deviation of the round-trip time (0 until the first answer).", serverLabel, nil)
	descSrvOut      = prometheus.NewDesc("radrelay_radius_server_outstanding", "Requests sent to the server and not yet answered.", serverLabel, nil)
	descSrvReq      = prometheus.NewDesc("radrelay_radius_requests_total", "Exchanges started with the server.", serverLabel, nil)
	descSrvSent     = prometheus.NewDesc("radrelay_radius_datagrams_sent_total", "Datagrams sent to the server, retransmissions included.", serverLabel, nil)
	descSrvAcked    = prometheus.NewDesc("radrelay_radius_responses_total", "Accounting-Responses accepted from the server.", serverLabel, nil)
	descSrvRtx      = prometheus.NewDesc("radrelay_radius_retransmits_total", "Requests sent again to the server.", serverLabel, nil)
	descSrvTimeouts = prometheus.NewDesc("radrelay_radius_timeouts_total", "Retransmission timers that expired.", serverLabel, nil)
	descSrvFailed   = prometheus.NewDesc("radrelay_radius_failed_total", "Exchanges that gave up without a reply.", serverLabel, nil)
	descSrvDropped  = prometheus.NewDesc("radrelay_radius_replies_dropped_total", "Replies dropped: reason=\"bad_authenticator\" (wrong code or Response Authenticator: check the shared secret), \"unknown_id\" (Identifier not in use), \"malformed\".", []string{"sink", "server", "reason"}, nil)
	descSrvDeaths   = prometheus.NewDesc("radrelay_radius_server_deaths_total", "Times the server was marked dead.", serverLabel, nil)
	descSrvCuts     = prometheus.NewDesc("radrelay_radius_window_cuts_total", "Times a loss shrank the server's window.", serverLabel, nil)
	descSrvConns    = prometheus.NewDesc("radrelay_radsec_connections_total", "RadSec connections: event=\"opened\", \"failed\" (connect or handshake failed; the log says what to fix), \"lost\" (broke with requests to send again).", []string{"sink", "server", "event"}, nil)
)

func (c *monitorCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRead, descDelivered, descRetried, descQuarantined, descMalformed, descFiltered,
		descInFlight, descBytesDone, descLag, descSinkUp, descFailures, descLastDeliv, descBacklog, descBacklogN,
		descStart, descBuild, descSrvUp, descSrvWindow, descSrvOut, descSrvReq, descSrvSent, descSrvAcked, descSrvRtx,
		descSrvTimeouts, descSrvFailed, descSrvDropped, descSrvDeaths, descSrvRefused, descSrvCuts, descSrvConns,
		descLsnReceived, descLsnAccepted, descLsnDuplicates, descLsnStatus, descLsnDropped, descLsnSpool, descLsnPaused, descLsnFsyncs, descLsnFsyncSec, descLsnFsyncHist, descLsnAckHist, descLsnRadSec} {
		ch <- d
	}
	for _, d := range sessionDescs {
		ch <- d
	}
}

func (c *monitorCollector) Collect(ch chan<- prometheus.Metric) {
	snap := c.m.sample()
	sort.Slice(snap.Sinks, func(i, j int) bool { return snap.Sinks[i].Name < snap.Sinks[j].Name })
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	histogram := func(d *prometheus.Desc, h listener.Histogram, labels ...string) {
		buckets := make(map[float64]uint64, len(h.Buckets))
		for i, n := range h.Buckets {
			buckets[listener.LatencyBuckets[i]] = uint64(n)
		}
		ch <- prometheus.MustNewConstHistogram(d, uint64(h.Count), h.Seconds, buckets, labels...)
	}
	for _, s := range snap.Sinks {
		n := s.Name
		counter(descRead, float64(s.Read), n)
		counter(descDelivered, float64(s.Delivered), n)
		counter(descRetried, float64(s.Retried), n)
		counter(descQuarantined, float64(s.Quarantined), n)
		counter(descFiltered, float64(s.Filtered), n)
		gauge(descInFlight, float64(s.InFlight), n)
		counter(descBytesDone, float64(s.BytesDone), n)
		gauge(descLag, lagSeconds(snap.At, s.OldestUndelivered), n)
		gauge(descSinkUp, boolValue(s.FailingSince.IsZero()), n)
		counter(descFailures, float64(s.Retryable), n, "retryable")
		counter(descFailures, float64(s.Permanent), n, "permanent")
		gauge(descLastDeliv, unixSeconds(s.LastDelivery), n)
		collectSessions(ch, n, s.Sessions)
		for _, srv := range s.Servers {
			a := srv.Address
			gauge(descSrvUp, boolValue(srv.State == "alive"), n, a)
			gauge(descSrvWindow, float64(srv.Window), n, a)
			gauge(descSrvOut, float64(srv.Outstanding), n, a)
			gauge(descSrvRTT, srv.RTT.Seconds(), n, a)
			gauge(descSrvRTTVar, srv.RTTVar.Seconds(), n, a)
			counter(descSrvReq, float64(srv.Requests), n, a)
			counter(descSrvSent, float64(srv.Sent), n, a)
			counter(descSrvAcked, float64(srv.Acked), n, a)
			counter(descSrvRtx, float64(srv.Retransmits), n, a)
			counter(descSrvTimeouts, float64(srv.Timeouts), n, a)
			counter(descSrvFailed, float64(srv.Failed), n, a)
			counter(descSrvDropped, float64(srv.Forged), n, a, "bad_authenticator")
			counter(descSrvDropped, float64(srv.Unmatched), n, a, "unknown_id")
			counter(descSrvDropped, float64(srv.Malformed), n, a, "malformed")
			counter(descSrvDeaths, float64(srv.Deaths), n, a)
			counter(descSrvRefused, float64(srv.Refusals), n, a)
			counter(descSrvCuts, float64(srv.WindowCuts), n, a)
			if srv.Transport == radius.TransportRadSec {
				counter(descSrvConns, float64(srv.Connects), n, a, "opened")
				counter(descSrvConns, float64(srv.ConnectErrors), n, a, "failed")
				counter(descSrvConns, float64(srv.ConnectionsLost), n, a, "lost")
			}
		}
	}
	c.m.mu.Lock()
	ls := c.m.listeners
	c.m.mu.Unlock()
	if ls != nil {
		for addr, st := range ls() {
			counter(descLsnReceived, float64(st.Received), addr)
			counter(descLsnAccepted, float64(st.Accepted), addr)
			counter(descLsnDuplicates, float64(st.Duplicates), addr)
			counter(descLsnStatus, float64(st.StatusServer), addr)
			for reason, n := range st.Dropped {
				counter(descLsnDropped, float64(n), addr, reason)
			}
			gauge(descLsnSpool, float64(st.SpoolBytes), addr)
			gauge(descLsnPaused, boolValue(st.Paused), addr)
			counter(descLsnFsyncs, float64(st.Fsyncs), addr)
			counter(descLsnFsyncSec, st.FsyncSeconds, addr)
			histogram(descLsnFsyncHist, st.FsyncLatency, addr)
			histogram(descLsnAckHist, st.AckLatency, addr)
			if rs := st.RadSec; rs != nil {
				counter(descLsnRadSec, float64(rs.Opened), addr, "opened")
				counter(descLsnRadSec, float64(rs.HandshakeFailed), addr, "handshake_failed")
				counter(descLsnRadSec, float64(rs.Refused), addr, "refused")
			}
		}
	}
	counter(descMalformed, float64(snap.Malformed))
	gauge(descBacklog, float64(snap.BacklogBytes))
	gauge(descBacklogN, float64(snap.BacklogFiles))
	gauge(descStart, unixSeconds(c.m.started))
	gauge(descBuild, 1, versionString())
}

func lagSeconds(now, oldest time.Time) float64 {
	if oldest.IsZero() {
		return 0
	}
	return max(now.Sub(oldest).Seconds(), 0)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

// versionString is radrelay's version as "radrelay version" prints it.
func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
