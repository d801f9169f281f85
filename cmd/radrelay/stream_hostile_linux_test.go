//go:build linux

package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/radrelay/radrelay/internal/testpki"
	"github.com/radrelay/radrelay/sinks/sinktest"
)

// Hostile checks of the stream sinks through the built binary: what an
// operator sees when a URL, a server or the credentials are wrong.

// startNATS starts a nats-server with JetStream in the test process, on a
// loopback port, changed by mod.
func startNATS(t *testing.T, mod func(*server.Options)) *server.Server {
	t.Helper()
	opts := &server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true}
	if mod != nil {
		mod(opts)
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return srv
}

// TestNATSTLSURL: docs/streams.md gives tls://host:4222/SUBJECT?stream=NAME
// as the URL form of a JetStream sink over TLS; radrelay replay takes it
// and delivers through a TLS-only nats-server.
func TestNATSTLSURL(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, dir, "nats-ca")
	pair := ca.Issue(t, "nats-server", testpki.Options{})
	srv := startNATS(t, func(o *server.Options) {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: pair.CertFile, KeyFile: pair.KeyFile})
		if err != nil {
			t.Fatal(err)
		}
		o.TLSConfig, o.TLS = tc, true
	})
	file := writeDetail(t, filepath.Join(dir, "detail-20261123"), sinktest.Records(20))
	url := "js=tls://" + strings.TrimPrefix(srv.ClientURL(), "tls://") + "/radius.acct?stream=RADIUS&create_stream=yes&tls_ca_file=" + ca.File
	code, stdout, stderr := runBinary(t, nil, "replay", "--to", url, file)
	if code != 0 || !strings.Contains(stdout+stderr, "20 delivered") {
		t.Fatalf("exit status %d, want 0 and 20 delivered:\n%s%s", code, stdout, stderr)
	}
}

// TestNATSServerURLChecked: a server URL that can never connect (a port
// that is no number) is a configuration error, exit status 2 before
// anything is opened, like every other wrong key.
func TestNATSServerURLChecked(t *testing.T) {
	dir := t.TempDir()
	for _, url := range []string{
		"nats://127.0.0.1:abc/radius.acct?stream=RADIUS",
		"nats://127.0.0.1:4222,/radius.acct?stream=RADIUS",
	} {
		cmd, stderr := startRadrelay(t, "run", "--input", filepath.Join(dir, "detail-*"), "--mode", "follow",
			"--to", "js="+url, "--state", filepath.Join(dir, "state"))
		// A deadlock bound only: a radrelay that started runs until
		// stopped.
		stop := time.AfterFunc(time.Minute, func() { cmd.Process.Signal(syscall.SIGTERM) })
		var lines []string
		for stderr.Scan() {
			lines = append(lines, stderr.Text())
		}
		code := exitStatus(t, cmd)
		stop.Stop()
		if code != 2 || !strings.Contains(strings.Join(lines, "\n"), "servers") {
			t.Errorf("%s: exit status %d, want 2 and an error at servers:\n%s", url, code, strings.Join(lines, "\n"))
		}
	}
}

// TestNATSWrongTokenLogged: with a token the server refuses, radrelay
// keeps retrying (the operator may fix the server), and its log says why:
// the server's authorization violation, not a client buffer's name.
func TestNATSWrongTokenLogged(t *testing.T) {
	srv := startNATS(t, func(o *server.Options) { o.Authorization = "t0ken" })
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	os.WriteFile(token, []byte("wrong\n"), 0o600)
	file := writeDetail(t, filepath.Join(dir, "detail-20261123"), sinktest.Records(3))
	cmd, stderr := startRadrelay(t, "replay", "--to", "js="+srv.ClientURL()+"/radius.acct?stream=RADIUS&create_stream=yes&token_file="+token, file)
	waitLine(t, stderr, "Authorization Violation") // bounded by lineWait
	cmd.Process.Signal(syscall.SIGKILL)
}

