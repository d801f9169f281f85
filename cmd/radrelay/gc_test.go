package main

import (
	"os"
	"runtime/debug"
	"testing"
)

// TestParsingGCLimitGrowsWithTheWindows: the collector's soft memory limit
// makes room for the records the sinks' windows hold (below it the
// collector runs whenever the heap reaches the limit), and is restored.
func TestParsingGCLimitGrowsWithTheWindows(t *testing.T) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOGC or GOMEMLIMIT set: parsingGC leaves the collector alone")
	}
	before := debug.SetMemoryLimit(-1)
	for _, inFlight := range []int{0, 256, 10000} {
		restore := parsingGC(inFlight)
		got := debug.SetMemoryLimit(-1)
		restore()
		if want := int64(parsingGCBase + inFlight*parsingGCPerRecord); got != want {
			t.Errorf("parsingGC(%d): memory limit %d, want %d", inFlight, got, want)
		}
		if now := debug.SetMemoryLimit(-1); now != before {
			t.Errorf("parsingGC(%d) restored the limit to %d, want %d", inFlight, now, before)
		}
	}
}
