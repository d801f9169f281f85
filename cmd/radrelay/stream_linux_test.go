//go:build linux

package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/radrelay/radrelay/sinks/sinktest"
)

// TestProcessKill9NATS: radrelay publishing to a real JetStream stream (a
// nats-server started in the test) is killed with SIGKILL mid-stream and
// started again. The stream then holds every record exactly once (what the
// restart sent again was de-duplicated by its message id), in per-session
// order.
func TestProcessKill9NATS(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 12000 records through a nats-server")
	}
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })

	dir := t.TempDir()
	spool := filepath.Join(dir, "radacct")
	os.Mkdir(spool, 0o700)
	const n = 12000
	recs := sinktest.Records(n)
	writeDetail(t, filepath.Join(spool, "detail-20261123"), recs)
	args := []string{"run", "--input", filepath.Join(spool, "detail-*"), "--mode", "follow",
		"--to", "acct=" + srv.ClientURL() + "/radius.acct?stream=RADIUS&create_stream=yes",
		"--max-outstanding", "1000", "--batch-size", "250",
		"--state", filepath.Join(dir, "state"), "--log-format", "json"}

	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	// A deadlock bound only: the test binary's own deadline (go test
	// -timeout) less a minute to report. A fixed 3 minutes ran out under
	// -race at load 20 after every record had been read.
	ctx, cancel := context.WithCancel(context.Background())
	if d, ok := t.Deadline(); ok {
		ctx, cancel = context.WithDeadline(context.Background(), d.Add(-time.Minute))
	}
	defer cancel()

	// A plain subscription sees each publish as it happens: radrelay is
	// killed once 3,000 of the records were published, far from the end.
	published := make(chan *nats.Msg, 4096)
	sub, err := nc.ChanSubscribe("radius.acct", published)
	if err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	cmd, stderr := startRadrelay(t, args...)
	go io.Copy(io.Discard, stdoutOf(stderr))
	for i := 0; i < 3000; i++ {
		select {
		case <-published:
		case <-ctx.Done():
			t.Fatalf("radrelay published %d records, then nothing", i)
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	sub.Unsubscribe()
	// Wait for the stream to hold some records, then kill radrelay.
	var cons jetstream.Consumer
	for cons == nil {
		st, err := js.Stream(ctx, "RADIUS")
		if err == nil {
			cons, err = st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
		}
		if ctx.Err() != nil {
			t.Fatalf("the stream never appeared: %v", err)
		}
	}
	type ident struct {
		session string
		time    int64
	}
	seen := map[ident]int{}
	last := map[string]int64{}
	outOfOrder := 0
	read := func(until int) {
		t.Helper()
		for len(seen) < until {
			m, err := cons.Next(jetstream.FetchMaxWait(time.Minute))
			if err != nil {
				t.Fatalf("reading the stream after %d records: %v", len(seen), err)
			}
			var v struct {
				Timestamp  int64
				Attributes map[string]any
			}
			if err := json.Unmarshal(m.Data(), &v); err != nil {
				t.Fatal(err)
			}
			sid, _ := v.Attributes["Acct-Session-Id"].(string)
			id := ident{sid, v.Timestamp}
			seen[id]++
			if v.Timestamp < last[sid] {
				outOfOrder++
			}
			last[sid] = v.Timestamp
		}
	}
	if st, err := js.Stream(ctx, "RADIUS"); err == nil {
		if info, err := st.Info(ctx); err == nil {
			t.Logf("killed radrelay with SIGKILL; the stream held %d of %d records", info.State.Msgs, n)
		}
	}

	cmd, stderr = startRadrelay(t, args...)
	read(n)
	cmd.Process.Signal(syscall.SIGTERM)
	go io.Copy(io.Discard, stdoutOf(stderr))
	if code := exitStatus(t, cmd); code != 0 {
		t.Errorf("exit status %d after SIGTERM", code)
	}
	// A bound of its own: the first context bounds the first run, which
	// on a loaded machine may have used most of it.
	ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := js.Stream(ctx, "RADIUS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != n {
		t.Errorf("the stream holds %d messages, want %d (each record once)", info.State.Msgs, n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("record %v read %d times", id, c)
		}
	}
	for _, r := range recs {
		if seen[ident{sinktest.SessionID(r), r.Timestamp}] != 1 {
			t.Errorf("record %s at %d is not in the stream", sinktest.SessionID(r), r.Timestamp)
			break
		}
	}
	if outOfOrder > 0 {
		t.Errorf("%d records were stored after a later record of their session", outOfOrder)
	}
}
