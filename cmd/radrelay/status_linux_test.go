//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// logLine reads stderr lines (JSON logs) until one has msg == want and
// returns it decoded; it fails the test at the end of stderr or after
// lineWait.
func logLine(t *testing.T, sc *bufio.Scanner, want string) map[string]any {
	t.Helper()
	var m map[string]any
	scanUntil(t, sc, want, func(line []byte) bool {
		clear(m)
		return json.Unmarshal(line, &m) == nil && m["msg"] == want
	})
	return m
}

// radrelayOutput runs radrelay (the test binary as radrelay) to completion.
func radrelayOutput(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "RADRELAY_TEST_AS_MAIN=1")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestProcessStatusHealthAndPage runs radrelay with one sink that delivers
// and one that fails every write (/dev/full), and checks what an operator
// sees: radrelay status (text and JSON) while it runs and after it
// stopped, /healthz, /readyz, /metrics, and the status page in Chromium.
func TestProcessStatusHealthAndPage(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "radacct")
	os.Mkdir(spool, 0o700)
	_, ids := replayFiles(t, spool, false)
	state := filepath.Join(dir, "state")
	cmd, stderr := startRadrelay(t, "run", "--input", filepath.Join(spool, "detail-*"), "--mode", "follow",
		"--to", "ok=jsonl:"+filepath.Join(dir, "out.jsonl"), "--to", "full=jsonl:/dev/full",
		"--state", state, "--metrics", "127.0.0.1:0", "--log-format", "json", "--shutdown-timeout", "1s")
	base := "http://" + logLine(t, stderr, "serving metrics and status")["addr"].(string)
	go io.Copy(io.Discard, stdoutOf(stderr))

	// Wait (another process: poll with a deadline) until sink ok has
	// delivered everything and sink full has failed.
	var rep statusReport
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, body := httpGet(t, base+"/status.json")
		rep = statusReport{}
		if err := json.Unmarshal([]byte(body), &rep); err != nil {
			t.Fatalf("/status.json: %v\n%s", err, body)
		}
		if len(rep.Sinks) == 2 && rep.Sinks[0].Delivered == int64(len(ids)) && rep.Sinks[1].State == "failing" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never showed ok delivered and full failing:\n%s", body)
		}
		time.Sleep(20 * time.Millisecond)
	}

	if code, body := httpGet(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := httpGet(t, base+"/readyz"); code != 503 || !strings.Contains(body, "sink full failing since") || !strings.Contains(body, "no space left on device") {
		t.Errorf("/readyz with a failing sink: %d %q", code, body)
	}
	_, metrics := httpGet(t, base+"/metrics")
	for _, want := range []string{"\ngo_goroutines ", "\nprocess_cpu_seconds_total ", `radrelay_sink_up{sink="full"} 0`, `radrelay_sink_up{sink="ok"} 1`,
		`radrelay_records_delivered_total{sink="ok"} 60`, `radrelay_delivery_duration_seconds_count{sink="ok"}`,
		`radrelay_delivery_failures_total{kind="retryable",sink="full"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("no %q in /metrics", want)
		}
	}

	// radrelay status while run is running, once the status published
	// every second has caught up with the page's.
	var js statusReport
	for deadline := time.Now().Add(60 * time.Second); ; {
		code, out, _ := radrelayOutput(t, "status", "--state", state, "--json")
		js = statusReport{}
		if err := json.Unmarshal([]byte(out), &js); code != 0 || err != nil {
			t.Fatalf("status --json: exit %d, %v\n%s", code, err, out)
		}
		if len(js.Sinks) == 2 && js.Sinks[1].State == "failing" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status --json never showed sink full failing:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, out, errOut := radrelayOutput(t, "status", "--state", state)
	if code != 0 {
		t.Fatalf("status exit %d: %s", code, errOut)
	}
	for _, want := range []string{"radrelay run: running, pid ", "sink ok (jsonl): delivering", "sink full (jsonl): failing since",
		"behind:         60 records", "last error:     ", "no space left on device", "caught up", "not started",
		filepath.Join(spool, "detail-20261122"), "quarantined:    0 records in 0 files"} {
		if !strings.Contains(out, want) {
			t.Errorf("status output has no %q:\n%s", want, out)
		}
	}
	full := js.Sinks[1]
	if !js.Running || full.Name != "full" || full.RecordsBehind == nil || *full.RecordsBehind != int64(len(ids)) ||
		full.LagSeconds <= 0 || len(full.Files) != 2 || full.LastError == "" {
		t.Errorf("status --json sink full: %+v", full)
	}
	if ok := js.Sinks[0]; ok.RecordsBehind == nil || *ok.RecordsBehind != 0 || ok.LastDelivery == nil {
		t.Errorf("status --json sink ok: %+v", ok)
	}

	checkPageInChromium(t, base+"/")

	cmd.Process.Signal(syscall.SIGTERM)
	if code := exitStatus(t, cmd); code != 0 {
		t.Errorf("exit status %d after SIGTERM", code)
	}
	// radrelay status after run stopped.
	code, out, _ = radrelayOutput(t, "status", "--state", state)
	for _, want := range []string{"radrelay run: not running (stopped ", "sink full (jsonl): stopped (failing since", "sink ok (jsonl): stopped"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("status after stop (exit %d) has no %q:\n%s", code, want, out)
		}
	}
	// The same through the configuration file's state_dir.
	conf := filepath.Join(dir, "radrelay.toml")
	os.WriteFile(conf, []byte("state_dir = \""+state+"\"\n[[input]]\nglob = \""+filepath.Join(spool, "detail-*")+
		"\"\nmode = \"follow\"\n[[sink]]\nname = \"ok\"\ntype = \"jsonl\"\npath = \"/dev/null\"\n"), 0o600)
	if code, out, errOut := radrelayOutput(t, "status", "-c", conf); code != 0 || !strings.Contains(out, "sink full (jsonl): stopped") {
		t.Errorf("status -c: exit %d, %s\n%s", code, errOut, out)
	}
	// Usage errors and a directory without state.
	if code, _, errOut := radrelayOutput(t, "status"); code != 2 || !strings.Contains(errOut, "no --state DIR") {
		t.Errorf("status without --state: exit %d, %q", code, errOut)
	}
	if code, _, errOut := radrelayOutput(t, "status", "--state", t.TempDir()); code != 1 || !strings.Contains(errOut, "no sink has state in") {
		t.Errorf("status of an empty dir: exit %d, %q", code, errOut)
	}
}

// checkPageInChromium loads the status page in headless Chromium (Debian's
// package) and checks the page it rendered: every sink and its state, the
// readiness, and that it asks to be refreshed.
func checkPageInChromium(t *testing.T, url string) {
	t.Helper()
	checkPageWants(t, url, `<tr class="delivering" data-sink="ok">`, `<tr class="failing" data-sink="full">`,
		`id="ready">not ready<`, `http-equiv="refresh"`, "no space left on device", "<h2>Files</h2>")
}

// checkPageWants loads a status page in headless Chromium and checks that the
// page it rendered holds every want (regular expressions) and no external asset.
func checkPageWants(t *testing.T, url string, wants ...string) {
	t.Helper()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("RADRELAY_REQUIRE_SERVERS") == "1" {
			t.Fatalf("chromium is not installed (apt-get install chromium) and RADRELAY_REQUIRE_SERVERS=1")
		}
		t.Logf("SKIP: chromium is not installed (apt-get install chromium): the status page was not checked in a browser")
		return
	}
	// --dump-dom prints the DOM after the page loaded; the flags keep
	// Chromium off the network (only loopback is reachable here).
	cmd := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--dump-dom", url)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	done := make(chan struct{})
	var dom []byte
	go func() {
		dom, err = cmd.Output()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("chromium did not print the page within 90s; stderr:\n%s", stderr.String())
	}
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	page := string(dom)
	for _, want := range wants {
		if !regexp.MustCompile(want).MatchString(page) {
			t.Errorf("the page Chromium rendered has no %q:\n%s", want, page)
		}
	}
	for _, external := range []string{`src="http`, `href="http`, "@import"} {
		if strings.Contains(page, external) {
			t.Errorf("the page loads an external asset (%s)", external)
		}
	}
}

// TestProcessStatusConsume: in consume mode a claimed file is renamed to
// detail.work, which no input glob matches; a sink that has not started it
// is still behind by all of it. (Only the claimed file is read: the healthy
// sink delivers the work file's 30 records and waits for the next claim.)
func TestProcessStatusConsume(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "radacct")
	os.Mkdir(spool, 0o700)
	_, ids := replayFiles(t, spool, false)
	state := filepath.Join(dir, "state")
	cmd, stderr := startRadrelay(t, "run", "--input", filepath.Join(spool, "detail-*"), "--mode", "consume",
		"--to", "ok=jsonl:"+filepath.Join(dir, "out.jsonl"), "--to", "full=jsonl:/dev/full",
		"--state", state, "--log-format", "json", "--shutdown-timeout", "1s")
	logLine(t, stderr, "radrelay run starting")
	go io.Copy(io.Discard, stdoutOf(stderr))
	var js statusReport
	for deadline := time.Now().Add(60 * time.Second); ; {
		code, out, _ := radrelayOutput(t, "status", "--state", state, "--json")
		js = statusReport{}
		json.Unmarshal([]byte(out), &js)
		if code == 0 && len(js.Sinks) == 2 && js.Sinks[0].Delivered == int64(len(ids)/2) && js.Sinks[1].State == "failing" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never showed ok delivered and full failing (exit %d):\n%s", code, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	full := js.Sinks[1]
	work := false
	for _, f := range full.Files {
		work = work || filepath.Base(f.Path) == "detail.work"
	}
	if full.RecordsBehind == nil || *full.RecordsBehind != int64(len(ids)) || !work {
		t.Errorf("sink full in consume mode: %d records behind (want %d), detail.work listed %v: %+v", deref(full.RecordsBehind), len(ids), work, full.Files)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if code := exitStatus(t, cmd); code != 0 {
		t.Errorf("exit status %d after SIGTERM", code)
	}
}

func deref(p *int64) int64 {
	if p == nil {
		return -1
	}
	return *p
}

// TestStatusDamagedFiles: a damaged status file (radrelay-status.json)
// hides only what a run published: radrelay status warns, shows the
// positions from the checkpoints and exits 0. A sink none of whose
// checkpoint copies can be read is shown as behind by an unknown amount,
// not by 0.
func TestStatusDamagedFiles(t *testing.T) {
	dir := t.TempDir()
	files, _ := replayFiles(t, dir, false)
	state := filepath.Join(dir, "state")
	args := append([]string{"replay", "--state", state, "--to", "a=jsonl:" + filepath.Join(dir, "a.jsonl"), "--to", "b=jsonl:" + filepath.Join(dir, "b.jsonl")}, files...)
	if code, _, errOut := radrelayOutput(t, args...); code != 0 {
		t.Fatalf("replay: exit %d\n%s", code, errOut)
	}
	if err := os.WriteFile(filepath.Join(state, statusFileName), []byte("garbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := radrelayOutput(t, "status", "--state", state)
	if code != 0 || !strings.Contains(out, "WARNING: the status file is unreadable (") || !strings.Contains(out, "invalid character 'g'") ||
		!strings.Contains(out, "positions from the checkpoints") || !strings.Contains(out, "sink a: unknown\n") ||
		!strings.Contains(out, "behind:         0 records, 0 B; lag 0s") || errOut != "" {
		t.Errorf("status with a garbage status file: exit %d\n%s\nstderr: %s", code, out, errOut)
	}

	// Both copies of sink b's checkpoint are garbage.
	for _, suffix := range []string{"", ".synced"} {
		if err := os.WriteFile(filepath.Join(state, "b.state"+suffix), []byte("junk\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	code, out, _ = radrelayOutput(t, "status", "--state", state)
	_, b, _ := strings.Cut(out, "sink b:")
	if code != 0 || !strings.Contains(b, "behind:         unknown (no readable checkpoint); lag unknown") || !strings.Contains(b, "checkpoint:     state file ") ||
		strings.Contains(b, "0 B; lag") {
		t.Errorf("status with sink b's checkpoint unreadable: exit %d\n%s", code, out)
	}
	code, out, errOut = radrelayOutput(t, "status", "--state", state, "--json")
	var js statusReport
	if err := json.Unmarshal([]byte(out), &js); err != nil || code != 0 {
		t.Fatalf("status --json: exit %d, %v\n%s", code, err, out)
	}
	if len(js.Warnings) != 1 || !strings.Contains(errOut, "radrelay status: warning: the status file is unreadable") {
		t.Errorf("status --json: warnings %q, stderr %q", js.Warnings, errOut)
	}
	if len(js.Sinks) != 2 || js.Sinks[0].BehindUnknown || js.Sinks[0].RecordsBehind == nil ||
		!js.Sinks[1].BehindUnknown || js.Sinks[1].RecordsBehind != nil || js.Sinks[1].Problem == "" {
		t.Errorf("status --json sinks: %+v", js.Sinks)
	}
}
