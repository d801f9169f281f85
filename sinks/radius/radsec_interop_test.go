package radius

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/dictionary"
	"github.com/radrelay/radrelay/internal/freeradiustest"
	"github.com/radrelay/radrelay/internal/testpki"
	"github.com/radrelay/radrelay/radsec"
)

// radsecHome starts a FreeRADIUS 3.2 RadSec home server trusting p's CA.
func radsecHome(t *testing.T, p radsecPKI) *freeradiustest.HomeServer {
	return freeradiustest.StartHomeServer(t, freeradiustest.HomeOptions{
		Secret: radsec.DefaultSecret,
		TLS:    &freeradiustest.TLSFiles{CertFile: p.server.CertFile, KeyFile: p.server.KeyFile, CAFile: p.ca.File},
	})
}

func openRadsecSink(t *testing.T, cfg Config) *Sink {
	t.Helper()
	cfg.Dictionary = cambiumDictionary
	sink, err := New(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	return sink
}

// checkArrived checks that the records whose result is nil are in recs
// written by the far end (got), attribute for attribute, and that nothing
// else is; copies of a record are allowed (resends after a lost
// connection), missing ones are not.
func checkArrived(t *testing.T, d *dictionary.Dictionary, sent []*detail.Record, results []error, got []*detail.Record) {
	t.Helper()
	have := map[string]int{}
	for _, r := range got {
		have[comparable(d, r)]++
	}
	want := map[string]bool{}
	for i, r := range sent {
		if results[i] != nil {
			t.Errorf("%s: %v", where(r), results[i])
			continue
		}
		c := comparable(d, r)
		want[c] = true
		if have[c] == 0 {
			t.Errorf("record missing or changed at the far end:\n%s", c)
			continue
		}
		have[c]--
	}
	for c, n := range have {
		if n > 0 && !want[c] {
			t.Errorf("far end holds a record radrelay did not send:\n%s", c)
		}
	}
}

// uniqueRecords gives every record its own Acct-Session-Id. The fixtures
// repeat records, and a repeat that happens to go out with the Identifier
// its copy had, within the server's cleanup_delay, is answered from the
// duplicate cache without being written: right for the server, a flaky
// count for a test.
func uniqueRecords(recs []*detail.Record) []*detail.Record {
	out := make([]*detail.Record, len(recs))
	for i, r := range recs {
		c := *r
		c.Attrs = slices.Clone(r.Attrs)
		for j := range c.Attrs {
			if c.Attrs[j].Name == "Acct-Session-Id" {
				c.Attrs[j].Value += "/" + strconv.Itoa(i)
			}
		}
		out[i] = &c
	}
	return out
}

// TestInteropRadSecFreeRADIUS relays the FreeRADIUS-written fixtures over
// RadSec to FreeRADIUS 3.2's TLS listener (the client certificate checked
// against its ca_file) and checks its detail file attribute for attribute.
func TestInteropRadSecFreeRADIUS(t *testing.T) {
	p := newRadsecPKI(t)
	home := radsecHome(t, p)
	d := testDictionary(t)
	s := openRadsecSink(t, radsecConfig(radsecServer(p, home.Addr)))
	recs := fixtureRecords(t)
	results := send(t, s, recs)
	home.WaitRecords(t, len(recs), 30*time.Second)
	checkArrived(t, d, recs, results, home.Records(t))
	if st := s.Stats()[0]; st.Forged != 0 || st.Retransmits != 0 {
		t.Errorf("stats %+v: want no forged replies and no resends", st)
	}
}

// TestInteropRadSecFreeRADIUSRestart kills FreeRADIUS (SIGKILL) with
// requests in flight over RadSec and starts it again, and rotates the
// client certificate meanwhile: every record arrives, sent on new
// connections with the new certificate.
func TestInteropRadSecFreeRADIUSRestart(t *testing.T) {
	p := newRadsecPKI(t)
	home := radsecHome(t, p)
	d := testDictionary(t)
	cfg := radsecConfig(radsecServer(p, home.Addr))
	s := openRadsecSink(t, cfg)
	recs := fixtureRecords(t)
	for len(recs) < 1500 {
		recs = append(recs, recs...)
	}
	recs = uniqueRecords(recs)
	first, second := recs[:len(recs)/2], recs[len(recs)/2:]
	results := send(t, s, first)

	// Rotate the client certificate on disk, then kill the server mid-batch.
	next := p.ca.Issue(t, "client-next.radsec.test", testpki.Options{Client: true})
	for _, f := range [][2]string{{next.CertFile, p.client.CertFile}, {next.KeyFile, p.client.KeyFile}} {
		b, err := os.ReadFile(f[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f[1], b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan []error, 1)
	go func() { done <- send(t, s, second) }()
	home.Kill()
	home.Start(t)
	results = append(results, <-done...)
	home.WaitRecords(t, len(recs), 30*time.Second)
	checkArrived(t, d, recs, results, home.Records(t))
	st := s.Stats()[0]
	if st.Connects < 2 {
		t.Errorf("stats %+v: want a new connection after the restart", st)
	}
	t.Logf("stats after the restart: connects %d, lost %d, resends %d", st.Connects, st.ConnectionsLost, st.Retransmits)
}

// radsecproxy runs radsecproxy 1.9 (Debian package) with a RadSec listener
// that forwards accounting to the UDP server at home; it returns the
// listener's address.
func radsecproxy(t *testing.T, p radsecPKI, home *freeradiustest.HomeServer) string {
	t.Helper()
	bin, err := exec.LookPath("radsecproxy")
	if err != nil {
		if bin = "/usr/sbin/radsecproxy"; !fileExists(bin) {
			if os.Getenv(freeradiustest.RequireEnv) == "1" {
				t.Fatal("radsecproxy is not installed (apt-get install radsecproxy) and RADRELAY_REQUIRE_SERVERS=1")
			}
			t.Skip("SKIPPED: radsecproxy is not installed (apt-get install radsecproxy)")
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	host, port, _ := net.SplitHostPort(home.Addr)
	dir := t.TempDir()
	conf := fmt.Sprintf(`ListenTLS %s
LogDestination x-syslog:///
tls srv {
	CACertificateFile %s
	CertificateFile %s
	CertificateKeyFile %s
}
client radsec-in {
	host 127.0.0.1
	type tls
	tls srv
	secret %s
	MatchCertificateAttribute CN:/^client\.radsec\.test$/
}
server fr-udp {
	host %s
	port %s
	type udp
	secret %s
}
realm * {
	accountingServer fr-udp
}
`, addr, p.ca.File, p.server.CertFile, p.server.KeyFile, radsec.DefaultSecret, host, port, home.Secret)
	file := filepath.Join(dir, "radsecproxy.conf")
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-f", "-d", "3", "-c", file)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
	}()
	// Ready when it accepts connections on the TLS port.
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return addr
		}
		gone := false
		select {
		case <-exited:
			gone = true
		default:
		}
		if gone || time.Now().After(deadline) {
			var log []string
			for l := range lines {
				log = append(log, l)
			}
			t.Fatalf("radsecproxy not listening on %s:\n%s", addr, strings.Join(log, "\n"))
		}
		time.Sleep(20 * time.Millisecond) // polling an external process with a deadline
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestInteropRadSecRadsecproxy relays the realistic session fixtures over
// RadSec to radsecproxy (a second, independent implementation), which
// forwards them over UDP to a FreeRADIUS home server: every record arrives
// attribute for attribute.
func TestInteropRadSecRadsecproxy(t *testing.T) {
	p := newRadsecPKI(t)
	home := freeradiustest.StartHomeServer(t, freeradiustest.HomeOptions{})
	addr := radsecproxy(t, p, home)
	d := testDictionary(t)
	cfg := radsecConfig(radsecServer(p, addr))
	cfg.StatusServer = true
	s := openRadsecSink(t, cfg)
	var recs []*detail.Record
	for _, name := range []string{"packets-sessions.detail", "packets-sessions-header.detail"} {
		for _, r := range readFixture(t, name) {
			// radsecproxy routes by the realm of User-Name; a request
			// without one (Accounting-On) it acknowledges itself and
			// forwards nowhere (1.9.2).
			if _, ok := r.Get("User-Name"); ok {
				recs = append(recs, r)
			}
		}
	}
	recs = uniqueRecords(recs)
	results := send(t, s, recs)
	home.WaitRecords(t, len(recs), 30*time.Second)
	checkArrived(t, d, recs, results, home.Records(t))
	// Status-Server over RadSec: radsecproxy answers it itself.
	if !s.servers[0].statusServer() {
		t.Error("no answer to Status-Server from radsecproxy")
	}
}
