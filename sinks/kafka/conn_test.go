package kafka

import (
	"bytes"
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/radrelay/radrelay/internal/testpki"
	"github.com/radrelay/radrelay/sinks"
	"github.com/radrelay/radrelay/sinks/sinktest"
)

// logBuffer is a slog handler's output, safe for the client's goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestConnectionProblemsSaid: what keeps the sink from a broker — nothing
// listening, TLS to a plaintext broker, a wrong SASL password, SASL or TLS
// missing — was said only by a record's error after delivery_timeout, in
// franz-go's words ("EOF", a 10 s dial timeout). Each is now logged, at
// WARN or ERROR, once however often the producer retries, in words an
// operator acts on (never the password); the records fail retryably, and
// their error carries the same words.
func TestConnectionProblemsSaid(t *testing.T) {
	plain := startCluster(t)
	saslCluster := startCluster(t, kfake.EnableSASL(), kfake.Superuser("PLAIN", "radrelay", "s3cret"), kfake.Superuser("SCRAM-SHA-512", "radrelay", "s3cret"))
	dir := t.TempDir()
	ca := testpki.NewCA(t, dir, "kafka-ca")
	pair := ca.Issue(t, "kafka-broker", testpki.Options{})
	cert, err := tls.LoadX509KeyPair(pair.CertFile, pair.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	tlsCluster := startCluster(t, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}}))
	wrongPW := filepath.Join(dir, "wrong.pw")
	if err := os.WriteFile(wrongPW, []byte("not-the-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	closed := closedPort(t)
	for _, tc := range []struct {
		name  string
		cfg   Config
		level string
		want  string
	}{
		{"nothing listens", Config{Brokers: []string{closed}},
			"WARN", "cannot connect to broker " + closed + ": connection refused"},
		{"TLS to a plaintext broker", Config{Brokers: plain.ListenAddrs(), TLS: true, handshakeTimeout: 200 * time.Millisecond},
			"ERROR", "TLS handshake with " + plain.ListenAddrs()[0] + " failed: the broker does not speak TLS? (no answer to the TLS hello)"},
		{"TLS with an unknown CA", Config{Brokers: tlsCluster.ListenAddrs(), TLS: true},
			"ERROR", "TLS handshake with " + tlsCluster.ListenAddrs()[0] + " failed: tls: failed to verify certificate: x509: certificate signed by unknown authority"},
		{"plaintext to a TLS broker", Config{Brokers: tlsCluster.ListenAddrs()},
			"ERROR", "broker " + tlsCluster.ListenAddrs()[0] + " closed the connection at the first request: does it require TLS (tls = true)?"},
		{"wrong PLAIN password", Config{Brokers: saslCluster.ListenAddrs(), SASLMechanism: "PLAIN", SASLUser: "radrelay", SASLPasswordFile: wrongPW},
			"ERROR", "SASL authentication failed for user radrelay (PLAIN) at broker " + saslCluster.ListenAddrs()[0]},
		{"wrong SCRAM password", Config{Brokers: saslCluster.ListenAddrs(), SASLMechanism: "SCRAM-SHA-512", SASLUser: "radrelay", SASLPasswordFile: wrongPW},
			"ERROR", "SASL authentication failed for user radrelay (SCRAM-SHA-512) at broker " + saslCluster.ListenAddrs()[0]},
		{"SASL missing", Config{Brokers: saslCluster.ListenAddrs()},
			"ERROR", "broker " + saslCluster.ListenAddrs()[0] + " closed the connection at the first request: does it require SASL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// In parallel, with a delivery_timeout long enough for a
			// handshake under -race on a loaded machine: a record that
			// fails before its cause is known cannot say it.
			t.Parallel()
			var log logBuffer
			cfg := tc.cfg
			cfg.Topic, cfg.DeliveryTimeout = newTopic(), 5*time.Second
			if cfg.TLS && cfg.handshakeTimeout == 0 {
				cfg.handshakeTimeout = time.Minute // the broker answers: a failure bound only
			}
			s, err := Open(context.Background(), cfg, sinks.Env{Logger: slog.New(slog.NewTextHandler(&log, nil))})
			if err != nil {
				t.Fatal(err)
			}
			results := make([]error, 3)
			// Within delivery_timeout the producer retries the broker
			// several times.
			s.Send(context.Background(), sinktest.Records(3), results)
			s.Close()
			for i, err := range results {
				if err == nil || sinks.IsPermanent(err) {
					t.Fatalf("record %d: %v, want a retryable failure", i, err)
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("record %d: %v, want it to say %q", i, err, tc.want)
				}
			}
			var said []string
			for _, line := range strings.Split(log.String(), "\n") {
				if strings.Contains(line, tc.want) {
					said = append(said, line)
				}
			}
			if len(said) != 1 || !strings.Contains(said[0], "level="+tc.level) {
				t.Errorf("logged %d times, want once at %s: %q\nthe log:\n%s", len(said), tc.level, tc.want, log.String())
			}
			if strings.Contains(log.String(), "not-the-password") {
				t.Errorf("the log holds the password:\n%s", log.String())
			}
		})
	}
}

