package radius

import (
	"bytes"
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/radrelay/radrelay/internal/testpki"
	"github.com/radrelay/radrelay/radsec"
)

// radsecPKI is a CA with a server and a client certificate.
type radsecPKI struct {
	ca             *testpki.CA
	server, client testpki.Pair
}

func newRadsecPKI(t *testing.T) radsecPKI {
	dir := t.TempDir()
	ca := testpki.NewCA(t, dir, "RadSec Test CA")
	return radsecPKI{ca: ca,
		server: ca.Issue(t, "server.radsec.test", testpki.Options{}),
		client: ca.Issue(t, "client.radsec.test", testpki.Options{Client: true})}
}

// radsecReceiver is a RadSec server in front of a receiver: every packet
// of every connection goes through the receiver's checks and faults.
type radsecReceiver struct {
	*receiver
	t    *testing.T
	tls  *tls.Config
	addr string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
	// hangUp, when it returns true for the n-th request, closes the
	// connection instead of answering it (a reset mid-stream).
	hangUp func(n int) bool
	served sync.WaitGroup
}

func newRadsecReceiver(t *testing.T, p radsecPKI, secret string) *radsecReceiver {
	cfg, err := radsec.TLS{CertificateFile: p.server.CertFile, PrivateKeyFile: p.server.KeyFile, CAFile: p.ca.File}.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	r := &radsecReceiver{receiver: &receiver{t: t, secret: []byte(secret)}, t: t, tls: cfg, addr: "127.0.0.1:0"}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *radsecReceiver) start() {
	ln, err := tls.Listen("tcp", r.addr, r.tls)
	if err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	r.ln, r.addr, r.conns = ln, ln.Addr().String(), map[net.Conn]bool{}
	r.mu.Unlock()
	r.served.Add(1)
	go func() {
		defer r.served.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			if r.ln != ln {
				// stop ran between Accept and here: it closed the
				// connections it knew of, not this one.
				r.mu.Unlock()
				c.Close()
				return
			}
			r.conns[c] = true
			r.mu.Unlock()
			r.served.Add(1)
			go func() { defer r.served.Done(); r.serve(c) }()
		}
	}()
}

func (r *radsecReceiver) serve(c net.Conn) {
	defer c.Close()
	buf := make([]byte, radsec.MaxPacketLength)
	for {
		b, err := radsec.ReadPacket(c, buf)
		if err != nil {
			return
		}
		reply := r.handle(b)
		r.mu.Lock()
		hang := r.hangUp != nil && r.hangUp(r.receiver.requestCount())
		r.mu.Unlock()
		if hang {
			return
		}
		if reply != nil {
			if _, err := c.Write(reply); err != nil {
				return
			}
		}
	}
}

// stop closes the listener and every connection (a server going away).
func (r *radsecReceiver) stop() {
	r.mu.Lock()
	ln := r.ln
	r.ln = nil
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	r.served.Wait()
}

func radsecServer(p radsecPKI, addr string) ServerConfig {
	return ServerConfig{Address: addr, Transport: TransportRadSec,
		CertificateFile: p.client.CertFile, PrivateKeyFile: p.client.KeyFile, CAFile: p.ca.File}
}

// logBuffer collects what a sink logs.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func openSinkLogged(t *testing.T, cfg Config) (*Sink, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	s, err := newSink(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), fakeEncoder{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, logs
}

// radsecConfig has timers far above what a handshake takes under -race:
// over TLS nothing is lost, so only the fault tests need them short.
func radsecConfig(servers ...ServerConfig) Config {
	c := fastConfig()
	c.InitialRTX, c.MaxRTX, c.MaxRTXDuration, c.ZombiePeriod = 5*time.Second, 10*time.Second, time.Minute, time.Minute
	c.Servers = servers
	return c
}

// fastRadsecConfig has the ms-scale timers of fastConfig.
func fastRadsecConfig(servers ...ServerConfig) Config {
	c := fastConfig()
	c.Servers = servers
	return c
}

