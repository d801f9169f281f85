package main

import (
	"bufio"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/radrelay/radrelay/tailer"
)

func TestMetricsExposition(t *testing.T) {
	now := time.Unix(1795435059, 0)
	src := metricsSource{
		stats: func() tailer.Stats {
			return tailer.Stats{
				BacklogBytes: 4096, BacklogFiles: 2,
				Sinks: []tailer.SinkStats{
					{Name: "zeta", Read: 10, Delivered: 9, Retried: 3, Quarantined: 1, InFlight: 1, BytesDone: 1000, OldestUndelivered: now.Add(-90 * time.Second)},
					{Name: `we"ird\name`, Read: 5, Delivered: 5},
				},
			}
		},
		filtered: func() map[string]int64 { return map[string]int64{"zeta": 4} },
		now:      func() time.Time { return now },
		started:  now.Add(-time.Hour),
	}
	rec := httptest.NewRecorder()
	metricsHandler(src).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	body := rec.Body.String()
	for _, want := range []string{
		"# TYPE radrelay_records_read_total counter\n",
		`radrelay_records_read_total{sink="zeta"} 10` + "\n",
		`radrelay_records_delivered_total{sink="zeta"} 9` + "\n",
		`radrelay_records_retried_total{sink="zeta"} 3` + "\n",
		`radrelay_records_quarantined_total{sink="zeta"} 1` + "\n",
		`radrelay_records_filtered_total{sink="zeta"} 4` + "\n",
		`radrelay_records_in_flight{sink="zeta"} 1` + "\n",
		`radrelay_lag_seconds{sink="zeta"} 90` + "\n",
		`radrelay_lag_seconds{sink="we\"ird\\name"} 0` + "\n",
		"# TYPE radrelay_backlog_bytes gauge\nradrelay_backlog_bytes 4096\n",
		"radrelay_backlog_files 2\n",
		"radrelay_start_time_seconds 1795431459\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("no %q in:\n%s", want, body)
		}
	}
	// Every line is a comment or "name{labels} value"; every family has
	// HELP and TYPE before its samples, and sinks come in name order.
	sample := regexp.MustCompile(`^([a-z_]+)(\{sink="(?:[^"\\]|\\.)*"\}|\{version="[^"]*"\})? (-?[0-9.e+]+)$`)
	typed := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(body))
	var lastSink string
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# TYPE ") {
			f := strings.Fields(line)
			typed[f[2]] = true
			lastSink = ""
			continue
		}
		if strings.HasPrefix(line, "# HELP ") {
			continue
		}
		m := sample.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("malformed line %q", line)
			continue
		}
		if !typed[m[1]] {
			t.Errorf("sample before its TYPE: %q", line)
		}
		if strings.HasPrefix(m[2], "{sink=") {
			if m[2] < lastSink {
				t.Errorf("sinks out of order at %q", line)
			}
			lastSink = m[2]
		}
	}
}

func TestEscapeLabel(t *testing.T) {
	if got := escapeLabel("a\\b\"c\nd"); got != `a\\b\"c\nd` {
		t.Errorf("escapeLabel = %s", got)
	}
}
