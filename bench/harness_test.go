package bench

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/radrelay/radrelay/internal/freeradiustest"
)

// Environment variables of the harness.
const (
	// envFull runs the harness at full scale ("make bench-e2e").
	envFull = "RADRELAY_BENCH_E2E"
	// envDir is where the built binary, the cached corpus and the report
	// go (default: bin/bench-e2e of the repository).
	envDir = "RADRELAY_BENCH_DIR"
	// envUpdateDocs, set to 1, replaces the generated section of
	// docs/benchmarks.md with the report.
	envUpdateDocs = "RADRELAY_BENCH_UPDATE_DOCS"
	// envPGSettings adds PostgreSQL settings (comma-separated name=value)
	// to the benchmark server, e.g. to load auto_explain.
	envPGSettings = "RADRELAY_BENCH_PG_SETTINGS"
	// envOnly limits the run to the scenarios whose names contain it
	// (postgres, latency, memory); the corpus is always made.
	envOnly = "RADRELAY_BENCH_ONLY"
)

// sizes are the knobs that differ between the full run and the smoke run.
type sizes struct {
	corpus        CorpusSpec
	prefillRows   int // rows already in radacct for the second load
	versusRecords int // records of the FreeRADIUS buffered-sql comparison
	latencyRate   int // records/s appended in the latency runs
	latencyFor    time.Duration
	backlogBytes  int64 // the backlog "radrelay run" drains in the memory run
}

var fullSizes = sizes{
	corpus:        FullCorpus,
	prefillRows:   1_000_000,
	versusRecords: 20_000,
	latencyRate:   1000,
	latencyFor:    20 * time.Second,
	backlogBytes:  1 << 30,
}

var smokeSizes = sizes{
	corpus:        SmokeCorpus,
	prefillRows:   10_000,
	versusRecords: 500,
	latencyRate:   200,
	latencyFor:    time.Second,
	backlogBytes:  8 << 20,
}

// harness is one run: the binary, the corpus, the report.
type harness struct {
	full   bool
	sz     sizes
	root   string // the repository
	dir    string // RADRELAY_BENCH_DIR
	bin    string // the built radrelay
	corpus string // the FreeRADIUS-written detail file
	stats  CorpusStats
	bytes  int64
	rep    *report
}

// TestE2E is the end-to-end benchmark. With RADRELAY_BENCH_E2E=1 it runs at
// full scale and prints the figures of docs/benchmarks.md; otherwise it is a
// smoke run of every scenario on a tiny corpus, checking only that each one
// delivers every record.
func TestE2E(t *testing.T) {
	h := &harness{full: os.Getenv(envFull) == "1", sz: smokeSizes}
	if h.full {
		h.sz = fullSizes
	} else if testing.Short() {
		t.Skip("SKIP: -short (the smoke run starts FreeRADIUS and PostgreSQL)")
	}
	freeradiustest.Binary(t)
	freeradiustest.Radclient(t)
	h.setup(t)
	only := os.Getenv(envOnly)
	for _, sc := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"postgres", h.postgres},
		{"latency", h.latency},
		{"memory", h.memory},
	} {
		if only != "" && !strings.Contains(sc.name, only) {
			continue
		}
		t.Run(sc.name, sc.run)
	}
	h.finish(t)
}

func (h *harness) setup(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	h.root = filepath.Dir(wd)
	h.dir = os.Getenv(envDir)
	switch {
	case h.dir == "" && h.full:
		h.dir = filepath.Join(h.root, "bin", "bench-e2e")
	case h.dir == "":
		h.dir = t.TempDir()
	}
	if err := os.MkdirAll(h.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	h.rep = newReport(h.full)
	h.rep.machine(h)

	// The binary, built as "make build" builds it.
	h.bin = filepath.Join(h.dir, "radrelay")
	build := exec.Command("go", "build", "-o", h.bin, "./cmd/radrelay")
	build.Dir = h.root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building radrelay: %v\n%s", err, out)
	}
	h.makeCorpus(t)
}

