package listener

import (
	"net/netip"
	"sync"
	"time"
)

// dedupKey is what RFC 5080 §2.2.2 calls the same request: source address
// and port, Identifier (the authenticator is compared in the entry).
type dedupKey struct {
	src netip.AddrPort
	id  byte
}

// dedupSource is a source address and port without a pointer (netip.Addr
// holds one for its zone): the key of a shard's map, cheap to hash, and a
// map the garbage collector need not scan.
type dedupSource struct {
	addr [16]byte
	port uint16
}

// dedupEntry is the last request of a source and Identifier. Entries are
// reused in place: a new request from the same source and Identifier (the
// usual case, Identifiers going round) takes its predecessor's entry, so
// that registering a request is one map look-up and answering it none.
type dedupEntry struct {
	auth     [16]byte
	respAuth [16]byte // the Response Authenticator, once answered
	answered bool     // false while the request is being written
	at       int64    // when received, then when answered (nanoseconds since dedup.epoch)
}

// dedupShards is one shard per Identifier: a retransmission has the same
// Identifier, so it meets its first copy in the same shard, and the readers
// and committers rarely wait on the same lock.
const dedupShards = 256

type dedupShard struct {
	mu      sync.Mutex
	entries map[dedupSource]*dedupEntry
	swept   int64
	_       [64]byte // its own cache line
}

// dedup remembers the requests of the last window: a retransmission of a
// request being written is dropped (its answer is on the way), one of an
// answered request gets the same answer again.
type dedup struct {
	window int64 // nanoseconds
	epoch  time.Time
	shards [dedupShards]dedupShard
}

func newDedup(window time.Duration) *dedup {
	d := &dedup{window: int64(window), epoch: time.Now()}
	for i := range d.shards {
		d.shards[i].entries = map[dedupSource]*dedupEntry{}
	}
	return d
}

func (d *dedup) locate(k dedupKey) (*dedupShard, dedupSource) {
	return &d.shards[k.id], dedupSource{addr: k.src.Addr().As16(), port: k.src.Port()}
}

// begin registers a request. For a new request it returns its entry, to
// give to done or forget. For a retransmission it returns nil; answered
// reports whether the first copy was answered, and resp is then the
// Response Authenticator it was answered with.
func (d *dedup) begin(k dedupKey, auth [16]byte, now time.Time) (e *dedupEntry, resp [16]byte, answered bool) {
	s, src := d.locate(k)
	t := int64(now.Sub(d.epoch))
	s.mu.Lock()
	defer s.mu.Unlock()
	if t-s.swept > d.window/4 {
		for key, e := range s.entries {
			if e.answered && t-e.at > d.window {
				delete(s.entries, key)
			}
		}
		s.swept = t
	}
	e = s.entries[src]
	if e != nil && e.auth == auth && (!e.answered || t-e.at <= d.window) {
		return nil, e.respAuth, e.answered
	}
	if e == nil {
		e = &dedupEntry{}
		s.entries[src] = e
	}
	*e = dedupEntry{auth: auth, at: t}
	return e, resp, false
}

// done records the response to the request begin returned e for. When a
// new request from the same source and Identifier has taken e meanwhile,
// it is that one's.
func (d *dedup) done(k dedupKey, e *dedupEntry, auth, respAuth [16]byte, now time.Time) {
	s := &d.shards[k.id]
	t := int64(now.Sub(d.epoch))
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.auth == auth && !e.answered {
		e.respAuth, e.answered, e.at = respAuth, true, t
	}
}

// forget drops a request that was not answered (it could not be written),
// so that its retransmission is handled as new.
func (d *dedup) forget(k dedupKey, e *dedupEntry, auth [16]byte) {
	s, src := d.locate(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.auth == auth && !e.answered && s.entries[src] == e {
		delete(s.entries, src)
	}
}
