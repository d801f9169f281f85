package spool

import (
	"fmt"
	"strings"
	"time"
)

// Durability says when a Writer forces written records to stable storage.
type Durability int

const (
	// NoSync leaves flushing to the operating system (FreeRADIUS's default):
	// a power loss can lose the last seconds of records, a crash of the
	// process cannot.
	NoSync Durability = iota
	// SyncEachRecord calls fsync after every write(2), before Write or
	// WriteBatch returns.
	SyncEachRecord
	// SyncInterval calls fsync on files written to at most every
	// Options.SyncInterval, in the background.
	SyncInterval
)

// ParseDurability parses a durability setting: "none", "each" (or
// "always"), or a duration such as "1s" or "200ms" for SyncInterval.
func ParseDurability(s string) (Durability, time.Duration, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "none", "no", "off":
		return NoSync, 0, nil
	case "each", "always", "record", "yes":
		return SyncEachRecord, 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, 0, fmt.Errorf("fsync policy %q: want none, each, or an interval such as 1s", s)
	}
	return SyncInterval, d, nil
}