// makeCorpus writes the corpus's radclient input, sends it through a
// FreeRADIUS 3.2 home server and keeps the detail file FreeRADIUS wrote,
// cached under RADRELAY_BENCH_DIR by the generator's input (the generator
// is deterministic: the same input gives the same requests).
func (h *harness) makeCorpus(t *testing.T) {
	var in bytes.Buffer
	st, err := WriteRadclientInput(&in, h.sz.corpus)
	if err != nil {
		t.Fatal(err)
	}
	h.stats = st
	sum := sha256.Sum256(in.Bytes())
	h.corpus = filepath.Join(h.dir, "corpus-"+hex.EncodeToString(sum[:6])+".detail")
	if fi, err := os.Stat(h.corpus); err == nil {
		h.bytes = fi.Size()
		h.rep.logf("corpus: %s (cached; delete it to regenerate), %s", h.corpus, st)
		return
	}
	start := time.Now()
	home := freeradiustest.StartHomeServer(t, freeradiustest.HomeOptions{})
	// radclient slows down with the length of its input file (a 240,000
	// request file goes at ~100 requests/s): send it in chunks, one after
	// the other, which keeps the order.
	reqs := strings.SplitAfter(in.String(), "\n\n")
	for lo := 0; lo < len(reqs); lo += radclientChunk {
		chunk := strings.Join(reqs[lo:min(lo+radclientChunk, len(reqs))], "")
		if strings.TrimSpace(chunk) != "" {
			freeradiustest.SendAccounting(t, home.Addr, home.Secret, chunk, 50)
		}
	}
	home.WaitRecords(t, st.Records, 2*time.Minute)
	home.Stop()
	data, err := os.ReadFile(home.DetailFile)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(data, []byte("\n\n")); n != st.Records {
		t.Fatalf("FreeRADIUS wrote %d records, the generator %d", n, st.Records)
	}
	tmp := h.corpus + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, h.corpus); err != nil {
		t.Fatal(err)
	}
	h.bytes = int64(len(data))
	h.rep.logf("corpus: %s written by FreeRADIUS 3.2 in %s (radclient -p 50, 4,000 requests a run → home server → detail), %s",
		h.corpus, time.Since(start).Round(time.Second), st)
}

// radclientChunk is how many requests one radclient run sends.
const radclientChunk = 4000

// records returns the first n records of the corpus as detail text.
func (h *harness) records(t *testing.T, n int) []byte {
	data, err := os.ReadFile(h.corpus)
	if err != nil {
		t.Fatal(err)
	}
	off := 0
	for i := 0; i < n; i++ {
		j := bytes.Index(data[off:], []byte("\n\n"))
		if j < 0 {
			t.Fatalf("the corpus has fewer than %d records", n)
		}
		off += j + 2
	}
	return data[:off]
}

// splitRecords splits detail text into records (each ending in its empty line).
func splitRecords(data []byte) [][]byte {
	var recs [][]byte
	for len(data) > 0 {
		j := bytes.Index(data, []byte("\n\n"))
		if j < 0 {
			recs = append(recs, data)
			break
		}
		recs = append(recs, data[:j+2])
		data = data[j+2:]
	}
	return recs
}

// finish prints the report and writes it to RADRELAY_BENCH_DIR/report.md
// (and into docs/benchmarks.md with RADRELAY_BENCH_UPDATE_DOCS=1).
func (h *harness) finish(t *testing.T) {
	text := h.rep.markdown()
	fmt.Println(text)
	path := filepath.Join(h.dir, "report.md")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Error(err)
	}
	fmt.Printf("report written to %s\n", path)
	if os.Getenv(envUpdateDocs) == "1" {
		if err := replaceDocSection(filepath.Join(h.root, "docs", "benchmarks.md"), text); err != nil {
			t.Error(err)
		} else {
			fmt.Println("docs/benchmarks.md updated")
		}
	}
}

// Markers around the generated section of docs/benchmarks.md.
const (
	docBegin = "<!-- bench-e2e: begin (generated by make bench-e2e; edit bench/, not this) -->"
	docEnd   = "<!-- bench-e2e: end -->"
)

