//go:build linux

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"

	"github.com/radrelay/radrelay/internal/testpki"
	"github.com/radrelay/radrelay/radsec"
)

// startRadSecWithMetrics runs startRadSecListener's configuration with
// /metrics, listenKeys added to [[listen]] and tail at the end (its
// sub-tables), and returns the RadSec address, the metrics address and
// radrelay's stderr.
func startRadSecWithMetrics(t *testing.T, ca *testpki.CA, listenKeys, tail string) (tcp, metrics string, sc *bufio.Scanner) {
	t.Helper()
	conf, _ := radsecListenConfig(t, ca, nil, "")
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(b), "[[listen]]\n", "[[listen]]\n"+listenKeys+"\n", 1)
	os.WriteFile(conf, []byte("metrics_listen = \"127.0.0.1:0\"\n"+text+tail), 0o600)
	_, sc = startRadrelay(t, "run", "-c", conf)
	scanUntil(t, sc, "listening for accounting and serving metrics", func(line []byte) bool {
		if m := metricsRE.FindSubmatch(line); m != nil {
			metrics = string(m[1])
		}
		if m := radsecRE.FindSubmatch(line); m != nil && strings.Contains(string(line), "listening for accounting") {
			tcp = string(m[1])
		}
		return tcp != "" && metrics != ""
	})
	return tcp, metrics, sc
}

// radsecClient connects to addr with pair's certificate (trusting ca).
func radsecClient(t *testing.T, addr string, pair testpki.Pair, ca string) (*radsec.Conn, error) {
	t.Helper()
	tc, err := radsec.TLS{CertificateFile: pair.CertFile, PrivateKeyFile: pair.KeyFile, CAFile: ca}.ClientConfig("localhost")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), lineWait)
	defer cancel()
	return radsec.Dial(ctx, addr, tc)
}

// radsecRequest sends one Accounting-Request (secret "radsec") on c and
// reads its answer.
func radsecRequest(t *testing.T, c *radsec.Conn, session string) error {
	t.Helper()
	p := radius.New(radius.CodeAccountingRequest, []byte(radsec.DefaultSecret))
	rfc2865.UserName_SetString(p, "alice")
	rfc2866.AcctSessionID_SetString(p, session)
	rfc2866.AcctStatusType_Set(p, rfc2866.AcctStatusType_Value_Start)
	req, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(req); err != nil {
		return err
	}
	c.SetReadDeadline(time.Now().Add(lineWait))
	resp, err := radsec.ReadPacket(c, make([]byte, radsec.MaxPacketLength))
	if err != nil {
		return err
	}
	if !radius.IsAuthenticResponse(resp, req, []byte(radsec.DefaultSecret)) {
		return fmt.Errorf("answer to %s not authentic", session)
	}
	return nil
}

