//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/internal/freeradiustest"
)

var (
	listeningRE = regexp.MustCompile(`addrs="?\[([0-9.]+:[0-9]+)`)
	radsecRE    = regexp.MustCompile(`radsec:([0-9.]+:[0-9]+)`)
)

// listenAddr reads radrelay's log until it says where it listens, and
// then reads the rest of it in the background.
func listenAddr(t *testing.T, sc *bufio.Scanner) string {
	t.Helper()
	line := scanUntil(t, sc, "listening for accounting", isListening)
	addr := listeningRE.FindStringSubmatch(string(line))[1]
	go func() {
		for sc.Scan() {
		}
	}()
	return addr
}

func isListening(line []byte) bool {
	return listeningRE.Match(line) && strings.Contains(string(line), "listening for accounting")
}

var metricsRE = regexp.MustCompile(`serving metrics.* addr=([0-9.:]+)`)

// listenAndMetricsAddrs reads radrelay's log until it has said where it
// listens for accounting and where it serves metrics, in either order.
func listenAndMetricsAddrs(t *testing.T, sc *bufio.Scanner) (addr, metrics string) {
	t.Helper()
	scanUntil(t, sc, "listening for accounting and serving metrics", func(line []byte) bool {
		if m := metricsRE.FindSubmatch(line); m != nil {
			metrics = string(m[1])
		}
		if isListening(line) {
			addr = string(listeningRE.FindSubmatch(line)[1])
		}
		return addr != "" && metrics != ""
	})
	return addr, metrics
}

func spooled(t *testing.T, glob string) []*detail.Record {
	t.Helper()
	files, _ := filepath.Glob(glob)
	var out []*detail.Record
	for _, f := range files {
		out = append(out, freeradiustest.ReadDetail(t, f)...)
	}
	return out
}