func replaceDocSection(path, text string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	doc := string(b)
	i, j := strings.Index(doc, docBegin), strings.Index(doc, docEnd)
	if i < 0 || j < i {
		return fmt.Errorf("%s has no %q ... %q section", path, docBegin, docEnd)
	}
	doc = doc[:i+len(docBegin)] + "\n" + text + "\n" + doc[j:]
	return os.WriteFile(path, []byte(doc), 0o644)
}

// report collects the figures of a run.
type report struct {
	full    bool
	mu      sync.Mutex
	header  []string
	rows    []figure
	notes   []string
	started time.Time
}

type figure struct {
	scenario, what, value, target, inputs, command string
}

func newReport(full bool) *report { return &report{full: full, started: time.Now()} }

// logf prints progress now and keeps the line as a note of the report.
func (r *report) logf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	fmt.Printf("bench-e2e %s: %s\n", time.Now().UTC().Format("15:04:05"), line)
	r.mu.Lock()
	r.notes = append(r.notes, line)
	r.mu.Unlock()
}

// add records one figure and prints it at once.
func (r *report) add(f figure) {
	fmt.Printf("bench-e2e %s: FIGURE %s / %s: %s (target %s; %s)\n    command: %s\n",
		time.Now().UTC().Format("15:04:05"), f.scenario, f.what, f.value, f.target, f.inputs, f.command)
	r.mu.Lock()
	r.rows = append(r.rows, f)
	r.mu.Unlock()
}

func (r *report) machine(h *harness) {
	cpu := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if m := regexp.MustCompile(`(?m)^model name\s*:\s*(.*)$`).FindSubmatch(b); m != nil {
			cpu = string(m[1])
		}
	}
	mem := "?"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if m := regexp.MustCompile(`(?m)^MemTotal:\s*(\d+) kB`).FindSubmatch(b); m != nil {
			kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
			mem = fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
		}
	}
	frVersion := "?"
	if out, err := exec.Command(freeradiusBinary(), "-v").CombinedOutput(); err == nil {
		if m := regexp.MustCompile(`Version (\d+\.\d+\.\d+)`).FindSubmatch(out); m != nil {
			frVersion = string(m[1])
		}
	}
	scale := "SMOKE RUN (tiny sizes; figures mean nothing): set " + envFull + "=1 or run make bench-e2e"
	if r.full {
		scale = "full scale"
	}
	r.header = append(r.header,
		fmt.Sprintf("Run of %s UTC, %s. Machine: %d CPUs (%s), %s RAM, %s/%s, %s, FreeRADIUS %s, PostgreSQL 15 (%s), every server on loopback on the same machine.",
			time.Now().UTC().Format("2006-01-02 15:04"), scale, runtime.NumCPU(), cpu, mem, runtime.GOOS, runtime.GOARCH, runtime.Version(), frVersion, pgBin()),
		"Load average (1 min) before the run: "+loadavg()+". Other processes on the machine count: compare figures of one run; the load before and after each scenario is given with it.")
}

func freeradiusBinary() string {
	for _, p := range []string{"freeradius", "radiusd"} {
		if q, err := exec.LookPath(p); err == nil {
			return q
		}
	}
	return "/usr/sbin/freeradius"
}

func pgBin() string {
	if b := os.Getenv("RADRELAY_PG_BIN"); b != "" {
		return b
	}
	return "/usr/lib/postgresql/15/bin"
}

