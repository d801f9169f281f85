//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"

	"github.com/radrelay/radrelay/internal/freeradiustest"
	"github.com/radrelay/radrelay/internal/radiusload"
	"github.com/radrelay/radrelay/internal/testpki"
	"github.com/radrelay/radrelay/radsec"
)

// TestListenThroughput (RADRELAY_LISTEN_BENCH=N requests) drives a
// FreeRADIUS 3.2 home server (detail, no fsync) and radrelay's listener
// (fsync before every acknowledgement, group commit) with the same load
// generator, 64 requests in flight, and logs both rates. docs/benchmarks.md
// records its figures.
func TestListenThroughput(t *testing.T) {
	n := 0
	fmt.Sscan(os.Getenv("RADRELAY_LISTEN_BENCH"), &n)
	if n <= 0 {
		t.Skip("set RADRELAY_LISTEN_BENCH=N (requests) to run")
	}
	const secret = "s3cret"
	reqs := radiusload.Sign(benchAttributes(n), []byte(secret))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	t.Logf("load average before: %s", loadAverage())
	home := freeradiustest.StartHomeServer(t, freeradiustest.HomeOptions{Secret: secret})
	frCPU, genCPU := processCPU(t, home.Pid()), selfCPU()
	fr, err := radiusload.Run(ctx, radiusload.Options{Addr: home.Addr, Secret: []byte(secret), InFlight: 64}, reqs)
	if err != nil {
		t.Fatal(err)
	}
	frCPU, frGenCPU := processCPU(t, home.Pid())-frCPU, selfCPU()-genCPU
	home.Stop()

	dir := t.TempDir()
	cmd, sc := startRadrelay(t, "run", "--listen", "127.0.0.1:0", "--client", "127.0.0.0/8:"+writeSecret(t, dir, secret), "--spool", filepath.Join(dir, "spool"),
		"--metrics", "127.0.0.1:0")
	// Spool only: "serving metrics" and "listening" come in either order.
	addr, metrics := listenAndMetricsAddrs(t, sc)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		for sc.Scan() {
		}
	}()
	// Fresh identifiers would be the same: the duplicate cache is keyed by
	// source port too, and radiusload opens new sockets.
	rrCPU, genCPU := processCPU(t, cmd.Process.Pid), selfCPU()
	rr, err := radiusload.Run(ctx, radiusload.Options{Addr: addr, Secret: []byte(secret), InFlight: 64}, reqs)
	if err != nil {
		t.Fatal(err)
	}
	rrCPU, rrGenCPU := processCPU(t, cmd.Process.Pid)-rrCPU, selfCPU()-genCPU
	loadAfter := loadAverage()
	fsyncs := metricValue(t, metrics, "radrelay_listen_fsyncs_total")
	t.Logf("FreeRADIUS 3.2 (detail, no fsync): %d acks in %v = %.0f/s (%d retransmits); CPU per 100k requests: FreeRADIUS %.2fs, load generator %.2fs",
		fr.Requests, fr.Elapsed.Round(time.Millisecond), fr.Rate(), fr.Retransmits, per100k(frCPU, fr.Requests), per100k(frGenCPU, fr.Requests))
	t.Logf("radrelay listener (fsync before ack): %d acks in %v = %.0f/s (%d retransmits), ratio %.2f; %.0f group commits (%.1f requests each); CPU per 100k requests: radrelay %.2fs, load generator %.2fs; load average after: %s",
		rr.Requests, rr.Elapsed.Round(time.Millisecond), rr.Rate(), rr.Retransmits, rr.Rate()/fr.Rate(), fsyncs, float64(rr.Requests)/max(fsyncs, 1),
		per100k(rrCPU, rr.Requests), per100k(rrGenCPU, rr.Requests), loadAfter)
	if os.Getenv("RADRELAY_CPUPROFILE") != "" {
		// The profile is of the throughput run alone: stop radrelay as a
		// user would (SIGTERM), so that it writes the profile, before the
		// paced requests.
		cmd.Process.Signal(syscall.SIGTERM)
		<-exited
		t.Logf("RADRELAY_CPUPROFILE: radrelay stopped after the throughput run; the paced run is skipped")
		return
	}

	before := ackBuckets(t, metrics)
	lat := pacedLatency(t, addr, secret, reqs, 5000, 64)
	after := ackBuckets(t, metrics)
	var server []string
	for i, le := range after.le {
		server = append(server, fmt.Sprintf("≤%s: %d", le, after.n[i]-before.n[i]))
	}
	t.Logf("radrelay's own receipt-to-response histogram for the paced requests (radrelay_listen_ack_duration_seconds, cumulative): %s", strings.Join(server, ", "))
	// The disk's own figures, in the same run: a group commit is one
	// append and one fsync of the spool's file system's journal.
	probe := fsyncProbe(t, dir, 2000, 64*220)
	t.Logf("fsync probe (%s): append 64 records' bytes then fsync, 2,000 times one after another: mean %v, p50 %v, p90 %v, p99 %v, max %v; bound for 64 in flight, commits one at a time (64 / 2 fsyncs): %.0f/s",
		dir, probe.mean, probe.p(50), probe.p(90), probe.p(99), probe.p(100), 64/(2*probe.mean.Seconds()))
	t.Logf("radrelay listener at 5,000 requests/s paced, 64 workers: %d acks, p50 %v, p99 %v, max %v; load average after: %s", len(lat), lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1], loadAverage())
}

