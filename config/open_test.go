package config

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	layeh "layeh.com/radius"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks/route"
	"github.com/radrelay/radrelay/sinks/sinktest"
	"github.com/radrelay/radrelay/tailer"
)

// holdingServer is a RADIUS accounting server that holds its answers until
// it has hold requests unanswered at once, then answers everything; it
// records the most requests it saw unanswered. A sender that sends one
// batch at a time, smaller than hold, never gets there: after a while the
// server gives up holding (that path only ends a failing test).
type holdingServer struct {
	conn   net.PacketConn
	secret []byte
	hold   int

	mu sync.Mutex
	// pending is by record (recordKey): a retransmission is the same
	// record, not one more.
	pending map[string]heldRequest
	most    int
	holding bool
}

type heldRequest struct {
	addr net.Addr
	resp []byte
}

func startHoldingServer(t *testing.T, secret string, hold int) *holdingServer {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &holdingServer{conn: conn, secret: []byte(secret), hold: hold, holding: true, pending: map[string]heldRequest{}}
	t.Cleanup(func() { conn.Close() })
	giveUp := time.AfterFunc(20*time.Second, func() { s.release(false) })
	t.Cleanup(func() { giveUp.Stop() })
	go func() {
		buf := make([]byte, 4096)
		for {
			n, addr, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			p, err := layeh.Parse(buf[:n], s.secret)
			if err != nil {
				continue
			}
			resp, err := p.Response(layeh.CodeAccountingResponse).Encode()
			if err != nil {
				continue
			}
			s.mu.Lock()
			s.pending[recordKey(p)] = heldRequest{addr, resp}
			s.most = max(s.most, len(s.pending))
			release := !s.holding || len(s.pending) >= s.hold
			s.mu.Unlock()
			if release {
				s.release(false) // shown: answer at once from now on
			}
		}
	}()
	return s
}

// release answers every held request; keepHolding false stops holding.
func (s *holdingServer) release(keepHolding bool) {
	s.mu.Lock()
	held := s.pending
	s.pending = map[string]heldRequest{}
	if !keepHolding {
		s.holding = false
	}
	s.mu.Unlock()
	for _, h := range held {
		s.conn.WriteTo(h.resp, h.addr)
	}
}

func (s *holdingServer) mostUnanswered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.most
}

// TestFilteredRadiusSinkGetsConcurrentBatches: a radius sink behind a
// filter, opened as "radrelay run" opens it (Sink.Open), declares the radius
// sink's concurrency to the tailer, which then has several batches in
// flight: the server sees more requests unanswered at once than one batch
// holds.
func TestFilteredRadiusSinkGetsConcurrentBatches(t *testing.T) {
	// One batch at a time never has more than batch requests unanswered;
	// several at once have at least one request each and the radius sink
	// takes four, so batch is below four (on a loaded machine the tailer
	// hands over batches before they fill).
	const batch, records = 2, 64
	t.Setenv("RADRELAY_TEST_SECRET", "testing123")
	srv := startHoldingServer(t, "testing123", batch+1) // more than one batch: a loaded machine may hand over batches not yet full

	cfg, err := Parse("t.toml", `
[[sink]]
name = "backup"
url = "radius://`+srv.conn.LocalAddr().String()+`?secret_env=RADRELAY_TEST_SECRET"
max_outstanding = 64
batch_size = 2
[sink.filter]
drop_attributes = ["Tmp-*"]
`, Options{Replay: true})
	if err != nil {
		t.Fatal(err)
	}
	opened, err := cfg.OpenSinks(context.Background(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer opened[0].Spec.Sink.Close()
	spec := opened[0].Spec
	if _, filtered := spec.Sink.(*route.Sink); !filtered {
		t.Fatalf("the sink is %T, want it behind its filter", spec.Sink)
	}
	if spec.Concurrency < 2 {
		t.Fatalf("the spec declares concurrency %d: the filter hid the radius sink's", spec.Concurrency)
	}

	dir := t.TempDir()
	var data []byte
	for _, r := range sinktest.Records(records) {
		data = detail.AppendRecord(data, r)
	}
	file := filepath.Join(dir, "detail-20261123")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	tc := cfg.TailerConfig()
	tc.Inputs = []tailer.Input{{Files: []string{file}, Mode: tailer.Replay}}
	tc.QuarantineDir = filepath.Join(dir, "q")
	tc.Sinks = []tailer.SinkSpec{spec}
	tc.Logger = slog.New(slog.DiscardHandler)
	tl, err := tailer.New(tc)
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := tl.Stats().Sinks[0]; st.Delivered != records || st.Quarantined != 0 {
		t.Fatalf("delivered %d, quarantined %d of %d", st.Delivered, st.Quarantined, records)
	}
	if most := srv.mostUnanswered(); most <= batch {
		t.Errorf("the server saw at most %d requests unanswered at once: one batch (%d) at a time", most, batch)
	}
}

// recordKey identifies the record a request carries: its attributes but
// Acct-Delay-Time, which a retransmission raises (with a new Identifier).
func recordKey(p *layeh.Packet) string {
	var b []byte
	for _, a := range p.Attributes {
		if a.Type != 41 {
			b = append(append(b, byte(a.Type), byte(len(a.Attribute))), a.Attribute...)
		}
	}
	return string(b)
}