// radsecConnections reads radrelay_listen_radsec_connections_total by event.
func radsecConnections(t *testing.T, metrics string) map[string]string {
	t.Helper()
	resp, err := http.Get("http://" + metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	got := map[string]string{}
	re := regexp.MustCompile(`(?m)^radrelay_listen_radsec_connections_total\{event="([a-z_]+)",listen="[^"]*"\} ([0-9]+)$`)
	for _, m := range re.FindAllStringSubmatch(string(body), -1) {
		got[m[1]] = m[2]
	}
	return got
}

// TestListenRadSecConnectionsCounted: a failed TLS handshake on the RadSec
// listener (a client that does not speak TLS, one whose certificate another
// CA signed) is logged and counted in
// radrelay_listen_radsec_connections_total{event="handshake_failed"}; a
// client's connection is counted as opened, and its end is logged at INFO
// with the client, its address, why, and how many packets it sent.
func TestListenRadSecConnectionsCounted(t *testing.T) {
	ca := testpki.NewCA(t, t.TempDir(), "Conn Test CA")
	tcp, metrics, sc := startRadSecWithMetrics(t, ca, "", "")

	// Not TLS at all (from another address: refusals are logged once a
	// minute per address).
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	c, err := d.Dial("tcp", tcp)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	io.Copy(io.Discard, c) // until radrelay closes it
	c.Close()
	waitLine(t, sc, "radsec: handshake failed")

	// A certificate of another CA.
	stranger := testpki.NewCA(t, t.TempDir(), "Stranger CA").Issue(t, "nas9.test", testpki.Options{Client: true})
	if rc, err := radsecClient(t, tcp, stranger, ca.File); err == nil {
		radsecRequest(t, rc, "refused") // TLS 1.3: refused at the first read
		rc.Close()
	}
	waitLine(t, sc, "radsec: handshake failed")

	// A client: opened, one request, closed by the client.
	nas := ca.Issue(t, "nas1.test", testpki.Options{Client: true})
	rc, err := radsecClient(t, tcp, nas, ca.File)
	if err != nil {
		t.Fatal(err)
	}
	if err := radsecRequest(t, rc, "s1"); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	line := string(scanUntil(t, sc, "radsec: client disconnected", func(line []byte) bool {
		return strings.Contains(string(line), "radsec: client disconnected")
	}))
	for _, want := range []string{"level=INFO", "client=nas1.test", "from=127.0.0.1:", `reason="closed by the client"`, "packets=1"} {
		if !strings.Contains(line, want) {
			t.Errorf("the disconnection line lacks %s: %s", want, line)
		}
	}
	got := radsecConnections(t, metrics)
	if got["handshake_failed"] != "2" || got["opened"] != "1" || got["refused"] != "0" {
		t.Errorf("radrelay_listen_radsec_connections_total by event: %v, want handshake_failed 2, opened 1, refused 0", got)
	}
}

// TestListenRadSecSilentClientHoldsNoSlot: with max_connections = 1, a
// connection that never starts its TLS handshake (a port scan, a client
// that hung) does not keep a real client out until the handshake timeout:
// it holds no max_connections slot, and when the connections handshaking
// are at the bound, the new one closes it. The slot is taken by the client
// whose handshake is done, and a second client is then refused.
func TestListenRadSecSilentClientHoldsNoSlot(t *testing.T) {
	ca := testpki.NewCA(t, t.TempDir(), "Slot Test CA")
	tcp, metrics, sc := startRadSecWithMetrics(t, ca, "max_connections = 1", "")

	silent, err := net.Dial("tcp", tcp) // accepted first: radrelay accepts in order
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	nas := ca.Issue(t, "nas1.test", testpki.Options{Client: true})
	rc, err := radsecClient(t, tcp, nas, ca.File)
	if err != nil {
		t.Fatalf("a client behind a silent connection, max_connections = 1: %v", err)
	}
	defer rc.Close()
	if err := radsecRequest(t, rc, "s1"); err != nil {
		t.Fatalf("a client behind a silent connection, max_connections = 1: %v", err)
	}
	io.Copy(io.Discard, silent) // radrelay closed it
	waitLine(t, sc, "radsec: closed a connection that had not finished its TLS handshake, to make room for a new one")

	// The slot is the client's: another one is refused, after its handshake.
	other, err := radsecClient(t, tcp, nas, ca.File)
	if err == nil {
		err = radsecRequest(t, other, "s2")
		other.Close()
	}
	if err == nil {
		t.Fatal("a second client was served with max_connections = 1")
	}
	waitLine(t, sc, "radsec: refused a connection: max_connections reached")
	if err := radsecRequest(t, rc, "s3"); err != nil {
		t.Fatalf("the first client, after the second was refused: %v", err)
	}
	got := radsecConnections(t, metrics)
	if got["handshake_failed"] != "1" || got["opened"] != "1" || got["refused"] != "1" {
		t.Errorf("radrelay_listen_radsec_connections_total by event: %v, want handshake_failed 1, opened 1, refused 1", got)
	}
}

// TestListenRadSecRefusalsLoggedOncePerMinute: a RadSec client whose
// certificate names no radsec_client connects again and again; each
// connection is dropped and counted (dropped_total{reason="unknown_client"}),
// and logged as UDP drops are: the first at once, the next ones of that
// address within the minute not (then one line with also_dropped).
func TestListenRadSecRefusalsLoggedOncePerMinute(t *testing.T) {
	ca := testpki.NewCA(t, t.TempDir(), "Refusal Test CA")
	tcp, metrics, sc := startRadSecWithMetrics(t, ca, "", "\n  [[listen.radsec_client]]\n  name = \"nas1.test\"\n")
	stranger := ca.Issue(t, "nas7.test", testpki.Options{Client: true})
	for i := range 3 {
		rc, err := radsecClient(t, tcp, stranger, ca.File)
		if err == nil {
			err = radsecRequest(t, rc, fmt.Sprint("u", i)) // ends when radrelay has closed it
			rc.Close()
		}
		if err == nil {
			t.Fatal("an unknown client was answered")
		}
	}
	// A client's connection and its end: every refusal was logged or
	// not before it (each was closed only after).
	nas := ca.Issue(t, "nas1.test", testpki.Options{Client: true})
	rc, err := radsecClient(t, tcp, nas, ca.File)
	if err != nil {
		t.Fatal(err)
	}
	if err := radsecRequest(t, rc, "s1"); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	var refusals []string
	scanUntil(t, sc, "radsec: client disconnected", func(line []byte) bool {
		if strings.Contains(string(line), "radsec: closed a connection from an unknown client") {
			refusals = append(refusals, string(line))
		}
		return strings.Contains(string(line), "radsec: client disconnected")
	})
	if len(refusals) != 1 {
		t.Fatalf("%d lines for 3 refused connections of one address in a minute, want 1:\n%s", len(refusals), strings.Join(refusals, "\n"))
	}
	for _, want := range []string{"level=WARN", "reason=unknown_client", "from=127.0.0.1:", `nas7.test`, "next_report="} {
		if !strings.Contains(refusals[0], want) {
			t.Errorf("the refusal line lacks %s: %s", want, refusals[0])
		}
	}
	if n := metricValue(t, metrics, `radrelay_listen_dropped_total\{listen="[^"]*",reason="unknown_client"\}`); n != 3 {
		t.Errorf("dropped_total{reason=unknown_client} = %v, want 3", n)
	}
}

// TestListenRadSecStopWhileHandshaking: radrelay stopping (SIGTERM) with a
// RadSec connection still in its TLS handshake logged "radsec: handshake
// failed" at WARN: the stop ends every connection's read, the handshake's
// too. A shutdown is not a client failing: nothing is said above DEBUG.
func TestListenRadSecStopWhileHandshaking(t *testing.T) {
	ca := testpki.NewCA(t, t.TempDir(), "Stop Test CA")
	conf, _ := radsecListenConfig(t, ca, nil, "")
	cmd, sc := startRadrelay(t, "run", "-c", conf)
	var tcp string
	scanUntil(t, sc, "listening for accounting", func(line []byte) bool {
		if m := radsecRE.FindSubmatch(line); m != nil && strings.Contains(string(line), "listening for accounting") {
			tcp = string(m[1])
		}
		return tcp != ""
	})
	start := time.Now()
	silent, err := net.Dial("tcp", tcp) // never starts its handshake
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	// radrelay accepts in order: once a client after it is served, the
	// silent connection is accepted and handshaking.
	nas := ca.Issue(t, "nas1.test", testpki.Options{Client: true})
	rc, err := radsecClient(t, tcp, nas, ca.File)
	if err != nil {
		t.Fatal(err)
	}
	if err := radsecRequest(t, rc, "s1"); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) >= radsec.HandshakeTimeout {
		// Not a bound on the test: the silent connection's handshake
		// timed out on its own (a very loaded machine), which is a
		// failure radrelay rightly logs.
		t.Skip("the silent connection reached the handshake timeout before the stop")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	var rest []string
	for sc.Scan() {
		rest = append(rest, sc.Text())
	}
	if st := exitStatus(t, cmd); st != 0 {
		t.Fatalf("exit status %d after SIGTERM:\n%s", st, strings.Join(rest, "\n"))
	}
	for _, line := range rest {
		if strings.Contains(line, "handshake") || strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			t.Errorf("logged at the stop: %s", line)
		}
	}
}
