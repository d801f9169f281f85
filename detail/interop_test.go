package detail_test

// Interoperability with the real thing: these tests start a throwaway
// FreeRADIUS 3.2 (internal/freeradiustest) and skip when it is not installed,
// unless RADRELAY_REQUIRE_SERVERS=1 (CI), where they fail instead.

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/internal/freeradiustest"
)

// TestInteropWriterMatchesFreeRADIUS: the installed FreeRADIUS writes the
// hostile packets to a detail file; reading it and writing every record back
// with AppendRecord gives the same bytes.
func TestInteropWriterMatchesFreeRADIUS(t *testing.T) {
	packets, err := os.ReadFile("testdata/freeradius/packets-hostile.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Count(strings.TrimSpace(string(packets)), "\n\n") + 1
	home := freeradiustest.StartHomeServer(t, freeradiustest.HomeOptions{})
	freeradiustest.SendAccounting(t, home.Addr, home.Secret, string(packets), 50)
	home.WaitRecords(t, want, 30*time.Second)
	home.Stop()
	data, err := os.ReadFile(home.DetailFile)
	if err != nil {
		t.Fatal(err)
	}
	r := detail.NewReader(bytes.NewReader(data), home.DetailFile)
	var out []byte
	n := 0
	for {
		rec, err := r.Next()
		if err != nil {
			if n != want || r.Offset() != int64(len(data)) {
				t.Fatalf("after %d records (want %d) at offset %d of %d: %v", n, want, r.Offset(), len(data), err)
			}
			break
		}
		out = detail.AppendRecord(out, rec)
		n++
	}
	if !bytes.Equal(out, data) {
		t.Fatalf("AppendRecord differs from what FreeRADIUS wrote:\n--- FreeRADIUS\n%s\n--- AppendRecord\n%s", data, out)
	}
}
