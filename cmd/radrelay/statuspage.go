package main

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"os"
	"strings"
	"time"
)

// statusServer serves the metrics listener's pages: / (a status page that
// refreshes itself), /status.json, /healthz, /readyz and /metrics.
type statusServer struct {
	m   *monitor
	pub *statusPublisher // the run's identity and inputs
	// readyMaxBacklog: a failing sink still counts as ready while its
	// backlog is at most this many bytes.
	readyMaxBacklog int64
	stateDir        string
	quarantineDir   string
}

func (s *statusServer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", s.m.metricsHandler())
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", s.serveReady)
	mux.HandleFunc("/status.json", func(w http.ResponseWriter, r *http.Request) {
		rep, err := s.report()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	})
	mux.HandleFunc("/{$}", s.servePage)
	return mux
}

// report is the status of the running process: its live counters and the
// positions its checkpoints hold (files are only stat'ed, not read through).
func (s *statusServer) report() (*statusReport, error) {
	live := s.pub.current(false)
	rep, err := collectStatus(statusOptions{
		stateDir: s.stateDir, quarantineDir: s.quarantineDir, now: live.Updated, live: &live,
	})
	if err != nil {
		return nil, err
	}
	ready := true
	for i := range rep.Sinks {
		ss := &rep.Sinks[i]
		ok := ss.State != "failing" || ss.BytesBehind <= s.readyMaxBacklog
		ss.Ready = &ok
		ready = ready && ok
	}
	rep.Ready = &ready
	return rep, nil
}

// serveReady answers 200 when every sink is delivering, or its backlog is
// at most ready_max_backlog, and 503 naming the sinks that are not.
func (s *statusServer) serveReady(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rep, err := s.report()
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not ready: %v\n", err)
		return
	}
	var bad []string
	for _, ss := range rep.Sinks {
		if !*ss.Ready {
			bad = append(bad, fmt.Sprintf("sink %s failing since %s with %s behind (ready_max_backlog %s): %s",
				ss.Name, ss.FailingSince.Format(time.RFC3339), formatBytes(ss.BytesBehind), formatBytes(s.readyMaxBacklog), ss.LastError))
		}
	}
	if len(bad) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not ready\n%s\n", strings.Join(bad, "\n"))
		return
	}
	fmt.Fprintln(w, "ready")
}

//go:embed statuspage.html
var statusPageHTML string

var statusPage = template.Must(template.New("status").Funcs(template.FuncMap{
	"ago": func(now time.Time, t *time.Time) string {
		if t == nil {
			return "never"
		}
		return humanDuration(now.Sub(*t)) + " ago"
	},
	"seconds": func(s float64) string { return humanDuration(time.Duration(s * float64(time.Second))) },
	"bytes":   formatBytes,
	"rtt":     formatRTT,
	"deref":   func(b *bool) bool { return b != nil && *b },
	"count":   formatCount,
	"rate":    func(r float64) string { return fmt.Sprintf("%.1f/s", r) },
	"uptime": func(now time.Time, t *time.Time) string {
		if t == nil {
			return "-"
		}
		return humanDuration(now.Sub(*t))
	},
}).Parse(statusPageHTML))

// pageRefresh is how often the status page reloads itself.
const pageRefresh = 5

func (s *statusServer) servePage(w http.ResponseWriter, r *http.Request) {
	rep, err := s.report()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	host, _ := os.Hostname()
	var buf bytes.Buffer
	if err := statusPage.Execute(&buf, map[string]any{
		"R": rep, "Host": host, "Refresh": pageRefresh, "MaxBacklog": s.readyMaxBacklog,
	}); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}
