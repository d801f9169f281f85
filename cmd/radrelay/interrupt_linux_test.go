package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2866"
)

// answerFirst is a RADIUS accounting server that answers the first n
// records it is sent (their retransmissions too) and none after: a
// destination that stalls, with records in flight that stay unanswered.
// Every distinct record it receives is sent on the returned channel.
func answerFirst(t *testing.T, secret string, n int) (addr string, received <-chan string) {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	got := make(chan string, 1024)
	go func() {
		buf := make([]byte, 4096)
		answered := map[string]bool{}
		seen := map[string]bool{}
		for {
			k, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			p, err := radius.Parse(buf[:k], []byte(secret))
			if err != nil || p.Code != radius.CodeAccountingRequest {
				continue
			}
			id := rfc2866.AcctSessionID_GetString(p)
			if !seen[id] {
				seen[id] = true
				if len(answered) < n {
					answered[id] = true
				}
				got <- id
			}
			if answered[id] {
				if b, err := p.Response(radius.CodeAccountingResponse).Encode(); err == nil {
					conn.WriteTo(b, from)
				}
			}
		}
	}()
	return conn.LocalAddr().String(), got
}

// TestReplayInterruptCountsAgree: Ctrl-C during a replay to a RADIUS server
// that stopped answering says how many records it waits for, and the
// summary's NOT delivered is that number when none is answered while
// stopping: one count for both (they differed: the stopping line counted
// window slots, held also by the end-of-file mark and by records
// acknowledged behind an unanswered one).
func TestReplayInterruptCountsAgree(t *testing.T) {
	const secret = "s3cr3t-for-test"
	const records, answered = 20, 5
	addr, received := answerFirst(t, secret, answered)
	dir := t.TempDir()
	file := filepath.Join(dir, "detail-20261123")
	hWrite(t, file, hRecords(0, records), 0o600, time.Hour)
	secretFile := filepath.Join(dir, "secret")
	os.WriteFile(secretFile, []byte(secret+"\n"), 0o600)
	conf := filepath.Join(dir, "replay.toml")
	os.WriteFile(conf, []byte(fmt.Sprintf(`
shutdown_timeout = "300ms"
[[sink]]
name = "rad"
type = "radius"
[[sink.servers]]
address = %q
secret_file = %q
`, addr, secretFile)), 0o600)
	// One record per delivery call, so that a record answered is counted
	// delivered while the others wait.
	cmd, sc := startRadrelay(t, "replay", "-c", conf, "--batch-size", "1", "--metrics", "127.0.0.1:0", "--log-level", "info", "--log-format", "json", file)
	metrics := logLine(t, sc, "serving metrics and status")["addr"].(string)
	var lines []string
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
	}()
	// Every record is read, and the answered ones are counted delivered
	// (the others wait for answers that never come): from now on nothing
	// changes until the signal.
	deadline := time.After(time.Minute) // a deadlock bound
	for range answered + 1 {
		select {
		case <-received:
		case <-deadline:
			t.Fatal("the server did not receive the records")
		}
	}
	for metricValue(t, metrics, "radrelay_records_read_total") < records || metricValue(t, metrics, "radrelay_records_delivered_total") < answered {
		select {
		case <-deadline:
			t.Fatal("the answered records were not counted delivered")
		default:
		}
		time.Sleep(10 * time.Millisecond) // polling another process
	}
	cmd.Process.Signal(syscall.SIGINT)
	<-logDone
	code := 0
	if err := cmd.Wait(); err != nil {
		if ee, ok := err.(interface{ ExitCode() int }); ok {
			code = ee.ExitCode()
		}
	}
	all := strings.Join(lines, "\n")
	if code != 130 {
		t.Errorf("exit status %d, want 130:\n%s", code, all)
	}
	// The tailer's own line when the shutdown timeout ran out says it too.
	timedOut := regexp.MustCompile(`"msg":"shutdown timeout ran out[^}]*"records":(\d+),"rad":(\d+)`).FindStringSubmatch(all)
	if timedOut == nil || timedOut[1] != fmt.Sprint(records-answered) || timedOut[2] != fmt.Sprint(records-answered) {
		t.Errorf("the shutdown timeout line does not say %d records:\n%s", records-answered, all)
	}
	stopping := regexp.MustCompile(`stopping: waiting up to 300ms for (\d+) records? in flight \(rad: (\d+)\)`).FindStringSubmatch(all)
	summary := regexp.MustCompile(`(?m)^  sink rad: (\d+) delivered, 0 quarantined, (\d+) NOT delivered, 0 retries$`).FindStringSubmatch(all)
	if stopping == nil || summary == nil {
		t.Fatalf("no stopping line or no summary line for the sink:\n%s", all)
	}
	want := fmt.Sprint(records - answered)
	if stopping[1] != want || stopping[2] != want || summary[1] != fmt.Sprint(answered) || summary[2] != want {
		t.Errorf("stopping line says %s in flight (rad: %s); summary says %s delivered, %s NOT delivered; want %d in flight, %d delivered, the same %d NOT delivered:\n%s",
			stopping[1], stopping[2], summary[1], summary[2], records-answered, answered, records-answered, all)
	}
}