func TestRadSecDeliversEverything(t *testing.T) {
	p := newRadsecPKI(t)
	r := newRadsecReceiver(t, p, radsec.DefaultSecret) // the secret a radsec server gets by default
	s := openSink(t, radsecConfig(radsecServer(p, r.addr)))
	recs := testRecords("tls", 2000)
	mustAllSucceed(t, send(t, s, recs))
	checkHolds(t, r.Delivered(), ids(recs))
	st := s.Stats()[0]
	if st.Retransmits != 0 || st.Connects < 1 || st.Connects > 2 || st.ConnectionsLost != 0 {
		t.Fatalf("stats %+v: want no retransmission over TLS and one or two connections", st)
	}
	if len(r.Delivered()) != len(recs) {
		t.Fatalf("%d delivered, want exactly %d (no duplicates without faults)", len(r.Delivered()), len(recs))
	}
}

// TestRadSecConnectionReset: the server drops the connection mid-stream
// with requests in flight; they go out again on a new connection.
func TestRadSecConnectionReset(t *testing.T) {
	p := newRadsecPKI(t)
	r := newRadsecReceiver(t, p, radsec.DefaultSecret)
	r.hangUp = func(n int) bool { return n == 300 || n == 900 }
	s := openSink(t, radsecConfig(radsecServer(p, r.addr)))
	recs := testRecords("reset", 1500)
	mustAllSucceed(t, send(t, s, recs))
	checkHolds(t, r.Delivered(), ids(recs))
	if st := s.Stats()[0]; st.ConnectionsLost < 2 || st.Connects < 3 {
		t.Fatalf("stats %+v: want two lost connections and three opened", st)
	}
}

// TestRadSecServerRestart: the server goes away mid-stream and comes back
// on the same address; nothing is lost.
func TestRadSecServerRestart(t *testing.T) {
	p := newRadsecPKI(t)
	r := newRadsecReceiver(t, p, radsec.DefaultSecret)
	restarted := make(chan struct{})
	r.onRequest = func(n int) {
		if n == 400 {
			go func() { r.stop(); r.start(); close(restarted) }()
		}
	}
	cfg := radsecConfig(radsecServer(p, r.addr))
	s := openSink(t, cfg)
	recs := testRecords("restart", 1200)
	mustAllSucceed(t, send(t, s, recs))
	<-restarted
	checkHolds(t, r.Delivered(), ids(recs))
}

// TestRadSecOperatorErrors: a handshake that cannot succeed marks the
// server dead at once, with one log line that says what to fix, and counts.
func TestRadSecOperatorErrors(t *testing.T) {
	p := newRadsecPKI(t)
	other := testpki.NewCA(t, t.TempDir(), "Other CA")
	stranger := other.Issue(t, "stranger.radsec.test", testpki.Options{Client: true})
	expired := p.ca.Issue(t, "old.radsec.test", testpki.Options{NotAfter: time.Now().Add(-time.Hour)})
	tests := []struct {
		name   string
		server func(*radsecReceiver)
		client func(*ServerConfig)
		fix    string
	}{
		{"wrong CA", nil, func(s *ServerConfig) { s.CAFile = other.File }, "set ca_file"},
		{"server certificate expired", func(r *radsecReceiver) {
			cert, err := tls.LoadX509KeyPair(expired.CertFile, expired.KeyFile)
			if err != nil {
				t.Fatal(err)
			}
			r.tls.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }
		}, nil, "expired"},
		{"handshake refused", nil, func(s *ServerConfig) {
			s.CertificateFile, s.PrivateKeyFile = stranger.CertFile, stranger.KeyFile
			s.TLSMinVersion = "1.2"
		}, "refused our certificate"},
		{"handshake refused after it (TLS 1.3)", nil, func(s *ServerConfig) {
			s.CertificateFile, s.PrivateKeyFile = stranger.CertFile, stranger.KeyFile
		}, "refused our certificate"},
		{"wrong server name", nil, func(s *ServerConfig) { s.ServerName = "backup.example.net" }, "set server_name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRadsecReceiver(t, p, radsec.DefaultSecret)
			if tt.server != nil {
				r.stop()
				tt.server(r)
				r.start()
			}
			sc := radsecServer(p, r.addr)
			if tt.client != nil {
				tt.client(&sc)
			}
			cfg := radsecConfig(sc)
			cfg.ZombiePeriod = time.Hour // only the refusal may mark it dead
			s, logs := openSinkLogged(t, cfg)
			if tt.name == "handshake refused" {
				// Under TLS 1.2 the refusal is an alert within the handshake.
				s.servers[0].link.tls.MaxVersion = tls.VersionTLS12
			}
			errs := send(t, s, testRecords("bad", 3))
			for i, err := range errs {
				if err == nil {
					t.Fatalf("record %d delivered", i)
				}
			}
			st := s.Stats()[0]
			if st.State != "dead" || st.Deaths != 1 || st.ConnectErrors < 1 {
				t.Fatalf("stats %+v: want the server dead once, connect errors counted", st)
			}
			out := logs.String()
			if n := strings.Count(out, "level=WARN msg=\"radsec: cannot connect\""); n != 1 {
				t.Fatalf("%d WARN lines for the failure, want 1:\n%s", n, out)
			}
			if !strings.Contains(out, tt.fix) {
				t.Fatalf("log does not say %q:\n%s", tt.fix, out)
			}
			if len(r.Delivered()) != 0 {
				t.Fatal("records delivered through a refused handshake")
			}
		})
	}
}

