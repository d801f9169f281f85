package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks/sinktest"
)

// These tests run radrelay in-process against the real tailer, with the
// in-test memory sink.

// writeDetail writes recs to a new detail file and returns its name.
func writeDetail(t testing.TB, name string, recs []*detail.Record) string {
	t.Helper()
	var b []byte
	for _, r := range recs {
		b = detail.AppendRecord(b, r)
	}
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

// replayFiles makes two detail files of 30 records each (sessions of Start,
// Interim-Update, Stop); when reject is set, the second file also holds one
// record of user "reject-me".
func replayFiles(t *testing.T, dir string, reject bool) (files []string, ids []string) {
	recs := sinktest.Records(60)
	second := recs[30:]
	if reject {
		r := *recs[0]
		r.Attrs = append([]detail.Attribute{{Name: "User-Name", Value: "reject-me", Quoted: true}}, r.Attrs[1:]...)
		second = append(second[:15:15], append([]*detail.Record{&r}, second[15:]...)...)
	}
	files = []string{
		writeDetail(t, filepath.Join(dir, "detail-20261122"), recs[:30]),
		writeDetail(t, filepath.Join(dir, "detail-20261123"), second),
	}
	for _, r := range recs {
		ids = append(ids, sinktest.SessionID(r))
	}
	return files, ids
}

func storeIDs(store string) []string {
	var ids []string
	for _, r := range memoryRecords(store) {
		ids = append(ids, sinktest.SessionID(r))
	}
	return ids
}

// sameRecords reports whether got holds every id of want as often (order
// within a sink is not part of the contract across files).
func sameRecords(got, want []string) bool {
	g, w := append([]string(nil), got...), append([]string(nil), want...)
	sort.Strings(g)
	sort.Strings(w)
	return strings.Join(g, ",") == strings.Join(w, ",")
}

func TestReplayDeliversEveryRecordOnce(t *testing.T) {
	dir := t.TempDir()
	files, ids := replayFiles(t, dir, false)
	memoryReset("replay-a")
	memoryReset("replay-b")
	before := map[string][]byte{}
	for _, f := range files {
		before[f], _ = os.ReadFile(f)
	}
	code, stdout, stderr := runCLI(t, append([]string{"replay", "--to", "a=memory:replay-a", "--to", "memory:replay-b",
		"--max-outstanding", "7", "--quarantine", filepath.Join(dir, "q")}, files...)...)
	if code != 0 {
		t.Fatalf("status %d\n%s", code, stderr)
	}
	for _, store := range []string{"replay-a", "replay-b"} {
		if got := storeIDs(store); !sameRecords(got, ids) {
			t.Errorf("sink %s got %d records, want the %d records exactly once", store, len(got), len(ids))
		}
	}
	for _, want := range []string{"read 60 records from 2 files", "sink a: 60 delivered, 0 quarantined", "sink memory-replay-b: 60 delivered"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("summary has no %q:\n%s", want, stderr)
		}
	}
	if stdout != "" {
		t.Errorf("replay wrote to stdout: %q", stdout)
	}
	for _, f := range files {
		after, err := os.ReadFile(f)
		if err != nil || !bytes.Equal(after, before[f]) {
			t.Errorf("replay changed or removed %s (%v)", f, err)
		}
	}
}

func TestReplayQuarantineExitsOne(t *testing.T) {
	dir := t.TempDir()
	files, ids := replayFiles(t, dir, true)
	memoryReset("replay-q")
	cfg := filepath.Join(dir, "replay.toml")
	os.WriteFile(cfg, []byte(`
[[sink]]
name = "picky"
type = "memory"
store = "replay-q"
fail_user = "reject"
`), 0o644)
	q := filepath.Join(dir, "quarantine")
	code, _, stderr := runCLI(t, append([]string{"replay", "-c", cfg, "--quarantine", q}, files...)...)
	if code != 1 {
		t.Fatalf("status %d, want 1 (a record was quarantined)\n%s", code, stderr)
	}
	if got := storeIDs("replay-q"); !sameRecords(got, ids) {
		t.Errorf("the sink got %d records, want the %d good ones once", len(got), len(ids))
	}
	if !strings.Contains(stderr, "sink picky: 60 delivered, 1 quarantined") || !strings.Contains(stderr, "records were quarantined: see "+q) {
		t.Errorf("no quarantine notice:\n%s", stderr)
	}
	entries, _ := os.ReadDir(q)
	var held []byte
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(q, e.Name()))
		held = append(held, b...)
	}
	if !bytes.Contains(held, []byte("reject-me")) {
		t.Errorf("the quarantine (%d files) does not hold the rejected record", len(entries))
	}
}