// TestStreamSinkFilesCheckedByValidate: a CA file with no certificate, a
// client certificate that does not load, an NKey file with no seed made
// radrelay run exit 1 when it opened the sink, while radrelay validate
// said the configuration was valid. validate makes the checks run makes:
// each is now a configuration error (exit 2) at its key.
func TestStreamSinkFilesCheckedByValidate(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.pem")
	os.WriteFile(empty, nil, 0o600)
	garbage := filepath.Join(dir, "user.nk")
	os.WriteFile(garbage, []byte("not a seed\n"), 0o600)
	for _, tc := range []struct{ name, sink, want string }{
		{"nats CA", `type = "nats"
servers = ["tls://127.0.0.1:4222"]
subject = "radius.acct"
stream = "RADIUS"
tls_ca_file = "` + empty + `"`, "tls_ca_file"},
		{"nats NKey", `type = "nats"
servers = ["nats://127.0.0.1:4222"]
subject = "radius.acct"
stream = "RADIUS"
nkey_file = "` + garbage + `"`, "nkey_file"},
		{"kafka CA", `type = "kafka"
brokers = ["127.0.0.1:9092"]
topic = "radius-accounting"
tls_ca_file = "` + empty + `"`, "tls_ca_file"},
		{"kafka client certificate", `type = "kafka"
brokers = ["127.0.0.1:9092"]
topic = "radius-accounting"
tls_cert_file = "` + empty + `"
tls_key_file = "` + empty + `"`, "tls_cert_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := filepath.Join(dir, "radrelay.toml")
			os.WriteFile(conf, []byte("[[sink]]\nname = \"s\"\n"+tc.sink+"\n"), 0o600)
			code, _, stderr := runBinary(t, nil, "validate", "--replay", "-c", conf)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("validate: exit status %d, want 2 and an error at %s:\n%s", code, tc.want, stderr)
			}
		})
	}
}

// TestKafkaConnectionProblemsLogged: what keeps radrelay from the Kafka
// brokers — nothing listening, TLS to a plaintext broker, a wrong SASL
// password — was said only after delivery_timeout (30 s), as "EOF" or a
// dial timeout. radrelay now logs the cause as soon as the producer meets
// it, once however often it retries, never the password; the records stay
// (retryable) and their error, in the log, says the same.
func TestKafkaConnectionProblemsLogged(t *testing.T) {
	plain, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "radius-acct"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(plain.Close) // not defer: the subtests run in parallel, after this function returns
	sasl, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "radius-acct"),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "radrelay", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sasl.Close)
	dir := t.TempDir()
	pw := filepath.Join(dir, "kafka.pw")
	os.WriteFile(pw, []byte("not-the-password\n"), 0o600)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	file := writeDetail(t, filepath.Join(dir, "detail-20261123"), sinktest.Records(3))
	for _, tc := range []struct{ name, url, want string }{
		{"nothing listens", "kafka://" + closed + "/radius-acct?delivery_timeout=8s",
			"cannot connect to broker " + closed + ": connection refused"},
		{"TLS to a plaintext broker", "kafka://" + plain.ListenAddrs()[0] + "/radius-acct?tls=yes&delivery_timeout=8s",
			"TLS handshake with " + plain.ListenAddrs()[0] + " failed: the broker does not speak TLS?"},
		{"wrong SASL password", "kafka://" + sasl.ListenAddrs()[0] + "/radius-acct?delivery_timeout=8s&sasl_mechanism=SCRAM-SHA-512&sasl_user=radrelay&sasl_password_file=" + pw,
			"SASL authentication failed for user radrelay (SCRAM-SHA-512) at broker " + sasl.ListenAddrs()[0]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// In parallel, each with a delivery_timeout longer than the
			// TLS handshake's own limit (5 s): under load the cause may
			// be known only after a second or more, and a record that
			// failed before it could not say it.
			t.Parallel()
			cmd, stderr := startRadrelay(t, "replay", "--to", "kafka="+tc.url, file)
			defer func() { cmd.Process.Signal(syscall.SIGKILL); exitStatus(t, cmd) }()
			var said []string
			// Until a record's failure is logged: the producer has
			// retried the broker several times by then.
			scanUntil(t, stderr, "sink is failing", func(line []byte) bool {
				s := string(line)
				if strings.Contains(s, "not-the-password") {
					t.Errorf("the password is logged: %s", s)
				}
				if strings.Contains(s, "sink is failing") {
					if !strings.Contains(s, tc.want) {
						t.Errorf("the records' error does not say %q: %s", tc.want, s)
					}
					return true
				}
				if strings.Contains(s, tc.want) {
					said = append(said, s)
				}
				return false
			})
			if len(said) != 1 {
				t.Errorf("%q logged %d times before the records failed, want once: %q", tc.want, len(said), said)
			}
		})
	}
}

