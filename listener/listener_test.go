package listener

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"

	"github.com/radrelay/radrelay/detail"
)

const testSecret = "testing123"

// startListener runs a listener on 127.0.0.1 for the test.
func startListener(t *testing.T, mod func(*Config)) (*Listener, string) {
	t.Helper()
	cfg := Config{
		UDP:      []string{"127.0.0.1:0"},
		Clients:  []Client{{Prefix: netip.MustParsePrefix("127.0.0.0/8"), Secret: testSecret}},
		SpoolDir: t.TempDir(),
		Location: time.UTC,
	}
	if mod != nil {
		mod(&cfg)
	}
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return l, l.Addrs()[0]
}

func accountingRequest(t *testing.T, secret, session string) []byte {
	t.Helper()
	p := radius.New(radius.CodeAccountingRequest, []byte(secret))
	rfc2865.UserName_SetString(p, "alice")
	rfc2866.AcctSessionID_SetString(p, session)
	rfc2866.AcctStatusType_Set(p, rfc2866.AcctStatusType_Value_Start)
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// exchange sends p on c and returns the answer, or nil after a short wait
// (a dropped request gets no answer; the wait is a bound, not a sync).
func exchange(t *testing.T, c *net.UDPConn, p []byte, wait time.Duration) []byte {
	t.Helper()
	if _, err := c.Write(p); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		return nil
	}
	return buf[:n]
}

func dial(t *testing.T, addr string) *net.UDPConn {
	t.Helper()
	ua, _ := net.ResolveUDPAddr("udp", addr)
	c, err := net.DialUDP("udp", nil, ua)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func spoolRecords(t *testing.T, dir string) []*detail.Record {
	t.Helper()
	var recs []*detail.Record
	files, _ := filepath.Glob(filepath.Join(dir, "*", "detail-*"))
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		r := detail.NewReader(fh, f)
		for {
			rec, err := r.Next()
			if err != nil {
				break
			}
			recs = append(recs, rec)
		}
		fh.Close()
	}
	return recs
}

