package listener

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"time"
)

// dropLogEvery is how often a dropped request is logged per source address
// and reason: a NAS with the wrong secret, or one radrelay does not know,
// sends every request again and again, and each would otherwise be a line.
const dropLogEvery = time.Minute

// dropLog says at WARN why requests are dropped: the first of a source
// address and reason at once, then at most once per dropLogEvery with the
// number dropped since. The counters (dropped_total) count every one.
type dropLog struct {
	now func() time.Time

	mu   sync.Mutex
	seen map[dropLogKey]*dropLogEntry
}

type dropLogKey struct {
	from   netip.Addr
	reason string
}

type dropLogEntry struct {
	at     time.Time // last logged
	silent int       // dropped since, not logged
}

// maxDropLogSources bounds the addresses remembered (a scan from many
// addresses): past it the memory is reset, and each address is logged again.
const maxDropLogSources = 4096

// warn logs msg with args for a request from from dropped for reason,
// unless one was logged for the same address and reason less than
// dropLogEvery ago.
func (d *dropLog) warn(log *slog.Logger, reason string, from netip.AddrPort, msg string, args ...any) {
	d.warnCounted(log, reason, from, "radrelay_listen_dropped_total", msg, args...)
}

// warnCounted is warn for what the metric counter counts (a RadSec
// connection refused: radrelay_listen_radsec_connections_total).
func (d *dropLog) warnCounted(log *slog.Logger, reason string, from netip.AddrPort, counter, msg string, args ...any) {
	now := time.Now()
	if d.now != nil {
		now = d.now()
	}
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port()) // 127.0.0.1, not ::ffff:127.0.0.1 on a [::] socket
	k := dropLogKey{from.Addr(), reason}
	d.mu.Lock()
	if d.seen == nil || len(d.seen) >= maxDropLogSources {
		d.seen = map[dropLogKey]*dropLogEntry{}
	}
	e := d.seen[k]
	if e != nil && now.Sub(e.at) < dropLogEvery {
		e.silent++
		d.mu.Unlock()
		return
	}
	silent := 0
	if e != nil {
		silent = e.silent
	}
	d.seen[k] = &dropLogEntry{at: now}
	d.mu.Unlock()
	args = append(args, "reason", reason, "from", from.String())
	if silent > 0 {
		args = append(args, "also_dropped", silent)
	}
	args = append(args, "next_report", "at most one a minute for this address and reason; "+counter+" counts every one")
	log.Log(context.Background(), slog.LevelWarn, msg, args...)
}
