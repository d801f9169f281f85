package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/radrelay/radrelay/sinks/postgres"
)

// sessionReporter is a sink that reports the sessions of its live-session
// table (the postgres sink).
type sessionReporter interface {
	SessionStats() postgres.SessionStats
}

var (
	descPgOpen      = prometheus.NewDesc("radrelay_postgres_open_sessions", "Open sessions (acctstoptime NULL) of the NAS in the sink's live-session table, as last counted (every open_sessions_every; at most the 1,000 NASes with the most).", []string{"sink", "nas"}, nil)
	descPgCountedAt = prometheus.NewDesc("radrelay_postgres_open_sessions_counted_timestamp_seconds", "Unix time radrelay_postgres_open_sessions was last counted (0: not yet).", sinkLabel, nil)
	descPgClosed    = prometheus.NewDesc("radrelay_postgres_sessions_closed_total", "Sessions this radrelay closed without a Stop: reason=\"stale\" (no record for 3 of its interim intervals, or stale_after without one; close_stale_every) or \"reboot\" (their NAS rebooted without Accounting-On, detect_reboots).", []string{"sink", "reason"}, nil)
)

var sessionDescs = []*prometheus.Desc{descPgOpen, descPgCountedAt, descPgClosed}

// collectSessions sends the session metrics of one sink.
func collectSessions(ch chan<- prometheus.Metric, sink string, st *postgres.SessionStats) {
	if st == nil {
		return
	}
	for _, n := range st.OpenByNAS {
		ch <- prometheus.MustNewConstMetric(descPgOpen, prometheus.GaugeValue, float64(n.Open), sink, n.NAS)
	}
	ch <- prometheus.MustNewConstMetric(descPgCountedAt, prometheus.GaugeValue, unixSeconds(st.CountedAt), sink)
	ch <- prometheus.MustNewConstMetric(descPgClosed, prometheus.CounterValue, float64(st.StaleClosed), sink, "stale")
	ch <- prometheus.MustNewConstMetric(descPgClosed, prometheus.CounterValue, float64(st.RebootClosed), sink, "reboot")
}
