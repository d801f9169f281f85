package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestProcessBytesDoneCountsConsumedFiles: in consume mode a work file is
// deleted as soon as every sink has it, often before any scrape; its bytes
// must still be in radrelay_bytes_done_total (it used to stay 0: the
// counter only added the rises it happened to sample).
func TestProcessBytesDoneCountsConsumedFiles(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "radacct")
	os.Mkdir(spool, 0o700)
	files, _ := replayFiles(t, spool, false)
	var total int64
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		total += fi.Size()
	}
	cmd, stderr := startRadrelay(t, "run", "--input", filepath.Join(spool, "detail-*"), "--mode", "consume",
		"--to", "ok=jsonl:"+filepath.Join(dir, "out.jsonl"), "--state", filepath.Join(dir, "state"),
		"--metrics", "127.0.0.1:0", "--log-format", "json", "--log-level", "debug") // debug: the deletion line
	base := "http://" + logLine(t, stderr, "serving metrics and status")["addr"].(string)
	for range files {
		logLine(t, stderr, "work file delivered to every sink; deleted")
	}
	go io.Copy(io.Discard, stdoutOf(stderr))
	_, metrics := httpGet(t, base+"/metrics")
	want := fmt.Sprintf(`radrelay_bytes_done_total{sink="ok"} %d`, total)
	if !strings.Contains(metrics, want+"\n") {
		t.Errorf("after both files were consumed and deleted, no %q in /metrics:\n%s", want, grepLines(metrics, "radrelay_bytes_done_total"))
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if code := exitStatus(t, cmd); code != 0 {
		t.Errorf("exit status %d after SIGTERM", code)
	}
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