func TestRunConsumeAndStopOnSIGTERM(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "radacct")
	os.Mkdir(spool, 0o700)
	_, ids := replayFiles(t, spool, false)
	state := filepath.Join(dir, "state")
	memoryReset("run-c")
	sigs := fakeSignals(t)
	exited := make(chan int, 1)
	old := exitNow
	exitNow = func(code int) { exited <- code }
	t.Cleanup(func() { exitNow = old })

	type result struct {
		code   int
		stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, _, stderr := runCLI(t, "run", "--input", filepath.Join(spool, "detail-*"), "--mode", "consume", "--to", "memory:run-c",
			"--state", state, "--log-format", "json", "--shutdown-timeout", "5s")
		done <- result{code, stderr}
	}()
	delivered := memoryWait("run-c", len(ids))
	select {
	case r := <-done:
		t.Fatalf("radrelay run ended by itself with status %d:\n%s", r.code, r.stderr)
	case <-delivered:
	case <-time.After(60 * time.Second):
		t.Fatal("the records were not delivered within a minute (deadlock?)")
	}
	sigs <- syscall.SIGTERM
	var r result
	select {
	case r = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("radrelay run did not stop within a minute of SIGTERM")
	}
	if r.code != 0 {
		t.Errorf("status %d after SIGTERM, want 0\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, `"msg":"stopping: `) {
		t.Errorf("no shutdown log line:\n%s", r.stderr)
	}
	if got := storeIDs("run-c"); !sameRecords(got, ids) {
		t.Errorf("delivered %d records, want the %d exactly once", len(got), len(ids))
	}
	select {
	case code := <-exited:
		t.Errorf("exited at once with %d after one signal", code)
	default:
	}
	entries, _ := os.ReadDir(spool)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if len(left) != 0 {
		t.Logf("files left in the spool after consuming: %v", left)
	}
}

func TestRunFromConfigFile(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "radacct")
	os.Mkdir(spool, 0o700)
	_, ids := replayFiles(t, spool, false)
	memoryReset("cfg-all")
	memoryReset("cfg-org")
	cfg := filepath.Join(dir, "radrelay.toml")
	logFile := filepath.Join(dir, "radrelay.log")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
state_dir = %q
log_file = %q
log_format = "json"

[[input]]
glob = %q
mode = "follow"

[[sink]]
name = "all"
type = "memory"
store = "cfg-all"

[[sink]]
name = "org-stops"
type = "memory"
store = "cfg-org"
[sink.filter]
realm = ["example.org"]
status_type = ["Stop"]
keep_attributes = ["User-Name", "Acct-Session-Id", "Acct-Status-Type"]
`, filepath.Join(dir, "state"), logFile, filepath.Join(spool, "detail-*"))), 0o644)
	sigs := fakeSignals(t)
	done := make(chan int, 1)
	var stderr string
	go func() {
		code, _, e := runCLI(t, "run", "-c", cfg)
		stderr = e
		done <- code
	}()
	select {
	case code := <-done:
		log, _ := os.ReadFile(logFile)
		t.Fatalf("radrelay run ended by itself with status %d:\n%s%s", code, stderr, log)
	case <-memoryWait("cfg-all", len(ids)):
	case <-time.After(60 * time.Second):
		t.Fatal("the records were not delivered within a minute")
	}
	// 20 sessions: odd ones are example.org, so 10 Stop records.
	select {
	case <-memoryWait("cfg-org", 10):
	case <-time.After(60 * time.Second):
		t.Fatal("the filtered sink did not get its records")
	}
	sigs <- syscall.SIGTERM
	if code := <-done; code != 0 {
		t.Errorf("status %d", code)
	}
	for _, r := range memoryRecords("cfg-org") {
		if u, _ := r.Get("User-Name"); !strings.HasSuffix(u.Value, "@example.org") || len(r.Attrs) != 3 {
			t.Errorf("the filtered sink got %s with %d attributes", u.Value, len(r.Attrs))
		}
	}
	if ids := storeIDs("cfg-org"); len(ids) != 10 {
		t.Errorf("the filtered sink got %d records, want 10: %v", len(ids), ids)
	}
	log, _ := os.ReadFile(logFile)
	if !bytes.Contains(log, []byte(`"msg":"radrelay run starting"`)) {
		t.Errorf("the log file has no start line:\n%s", log)
	}
}

