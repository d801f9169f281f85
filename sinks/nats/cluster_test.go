package nats

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks"
	"github.com/radrelay/radrelay/sinks/sinktest"
)

// deliverAtLeastOnce sends recs as the tailer does: a batch at a time,
// committing the acknowledged prefix and sending again from the first
// record without an acknowledgement. after is called with the number of
// batches sent so far. It gives up after a bounded number of rounds.
func deliverAtLeastOnce(t *testing.T, s sinks.Sink, recs []*detail.Record, batch int, after func(batches int)) (resent int) {
	t.Helper()
	pos, batches := 0, 0
	for round := 0; pos < len(recs); round++ {
		if round > 10*len(recs)/batch+200 {
			t.Fatalf("gave up at record %d of %d", pos, len(recs))
		}
		end := min(pos+batch, len(recs))
		results := make([]error, end-pos)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		s.Send(ctx, recs[pos:end], results)
		cancel()
		batches++
		acked := len(results)
		for i, err := range results {
			if err != nil {
				if sinks.IsPermanent(err) {
					t.Fatalf("record %d failed permanently: %v", pos+i, err)
				}
				acked = i
				resent += len(results) - i
				t.Logf("record %d: %v (sent again)", pos+i, err)
				break
			}
		}
		pos += acked
		if after != nil {
			after(batches)
		}
	}
	return resent
}

// checkExactlyOnce requires the stream to hold every record of recs once,
// and reports records of a session stored out of their order.
func checkExactlyOnce(t *testing.T, got []storedMessage, recs []*detail.Record) (outOfOrder int) {
	t.Helper()
	type ident struct {
		session string
		time    int64
	}
	want := map[ident]bool{}
	for _, r := range recs {
		want[ident{sinktest.SessionID(r), r.Timestamp}] = true
	}
	seen := map[ident]bool{}
	last := map[string]int64{}
	for _, m := range got {
		id := ident{m.Session, m.Time}
		if seen[id] {
			t.Errorf("record %s at %d is in the stream twice", m.Session, m.Time)
		}
		if !want[id] {
			t.Errorf("record %s at %d was never sent", m.Session, m.Time)
		}
		seen[id] = true
		if m.Time < last[m.Session] {
			outOfOrder++
			if outOfOrder <= 5 {
				t.Logf("stream sequence %d: %s at %d after its record at %d", m.Seq, m.Session, m.Time, last[m.Session])
			}
		}
		last[m.Session] = m.Time
	}
	if len(seen) != len(want) {
		t.Errorf("the stream holds %d distinct records, want %d", len(seen), len(want))
	}
	return outOfOrder
}

// TestClusterNodeKilledMidStream: a 3-node JetStream cluster on loopback,
// a stream with 3 replicas; the node the sink is connected to is shut down
// while records are in flight. Every record is in the stream exactly once
// (what was resent was de-duplicated).
func TestClusterNodeKilledMidStream(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	nodes := startCluster(t)
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.ClientURL())
	}
	cfg := Config{Servers: urls, Subject: "radius.acct", Stream: "RADIUS", CreateStream: true, Replicas: 3, PublishTimeout: 5 * time.Second}
	s := openSink(t, cfg)
	defer s.Close()
	// The cluster elects its meta leader after the nodes start: creating
	// the stream fails retryably until then.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	var lastErr string
	for {
		err := s.ensureStream(ctx)
		if err == nil {
			break
		}
		if err.Error() != lastErr {
			t.Logf("creating the stream: %v", err)
			lastErr = err.Error()
		}
		if ctx.Err() != nil {
			t.Fatalf("the cluster never accepted the stream: %v", err)
		}
	}
	cancel()

	recs := sinktest.Records(30000)
	var killed *server.Server
	shutDown := make(chan struct{})
	resent := deliverAtLeastOnce(t, s, recs, 1000, func(batches int) {
		if batches != 10 {
			return
		}
		name := s.nc.ConnectedServerName()
		for _, n := range nodes {
			if n.Name() == name {
				killed = n
			}
		}
		if killed == nil {
			t.Fatalf("the sink is connected to %q, not a node of the cluster", name)
		}
		t.Logf("shutting down %s, which the sink is connected to, while the next batch is sent", name)
		go func() { killed.Shutdown(); close(shutDown) }()
	})
	<-shutDown
	if killed == nil {
		t.Fatal("no node was shut down")
	}
	var survivor *server.Server
	for _, n := range nodes {
		if n != killed {
			survivor = n
		}
	}
	got := readStream(t, survivor.ClientURL(), cfg.Stream)
	t.Logf("%d records sent again after failures; the stream holds %d messages", resent, len(got))
	// A session's order is kept too: a message lost inside the node that
	// went down cannot be overtaken by a later record of its session, which
	// waits for its PubAck (docs/streams.md, "Order").
	if n := checkExactlyOnce(t, got, recs); n > 0 {
		t.Errorf("%d records are stored after a later record of their session", n)
	}
}