func writeSecret(t *testing.T, dir, secret string) string {
	t.Helper()
	p := filepath.Join(dir, "nas.secret")
	if err := os.WriteFile(p, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const interopPackets = `User-Name = "alice"
Acct-Status-Type = Start
Acct-Session-Id = "0001"
NAS-IP-Address = 10.0.0.1
NAS-Port = 7
Framed-IP-Address = 192.0.2.10
Called-Station-Id = "00-11-22-33-44-55:ssid"
Class = 0x0102ff00
Event-Timestamp = 1795435059
Tunnel-Type:1 = VLAN
Cisco-AVPair = "ip:addr-pool=p1"

User-Name = "bob\"quote"
Acct-Status-Type = Interim-Update
Acct-Session-Id = "0002"
NAS-IPv6-Address = 2001:db8::1
Framed-IPv6-Prefix = 2001:db8:1::/48
Acct-Input-Octets = 4294967295
Acct-Input-Gigawords = 3
Reply-Message = "tab\there"

User-Name = "carol"
Acct-Status-Type = Stop
Acct-Session-Id = "0003"
Acct-Terminate-Cause = User-Request
Acct-Session-Time = 3600
`

// TestListenSpoolMatchesFreeRADIUS sends the same packets with radclient
// to a FreeRADIUS 3.2 home server and to radrelay's listener (spool only,
// attributes = "packet", as a site with an empty preacct): the records
// carry the same attributes, in the same order, with the same values.
func TestListenSpoolMatchesFreeRADIUS(t *testing.T) {
	home := freeradiustest.StartHomeServer(t, freeradiustest.HomeOptions{})
	freeradiustest.SendAccounting(t, home.Addr, home.Secret, interopPackets, 1)
	home.WaitRecords(t, 3, 2*time.Minute)
	want := home.Records(t)

	dir := t.TempDir()
	conf := filepath.Join(dir, "radrelay.toml")
	os.WriteFile(conf, []byte(fmt.Sprintf(`
[[listen]]
udp = ["127.0.0.1:0"]
spool_dir = %q
attributes = "packet"
  [[listen.client]]
  address = "127.0.0.1"
  secret_file = %q
`, filepath.Join(dir, "spool"), writeSecret(t, dir, home.Secret))), 0o600)
	cmd, sc := startRadrelay(t, "run", "-c", conf)
	addr := listenAddr(t, sc)
	freeradiustest.SendAccounting(t, addr, home.Secret, interopPackets, 1)
	got := spooled(t, filepath.Join(dir, "spool", "127.0.0.1", "detail-*"))
	if len(got) != len(want) {
		t.Fatalf("%d records spooled, FreeRADIUS wrote %d", len(got), len(want))
	}
	for i := range want {
		if g, w := attrText(got[i]), attrText(want[i]); g != w {
			t.Errorf("record %d:\nradrelay:\n%s\nFreeRADIUS:\n%s", i, g, w)
		}
		if !got[i].HasTimestamp {
			t.Errorf("record %d has no Timestamp", i)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if st := exitStatus(t, cmd); st != 0 {
		t.Fatalf("exit status %d after SIGTERM", st)
	}
}

func attrText(r *detail.Record) string {
	var b strings.Builder
	for _, a := range r.Attrs {
		b.WriteString(a.Name)
		if a.HasTag {
			fmt.Fprintf(&b, ":%d", a.Tag)
		}
		fmt.Fprintf(&b, " = %q\n", a.Value)
	}
	return b.String()
}

// TestListenRelaysSpool: with --to, the records received are relayed from
// the spool by the tailer, and the consumed spool files are removed.
func TestListenRelaysSpool(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.detail")
	_, sc := startRadrelay(t, "run", "--listen", "127.0.0.1:0", "--client", "127.0.0.0/8:"+writeSecret(t, dir, "s3cret"),
		"--spool", filepath.Join(dir, "spool"), "--state", filepath.Join(dir, "state"), "--to", "detail:"+out,
		"--metrics", "127.0.0.1:0")
	addr, metrics := listenAndMetricsAddrs(t, sc)
	go func() {
		for sc.Scan() {
		}
	}()
	freeradiustest.SendAccounting(t, addr, "s3cret", interopPackets, 3)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if recs := spooled(t, out); len(recs) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sink never got the 3 records")
		}
		time.Sleep(50 * time.Millisecond) // polling a file another process writes
	}
	resp, err := http.Get("http://" + metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp, err = http.Get("http://" + metrics + "/status.json")
	if err != nil {
		t.Fatal(err)
	}
	var status struct {
		Listeners map[string]struct {
			Accepted int64            `json:"accepted"`
			Dropped  map[string]int64 `json:"dropped"`
		} `json:"listeners"`
	}
	json.NewDecoder(resp.Body).Decode(&status)
	resp.Body.Close()
	if l, ok := status.Listeners[addr]; !ok || l.Accepted != 3 {
		t.Errorf("/status.json listeners %+v: want %s with 3 accepted", status.Listeners, addr)
	}
	for _, want := range []string{`radrelay_listen_accepted_total{listen="` + addr + `"} 3`, `radrelay_listen_dropped_total{listen="` + addr + `",reason="bad_authenticator"} 0`,
		`radrelay_listen_ack_duration_seconds_count{listen="` + addr + `"} 3`, `radrelay_listen_fsync_duration_seconds_bucket{listen="` + addr + `",le="+Inf"}`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// radrelay status lists the listener with the same counters (from the
	// status the process publishes every second).
	var text string
	for deadline := time.Now().Add(60 * time.Second); ; {
		_, text, _ = runBinary(t, nil, "status", "--state", filepath.Join(dir, "state"))
		if strings.Contains(text, "3 accepted") || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond) // polling what another process publishes
	}
	for _, want := range []string{
		"listener " + addr + ": acknowledging",
		"received:       3 packets; 3 accepted (written, fsynced, acknowledged), 0 duplicates, 0 Status-Server",
		"dropped:        none",
		"spool:          ",
		"fsync:          ",
		"ack latency:    p50 ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("radrelay status lacks %q:\n%s", want, text)
		}
	}
}

// TestListenKill9LosesNoAcknowledgedRecord kills radrelay with SIGKILL
// again and again while retrying clients send to it: every request it
// acknowledged is in the spool afterwards.
func TestListenKill9LosesNoAcknowledgedRecord(t *testing.T) {
	dir := t.TempDir()
	secretFile := writeSecret(t, dir, "s3cret")
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	start := func() *os.Process {
		cmd, sc := startRadrelay(t, "run", "--listen", addr, "--client", "127.0.0.0/8:"+secretFile, "--spool", filepath.Join(dir, "spool"))
		listenAddr(t, sc)
		return cmd.Process
	}
	const workers, perWorker = 16, 150
	var (
		mu    sync.Mutex
		acked = map[string]bool{}
		wg    sync.WaitGroup
	)
	proc := start()
	stop := make(chan struct{})
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
			for i := 0; i < perWorker; i++ {
				id := fmt.Sprintf("w%d-%d", w, i)
				p := radius.New(radius.CodeAccountingRequest, []byte("s3cret"))
				p.Identifier = byte(i)
				rfc2865.UserName_SetString(p, "load")
				rfc2866.AcctSessionID_SetString(p, id)
				rfc2866.AcctStatusType_Set(p, rfc2866.AcctStatusType_Value_InterimUpdate)
				req, _ := p.Encode()
				for tries := 0; ; tries++ {
					select {
					case <-stop:
						return
					default:
					}
					c.Write(req)
					c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
					n, err := c.Read(buf)
					if err == nil && radius.IsAuthenticResponse(buf[:n], req, []byte("s3cret")) {
						mu.Lock()
						acked[id] = true
						mu.Unlock()
						break
					}
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	kills := 0
	for kills < 5 {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= (kills+1)*workers*perWorker/7 {
			proc.Kill()
			proc.Wait()
			kills++
			proc = start()
			continue
		}
		select {
		case <-done:
			kills = 99
		case <-time.After(20 * time.Millisecond): // polling the clients' progress
		}
	}
	select {
	case <-done:
	case <-time.After(120 * time.Second):
		close(stop)
		<-done
		t.Fatal("the clients did not finish in 2 minutes")
	}
	proc.Kill()
	proc.Wait()
	// A SIGKILL during a write(2) can leave part of an unacknowledged
	// record at the end of a file: the next start cuts it off.
	proc = start()
	proc.Signal(syscall.SIGTERM)
	proc.Wait()
	inSpool := map[string]int{}
	for _, r := range spooled(t, filepath.Join(dir, "spool", "*", "detail-*")) {
		a, _ := r.Get("Acct-Session-Id")
		inSpool[a.Value]++
	}
	missing := 0
	for id := range acked {
		if inSpool[id] == 0 {
			missing++
			if missing < 10 {
				t.Errorf("request %s was acknowledged but is not in the spool", id)
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged requests lost", missing, len(acked))
	}
	if len(acked) != workers*perWorker {
		t.Fatalf("%d of %d requests acknowledged", len(acked), workers*perWorker)
	}
	t.Logf("%d requests acknowledged across %d kills; %d distinct in the spool", len(acked), kills, len(inSpool))
}

// TestListenFlagErrors: mistakes in the listener's flags exit 2 with a
// message that says what to give, before anything is opened.
func TestListenFlagErrors(t *testing.T) {
	dir := t.TempDir()
	secret := writeSecret(t, dir, "s3cret")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--listen", "127.0.0.1:0", "--client", "127.0.0.0/8:" + secret}, "--listen needs --spool DIR"},
		{[]string{"--client", "127.0.0.0/8:" + secret, "--spool", dir}, "need --listen ADDR"},
		{[]string{"--listen", "127.0.0.1:0", "--client", "127.0.0.0/8", "--spool", dir}, `--client "127.0.0.0/8" is not PREFIX:SECRET_FILE`},
		{[]string{"--listen", "127.0.0.1:0", "--client", "127.0.0.0/8:" + dir + "/missing", "--spool", dir}, "secret_file: open"},
		{[]string{"--listen", "127.0.0.1", "--client", "127.0.0.0/8:" + secret, "--spool", dir}, `listen: udp "127.0.0.1": not HOST:PORT`},
		{[]string{"--listen", "127.0.0.1:0", "--spool", dir}, "no client"},
		{[]string{"--listen", "127.0.0.1:0", "--client", "127.0.0.0/8:" + secret, "--spool", dir, "--to", "jsonl:-"}, "no --state DIR"},
		// A port out of range was refused only when the socket was opened:
		// exit 1, as if the configuration had been right.
		{[]string{"--listen", "127.0.0.1:99999", "--client", "127.0.0.0/8:" + secret, "--spool", dir}, `udp "127.0.0.1:99999": port "99999" is not a port number`},
		// Given twice: run failed with "address already in use" (exit 1), as
		// if another program held the port.
		{[]string{"--listen", "127.0.0.1:1813", "--listen", "127.0.0.1:1813", "--client", "127.0.0.0/8:" + secret, "--spool", dir}, `listen: udp "127.0.0.1:1813" is given twice`},
		// The spool is always consumed: --mode follow (or any --mode, or
		// --start-at) without --input was silently ignored.
		{[]string{"--listen", "127.0.0.1:0", "--client", "127.0.0.0/8:" + secret, "--spool", dir, "--mode", "follow"}, "--mode follow applies to --input files, and there is none: the listener's spool is always consumed"},
		{[]string{"--listen", "127.0.0.1:0", "--client", "127.0.0.0/8:" + secret, "--spool", dir, "--mode", "follow", "--to", "jsonl:-", "--state", dir}, "--mode follow applies to --input files"},
		{[]string{"--listen", "127.0.0.1:0", "--client", "127.0.0.0/8:" + secret, "--spool", dir, "--start-at", "end"}, "--start-at end applies to --input files"},
	}
	for _, tt := range tests {
		code, _, stderr := runBinary(t, nil, append([]string{"run"}, tt.args...)...)
		if code != 2 || !strings.Contains(stderr, tt.want) {
			t.Errorf("radrelay run %s: exit %d, stderr %q; want 2 and %q", strings.Join(tt.args, " "), code, stderr, tt.want)
		}
		if strings.Contains(stderr, "s3cret") {
			t.Errorf("a secret was shown: %s", stderr)
		}
		if strings.Contains(stderr, "listen: listen:") {
			t.Errorf("the message says listen twice: %s", stderr)
		}
	}
}

// TestValidateListenOnly: validate counts the listeners (a listener-only
// configuration was "valid (0 inputs, 0 sinks)").
func TestValidateListenOnly(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "radrelay.toml")
	os.WriteFile(conf, []byte(`[[listen]]
udp = ["127.0.0.1:1813"]
spool_dir = "`+dir+`/spool"
  [[listen.client]]
  address = "127.0.0.1"
  secret_file = "`+writeSecret(t, dir, "s3cret")+`"
`), 0o600)
	code, _, stderr := runBinary(t, nil, "validate", "-c", conf)
	if code != 0 || !strings.Contains(stderr, "valid (1 listener, spool only, 0 inputs, 0 sinks)") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	// An [[input]] beside a listener without a sink was silently never
	// read: spool-only mode ran the listener alone.
	b, _ := os.ReadFile(conf)
	os.WriteFile(conf, append([]byte("state_dir = \""+dir+"/state\"\n[[input]]\nglob = \""+dir+"/in/*\"\nmode = \"consume\"\n"), b...), 0o600)
	code, _, stderr = runBinary(t, nil, "validate", "-c", conf)
	if code != 2 || !strings.Contains(stderr, "no [[sink]] for the [[input]]") {
		t.Errorf("with an [[input]]: exit %d, stderr %q", code, stderr)
	}
}

// TestListenBracketedIPv6Client: --client takes an IPv6 address in
// brackets, as --listen does ("[::1]:/path" was "not an address").
func TestListenBracketedIPv6Client(t *testing.T) {
	dir := t.TempDir()
	secret := writeSecret(t, dir, "s3cret")
	_, sc := startRadrelay(t, "run", "--listen", "[::1]:0", "--client", "[::1]:"+secret, "--client", "[2001:db8::]/32:"+secret,
		"--spool", filepath.Join(dir, "spool"))
	waitLine(t, sc, "listening for accounting")
}

// TestValidateListenMistakes: what an operator gets wrong in [[listen]]
// is an error of validate (exit 2) naming the line, not a key silently
// ignored (a RadSec client's "secret" left it with the default "radsec";
// a misspelt key of a client was dropped) nor a port refused only by run.
func TestValidateListenMistakes(t *testing.T) {
	dir := t.TempDir()
	secret := writeSecret(t, dir, "s3cret")
	clients := filepath.Join(dir, "clients.conf")
	os.WriteFile(clients, []byte("client a {\n\tipaddr = 127.0.0.2\n\tsecret = x\n}\n"), 0o600)
	conf := filepath.Join(dir, "radrelay.toml")
	os.WriteFile(conf, []byte(`[[listen]]
udp = ["127.0.0.1:99999"]
radsec = ["127.0.0.1:70000"]
spool_dir = "`+dir+`/spool"
clients_conf = "`+clients+`"
certificate_file = "/nonexistent.pem"
private_key_file = "/nonexistent.key"

  [[listen.client]]
  address = "127.0.0.1"
  secret_file = "`+secret+`"

  [[listen.client]]
  adress = "127.0.0.3"
  secret_file = "`+secret+`"

  [[listen.radsec_client]]
  name = "nas1"
  secret = "Sx-inline"
`), 0o600)
	code, stdout, stderr := runBinary(t, nil, "validate", "-c", conf)
	for _, want := range []string{
		conf + `:14: listen: client: unknown key "adress" (did you mean "address"?)`,
		conf + `:19: listen: radsec_client: secret: a secret is never written in the configuration`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("validate does not say %q:\n%s", want, stderr)
		}
	}
	if code != 2 || strings.Contains(stdout+stderr, "Sx-inline") {
		t.Errorf("exit %d; output:\n%s%s", code, stdout, stderr)
	}
	// Without those: the ports, and the address of clients.conf given again.
	os.WriteFile(conf, []byte(`[[listen]]
udp = ["127.0.0.1:99999"]
radsec = ["127.0.0.1:70000"]
spool_dir = "`+dir+`/spool"
clients_conf = "`+clients+`"
certificate_file = "/nonexistent.pem"
private_key_file = "/nonexistent.key"
ca_file = "/nonexistent.ca"
max_connections = -1

  [[listen.client]]
  address = "127.0.0.2"
  secret_file = "`+secret+`"
`), 0o600)
	code, stdout, stderr = runBinary(t, nil, "validate", "-c", conf)
	for _, want := range []string{
		`max_connections -1: negative`,
		`udp "127.0.0.1:99999": port "99999" is not a port number`,
		`radsec "127.0.0.1:70000": port "70000" is not a port number`,
		`clients 127.0.0.2/32 and a both have the address 127.0.0.2/32`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("validate does not say %q:\n%s", want, stderr)
		}
	}
	if code != 2 {
		t.Errorf("exit %d; output:\n%s%s", code, stdout, stderr)
	}
}

// TestListenDefaultSiteMatchesFreeRADIUS: with the default attributes, the
// spool holds what a FreeRADIUS 3.2 server running its stock default
// site's preacct (preprocess, acct_unique, from the installed
// configuration) writes with detail: NAS-IP-Address added when missing and
// the same Acct-Unique-Session-Id.
func TestListenDefaultSiteMatchesFreeRADIUS(t *testing.T) {
	packets := interopPackets + `
User-Name = "dave"
Acct-Status-Type = Start
Acct-Session-Id = "0004"
Class = "ai:0123456789abcdef0123456789abcdef"
NAS-Identifier = "bng-1"
NAS-Port-Id = "eth0.100"

User-Name = "erin"
Acct-Status-Type = Stop
Acct-Session-Id = "0005"
Acct-Delay-Time = 100
NAS-IP-Address = 10.0.0.9
`
	home := freeradiustest.StartHomeServer(t, freeradiustest.HomeOptions{DefaultSitePreacct: true})
	freeradiustest.SendAccounting(t, home.Addr, home.Secret, packets, 1)
	home.WaitRecords(t, 5, 2*time.Minute)
	want := home.Records(t)

	dir := t.TempDir()
	cmd, sc := startRadrelay(t, "run", "--listen", "127.0.0.1:0", "--client", "127.0.0.0/8:"+writeSecret(t, dir, home.Secret), "--spool", filepath.Join(dir, "spool"))
	addr := listenAddr(t, sc)
	freeradiustest.SendAccounting(t, addr, home.Secret, packets, 1)
	got := spooled(t, filepath.Join(dir, "spool", "127.0.0.1", "detail-*"))
	if len(got) != len(want) {
		t.Fatalf("%d records spooled, FreeRADIUS wrote %d", len(got), len(want))
	}
	for i := range want {
		if g, w := eventTimeRelative(got[i]), eventTimeRelative(want[i]); g != w {
			t.Errorf("record %d:\nradrelay:\n%s\nFreeRADIUS:\n%s", i, g, w)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	exitStatus(t, cmd)
}

// eventTimeRelative is attrText with an Event-Timestamp near the record's
// Timestamp (one the server added: the two servers received the packets
// at different times) written as its distance from the Timestamp.
func eventTimeRelative(r *detail.Record) string {
	c := *r
	c.Attrs = append([]detail.Attribute(nil), r.Attrs...)
	for i, a := range c.Attrs {
		if a.Name != "Event-Timestamp" {
			continue
		}
		et, err := time.Parse("Jan _2 2006 15:04:05 MST", a.Value)
		if d := r.Timestamp - et.Unix(); err == nil && d >= -5 && d < 3600 {
			// Received within a second or two of the server's clock.
			c.Attrs[i].Value = fmt.Sprintf("Timestamp-%d", (d+2)/5*5)
		}
	}
	return attrText(&c)
}

// TestListenDeadSinkHoldsUpNoOther: with a RADIUS sink whose server is down
// and a detail sink, the detail sink gets every acknowledged record, batch
// after batch, while the RADIUS sink retries its first one (each sink has
// its own cursor across the whole spool, SBR's independent spoolers); the
// RADIUS sink's records stay in the spool.
func TestListenDeadSinkHoldsUpNoOther(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.detail")
	secretFile := writeSecret(t, dir, "s3cret")
	// A port nobody answers on: the RADIUS sink retries for ever.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := pc.LocalAddr().String()
	pc.Close()
	_, sc := startRadrelay(t, "run", "--listen", "127.0.0.1:0", "--client", "127.0.0.0/8:"+secretFile,
		"--spool", filepath.Join(dir, "spool"), "--state", filepath.Join(dir, "state"),
		"--to", "radius://"+dead+"?secret_file="+secretFile, "--to", "detail:"+out)
	addr := listenAddr(t, sc) // and drains the log from there
	for batch := 1; batch <= 3; batch++ {
		var packets strings.Builder
		for i := range 3 {
			fmt.Fprintf(&packets, "Acct-Status-Type = Start\nAcct-Session-Id = \"dead-%d-%d\"\nUser-Name = \"u%d\"\nNAS-IP-Address = 127.0.0.1\n\n", batch, i, i)
		}
		freeradiustest.SendAccounting(t, addr, "s3cret", packets.String(), 3)
		deadline := time.Now().Add(60 * time.Second) // a failure bound only
		for len(spooled(t, out)) < 3*batch {
			if time.Now().After(deadline) {
				t.Fatalf("batch %d: the detail sink has %d records, want %d: it waits for the dead RADIUS sink", batch, len(spooled(t, out)), 3*batch)
			}
			time.Sleep(50 * time.Millisecond) // polling a file another process writes
		}
	}
	if n := len(spooled(t, filepath.Join(dir, "spool", "*", "detail*"))); n != 9 {
		t.Errorf("the spool holds %d records, want the 9 the RADIUS sink has not had", n)
	}
}
