package listener

import (
	"net/netip"
	"testing"
	"time"
)

// TestDedupEntryReuse: entries are reused in place when a new request comes
// from the same source and Identifier; what is answered, forgotten or
// dropped as a duplicate stays RFC 5080's.
func TestDedupEntryReuse(t *testing.T) {
	d := newDedup(30 * time.Second)
	now := time.Unix(1_800_000_000, 0)
	k := dedupKey{src: netip.MustParseAddrPort("10.0.0.1:1812"), id: 7}
	a, b := [16]byte{1}, [16]byte{2}
	respA, respB := [16]byte{0xa}, [16]byte{0xb}

	ea, _, _ := d.begin(k, a, now)
	if ea == nil {
		t.Fatal("first request taken for a duplicate")
	}
	if e, _, answered := d.begin(k, a, now); e != nil || answered {
		t.Fatal("retransmission of a request being written: want a duplicate, not answered yet")
	}
	// A new request (new authenticator) takes the entry while the first is
	// still being written: the first's answer must not become the second's.
	eb, _, _ := d.begin(k, b, now)
	if eb == nil {
		t.Fatal("new authenticator taken for a duplicate")
	}
	d.done(k, ea, a, respA, now)
	if e, _, answered := d.begin(k, b, now); e != nil || answered {
		t.Fatal("the second request was marked answered by the first's response")
	}
	d.forget(k, ea, a) // the first failed to be written: must not drop the second
	d.done(k, eb, b, respB, now)
	if e, resp, answered := d.begin(k, b, now.Add(time.Second)); e != nil || !answered || resp != respB {
		t.Fatalf("retransmission of the answered request: entry %v, answered %v, response %x", e, answered, resp)
	}
	// After the window, the same authenticator is a new request.
	if e, _, _ := d.begin(k, b, now.Add(31*time.Second)); e == nil {
		t.Fatal("a request past the window was taken for a duplicate")
	}

	// forget lets a retransmission in as new.
	k2 := dedupKey{src: netip.MustParseAddrPort("[2001:db8::1]:1645"), id: 7}
	e, _, _ := d.begin(k2, a, now)
	d.forget(k2, e, a)
	if e, _, _ := d.begin(k2, a, now); e == nil {
		t.Fatal("retransmission of a forgotten request taken for a duplicate")
	}
	// Another port or Identifier is another request.
	if e, _, _ := d.begin(dedupKey{src: netip.MustParseAddrPort("10.0.0.1:1813"), id: 7}, a, now); e == nil {
		t.Fatal("another source port taken for a duplicate")
	}
	if e, _, _ := d.begin(dedupKey{src: k.src, id: 8}, a, now); e == nil {
		t.Fatal("another Identifier taken for a duplicate")
	}
}
