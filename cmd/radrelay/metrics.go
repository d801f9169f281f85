package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/radrelay/radrelay/tailer"
)

// metricsSource is what the /metrics endpoint reports: the tailer's
// progress and, per sink, the records its filter let pass without delivery.
type metricsSource struct {
	stats    func() tailer.Stats
	filtered func() map[string]int64 // per sink name; may be nil
	now      func() time.Time
	started  time.Time
}

// metricsHandler serves the Prometheus text exposition format (version
// 0.0.4) without a client library: a handful of counters and gauges.
func metricsHandler(src metricsSource) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		bw := bufio.NewWriter(w)
		writeMetrics(bw, src)
		bw.Flush()
	})
}

type perSink func(s tailer.SinkStats) float64

func writeMetrics(w io.Writer, src metricsSource) {
	st := src.stats()
	now := time.Now()
	if src.now != nil {
		now = src.now()
	}
	sinksSorted := append([]tailer.SinkStats(nil), st.Sinks...)
	sort.Slice(sinksSorted, func(i, j int) bool { return sinksSorted[i].Name < sinksSorted[j].Name })

	family := func(name, typ, help string, value perSink) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		for _, s := range sinksSorted {
			fmt.Fprintf(w, "%s{sink=\"%s\"} %s\n", name, escapeLabel(s.Name), formatValue(value(s)))
		}
	}
	family("radrelay_records_read_total", "counter", "Records read from detail files for the sink.",
		func(s tailer.SinkStats) float64 { return float64(s.Read) })
	family("radrelay_records_delivered_total", "counter", "Records the sink acknowledged (including records its filter let pass).",
		func(s tailer.SinkStats) float64 { return float64(s.Delivered) })
	family("radrelay_records_retried_total", "counter", "Deliveries retried after a retryable failure.",
		func(s tailer.SinkStats) float64 { return float64(s.Retried) })
	family("radrelay_records_quarantined_total", "counter", "Records written to the quarantine (malformed, or rejected permanently by the sink).",
		func(s tailer.SinkStats) float64 { return float64(s.Quarantined) })
	if src.filtered != nil {
		filtered := src.filtered()
		family("radrelay_records_filtered_total", "counter", "Records the sink's filter acknowledged without delivering them.",
			func(s tailer.SinkStats) float64 { return float64(filtered[s.Name]) })
	}
	family("radrelay_records_in_flight", "gauge", "Records sent to the sink and not yet acknowledged.",
		func(s tailer.SinkStats) float64 { return float64(s.InFlight) })
	family("radrelay_bytes_done_total", "counter", "Bytes of detail files the sink has passed.",
		func(s tailer.SinkStats) float64 { return float64(s.BytesDone) })
	family("radrelay_lag_seconds", "gauge", "Now minus the Timestamp of the oldest record the sink has not acknowledged (0 when none).",
		func(s tailer.SinkStats) float64 {
			if s.OldestUndelivered.IsZero() {
				return 0
			}
			return max(now.Sub(s.OldestUndelivered).Seconds(), 0)
		})
	gauge := func(name, help string, v float64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %s\n", name, help, name, name, formatValue(v))
	}
	gauge("radrelay_backlog_bytes", "Bytes of detail files not yet read by the slowest sink.", float64(st.BacklogBytes))
	gauge("radrelay_backlog_files", "Detail files not yet finished by the slowest sink.", float64(st.BacklogFiles))
	if !src.started.IsZero() {
		gauge("radrelay_start_time_seconds", "Unix time radrelay started.", float64(src.started.UnixNano())/1e9)
	}
	fmt.Fprintf(w, "# HELP radrelay_build_info The version of radrelay.\n# TYPE radrelay_build_info gauge\nradrelay_build_info{version=\"%s\"} 1\n", escapeLabel(versionString()))
}

// escapeLabel escapes a label value for the text format: backslash, double
// quote and line feed.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func formatValue(v float64) string {
	if v == float64(int64(v)) && v < 1e15 && v > -1e15 {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
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
