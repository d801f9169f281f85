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

type dedupEntry struct {
	auth     [16]byte
	response []byte // nil while the request is being written
	at       time.Time
}

// dedup remembers the requests of the last window: a retransmission of a
// request being written is dropped (its answer is on the way), one of an
// answered request gets the same answer again.
type dedup struct {
	mu      sync.Mutex
	window  time.Duration
	entries map[dedupKey]*dedupEntry
	swept   time.Time
}

func newDedup(window time.Duration) *dedup {
	return &dedup{window: window, entries: map[dedupKey]*dedupEntry{}}
}

// begin registers a request. It returns (nil, true) for a new request,
// (response, false) for a retransmission of one answered (response nil
// while it is still being written).
func (d *dedup) begin(k dedupKey, auth [16]byte, now time.Time) ([]byte, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if now.Sub(d.swept) > d.window/4 {
		for key, e := range d.entries {
			if e.response != nil && now.Sub(e.at) > d.window {
				delete(d.entries, key)
			}
		}
		d.swept = now
	}
	if e, ok := d.entries[k]; ok && e.auth == auth && (e.response == nil || now.Sub(e.at) <= d.window) {
		return e.response, false
	}
	d.entries[k] = &dedupEntry{auth: auth, at: now}
	return nil, true
}

// done records the response to a request begin accepted.
func (d *dedup) done(k dedupKey, auth [16]byte, resp []byte, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.entries[k]; ok && e.auth == auth {
		e.response, e.at = resp, now
	}
}

// forget drops a request that was not answered (it could not be written),
// so that its retransmission is handled as new.
func (d *dedup) forget(k dedupKey, auth [16]byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.entries[k]; ok && e.auth == auth {
		delete(d.entries, k)
	}
}