func TestAcknowledgedRecordIsSpooled(t *testing.T) {
	l, addr := startListener(t, nil)
	c := dial(t, addr)
	req := accountingRequest(t, testSecret, "s1")
	resp := exchange(t, c, req, 10*time.Second)
	if resp == nil {
		t.Fatal("no Accounting-Response")
	}
	if !radius.IsAuthenticResponse(resp, req, []byte(testSecret)) || resp[0] != codeAccountingResponse {
		t.Fatalf("answer is not an authentic Accounting-Response: % x", resp)
	}
	// The answer came after the fsync: the record is in the file now.
	recs := spoolRecords(t, l.cfg.SpoolDir)
	if len(recs) != 1 {
		t.Fatalf("%d records in the spool, want 1", len(recs))
	}
	rec := recs[0]
	var names []string
	for _, a := range rec.Attrs {
		names = append(names, a.Name)
	}
	want := "User-Name Acct-Session-Id Acct-Status-Type NAS-IP-Address Event-Timestamp Acct-Unique-Session-Id"
	if strings.Join(names, " ") != want || !rec.HasTimestamp {
		t.Fatalf("attributes %q (timestamp %v), want %q and a Timestamp", names, rec.HasTimestamp, want)
	}
	if files, _ := filepath.Glob(filepath.Join(l.cfg.SpoolDir, "127.0.0.1", "detail-2*")); len(files) != 1 {
		t.Fatalf("spool files %v: want one 127.0.0.1/detail-YYYYMMDD", files)
	}
	if s := l.Stats(); s.Accepted != 1 || s.Received != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestDuplicateGetsCachedResponse(t *testing.T) {
	l, addr := startListener(t, nil)
	c := dial(t, addr)
	req := accountingRequest(t, testSecret, "dup")
	first := exchange(t, c, req, 10*time.Second)
	second := exchange(t, c, req, 10*time.Second)
	if first == nil || string(first) != string(second) {
		t.Fatalf("retransmission answered %x, first answer %x", second, first)
	}
	if n := len(spoolRecords(t, l.cfg.SpoolDir)); n != 1 {
		t.Fatalf("%d records spooled for one request sent twice", n)
	}
	if s := l.Stats(); s.Duplicates != 1 || s.Accepted != 1 {
		t.Fatalf("stats %+v: want 1 duplicate, 1 accepted", s)
	}
	// Same Identifier, new authenticator: a new request (RFC 5080 §2.2.2).
	other := accountingRequest(t, testSecret, "dup-2")
	other[1] = req[1]
	other = resign(other, testSecret)
	if exchange(t, c, other, 10*time.Second) == nil {
		t.Fatal("a new request with a reused Identifier was not answered")
	}
	if n := len(spoolRecords(t, l.cfg.SpoolDir)); n != 2 {
		t.Fatalf("%d records, want 2", n)
	}
}

// resign recomputes the Request Authenticator of an Accounting-Request.
func resign(p []byte, secret string) []byte {
	q := append([]byte(nil), p...)
	clear(q[4:20])
	pkt, err := radius.Parse(q, []byte(secret))
	if err != nil {
		return nil
	}
	b, err := pkt.Encode()
	if err != nil {
		return nil
	}
	return b
}

func TestDroppedNeverSpooled(t *testing.T) {
	good := func(t *testing.T) []byte { return accountingRequest(t, testSecret, "x") }
	tests := []struct {
		name   string
		packet func(t *testing.T) []byte
		client string // the listener's client prefix
		reason string
	}{
		{"unknown client", good, "10.0.0.0/8", DropUnknownClient},
		{"wrong secret", func(t *testing.T) []byte { return accountingRequest(t, "wrong", "x") }, "127.0.0.0/8", DropBadAuth},
		{"tampered attribute", func(t *testing.T) []byte {
			b := good(t)
			b[len(b)-1] ^= 1
			return b
		}, "127.0.0.0/8", DropBadAuth},
		{"bad Message-Authenticator", func(t *testing.T) []byte {
			p := radius.New(radius.CodeAccountingRequest, []byte(testSecret))
			rfc2866.AcctSessionID_SetString(p, "m")
			p.Add(80, make([]byte, 16)) // all zero: not the HMAC
			b, _ := p.Encode()
			return b
		}, "127.0.0.0/8", DropBadMsgAuth},
		{"Status-Server without Message-Authenticator", func(t *testing.T) []byte {
			b := make([]byte, 20)
			b[0], b[1], b[3] = codeStatusServer, 1, 20
			return b
		}, "127.0.0.0/8", DropBadMsgAuth},
		{"length beyond the datagram", func(t *testing.T) []byte {
			b := good(t)
			b[2], b[3] = 0x0f, 0xff
			return b
		}, "127.0.0.0/8", DropMalformed},
		{"Access-Request", func(t *testing.T) []byte {
			b := good(t)
			b[0] = 1
			return b
		}, "127.0.0.0/8", DropUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs *lockedBuffer
			l, addr := startListener(t, func(c *Config) {
				c.Clients[0].Prefix = netip.MustParsePrefix(tt.client)
				logs = captureLogs(c)
			})
			c := dial(t, addr)
			if resp := exchange(t, c, tt.packet(t), 300*time.Millisecond); resp != nil {
				t.Fatalf("answered: % x", resp)
			}
			// A good request after it is answered: the bad one was handled
			// (the listener handles one socket's packets in order).
			if tt.reason != DropUnknownClient {
				if exchange(t, c, good(t), 10*time.Second) == nil {
					t.Fatal("the good request after it was not answered")
				}
			}
			// Another reader goroutine may still be counting the drop.
			s := l.Stats()
			for deadline := time.Now().Add(10 * time.Second); s.Dropped[tt.reason] == 0 && time.Now().Before(deadline); s = l.Stats() {
				runtime.Gosched()
			}
			if s.Dropped[tt.reason] != 1 {
				t.Fatalf("dropped %v, want 1 %s", s.Dropped, tt.reason)
			}
			want := 1
			if tt.reason == DropUnknownClient {
				want = 0
			}
			if n := len(spoolRecords(t, l.cfg.SpoolDir)); n != want {
				t.Fatalf("%d records spooled, want %d (the good one only)", n, want)
			}
			// Said at WARN, the default level, with the reason and the
			// source: an unknown client, an Access-Request or a malformed
			// packet was logged at debug only, so a NAS whose address
			// was not a client's saw no answer and the log said nothing.
			if text := logs.String(); !strings.Contains(text, "level=WARN") || !strings.Contains(text, "reason="+tt.reason) || !strings.Contains(text, "from=127.0.0.1:") {
				t.Errorf("log does not say it at WARN with reason=%s and the source:\n%s", tt.reason, text)
			}
		})
	}
}

func TestStatusServerAnswered(t *testing.T) {
	l, addr := startListener(t, nil)
	c := dial(t, addr)
	p := radius.New(radius.CodeStatusServer, []byte(testSecret))
	p.Add(80, make([]byte, 16))
	b, _ := p.Encode()
	// layeh does not sign Status-Server: compute the HMAC as RFC 3579 says.
	b = signMessageAuthenticator(b, testSecret)
	resp := exchange(t, c, b, 10*time.Second)
	if resp == nil || resp[0] != codeAccountingResponse || !radius.IsAuthenticResponse(resp, b, []byte(testSecret)) {
		t.Fatalf("Status-Server answered % x", resp)
	}
	if s := l.Stats(); s.StatusServer != 1 || s.Accepted != 0 {
		t.Fatalf("stats %+v", s)
	}
	if n := len(spoolRecords(t, l.cfg.SpoolDir)); n != 0 {
		t.Fatalf("Status-Server spooled %d records", n)
	}
}

