package file

import (
	"strings"
	"sync/atomic"

	"github.com/radrelay/radrelay/dictionary"
)

// A nameCache keeps, for the attribute names a JSON encoder with a
// dictionary has seen, the dictionary's attribute and the name as a JSON
// string, so that an attribute costs one cheap hash and a comparison
// instead of a map lookup and an escaping pass for its name. A slot is
// taken by the first name that hashes to it and never replaced: a name
// whose slot is taken is looked up as before, so two colliding names never
// evict each other (no allocation per record), and the cache holds at most
// len(slots) names whatever the input. Safe for concurrent use.
type nameCache struct {
	slots [1024]atomic.Pointer[nameEntry]
}

// A nameEntry is one cached name. It is never changed once stored.
type nameEntry struct {
	name   string                // a copy: not the record's memory
	attr   *dictionary.Attribute // nil: the dictionary does not know it
	quoted []byte                // the name as a JSON string, quotes included
	code   uint8                 // EncoderOptions.NameCode of name
	slot   uint16                // its index in slots: one name per slot
}

// lookup returns the entry of name, adding it when its slot is free, or nil
// when the slot belongs to another name.
func (c *nameCache) lookup(d *dictionary.Dictionary, code func(string) uint8, name string) *nameEntry {
	i := nameHash(name) % uint64(len(c.slots))
	slot := &c.slots[i]
	e := slot.Load()
	if e != nil {
		if e.name == name {
			return e
		}
		return nil
	}
	e = &nameEntry{name: strings.Clone(name), quoted: appendJSONString(nil, name), slot: uint16(i)}
	if a, ok := d.Attribute(name); ok {
		e.attr = a
	}
	if code != nil {
		e.code = code(name)
	}
	if slot.CompareAndSwap(nil, e) {
		return e
	}
	if e2 := slot.Load(); e2.name == name { // another goroutine stored it
		return e2
	}
	return nil
}

// nameHash mixes the length and the first and last eight bytes of s (a
// RADIUS attribute name's prefix is often shared: Acct-Input-Octets,
// Acct-Input-Packets), taking the high bits of the products.
func nameHash(s string) uint64 {
	const k1, k2 = 0x9e3779b97f4a7c15, 0xc2b2ae3d27d4eb4f
	h := uint64(len(s)) * k2
	if len(s) >= 8 {
		h ^= load8(s) * k1
		h ^= load8(s[len(s)-8:]) * k2
	} else {
		var x uint64
		for i := 0; i < len(s); i++ {
			x = x<<8 | uint64(s[i])
		}
		h ^= x * k1
	}
	return (h ^ h>>32) * k1 >> 54 // the top 10 bits
}

// load8 reads the first eight bytes of s as a little-endian number.
func load8(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}
