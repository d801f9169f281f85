package stream

import (
	"bytes"
	"strings"
	"testing"
)

// TestArena: every copy keeps its bytes while later copies are made
// (across blocks, and for copies larger than a block), and appending to
// a copy never writes into the next one.
func TestArena(t *testing.T) {
	var a Arena
	var copies [][]byte
	var want []string
	for i := range 500 {
		s := strings.Repeat(string(rune('a'+i%26)), i*37%3000)
		if i%50 == 0 {
			s = strings.Repeat("L", arenaBlock) // its own allocation
		}
		src := []byte(s)
		c := a.Copy(src)
		if len(src) > 0 {
			src[0] = 0 // the copy does not share the source
		}
		copies, want = append(copies, c), append(want, s)
		c2 := a.CopyString(s)
		_ = append(c2, "overrun"...) // capacity is the length: a new array
		copies, want = append(copies, c2), append(want, s)
	}
	for i, c := range copies {
		if !bytes.Equal(c, []byte(want[i])) {
			t.Fatalf("copy %d changed", i)
		}
	}
}