func TestSpoolLimitStopsAcknowledging(t *testing.T) {
	l, addr := startListener(t, func(c *Config) { c.MaxSpoolBytes = 1 })
	c := dial(t, addr)
	if exchange(t, c, accountingRequest(t, testSecret, "a"), 10*time.Second) == nil {
		t.Fatal("first request (spool empty) not answered")
	}
	if resp := exchange(t, c, accountingRequest(t, testSecret, "b"), 300*time.Millisecond); resp != nil {
		t.Fatal("answered a request over max_spool_bytes")
	}
	s := l.Stats()
	if !s.Paused || s.Dropped[DropSpoolFull] != 1 {
		t.Fatalf("stats %+v: want paused and one spool_full drop", s)
	}
	// The reader takes the files: the listener resumes by itself.
	files, _ := filepath.Glob(filepath.Join(l.cfg.SpoolDir, "*", "detail-*"))
	for _, f := range files {
		os.Remove(f)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if exchange(t, c, accountingRequest(t, testSecret, "c"), time.Second) != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("never resumed after the spool emptied")
		}
	}
	if l.Stats().Paused {
		t.Fatal("still paused after acknowledging")
	}
}

func TestIPv6ClientGetsItsOwnDirectory(t *testing.T) {
	if c, err := net.ListenPacket("udp", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	} else {
		c.Close()
	}
	l, addr := startListener(t, func(c *Config) {
		c.UDP = []string{"[::1]:0"}
		c.Clients = []Client{{Prefix: netip.MustParsePrefix("::1/128"), Secret: testSecret}}
	})
	c := dial(t, addr)
	if exchange(t, c, accountingRequest(t, testSecret, "v6"), 10*time.Second) == nil {
		t.Fatal("no answer over IPv6")
	}
	recs := spoolRecords(t, l.cfg.SpoolDir)
	if len(recs) != 1 {
		t.Fatalf("%d records", len(recs))
	}
	if a, _ := recs[0].Get("NAS-IPv6-Address"); a.Value != "::1" {
		t.Fatalf("NAS-IPv6-Address %q, want ::1 (added from the source, as preprocess does)", a.Value)
	}
	if files, _ := filepath.Glob(filepath.Join(l.cfg.SpoolDir, "::1", "detail-*")); len(files) != 1 {
		t.Fatalf("no ::1/detail-* file")
	}
}

// TestBurstFromManySockets: requests that arrive together (read several at
// a time, answered several per system call) each get their own authentic
// answer, once, and are each spooled once.
func TestBurstFromManySockets(t *testing.T) {
	l, addr := startListener(t, nil)
	const sockets, each = 16, 32
	type client struct {
		c    *net.UDPConn
		reqs map[byte][]byte
	}
	clients := make([]client, sockets)
	for i := range clients {
		clients[i] = client{c: dial(t, addr), reqs: map[byte][]byte{}}
		for j := range each {
			p := radius.New(radius.CodeAccountingRequest, []byte(testSecret))
			p.Identifier = byte(j)
			rfc2866.AcctSessionID_SetString(p, fmt.Sprintf("burst-%d-%d", i, j))
			rfc2866.AcctStatusType_Set(p, rfc2866.AcctStatusType_Value_InterimUpdate)
			b, err := p.Encode()
			if err != nil {
				t.Fatal(err)
			}
			clients[i].reqs[byte(j)] = b
		}
	}
	// Send everything before reading anything.
	for _, cl := range clients {
		for j := range each {
			if _, err := cl.c.Write(cl.reqs[byte(j)]); err != nil {
				t.Fatal(err)
			}
		}
	}
	buf := make([]byte, 4096)
	for i, cl := range clients {
		got := map[byte]bool{}
		for len(got) < each {
			cl.c.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, err := cl.c.Read(buf)
			if err != nil {
				t.Fatalf("socket %d: %d answers of %d: %v", i, len(got), each, err)
			}
			req, ok := cl.reqs[buf[1]]
			if !ok || got[buf[1]] || !radius.IsAuthenticResponse(buf[:n], req, []byte(testSecret)) {
				t.Fatalf("socket %d: unexpected answer % x", i, buf[:n])
			}
			got[buf[1]] = true
		}
	}
	if n := len(spoolRecords(t, l.cfg.SpoolDir)); n != sockets*each {
		t.Fatalf("%d records spooled, want %d", n, sockets*each)
	}
	if s := l.Stats(); s.Accepted != sockets*each || s.Duplicates != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestDualStackSocket: an IPv6 socket bound to [::] receives IPv4 requests
// too (from IPv4-mapped addresses): the client is found by its IPv4
// address, its directory is the IPv4 address, and the answer reaches it.
func TestDualStackSocket(t *testing.T) {
	if c, err := net.ListenPacket("udp", "[::]:0"); err != nil {
		t.Skipf("no IPv6: %v", err)
	} else {
		c.Close()
	}
	l, addr := startListener(t, func(c *Config) { c.UDP = []string{"[::]:0"} })
	_, port, _ := net.SplitHostPort(addr)
	c := dial(t, "127.0.0.1:"+port)
	req := accountingRequest(t, testSecret, "mapped")
	resp := exchange(t, c, req, 10*time.Second)
	if resp == nil || !radius.IsAuthenticResponse(resp, req, []byte(testSecret)) {
		t.Fatalf("IPv4 request to a dual-stack socket answered % x", resp)
	}
	if files, _ := filepath.Glob(filepath.Join(l.cfg.SpoolDir, "127.0.0.1", "detail-*")); len(files) != 1 {
		t.Fatal("no 127.0.0.1/detail-* file")
	}
}
