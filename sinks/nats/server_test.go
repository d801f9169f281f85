package nats

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/radrelay/radrelay/sinks/sinktest"
)

// startServer starts a real nats-server with JetStream (file storage in a
// temporary directory), in the test process, on a loopback port.
func startServer(t testing.TB, mod func(*server.Options)) *server.Server {
	t.Helper()
	opts := &server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true}
	if mod != nil {
		mod(opts)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not become ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// connectJS connects a client to srv for the test's own look at the
// stream (what the sink stored, the stream's settings); it is closed when
// the test ends.
func connectJS(t testing.TB, srv *server.Server) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// freePort returns a loopback TCP port nobody listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startCluster starts a 3-node JetStream cluster on loopback and returns
// its servers.
func startCluster(t testing.TB) []*server.Server {
	t.Helper()
	ports := []int{freePort(t), freePort(t), freePort(t)}
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	var servers []*server.Server
	for i, p := range ports {
		opts := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1), Host: "127.0.0.1", Port: -1,
			JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: os.Getenv("NATS_TEST_LOG") == "",
			Cluster: server.ClusterOpts{Name: "radrelay-test", Host: "127.0.0.1", Port: p},
			Routes:  server.RoutesFromStr(strings.Join(routes, ",")),
		}
		s, err := server.NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		if !opts.NoLog {
			s.ConfigureLogger()
		}
		go s.Start()
		servers = append(servers, s)
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	}
	for _, s := range servers {
		if !s.ReadyForConnections(20 * time.Second) {
			t.Fatal("a cluster node did not become ready")
		}
	}
	return servers
}

// storedMessage is one message read back from a stream.
type storedMessage struct {
	Seq    uint64
	Header nats.Header
	sinktest.Document
}

// readStream reads every message of the stream, in stream order, as a
// consumer would.
func readStreamOnce(t testing.TB, ctx context.Context, url, name string) ([]storedMessage, error) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// After a node of a cluster is lost, the stream may be electing a
	// leader: no responders until it has one. Each attempt is bounded.
	var st jetstream.Stream
	var info *jetstream.StreamInfo
	for {
		actx, acancel := context.WithTimeout(ctx, 5*time.Second)
		st, err = js.Stream(actx, name)
		if err == nil {
			info, err = st.Info(actx)
		}
		acancel()
		if err == nil {
			break
		}
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, nil
		}
		if ctx.Err() != nil {
			t.Fatal(err)
		}
	}
	if info.State.Msgs == 0 {
		return nil, nil
	}
	var cons jetstream.Consumer
	for {
		actx, acancel := context.WithTimeout(ctx, 5*time.Second)
		cons, err = st.OrderedConsumer(actx, jetstream.OrderedConsumerConfig{})
		acancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatal(err)
		}
	}
	var out []storedMessage
	for uint64(len(out)) < info.State.Msgs {
		batch, err := cons.Fetch(int(min(info.State.Msgs-uint64(len(out)), 1000)), jetstream.FetchMaxWait(10*time.Second))
		if err != nil {
			return nil, err
		}
		n := 0
		for m := range batch.Messages() {
			n++
			md, _ := m.Metadata()
			sm := storedMessage{Header: m.Headers()}
			if md != nil {
				sm.Seq = md.Sequence.Stream
			}
			if sm.Document, err = sinktest.ParseDocument(m.Data()); err != nil {
				t.Fatalf("message %d is not JSON: %v", sm.Seq, err)
			}
			out = append(out, sm)
		}
		if err := batch.Error(); err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, fmt.Errorf("the stream holds %d messages, a consumer read %d", info.State.Msgs, len(out))
		}
	}
	return out, nil
}

// readStream reads every message of the stream, in stream order, as a
// consumer would. After a node of a cluster is lost, reading may fail
// until the stream has a leader again: it starts over, within a minute.
func readStream(t testing.TB, url, name string) []storedMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		out, err := readStreamOnce(t, ctx, url, name)
		if err == nil {
			return out
		}
		if ctx.Err() != nil {
			t.Fatalf("reading stream %s: %v", name, err)
		}
		t.Logf("reading stream %s: %v (reading again)", name, err)
	}
}
