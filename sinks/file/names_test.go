package file

import (
	"fmt"
	"testing"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/dictionary"
)

// TestNameCacheCollisions: with far more names than slots (so most
// collide), every name's JSON is what the encoder without the cache
// writes, a slot keeps its first name, and a second pass over the same
// names still matches (no entry was replaced or mixed up).
func TestNameCacheCollisions(t *testing.T) {
	d := dictionary.Builtin()
	cached, _ := NewEncoder(FormatJSONL, EncoderOptions{Dictionary: d})
	plain, _ := NewEncoder(FormatJSONL, EncoderOptions{Values: d.JSONValue})
	var names []string
	for i := range 3000 {
		names = append(names, fmt.Sprintf("Attr-%d", i), fmt.Sprintf("Vendor-Thing-%d-Octets", i))
	}
	names = append(names, "Acct-Input-Octets", "Acct-Status-Type", "User-Name", "bad\xffname", "quo\"te")
	for pass := range 2 {
		for i, n := range names {
			rec := &detail.Record{Header: "Mon Nov 23 11:57:39 2026", Attrs: []detail.Attribute{
				{Name: n, Value: fmt.Sprint(i)}, {Name: n, Value: "7", HasTag: true, Tag: 3},
			}}
			got, want := cached.Append(nil, rec), plain.Append(nil, rec)
			if string(got) != string(want) {
				t.Fatalf("pass %d, %q:\n got %s\nwant %s", pass, n, got, want)
			}
		}
	}
	held := 0
	for i := range cached.names.slots {
		if e := cached.names.slots[i].Load(); e != nil {
			held++
			if nameHash(e.name)%uint64(len(cached.names.slots)) != uint64(i) {
				t.Fatalf("%q in slot %d", e.name, i)
			}
		}
	}
	if held > len(cached.names.slots) || held < len(cached.names.slots)/2 {
		t.Fatalf("%d of %d slots used for %d names", held, len(cached.names.slots), len(names))
	}
}

// TestPlainJSON8 compares the eight-byte test with the byte-by-byte one
// for every byte value at every position, among plain bytes.
func TestPlainJSON8(t *testing.T) {
	plainByte := func(c byte) bool { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\' }
	for _, fill := range []byte{'a', ' ', '~', '!', '[', ']', '#'} {
		for pos := range 8 {
			for c := range 256 {
				b := []byte{fill, fill, fill, fill, fill, fill, fill, fill}
				b[pos] = byte(c)
				want := plainByte(byte(c))
				if got := plainJSON8(string(b)); got != want {
					t.Fatalf("%q: plainJSON8 %v, want %v", b, got, want)
				}
			}
		}
	}
}
