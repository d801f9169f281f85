package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRadiusSilenceExplained: when a RADIUS server does not answer, the
// reason says what came back instead: "connection refused" from a closed
// port, or replies failing the authenticator check (a wrong secret), which
// are also warned about.
func TestRadiusSilenceExplained(t *testing.T) {
	for _, tc := range []struct {
		name   string
		server func(t *testing.T) string
		want   []string
	}{
		{"closed port", func(t *testing.T) string {
			c, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := c.LocalAddr().String()
			c.Close() // nothing listens there any more: the kernel answers ICMP port unreachable
			return addr
		}, []string{`the host answers \"connection refused\"`}},
		{"wrong secret", func(t *testing.T) string {
			c, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			go func() {
				buf := make([]byte, 4096)
				for {
					n, from, err := c.ReadFrom(buf)
					if err != nil {
						return
					}
					if n < 20 {
						continue
					}
					// An Accounting-Response to the request's Identifier,
					// signed with another secret (here: none).
					reply := make([]byte, 20)
					reply[0], reply[1], reply[3] = 5, buf[1], 20
					c.WriteTo(reply, from)
				}
			}()
			return c.LocalAddr().String()
		}, []string{"replies fail the authenticator check and are dropped", "failed the authenticator check: the shared secret differs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "detail-20261123")
			hWrite(t, file, hRecords(0, 1), 0o600, time.Hour)
			secret := filepath.Join(dir, "secret")
			os.WriteFile(secret, []byte("s3cret\n"), 0o600)
			conf := filepath.Join(dir, "r.toml")
			os.WriteFile(conf, []byte(fmt.Sprintf(`[[sink]]
name = "backup"
type = "radius"
initial_rtx = "300ms"
max_rtx = "600ms"
max_rtx_count = 2
[[sink.servers]]
address = %q
secret_file = %q
[sink.retry]
max_attempts = 1
`, tc.server(t), secret)), 0o600)
			// Retransmission timers long enough for the bad reply to arrive
			// on a loaded machine (20 ms failed under make test at load 10).
			code, _, stderr := runBin(t, os.Args[0], nil, "replay", "-c", conf, "--quarantine", filepath.Join(dir, "q"), file)
			if code != 1 {
				t.Errorf("exit %d, want 1 (quarantined)", code)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, stderr)
				}
			}
		})
	}
}

// TestRadiusClosedPortSaidAtOnce: a RADIUS server whose port is closed (the
// host answers ICMP port unreachable) is warned about at its first refusal,
// naming the server and never the secret, long before zombie_period (an
// hour here: only the refusal can say it); the metrics and the status show
// the server down ("refused"), and the records stay pending: not failed,
// not quarantined, not marked dead.
func TestRadiusClosedPortSaidAtOnce(t *testing.T) {
	const secret = "never-in-a-log-7f3a"
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	c.Close() // nothing listens there any more: the kernel answers ICMP port unreachable
	dir := t.TempDir()
	spool := filepath.Join(dir, "radacct")
	os.Mkdir(spool, 0o700)
	hWrite(t, filepath.Join(spool, "detail-20261123"), hRecords(0, 5), 0o600, time.Hour)
	secretFile := filepath.Join(dir, "secret")
	os.WriteFile(secretFile, []byte(secret+"\n"), 0o600)
	state := filepath.Join(dir, "state")
	conf := filepath.Join(dir, "radrelay.toml")
	os.WriteFile(conf, []byte(fmt.Sprintf(`
state_dir = %q
metrics_listen = "127.0.0.1:0"
log_format = "json"
shutdown_timeout = "1s"
[[input]]
glob = %q
mode = "follow"
[[sink]]
name = "backup"
type = "radius"
initial_rtx = "1h"
max_rtx = "1h"
zombie_period = "1h"
[[sink.servers]]
address = %q
secret_file = %q
`, state, filepath.Join(spool, "detail-*"), addr, secretFile)), 0o600)
	cmd, stderr := startRadrelay(t, "run", "-c", conf)
	metricsAddr := logLine(t, stderr, "serving metrics and status")["addr"].(string)
	const warning = "radius server: connection refused (an ICMP port unreachable: nothing listens on that port); records stay pending and are sent again"
	w := logLine(t, stderr, warning)
	if w["level"] != "WARN" || w["server"] != addr || w["zombie_period"] != "1h0m0s" {
		t.Errorf("warning %v: want level WARN, server %s, zombie_period 1h0m0s", w, addr)
	}
	var rest strings.Builder
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		for stderr.Scan() {
			rest.WriteString(stderr.Text() + "\n")
		}
	}()

	for name, want := range map[string]float64{
		"radrelay_radius_server_up":           0,
		"radrelay_radius_server_deaths_total": 0,
		"radrelay_records_quarantined_total":  0,
		"radrelay_records_delivered_total":    0,
	} {
		if got := metricValue(t, metricsAddr, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := metricValue(t, metricsAddr, "radrelay_radius_connection_refused_total"); got < 1 {
		t.Errorf("radrelay_radius_connection_refused_total = %v, want at least 1", got)
	}
	_, body := httpGet(t, "http://"+metricsAddr+"/status.json")
	var st struct {
		Sinks []struct {
			Servers []struct {
				Address string `json:"address"`
				State   string `json:"state"`
				Up      bool   `json:"up"`
				Refused int64  `json:"connection_refused"`
			} `json:"servers"`
		} `json:"sinks"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || len(st.Sinks) != 1 || len(st.Sinks[0].Servers) != 1 {
		t.Fatalf("status.json: %v\n%s", err, body)
	}
	if s := st.Sinks[0].Servers[0]; s.State != "refused" || s.Up || s.Refused < 1 {
		t.Errorf("status.json server %+v: want state refused, down, refusals counted", s)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	<-logDone
	if err := cmd.Wait(); err != nil {
		t.Errorf("radrelay run: %v\n%s", err, rest.String())
	}
	log := rest.String()
	if n := strings.Count(log, "connection refused (an ICMP"); n != 0 {
		t.Errorf("the refusal was warned about %d more times:\n%s", n, log)
	}
	if strings.Contains(log, secret) || strings.Contains(log, "quarantined") || strings.Contains(log, "marked dead") {
		t.Errorf("the log names the secret, a quarantine or a dead server:\n%s", log)
	}
	// Nothing lost: every record is still to be sent.
	_, out, _ := radrelayOutput(t, "status", "--state", state)
	if !strings.Contains(out, "behind:         5 records") {
		t.Errorf("radrelay status does not show the 5 records pending:\n%s", out)
	}
}