// per100k is the CPU time d spent on n requests, in seconds per 100,000.
func per100k(d time.Duration, n int) float64 {
	return d.Seconds() * 100000 / float64(max(n, 1))
}

// processCPU is the CPU time (user and system) pid has used, from
// /proc/PID/stat (clock ticks of 10 ms).
func processCPU(t *testing.T, pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The fields after the command name (which may hold spaces), from
	// field 3 on: utime and stime are fields 14 and 15.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	var utime, stime int64
	fmt.Sscan(f[11], &utime)
	fmt.Sscan(f[12], &stime)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// selfCPU is the CPU time of this process (the load generator's).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAverage is the 1, 5 and 15 minute load averages.
func loadAverage() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// buckets are a cumulative histogram read from /metrics.
type buckets struct {
	le []string
	n  []int64
}

// ackBuckets reads radrelay_listen_ack_duration_seconds from /metrics.
func ackBuckets(t *testing.T, metrics string) buckets {
	resp, err := http.Get("http://" + metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var b buckets
	re := regexp.MustCompile(`(?m)^radrelay_listen_ack_duration_seconds_bucket\{.*le="([^"]+)"\} ([0-9]+)$`)
	for _, m := range re.FindAllStringSubmatch(string(body), -1) {
		var n int64
		fmt.Sscan(m[2], &n)
		b.le, b.n = append(b.le, m[1]), append(b.n, n)
	}
	if len(b.le) == 0 {
		t.Fatalf("no radrelay_listen_ack_duration_seconds in /metrics:\n%s", body)
	}
	return b
}

// metricValue reads an unlabelled-but-for-listen counter from /metrics.
func metricValue(t *testing.T, metrics, name string) float64 {
	resp, err := http.Get("http://" + metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + name + `(?:\{[^}]*\})? ([0-9.e+]+)$`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in /metrics", name)
	}
	var v float64
	fmt.Sscan(string(m[1]), &v)
	return v
}

// fsyncLatencies are the sorted times of a probe's fsyncs.
type fsyncLatencies struct {
	sorted []time.Duration
	mean   time.Duration
}

func (l fsyncLatencies) p(pct int) time.Duration {
	return l.sorted[min(len(l.sorted)-1, len(l.sorted)*pct/100)]
}

// fsyncProbe appends size bytes to a file in dir and fsyncs it, n times,
// and returns the fsync times: what one group commit of the listener costs
// on that file system, without radrelay.
func fsyncProbe(t *testing.T, dir string, n, size int) fsyncLatencies {
	f, err := os.CreateTemp(dir, "fsync-probe")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, size)
	var out fsyncLatencies
	var sum time.Duration
	for range n {
		if _, err := f.Write(buf); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		d := time.Since(start)
		sum += d
		out.sorted = append(out.sorted, d)
	}
	slices.Sort(out.sorted)
	out.mean = sum / time.Duration(n)
	return out
}

// pacedLatency sends the requests (5 s worth at most, with fresh
// identifiers: new sockets) at rate per second from workers sockets, the
// i-th at start+i/rate, and returns the sorted times to their answers.
func pacedLatency(t *testing.T, addr, secret string, reqs [][]byte, rate, workers int) []time.Duration {
	n := min(len(reqs), rate*5)
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	start := time.Now().Add(50 * time.Millisecond)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ua, _ := net.ResolveUDPAddr("udp", addr)
			c, err := net.DialUDP("udp", nil, ua)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			buf := make([]byte, 4096)
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				at := start.Add(time.Duration(i) * time.Second / time.Duration(rate))
				time.Sleep(time.Until(at)) // pacing the load, not synchronising
				sent := time.Now()
				c.Write(reqs[i])
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, err := c.Read(buf); err != nil {
					t.Errorf("request %d: %v", i, err)
					return
				}
				d := time.Since(sent)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.Sort(lat)
	if len(lat) == 0 {
		t.Fatal("no answers")
	}
	return lat
}

// TestListenRadSecThroughput (RADRELAY_LISTEN_BENCH=N) sends the same
// requests to one radrelay over UDP (radiusload, 64 in flight) and over
// one RadSec connection (64 in flight), and logs both rates.
func TestListenRadSecThroughput(t *testing.T) {
	n := 0
	fmt.Sscan(os.Getenv("RADRELAY_LISTEN_BENCH"), &n)
	if n <= 0 {
		t.Skip("set RADRELAY_LISTEN_BENCH=N (requests) to run")
	}
	ca := testpki.NewCA(t, t.TempDir(), "BenchCA")
	udp, tcp, _ := startRadSecListener(t, ca)
	attrs := benchAttributes(n)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	t.Logf("load average before: %s", loadAverage())
	ur, err := radiusload.Run(ctx, radiusload.Options{Addr: udp, Secret: []byte("s3cret"), InFlight: 64}, radiusload.Sign(attrs, []byte("s3cret")))
	if err != nil {
		t.Fatal(err)
	}
	client := ca.Issue(t, "bench-client", testpki.Options{Client: true})
	tc, err := radsec.TLS{CertificateFile: client.CertFile, PrivateKeyFile: client.KeyFile, CAFile: ca.File}.ClientConfig("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	c, err := radsec.Dial(ctx, tcp, tc)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	reqs := radiusload.Sign(attrs, []byte(radsec.DefaultSecret))
	window := make(chan struct{}, 64)
	done := make(chan int)
	go func() {
		buf := make([]byte, radsec.MaxPacketLength)
		got := 0
		for got < len(reqs) {
			if _, err := radsec.ReadPacket(c, buf); err != nil {
				break
			}
			got++
			<-window
		}
		done <- got
	}()
	start := time.Now()
	for _, r := range reqs {
		window <- struct{}{}
		if _, err := c.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	got := <-done
	elapsed := time.Since(start)
	rate := float64(got) / elapsed.Seconds()
	t.Logf("UDP: %d acks at %.0f/s; RadSec (one connection, 64 in flight): %d acks in %v = %.0f/s, %.0f%% of UDP; load average after: %s",
		ur.Requests, ur.Rate(), got, elapsed.Round(time.Millisecond), rate, 100*rate/ur.Rate(), loadAverage())
}

func benchAttributes(n int) [][]byte {
	attrs := make([][]byte, n)
	for i := range attrs {
		p := radius.New(radius.CodeAccountingRequest, []byte("x"))
		rfc2865.UserName_SetString(p, fmt.Sprintf("user%d", i%1000))
		rfc2866.AcctSessionID_SetString(p, fmt.Sprintf("%08x", i))
		rfc2866.AcctStatusType_Set(p, rfc2866.AcctStatusType_Value_InterimUpdate)
		rfc2865.NASIPAddress_Set(p, []byte{10, 0, 0, 1})
		rfc2865.NASPort_Set(p, rfc2865.NASPort(i))
		rfc2866.AcctInputOctets_Set(p, rfc2866.AcctInputOctets(i*1000))
		rfc2866.AcctOutputOctets_Set(p, rfc2866.AcctOutputOctets(i*3000))
		rfc2866.AcctSessionTime_Set(p, rfc2866.AcctSessionTime(i))
		b, _ := p.Encode()
		attrs[i] = b[20:]
	}
	return attrs
}