// TestNATSStreamSettingsRefusedAtStart: create_stream with a storage the
// existing stream does not have was refused by the server at every retry,
// for ever (err_code 10052, "stream configuration update can not change
// storage type"). radrelay now stops at start, exit status 1, saying the
// key, the stream's storage and what to do; no record is read.
func TestNATSStreamSettingsRefusedAtStart(t *testing.T) {
	srv := startNATS(t, nil)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "RADIUS", Subjects: []string{"radius.acct"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := writeDetail(t, filepath.Join(dir, "detail-20261123"), sinktest.Records(3))
	cmd, stderr := startRadrelay(t, "replay", "--to", "js="+srv.ClientURL()+"/radius.acct?stream=RADIUS&create_stream=yes&storage=memory", file)
	// A deadlock bound only: the radrelay this test catches retries for
	// ever.
	stop := time.AfterFunc(time.Minute, func() { cmd.Process.Signal(syscall.SIGKILL) })
	var lines []string
	for stderr.Scan() {
		lines = append(lines, stderr.Text())
	}
	code := exitStatus(t, cmd)
	stop.Stop()
	out := strings.Join(lines, "\n")
	for _, want := range []string{`opening sink \"js\"`, `storage = \"memory\" is set, but the existing stream has file storage`, "nats stream rm RADIUS"} {
		if !strings.Contains(out, want) {
			t.Errorf("the output does not say %q:\n%s", want, out)
		}
	}
	if code != 1 || strings.Contains(out, "sink is failing") {
		t.Errorf("exit status %d, want 1 at start, before any record:\n%s", code, out)
	}
	st, err := js.Stream(context.Background(), "RADIUS")
	if err != nil {
		t.Fatal(err)
	}
	if info := st.CachedInfo(); info.Config.Storage != jetstream.FileStorage || info.State.Msgs != 0 {
		t.Errorf("the stream changed: storage %v, %d messages", info.Config.Storage, info.State.Msgs)
	}
}

// TestKafkaShortDeliveryTimeoutNamesTheCause: with delivery_timeout under
// the producer's 10 s dial and read timeouts, the first records failed
// before the connection attempt did, and "sink is failing" said only
// "records have timed out before they were able to be produced". It now
// names what the attempt waits for: a broker that accepted the connection
// and does not answer, a TLS hello unanswered.
func TestKafkaShortDeliveryTimeoutNamesTheCause(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	addr := l.Addr().String()
	dir := t.TempDir()
	file := writeDetail(t, filepath.Join(dir, "detail-20261123"), sinktest.Records(3))
	for _, tc := range []struct{ name, url string }{
		{"plaintext", "kafka://" + addr + "/radius-acct?delivery_timeout=1s"},
		{"TLS", "kafka://" + addr + "/radius-acct?delivery_timeout=1s&tls=yes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd, stderr := startRadrelay(t, "replay", "--to", "kafka="+tc.url, file)
			defer func() { cmd.Process.Signal(syscall.SIGKILL); exitStatus(t, cmd) }()
			line := string(scanUntil(t, stderr, "sink is failing", func(line []byte) bool { return strings.Contains(string(line), "sink is failing") }))
			// Before the attempt fails: "accepted the connection but has
			// not answered yet (i/o timeout so far)", "no answer to the
			// TLS hello yet"; after: "broker ADDR: i/o timeout", "the
			// broker does not speak TLS? (no answer to the TLS hello)".
			want := []string{"broker " + addr, "i/o timeout"}
			if tc.name == "TLS" {
				want = []string{"TLS handshake with " + addr + " failed: the broker does not speak TLS?"}
			}
			for _, w := range want {
				if !strings.Contains(line, w) {
					t.Errorf("the first failure does not say %q: %s", w, line)
				}
			}
		})
	}
}

// TestNATSNotUTF8PathLossless: a detail file under a directory named in
// Latin-1 (bytes that are not UTF-8) went out with U+FFFD in the value's
// "file" (the bytes lost). radrelay replay now writes it escaped, named in
// escaped_fields, and the Radrelay-Source header escaped, named in
// Radrelay-Escaped: both read back as the exact path.
func TestNATSNotUTF8PathLossless(t *testing.T) {
	srv := startNATS(t, nil)
	dir := filepath.Join(t.TempDir(), "caf\xe9")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	file := writeDetail(t, filepath.Join(dir, "detail-20261123"), sinktest.Records(1))
	code, stdout, stderr := runBinary(t, nil, "replay", "--to", "js="+srv.ClientURL()+"/radius.acct?stream=RADIUS&create_stream=yes", file)
	if code != 0 {
		t.Fatalf("exit status %d:\n%s%s", code, stdout, stderr)
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	st, err := js.Stream(context.Background(), "RADIUS")
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetMsg(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		File          string   `json:"file"`
		EscapedFields []string `json:"escaped_fields"`
	}
	if err := json.Unmarshal(m.Data, &doc); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(m.Data), "\uFFFD") || len(doc.EscapedFields) != 1 || doc.EscapedFields[0] != "file" {
		t.Fatalf("value %s", m.Data)
	}
	if got := sinktest.DetailValue(t, doc.File); got != file {
		t.Errorf("file %q reads back as %q, want %q", doc.File, got, file)
	}
	if m.Header.Get("Radrelay-Escaped") != "Radrelay-Source" {
		t.Fatalf("headers %q", m.Header)
	}
	if got := sinktest.DetailValue(t, m.Header.Get("Radrelay-Source")); got != file+":0" {
		t.Errorf("Radrelay-Source %q reads back as %q, want %q", m.Header.Get("Radrelay-Source"), got, file+":0")
	}
}