// TestConnectedLogged: a broker that failed and then answers is said to be
// back, and a missing topic is said at start, before any record waits.
func TestConnectedLogged(t *testing.T) {
	c := startCluster(t)
	var log logBuffer
	s, err := Open(context.Background(), Config{Brokers: c.ListenAddrs(), Topic: "no-such-topic"}, sinks.Env{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	<-s.checked // the check at start ends when the brokers answered
	s.Close()
	if !strings.Contains(log.String(), "the topic does not exist on the brokers: create it") {
		t.Errorf("the missing topic is not said at start:\n%s", log.String())
	}

	var log2 logBuffer
	cs := newConnState(slog.New(slog.NewTextHandler(&log2, nil)), Config{})
	cs.down("b1:9092", "cannot connect to broker b1:9092: connection refused")
	cs.down("b1:9092", "cannot connect to broker b1:9092: connection refused")
	if got := cs.cause(); got != "cannot connect to broker b1:9092: connection refused" {
		t.Errorf("cause %q", got)
	}
	cs.up("b1:9092")
	cs.down("b1:9092", "cannot connect to broker b1:9092: connection refused") // down again: said again
	cs.up("b1:9092")
	if n := strings.Count(log2.String(), "connection refused"); n != 2 {
		t.Errorf("said %d times, want once each time it went down:\n%s", n, log2.String())
	}
	if n := strings.Count(log2.String(), "connected to broker"); n != 2 {
		t.Errorf("back said %d times, want 2:\n%s", n, log2.String())
	}
	if got := cs.cause(); got != "" {
		t.Errorf("cause %q once every broker is up", got)
	}
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestDescribeStableAcrossConnections: a broker that accepts the connection
// and never answers failed each retry with the connection's own local port
// in the words ("read tcp 127.0.0.1:50670->127.0.0.1:9092: i/o timeout"),
// so the problem, logged once while it lasts, was logged again at every
// retry. Two connections failing alike are now described alike.
func TestDescribeStableAcrossConnections(t *testing.T) {
	c := newConnState(slog.New(slog.DiscardHandler), Config{})
	broker := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9092}
	for _, tc := range []struct {
		name string
		err  func(port int) error
		want string
	}{
		{"read timeout", func(port int) error {
			return &net.OpError{Op: "read", Net: "tcp", Source: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}, Addr: broker, Err: os.ErrDeadlineExceeded}
		}, "broker 127.0.0.1:9092: i/o timeout"},
		{"reset", func(port int) error {
			return &net.OpError{Op: "read", Net: "tcp", Source: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}, Addr: broker, Err: os.NewSyscallError("read", syscall.ECONNRESET)}
		}, "broker 127.0.0.1:9092: connection reset by peer"},
	} {
		a := c.describe("127.0.0.1:9092", true, tc.err(50670))
		b := c.describe("127.0.0.1:9092", true, tc.err(50672))
		if a != b || a != tc.want {
			t.Errorf("%s: described as %q and %q, want %q for both", tc.name, a, b, tc.want)
		}
	}
}

// silentBroker listens on loopback, accepts every connection and never
// answers (a port of something that is not Kafka, a hung broker); the
// connections are closed with the test.
func silentBroker(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// TestShortDeliveryTimeoutSaysWhy: with a delivery_timeout shorter than
// franz-go's 10 s dial and read timeouts, a record timed out before the
// connection attempt failed, so its error (the first failure an operator
// sees) had no cause: "records have timed out before they were able to be
// produced". It now says what the attempt is waiting for: a broker that
// accepted the connection and does not answer, a TLS hello unanswered.
func TestShortDeliveryTimeoutSaysWhy(t *testing.T) {
	addr := silentBroker(t)
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		// The attempt's own failure (after 10 s) says "broker ADDR: i/o
		// timeout"; before it, "broker ADDR accepted the connection but
		// has not answered yet (i/o timeout so far)".
		{"plaintext", Config{}, []string{"broker " + addr, "i/o timeout"}},
		{"TLS", Config{TLS: true, handshakeTimeout: time.Minute}, []string{"TLS handshake with " + addr + " failed: the broker does not speak TLS?"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Brokers, cfg.Topic, cfg.DeliveryTimeout = []string{addr}, newTopic(), time.Second // franz-go's least
			s, err := Open(context.Background(), cfg, sinks.Env{})
			if err != nil {
				t.Fatal(err)
			}
			results := make([]error, 2)
			s.Send(context.Background(), sinktest.Records(2), results)
			s.Close()
			for i, err := range results {
				if err == nil || sinks.IsPermanent(err) {
					t.Fatalf("record %d: %v, want a retryable failure", i, err)
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("record %d: %v, want it to say %q", i, err, w)
					}
				}
				if strings.Contains(err.Error(), "more brokers") {
					t.Errorf("record %d: %v: one broker, said as several", i, err)
				}
			}
		})
	}

	// A dial under way (a firewall dropping the packets cannot be made on
	// loopback): the step noted by the dialer is what cause says.
	c := newConnState(slog.New(slog.DiscardHandler), Config{})
	c.step(c.dialing, "192.0.2.1:9092", 1)
	if got := c.cause(); !strings.Contains(got, "cannot connect to broker 192.0.2.1:9092: no answer to the connection yet") {
		t.Errorf("cause %q while dialing", got)
	}
	c.step(c.dialing, "192.0.2.1:9092", -1)
	if got := c.cause(); got != "" {
		t.Errorf("cause %q with nothing under way", got)
	}
}