func (r *report) markdown() string {
	var b strings.Builder
	b.WriteString("### End-to-end figures (`make bench-e2e`)\n\n")
	for _, l := range r.header {
		b.WriteString(l + "\n\n")
	}
	fmt.Fprintf(&b, "The run took %s.\n\n", time.Since(r.started).Round(time.Second))
	b.WriteString("| scenario | what | measured | target | inputs and conditions |\n|---|---|---|---|---|\n")
	for _, f := range r.rows {
		fmt.Fprintf(&b, "| %s | %s | **%s** | %s | %s |\n", f.scenario, f.what, f.value, f.target, mdEscape(f.inputs))
	}
	b.WriteString("\nCommands (what the harness ran, with its throwaway paths and ports):\n\n")
	for _, f := range r.rows {
		fmt.Fprintf(&b, "- %s / %s: `%s`\n", f.scenario, f.what, f.command)
	}
	b.WriteString("\nLog of the run:\n\n```\n")
	for _, n := range r.notes {
		b.WriteString(n + "\n")
	}
	b.WriteString("```\n")
	return b.String()
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

// loadavg is the 1-minute load average.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// proc is a running radrelay.
type proc struct {
	cmd     *exec.Cmd
	args    []string
	start   time.Time
	done    chan struct{}
	stderr  bytes.Buffer
	metrics string // host:port of --metrics, "" when not asked for

	mu      sync.Mutex
	samples []sample
	end     time.Time // when the process exited
	peakRSS int64     // the largest VmHWM read, bytes
}

// sample is one reading of the metrics endpoint.
type sample struct {
	at              time.Time
	read, delivered int64
}

// freeTCP returns a loopback address that was free a moment ago.
func freeTCP(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startRadrelay starts the binary with args (plus --metrics) and samples its
// delivered counter every 50 ms until it exits.
func (h *harness) startRadrelay(t *testing.T, stdout io.Writer, args ...string) *proc {
	p := &proc{metrics: freeTCP(t), done: make(chan struct{})}
	// args[0] is the subcommand; flags go before the file arguments.
	p.args = append([]string{args[0], "--metrics", p.metrics}, args[1:]...)
	p.cmd = exec.Command(h.bin, p.args...)
	p.cmd.Stdout = stdout
	p.cmd.Stderr = &lockedWriter{w: &p.stderr, mu: &p.mu}
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		p.mu.Lock()
		p.end = time.Now()
		p.mu.Unlock()
		close(p.done)
	}()
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-tick.C:
				if hwm := vmHWM(p.cmd.Process.Pid); hwm > 0 {
					p.mu.Lock()
					p.peakRSS = max(p.peakRSS, hwm)
					p.mu.Unlock()
				}
				if s, ok := p.scrape(); ok {
					p.mu.Lock()
					p.samples = append(p.samples, s)
					p.mu.Unlock()
				}
			}
		}
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// metricLine matches the read and delivered counters; the value may be
// printed in exponent form (1.43694e+06).
var metricLine = regexp.MustCompile(`(?m)^radrelay_records_(read|delivered)_total\{[^}]*\} (\S+)`)

var scrapeClient = &http.Client{Timeout: time.Second}

func (p *proc) scrape() (sample, bool) {
	resp, err := scrapeClient.Get("http://" + p.metrics + "/metrics")
	if err != nil {
		return sample{}, false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return sample{}, false
	}
	s := sample{at: time.Now()}
	s.read, s.delivered = parseCounters(body)
	return s, true
}

// parseCounters sums the read and delivered counters of a /metrics page.
func parseCounters(body []byte) (read, delivered int64) {
	for _, m := range metricLine.FindAllSubmatch(body, -1) {
		f, err := strconv.ParseFloat(string(m[2]), 64)
		if err != nil {
			continue
		}
		n := int64(f)
		if string(m[1]) == "read" {
			read += n
		} else {
			delivered += n
		}
	}
	return read, delivered
}