// TestRadSecWrongSecret: a server whose secret differs drops every
// request (FreeRADIUS does so silently); the server is marked dead after
// the zombie period with a reason that names the secret. One that answers
// with replies failing the check gets them dropped and one WARN.
func TestRadSecWrongSecret(t *testing.T) {
	p := newRadsecPKI(t)
	t.Run("requests dropped", func(t *testing.T) {
		r := newRadsecReceiver(t, p, "not-the-same")
		r.set(func(r *receiver) { r.otherSecret = true })
		// Only the zombie timer ends the requests (no retransmission
		// limit), and it fires when the test says so: a loaded machine
		// cannot let the requests give up before the server is marked dead.
		cfg := fastRadsecConfig(radsecServer(p, r.addr))
		cfg.MaxRTXCount, cfg.MaxRTXDuration = -1, 10*time.Hour
		s, logs := openSinkLogged(t, cfg)
		clock := newManualClock()
		useClock(s, clock)
		sent := make(chan []error, 1)
		go func() { sent <- send(t, s, testRecords("ws", 3)) }()
		<-clock.armed
		drainArmed(t, clock)
		clock.Advance(cfg.ZombiePeriod)
		for _, err := range <-sent {
			if err == nil {
				t.Fatal("delivered with a wrong secret")
			}
		}
		if st := s.Stats()[0]; st.State != "dead" {
			t.Fatalf("stats %+v", st)
		}
		if out := logs.String(); !strings.Contains(out, "wrong secret") {
			t.Fatalf("death reason does not name the secret:\n%s", out)
		}
	})
	t.Run("replies forged", func(t *testing.T) {
		r := newRadsecReceiver(t, p, radsec.DefaultSecret)
		r.set(func(r *receiver) { r.wrongAuth = true })
		s, logs := openSinkLogged(t, fastRadsecConfig(radsecServer(p, r.addr)))
		for _, err := range send(t, s, testRecords("wa", 3)) {
			if err == nil {
				t.Fatal("a forged reply was believed")
			}
		}
		out := logs.String()
		if n := strings.Count(out, "replies fail the authenticator check"); n < 1 || !strings.Contains(out, "shared secret differs") {
			t.Fatalf("want a WARN naming the secret:\n%s", out)
		}
		if st := s.Stats()[0]; st.Forged == 0 {
			t.Fatalf("stats %+v: forged replies not counted", st)
		}
	})
}

