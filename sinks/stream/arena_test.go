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

// TestArenaRoomKeep: messages appended in place (Room, Keep) keep their
// bytes across blocks, including one that outgrew its room, and after
// Reset the blocks are reused and hold the new messages.
func TestArenaRoomKeep(t *testing.T) {
	var a Arena
	for round := range 3 {
		var kept [][]byte
		var want []string
		for i := range 300 {
			s := strings.Repeat(string(rune('a'+(i+round)%26)), i*53%2500)
			b := a.Room(1000)
			if len(b) != 0 || cap(b) < 1000 {
				t.Fatalf("Room(1000): len %d cap %d", len(b), cap(b))
			}
			b = append(b, s...)
			b = a.Keep(b)
			if cap(b) != len(b) {
				t.Fatalf("kept message has capacity %d past its length %d", cap(b), len(b))
			}
			kept, want = append(kept, b), append(want, s)
			c := a.CopyString("k" + s[:min(len(s), 7)])
			kept, want = append(kept, c), append(want, "k"+s[:min(len(s), 7)])
		}
		for i, b := range kept {
			if string(b) != want[i] {
				t.Fatalf("round %d: message %d changed", round, i)
			}
		}
		spare := len(a.spare)
		a.Reset()
		if round > 0 && len(a.spare) <= spare {
			t.Fatalf("round %d: Reset made %d blocks spare, had %d", round, len(a.spare), spare)
		}
	}
}