// waitDelivered waits until the delivered counter reaches n (polling the
// metrics endpoint: radrelay is another process), and returns when it did.
func (p *proc) waitDelivered(t *testing.T, n int64, timeout time.Duration) time.Time {
	deadline := time.Now().Add(timeout)
	for {
		if s, ok := p.scrape(); ok && s.delivered >= n {
			p.mu.Lock()
			p.samples = append(p.samples, s)
			p.mu.Unlock()
			return s.at
		}
		select {
		case <-p.done:
			t.Fatalf("radrelay %s exited before delivering %d records:\n%s", strings.Join(p.args, " "), n, p.stderrText())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("radrelay %s delivered fewer than %d records within %s:\n%s", strings.Join(p.args, " "), n, timeout, p.stderrText())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *proc) stderrText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stderr.String()
	if len(s) > 4000 {
		s = "..." + s[len(s)-4000:]
	}
	return s
}

// result is what a finished radrelay used.
type result struct {
	wall   time.Duration
	cpu    time.Duration // user + system
	maxRSS int64         // bytes
	code   int
}

// wait waits for the process to exit (SIGTERM first with term).
func (p *proc) wait(t *testing.T, term bool, timeout time.Duration) result {
	if hwm := vmHWM(p.cmd.Process.Pid); hwm > 0 {
		p.mu.Lock()
		p.peakRSS = max(p.peakRSS, hwm)
		p.mu.Unlock()
	}
	if term {
		p.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("radrelay %s did not finish within %s:\n%s", strings.Join(p.args, " "), timeout, p.stderrText())
	}
	st := p.cmd.ProcessState
	r := result{wall: time.Since(p.start), cpu: st.UserTime() + st.SystemTime(), code: st.ExitCode()}
	// Not getrusage's ru_maxrss: Linux counts in it what the harness
	// process itself held when it started the child.
	p.mu.Lock()
	r.maxRSS = p.peakRSS
	p.mu.Unlock()
	return r
}

// deciles returns the delivery rate over the first and the last tenth of n
// records, from the samples: each tenth's records over the time between
// the moments the delivered counter crossed its ends (interpolated between
// samples). The first tenth starts when the first record was read.
func (p *proc) deciles(n int64) (first, last float64) {
	p.mu.Lock()
	s := append([]sample(nil), p.samples...)
	end := p.end
	p.mu.Unlock()
	if !end.IsZero() && (len(s) == 0 || s[len(s)-1].delivered < n) {
		// A replay exits once everything is delivered, usually between
		// two samples.
		s = append(s, sample{at: end, read: n, delivered: n})
	}
	sort.Slice(s, func(i, j int) bool { return s[i].at.Before(s[j].at) })
	var begin time.Time
	for _, x := range s {
		if x.read > 0 {
			begin = x.at
			break
		}
	}
	cross := func(v int64) time.Time {
		for i, x := range s {
			if x.delivered >= v {
				if i == 0 || x.delivered == s[i-1].delivered {
					return x.at
				}
				prev := s[i-1]
				f := float64(v-prev.delivered) / float64(x.delivered-prev.delivered)
				return prev.at.Add(time.Duration(f * float64(x.at.Sub(prev.at))))
			}
		}
		return time.Time{}
	}
	t10, t90, t100 := cross(n/10), cross(n-n/10), cross(n)
	if begin.IsZero() || t10.IsZero() || t100.IsZero() {
		return 0, 0
	}
	if d := t10.Sub(begin).Seconds(); d > 0 {
		first = float64(n/10) / d
	}
	if d := t100.Sub(t90).Seconds(); d > 0 {
		last = float64(n/10) / d
	}
	return first, last
}

// firstRead is when the process first reported a record read.
func (p *proc) firstRead() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, x := range p.samples {
		if x.read > 0 {
			return x.at
		}
	}
	return p.start
}

// cmdline is args as a shell command line for the report.
func cmdline(args ...string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " *?&'\"$;") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

// procCPU is the CPU time of process pid and its waited-for children
// (utime + stime + cutime + cstime of /proc/PID/stat).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	var ticks int64
	for _, i := range []int{11, 12, 13, 14} { // fields 14-17 of stat, counted from the state (field 3)
		n, _ := strconv.ParseInt(f[i], 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * time.Second / 100
}

// rate formats records/s.
func rate(n int64, d time.Duration) string {
	if d <= 0 {
		return "?"
	}
	return fmt.Sprintf("%s records/s", thousands(int64(float64(n)/d.Seconds())))
}

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// copyFile copies a file (a consume run modifies and deletes its input).
func copyFile(t *testing.T, from, to string) {
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(out, 1<<20)
	if _, err := io.Copy(w, in); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// vmHWM is the peak resident set size of process pid so far (VmHWM of
// /proc/PID/status), 0 when it cannot be read (the process is gone).
func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	m := regexp.MustCompile(`(?m)^VmHWM:\s*(\d+) kB`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb * 1024
}