func TestReplayToFileSinks(t *testing.T) {
	dir := t.TempDir()
	files, ids := replayFiles(t, dir, false)
	jsonl := filepath.Join(dir, "out", "acct.jsonl")
	copyFile := filepath.Join(dir, "out", "detail-copy")
	code, _, stderr := runCLI(t, append([]string{"replay", "--to", "jsonl:" + jsonl, "--to", "detail:" + copyFile}, files...)...)
	if code != 0 {
		t.Fatalf("status %d\n%s", code, stderr)
	}
	b, err := os.ReadFile(jsonl)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b, []byte("\n")); n != len(ids) {
		t.Errorf("%s has %d lines, want %d", jsonl, n, len(ids))
	}
	c, err := os.ReadFile(copyFile)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(c, []byte("\tAcct-Session-Id = ")); n != len(ids) {
		t.Errorf("%s has %d records, want %d", copyFile, n, len(ids))
	}
}

func TestReplayOnlyNamedSink(t *testing.T) {
	dir := t.TempDir()
	files, ids := replayFiles(t, dir, false)
	memoryReset("only-a")
	memoryReset("only-b")
	cfg := filepath.Join(dir, "r.toml")
	os.WriteFile(cfg, []byte("[[sink]]\nname = \"a\"\nurl = \"memory:only-a\"\n[[sink]]\nname = \"b\"\nurl = \"memory:only-b\"\n"), 0o644)
	code, _, stderr := runCLI(t, "replay", "-c", cfg, "--sink", "nope", files[0])
	if code != 2 || !strings.Contains(stderr, `--sink "nope": `+cfg+` has no such sink (it has a, b)`) {
		t.Errorf("unknown --sink: status %d\n%s", code, stderr)
	}
	code, _, stderr = runCLI(t, append([]string{"replay", "-c", cfg, "--sink", "b", "--quarantine", filepath.Join(dir, "q")}, files...)...)
	if code != 0 {
		t.Fatalf("status %d\n%s", code, stderr)
	}
	if n := len(memoryRecords("only-a")); n != 0 {
		t.Errorf("sink a, not selected, got %d records", n)
	}
	if got := storeIDs("only-b"); !sameRecords(got, ids) {
		t.Errorf("sink b got %d records, want %d", len(got), len(ids))
	}
}

func TestRunServesMetrics(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "radacct")
	os.Mkdir(spool, 0o700)
	_, ids := replayFiles(t, spool, false)
	memoryReset("metrics")
	addrs := make(chan string, 1)
	metricsListening = func(a string) { addrs <- a }
	t.Cleanup(func() { metricsListening = nil })
	sigs := fakeSignals(t)
	done := make(chan string, 1)
	go func() {
		_, _, stderr := runCLI(t, "run", "--input", filepath.Join(spool, "detail-*"), "--mode", "follow",
			"--to", "m=memory:metrics", "--state", filepath.Join(dir, "state"), "--metrics", "127.0.0.1:0")
		done <- stderr
	}()
	var addr string
	select {
	case addr = <-addrs:
	case stderr := <-done:
		t.Fatalf("radrelay ended before serving metrics:\n%s", stderr)
	}
	select {
	case <-memoryWait("metrics", len(ids)):
	case stderr := <-done:
		t.Fatalf("radrelay ended:\n%s", stderr)
	case <-time.After(60 * time.Second):
		t.Fatal("records not delivered within a minute")
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`radrelay_records_read_total{sink="m"}`, `radrelay_records_delivered_total{sink="m"}`, "radrelay_backlog_bytes "} {
		if !strings.Contains(string(body), want) {
			t.Errorf("no %s in /metrics:\n%s", want, body)
		}
	}
	sigs <- syscall.SIGTERM
	<-done
}

func TestReplayWithStateIsResumable(t *testing.T) {
	dir := t.TempDir()
	files, ids := replayFiles(t, dir, false)
	state := filepath.Join(dir, "state")
	memoryReset("resume")
	args := append([]string{"replay", "--to", "r=memory:resume", "--state", state, "--quarantine", filepath.Join(dir, "q")}, files...)
	code, _, stderr := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("status %d\n%s", code, stderr)
	}
	// The same replay again: everything is already delivered.
	code, _, stderr = runCLI(t, args...)
	if code != 0 {
		t.Fatalf("second run: status %d\n%s", code, stderr)
	}
	if got := storeIDs("resume"); !sameRecords(got, ids) {
		t.Errorf("after two runs with one --state the sink holds %d records, want the %d once\n%s", len(got), len(ids), stderr)
	}
}

