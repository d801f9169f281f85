package detail_test

// Interoperability with the real thing: these tests start a throwaway
// FreeRADIUS 3.2 (internal/freeradiustest) and skip when it is not installed,
// unless RADRELAY_REQUIRE_SERVERS=1 (CI), where they fail instead.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
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

// TestInteropFreeRADIUSReadsFileWriter: FreeRADIUS's own detail reader
// (listen { type = detail }, relaying to a home server) consumes files that
// FileWriter wrote with locking, including lines longer than FreeRADIUS
// would write itself (253-byte values of escaped bytes), and the home server
// receives every record with its values. (The home server writes what it
// receives with its own detail writer, which cuts lines over 1022
// characters: for those values only the start can be compared.)
func TestInteropFreeRADIUSReadsFileWriter(t *testing.T) {
	home := freeradiustest.StartHomeServer(t, freeradiustest.HomeOptions{})
	spool := t.TempDir()
	w, err := detail.NewFileWriter(detail.FileWriterOptions{
		Template: filepath.Join(spool, "detail-%Y%m%d"), Lock: true, Durability: detail.SyncEachRecord,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	hostile := []string{
		"plain",
		"quote\" back\\slash %d 'x'",
		"ctl\x01\x02\t\r\n\x7f",
		"bad utf8 \xff\xfe \xc0\x80 \xe2\x82",
		"h\u00e9llo \u20ac \U0001F600",
		strings.Repeat("\xff", 253),
	}
	const n = 60
	now := time.Now().Unix()
	sent := map[string]*detail.Record{}
	for i := range n {
		id := fmt.Sprintf("interop-%03d", i)
		rec := &detail.Record{
			Attrs: []detail.Attribute{
				{Name: "Acct-Status-Type", Value: []string{"Start", "Interim-Update", "Stop"}[i%3]},
				{Name: "User-Name", Value: hostile[i%len(hostile)], Quoted: true},
				{Name: "Acct-Session-Id", Value: id, Quoted: true},
				{Name: "NAS-IP-Address", Value: "10.1.2.3"},
				{Name: "Reply-Message", Value: strings.Repeat(string(rune('\x01'+i%20)), 253), Quoted: true},
				{Name: "Tunnel-Type", HasTag: true, Tag: 1, Value: "VLAN"},
				{Name: "Cisco-AVPair", Value: "ip:addr-pool=main", Quoted: true},
				{Name: "Class", Value: fmt.Sprintf("0x%08x", i)},
				{Name: "Acct-Session-Time", Value: fmt.Sprint(i * 10)},
			},
			Timestamp: now, HasTimestamp: true,
		}
		sent[id] = rec
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	freeradiustest.StartRelay(t, freeradiustest.RelayOptions{SpoolDir: spool, Home: home.Addr, Secret: home.Secret})
	home.WaitRecords(t, n, 60*time.Second)

	got := 0
	for _, rec := range home.Records(t) {
		id, _ := rec.Get("Acct-Session-Id")
		want := sent[id.Value]
		if want == nil {
			t.Errorf("home server got unknown record %q", id.Value)
			continue
		}
		got++
		for _, name := range []string{"User-Name", "Reply-Message", "Acct-Status-Type", "Cisco-AVPair", "Class", "Acct-Session-Time"} {
			a, _ := rec.Get(name)
			b, _ := want.Get(name)
			if a.Truncated {
				// The home server's own detail writer cut the line at 1022
				// characters; what it kept must be the start of our value.
				if !strings.HasPrefix(b.Value, a.Value) || len(a.Value) < 200 {
					t.Errorf("%s %s: home server wrote a cut value that is not a prefix of ours: %.40q...", id.Value, name, a.Value)
				}
				continue
			}
			if a.Value != b.Value {
				t.Errorf("%s %s: home server got %.60q, FileWriter wrote %.60q", id.Value, name, a.Value, b.Value)
			}
		}
		if a, _ := rec.Get("Tunnel-Type"); !a.HasTag || a.Tag != 1 || a.Value != "VLAN" {
			t.Errorf("%s Tunnel-Type: %+v", id.Value, a)
		}
	}
	if got != n {
		t.Errorf("home server got %d of %d records", got, n)
	}
}