// TestRadSecMixedPool: UDP and RadSec servers in one policy.
func TestRadSecMixedPool(t *testing.T) {
	p := newRadsecPKI(t)
	t.Run("failover from a dead RadSec server to UDP", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		gone := ln.Addr().String()
		ln.Close()
		backup := newReceiver(t, testSecret)
		// The backup's health runs on a clock that never moves and its
		// requests are retransmitted until answered: however loaded the
		// machine, it cannot die or fail a record. The RadSec server dies
		// by its (real) zombie timer, however late, and is not probed again.
		cfg := patientConfig()
		cfg.Servers = []ServerConfig{radsecServer(p, gone), {Address: backup.addr, Secret: testSecret}}
		cfg.ZombiePeriod, cfg.ReviveInterval = 300*time.Millisecond, time.Hour
		s := openSink(t, cfg)
		frozen := newManualClock()
		s.servers[1].now, s.servers[1].afterFunc = frozen.Now, frozen.AfterFunc
		drainArmed(t, frozen)
		recs := testRecords("mixfo", 200)
		mustAllSucceed(t, send(t, s, recs))
		checkHolds(t, backup.Delivered(), ids(recs))
	})
	t.Run("broadcast to UDP and RadSec", func(t *testing.T) {
		r := newRadsecReceiver(t, p, radsec.DefaultSecret)
		udp := newReceiver(t, testSecret)
		cfg := radsecConfig(radsecServer(p, r.addr), ServerConfig{Address: udp.addr, Secret: testSecret})
		cfg.Policy = PolicyBroadcast
		s := openSink(t, cfg)
		recs := testRecords("mixbc", 500)
		mustAllSucceed(t, send(t, s, recs))
		checkHolds(t, r.Delivered(), ids(recs))
		checkHolds(t, udp.Delivered(), ids(recs))
	})
}

// TestRadSecStatusServerRevives: a dead RadSec server is probed with
// Status-Server over a new connection and revived when it answers.
func TestRadSecStatusServerRevives(t *testing.T) {
	p := newRadsecPKI(t)
	r := newRadsecReceiver(t, p, radsec.DefaultSecret)
	sc := radsecServer(p, r.addr)
	cfg := radsecConfig(sc)
	cfg.StatusServer, cfg.ReviveInterval = true, 50*time.Millisecond
	s := openSink(t, cfg)
	s.servers[0].markDead("test")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for !s.servers[0].alive() {
		select {
		case <-ctx.Done():
			t.Fatal("never revived")
		case <-time.After(10 * time.Millisecond): // polling a state with a deadline
		}
	}
	if r.statusCount() == 0 {
		t.Fatal("revived without a Status-Server")
	}
	recs := testRecords("revived", 50)
	mustAllSucceed(t, send(t, s, recs))
	checkHolds(t, r.Delivered(), ids(recs))
}

func TestRadSecConfig(t *testing.T) {
	c, err := ConfigFromURL("radsec://10.0.0.2?certificate_file=/c.pem&private_key_file=/c.key&ca_file=/ca.pem&server_name=home.example.net&tls_min_version=1.3")
	if err != nil {
		t.Fatal(err)
	}
	s := c.Servers[0]
	if s.Address != "10.0.0.2:2083" || s.Transport != TransportRadSec || s.ServerName != "home.example.net" || s.TLSMinVersion != "1.3" {
		t.Fatalf("server %+v", s)
	}
	if secret, err := s.secret(); err != nil || string(secret) != "radsec" {
		t.Fatalf("default secret %q, %v; want radsec", secret, err)
	}
	for _, bad := range []struct{ url, want string }{
		{"radsec://10.0.0.2?certificate_file=/c.pem", "ca_file"},
		{"radsec://10.0.0.2?certificate_file=/c.pem&private_key_file=/k&ca_file=/ca&tls_min_version=1.1", "tls_min_version"},
		{"radius://10.0.0.2?secret_env=S&ca_file=/ca.pem", "transport = \"radsec\""},
		{"radius://10.0.0.2?secret_env=S&transport=tcp", "want udp or radsec"},
	} {
		if _, err := ConfigFromURL(bad.url); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: error %v, want it to say %s", bad.url, err, bad.want)
		}
	}
	if _, err := ConfigFromURL("radsec://[::1]:12083?certificate_file=/c&private_key_file=/k&ca_file=/ca"); err != nil {
		t.Fatal(err)
	}
	// What validate checks beyond the keys: the files load.
	missing := Config{Servers: []ServerConfig{{Address: "127.0.0.1", Transport: TransportRadSec,
		CertificateFile: "/nonexistent.pem", PrivateKeyFile: "/nonexistent.key", CAFile: "/nonexistent-ca.pem"}}}
	if err := missing.CheckEnvironment(); err == nil || !strings.Contains(err.Error(), "servers[0].ca_file: open /nonexistent-ca.pem") {
		t.Fatalf("CheckEnvironment: %v", err)
	}
	p := newRadsecPKI(t)
	good := Config{Servers: []ServerConfig{radsecServer(p, "127.0.0.1")}}
	if err := good.CheckEnvironment(); err != nil {
		t.Fatalf("CheckEnvironment of a good RadSec server: %v", err)
	}
}

