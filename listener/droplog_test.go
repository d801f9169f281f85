package listener

import (
	"bytes"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// captureLogs makes c log (text, debug and up) to the buffer it returns.
func captureLogs(c *Config) *lockedBuffer {
	b := new(lockedBuffer)
	c.Logger = slog.New(slog.NewTextHandler(b, nil))
	return b
}

// lockedBuffer is a bytes.Buffer the listener's goroutines may log to.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (lb *lockedBuffer) Write(p []byte) (int, error) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.b.Write(p)
}

func (lb *lockedBuffer) String() string {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.b.String()
}

// TestDropLogOncePerMinute: the drops of one address and reason are logged
// once a minute, the next line saying how many were not; another address
// or reason is logged at once.
func TestDropLogOncePerMinute(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	now := time.Unix(1_800_000_000, 0)
	d := dropLog{now: func() time.Time { return now }}
	a := netip.MustParseAddrPort("10.0.0.1:1000")
	b := netip.MustParseAddrPort("10.0.0.2:1000")
	lines := func() int { return strings.Count(buf.String(), "\n") }
	d.warn(log, DropBadAuth, a, "bad")
	for range 100 {
		d.warn(log, DropBadAuth, netip.AddrPortFrom(a.Addr(), 2000), "bad") // another port, same NAS
	}
	if lines() != 1 {
		t.Fatalf("%d lines:\n%s", lines(), buf.String())
	}
	d.warn(log, DropBadAuth, netip.MustParseAddrPort("[::ffff:10.0.0.1]:3000"), "bad") // the same NAS, on a [::] socket
	d.warn(log, DropBadAuth, b, "bad")
	d.warn(log, DropUnsupported, a, "not accounting")
	if lines() != 3 {
		t.Fatalf("%d lines:\n%s", lines(), buf.String())
	}
	now = now.Add(dropLogEvery)
	d.warn(log, DropBadAuth, a, "bad")
	if lines() != 4 || !strings.Contains(buf.String(), "also_dropped=101") {
		t.Fatalf("%d lines:\n%s", lines(), buf.String())
	}
}
