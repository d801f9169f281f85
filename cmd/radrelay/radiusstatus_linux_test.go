//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRadiusServersInStatus: per RADIUS server, up or down and the
// round-trip time are in /metrics, /status.json, the status page (in
// Chromium) and radrelay status. One server answers; the other never does
// and is marked dead (issue 13, items 2 and 3).
func TestRadiusServersInStatus(t *testing.T) {
	const secret = "s3cr3t-for-test"
	good := startAccountingServer(t, secret)
	silent, err := net.ListenPacket("udp", "127.0.0.1:0") // reads nothing, answers nothing
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	dir := t.TempDir()
	spool := filepath.Join(dir, "radacct")
	os.Mkdir(spool, 0o700)
	hWrite(t, filepath.Join(spool, "detail-20261123"), hRecords(0, 20), 0o600, time.Hour)
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
name = "rad"
type = "radius"
policy = "broadcast"
initial_rtx = "50ms"
max_rtx = "100ms"
zombie_period = "300ms"
revive_interval = "1h"
[[sink.servers]]
address = %q
secret_file = %q
[[sink.servers]]
address = %q
secret_file = %q
`, state, filepath.Join(spool, "detail-*"), good.addr, secretFile, silent.LocalAddr().String(), secretFile)), 0o600)
	cmd, stderr := startRadrelay(t, "run", "-c", conf)
	base := "http://" + logLine(t, stderr, "serving metrics and status")["addr"].(string)
	var rest strings.Builder
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		for stderr.Scan() {
			rest.WriteString(stderr.Text() + "\n")
		}
	}()

	// Another process: poll with a deadline until the good server has
	// answered and the silent one is marked dead.
	goodRow := regexp.MustCompile(`server ` + regexp.QuoteMeta(good.addr) + `: up, rtt [0-9.]+[µnm]?s, `)
	silentRow := regexp.MustCompile(`server ` + regexp.QuoteMeta(silent.LocalAddr().String()) + `: DOWN \(\w+\), rtt -, `)
	var out string
	for deadline := time.Now().Add(60 * time.Second); ; {
		var code int
		code, out, _ = radrelayOutput(t, "status", "--state", state)
		if code == 0 && goodRow.MatchString(out) && silentRow.MatchString(out) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("radrelay status never showed the good server up with its RTT and the silent one down:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}

	_, body := httpGet(t, base+"/status.json")
	var rep statusReport
	if err := json.Unmarshal([]byte(body), &rep); err != nil || len(rep.Sinks) != 1 || len(rep.Sinks[0].Servers) != 2 {
		t.Fatalf("/status.json: %v\n%s", err, body)
	}
	if s := rep.Sinks[0].Servers[0]; !s.Up || s.RTTSeconds <= 0 {
		t.Errorf("/status.json: the good server: %+v", s)
	}
	if s := rep.Sinks[0].Servers[1]; s.Up || s.RTTSeconds != 0 {
		t.Errorf("/status.json: the silent server: %+v", s)
	}

	_, metrics := httpGet(t, base+"/metrics")
	for _, want := range []string{
		`radrelay_radius_server_up{server="` + good.addr + `",sink="rad"} 1`,
		`radrelay_radius_server_up{server="` + silent.LocalAddr().String() + `",sink="rad"} 0`,
		`radrelay_radius_server_rtt_seconds{server="` + silent.LocalAddr().String() + `",sink="rad"} 0`,
		`radrelay_radius_timeouts_total{server="` + silent.LocalAddr().String() + `",sink="rad"} `,
		`radrelay_radius_retransmits_total{server="`,
		`radrelay_radius_server_window{server="`,
		`radrelay_radius_replies_dropped_total{reason="bad_authenticator",server="`,
		`radrelay_radius_replies_dropped_total{reason="unknown_id",server="`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("no %q in /metrics", want)
		}
	}
	rtt := regexp.MustCompile(`radrelay_radius_server_rtt_seconds\{server="` + regexp.QuoteMeta(good.addr) + `",sink="rad"\} ([0-9.e-]+)`).FindStringSubmatch(metrics)
	if rtt == nil || rtt[1] == "0" {
		t.Errorf("/metrics: the good server's RTT is %v, want more than 0", rtt)
	}

	g, s := regexp.QuoteMeta(good.addr), regexp.QuoteMeta(silent.LocalAddr().String())
	checkPageWants(t, base+"/",
		`<tr class="up" data-server="`+g+`">\s*<td>rad</td><td>`+g+`</td><td class="state">up</td>\s*<td class="num rtt">[0-9.]+[µnm]?s</td>`,
		`<tr class="down" data-server="`+s+`">\s*<td>rad</td><td>`+s+`</td><td class="state">DOWN \(\w+\)</td>\s*<td class="num rtt">-</td>`)

	cmd.Process.Signal(syscall.SIGTERM)
	exitStatus(t, cmd)
	<-logDone
	// A broadcast server's outage is logged, naming the server.
	if !regexp.MustCompile(`"msg":"radius server: marked dead"[^\n]*` + s).MatchString(rest.String()) {
		t.Errorf("the silent server's death is not logged:\n%s", rest.String())
	}
}

// --metrics-listen is --metrics under the name of its key, metrics_listen.
func TestMetricsListenFlag(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "radacct")
	os.Mkdir(spool, 0o700)
	cmd, stderr := startRadrelay(t, "run", "--mode", "follow", "--input", filepath.Join(spool, "detail-*"), "--to", "jsonl:/dev/null",
		"--state", filepath.Join(dir, "state"), "--metrics-listen", "127.0.0.1:0", "--log-format", "json")
	base := "http://" + logLine(t, stderr, "serving metrics and status")["addr"].(string)
	go io.Copy(io.Discard, stdoutOf(stderr))
	if code, body := httpGet(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if code := exitStatus(t, cmd); code != 0 {
		t.Errorf("exit status %d after SIGTERM", code)
	}
}