// TestRadSecWatchdog: a request the server drops on a live connection is
// never sent twice on it; the connection, checked with Status-Server and
// answered, stays up, the server stays alive, and the record fails after
// the retransmission limits (the tailer retries it later).
func TestRadSecWatchdog(t *testing.T) {
	p := newRadsecPKI(t)
	r := newRadsecReceiver(t, p, radsec.DefaultSecret)
	r.set(func(r *receiver) { r.drop = func(n int) bool { return n == 1 } })
	cfg := fastRadsecConfig(radsecServer(p, r.addr))
	cfg.ZombiePeriod = time.Hour // only the retransmission limits end it
	s := openSink(t, cfg)
	errs := send(t, s, testRecords("wd", 1))
	if errs[0] == nil || !strings.Contains(errs[0].Error(), "no reply after 1 sends") {
		t.Fatalf("error %v, want no reply after one send", errs[0])
	}
	st := s.Stats()[0]
	if st.ConnectionsLost != 0 || st.Connects != 1 || st.Retransmits != 0 || st.State != "alive" {
		t.Fatalf("stats %+v: want one connection kept, nothing resent, the server alive", st)
	}
	if r.statusCount() == 0 {
		t.Fatal("the watchdog sent no Status-Server")
	}
	if n := r.requestCount(); n != 1 {
		t.Fatalf("the server got the request %d times, want once", n)
	}
}

// TestRadSecClosedBeforeAnswering: a server that closes every connection
// before answering anything (how a TLS 1.3 refusal can look when its alert
// is lost) is marked dead after a few connections, with one WARN, instead
// of being reconnected to forever.
func TestRadSecClosedBeforeAnswering(t *testing.T) {
	p := newRadsecPKI(t)
	r := newRadsecReceiver(t, p, radsec.DefaultSecret)
	r.hangUp = func(int) bool { return true }
	cfg := radsecConfig(radsecServer(p, r.addr))
	s, logs := openSinkLogged(t, cfg)
	if errs := send(t, s, testRecords("closed", 1)); errs[0] == nil {
		t.Fatal("delivered")
	}
	st := s.Stats()[0]
	if st.State != "dead" || st.Connects != maxUnanswered || st.ConnectErrors != 1 {
		t.Fatalf("stats %+v: want dead after %d connections", st, maxUnanswered)
	}
	if out := logs.String(); strings.Count(out, "level=WARN msg=\"radsec: cannot connect\"") != 1 || !strings.Contains(out, "refused our certificate") {
		t.Fatalf("want one WARN with the fix:\n%s", out)
	}
}

// TestRadSecClosedPortShownRefused: a RadSec server whose port refuses the
// connection is said once (radsec: cannot connect, nothing listens there)
// and shown as "refused", as a closed UDP port is; the record waits
// (retried with backoff) instead of failing, and the server is not dead.
func TestRadSecClosedPortShownRefused(t *testing.T) {
	p := newRadsecPKI(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there: connections are refused
	cfg := radsecConfig(radsecServer(p, addr))
	cfg.ZombiePeriod = time.Hour
	s, logs := openSinkLogged(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	results := make([]error, 1)
	done := make(chan struct{})
	go func() { defer close(done); s.Send(ctx, testRecords("closed", 1), results) }()
	for deadline := time.Now().Add(time.Minute); s.Stats()[0].State != "refused"; {
		if time.Now().After(deadline) {
			t.Fatalf("never shown as refused: %+v\n%s", s.Stats()[0], logs)
		}
		runtime.Gosched()
	}
	select {
	case <-done:
		t.Fatalf("the record settled while the port refuses: %v", results[0])
	default:
	}
	cancel()
	<-done
	st := s.Stats()[0]
	if !st.Refused || st.Refusals < 1 || st.Deaths != 0 {
		t.Fatalf("stats %+v: want refused, refusals counted, not dead", st)
	}
	if out := logs.String(); strings.Count(out, "level=WARN msg=\"radsec: cannot connect\"") != 1 || !strings.Contains(out, "nothing listens there") {
		t.Fatalf("want one WARN saying nothing listens there:\n%s", out)
	}
}