// TestReplayFreeRADIUSFiles replays detail files written by a real
// FreeRADIUS 3.2 (fixtures of package detail: sessions, hostile values) and
// a file with malformed records: every good record is delivered, the bad
// ones are quarantined, and the exit status says so.
func TestReplayFreeRADIUSFiles(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for _, f := range []string{
		"../../detail/testdata/freeradius/packets-sessions.detail", // 213 records
		"../../detail/testdata/freeradius/packets-hostile.detail",  // 24 records
		"../../detail/testdata/reader/malformed.detail",            // 2 good, 3 bad
	} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("fixture %s (committed with the repository) missing: %v", f, err)
		}
		name := filepath.Join(dir, filepath.Base(f))
		os.WriteFile(name, b, 0o600)
		files = append(files, name)
	}
	memoryReset("freeradius")
	jsonl := filepath.Join(dir, "out.jsonl")
	q := filepath.Join(dir, "quarantine")
	code, _, stderr := runCLI(t, append([]string{"replay", "--to", "mem=memory:freeradius", "--to", "j=jsonl:" + jsonl, "--quarantine", q}, files...)...)
	const good = 213 + 24 + 2
	if code != 1 {
		t.Errorf("status %d, want 1 (malformed records were quarantined)\n%s", code, stderr)
	}
	if n := len(memoryRecords("freeradius")); n != good {
		t.Errorf("the memory sink got %d records, want %d", n, good)
	}
	b, _ := os.ReadFile(jsonl)
	if n := bytes.Count(b, []byte("\n")); n != good {
		t.Errorf("the jsonl sink wrote %d lines, want %d", n, good)
	}
	if !strings.Contains(stderr, "records were quarantined: see "+q) {
		t.Errorf("no quarantine notice:\n%s", stderr)
	}
	entries, _ := os.ReadDir(q)
	var held []byte
	for _, e := range entries {
		c, _ := os.ReadFile(filepath.Join(q, e.Name()))
		held = append(held, c...)
	}
	for _, want := range []string{"Broken-Line", "Orphan", "cut off"} {
		if !bytes.Contains(held, []byte(want)) {
			t.Errorf("the quarantine does not hold the malformed %q", want)
		}
	}
}

// TestReplayDirectedAccounting splits records into per-realm detail logs and
// a partner's JSON lines, as examples/directed-accounting.toml does.
func TestReplayDirectedAccounting(t *testing.T) {
	dir := t.TempDir()
	src := writeDetail(t, filepath.Join(dir, "detail-20261123"), sinktest.Records(60)) // 20 sessions, realms alternate
	out := filepath.Join(dir, "out")
	cfg := filepath.Join(dir, "directed.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
raise_delay_time = false

[[sink]]
name = "realm-example-net"
type = "detail"
path = %q
[sink.filter]
realm = ["EXAMPLE.NET"]

[[sink]]
name = "realm-example-org"
type = "detail"
path = %q
[sink.filter]
realm = ["example.org"]

[[sink]]
name = "partner"
type = "jsonl"
path = %q
[sink.filter]
status_type = ["Stop"]
nas = ["192.0.2.2/32"]
drop_attributes = ["Acct-Unique-Session-Id", "Framed-IP-Address"]
`, filepath.Join(out, "example.net", "detail"), filepath.Join(out, "example.org", "detail"), filepath.Join(out, "partner.jsonl"))), 0o644)
	code, _, stderr := runCLI(t, "replay", "-c", cfg, "--quarantine", filepath.Join(dir, "q"), src)
	if code != 0 {
		t.Fatalf("status %d\n%s", code, stderr)
	}
	for realm, other := range map[string]string{"example.net": "example.org", "example.org": "example.net"} {
		b, err := os.ReadFile(filepath.Join(out, realm, "detail"))
		if err != nil {
			t.Fatal(err)
		}
		if n := bytes.Count(b, []byte("\tAcct-Session-Id = ")); n != 30 {
			t.Errorf("%s log has %d records, want 30", realm, n)
		}
		if bytes.Contains(b, []byte("@"+other)) {
			t.Errorf("%s log holds records of %s", realm, other)
		}
	}
	b, _ := os.ReadFile(filepath.Join(out, "partner.jsonl"))
	// Sessions on NAS 192.0.2.2 are the odd ones: 10 Stop records.
	if n := bytes.Count(b, []byte("\n")); n != 10 {
		t.Errorf("partner got %d records, want 10:\n%s", n, b)
	}
	if bytes.Contains(b, []byte("Acct-Unique-Session-Id")) || bytes.Contains(b, []byte("Framed-IP-Address")) {
		t.Error("dropped attributes reached the partner")
	}
	if !strings.Contains(stderr, "sink partner: 60 delivered") || !strings.Contains(stderr, "(50 of the delivered passed over by its filter)") {
		t.Errorf("summary does not show the filter:\n%s", stderr)
	}
}
