package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	layeh "layeh.com/radius"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks/sinktest"
)

// TestReplayFilteredRadiusConcurrentBatches: "radrelay replay" with a
// radius sink behind a filter (and whatever else the command wraps around
// its sinks) hands the sink several batches at once. The home server holds
// its answers until it has more requests unanswered than one batch holds;
// one batch at a time never gets there (the server gives up holding after
// a while, which only ends a failing test).
func TestReplayFilteredRadiusConcurrentBatches(t *testing.T) {
	// One batch at a time never has more than batch requests unanswered.
	// Several at once have at least one request each, and the radius sink
	// takes four: so batch is below four and hold one above batch. (On a
	// loaded machine the tailer hands over batches before they fill, so a
	// bound of whole batches failed: 4, 7 and 11 seen.)
	const batch, records, hold = 2, 64, 2 + 1
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var mu sync.Mutex
	type held struct {
		addr net.Addr
		resp []byte
	}
	// pending is by record (recordKey): a retransmission is the same
	// record, not one more.
	pending := map[string]held{}
	most, holding := 0, true
	release := func() {
		mu.Lock()
		h := pending
		pending, holding = map[string]held{}, false
		mu.Unlock()
		for _, r := range h {
			conn.WriteTo(r.resp, r.addr)
		}
	}
	giveUp := time.AfterFunc(20*time.Second, release)
	defer giveUp.Stop()
	go func() {
		buf := make([]byte, 4096)
		for {
			n, addr, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			p, err := layeh.Parse(buf[:n], []byte("testing123"))
			if err != nil {
				continue
			}
			resp, err := p.Response(layeh.CodeAccountingResponse).Encode()
			if err != nil {
				continue
			}
			mu.Lock()
			pending[recordKey(p)] = held{addr, resp}
			most = max(most, len(pending))
			now := !holding || len(pending) >= hold
			mu.Unlock()
			if now {
				release()
			}
		}
	}()

	dir := t.TempDir()
	var data []byte
	for _, r := range sinktest.Records(records) {
		data = detail.AppendRecord(data, r)
	}
	input := filepath.Join(dir, "detail-20261123")
	os.WriteFile(input, data, 0o600)
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte("testing123\n"), 0o600)
	cfg := filepath.Join(dir, "r.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`[[sink]]
name = "home"
url = "radius://%s?secret_file=%s"
max_outstanding = 64
batch_size = %d
[sink.filter]
drop_attributes = ["Tmp-*"]
`, conn.LocalAddr(), secret, batch)), 0o600)

	code, _, stderr := runCLI(t, "replay", "-c", cfg, "--quarantine", filepath.Join(dir, "q"), input)
	if code != 0 {
		t.Fatalf("replay: status %d:\n%s", code, stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	if most < hold {
		t.Errorf("the server saw at most %d requests unanswered at once: batches of %d went one at a time", most, batch)
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
