package spool_test

// Interoperability with the real thing: this test starts a throwaway
// FreeRADIUS 3.2 (internal/freeradiustest) and skips when it is not
// installed, unless RADRELAY_REQUIRE_SERVERS=1 (CI), where it fails instead.

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/detail/spool"
	"github.com/radrelay/radrelay/internal/freeradiustest"
)

// TestInteropFreeRADIUSReadsWriter: FreeRADIUS's own detail reader
// (listen { type = detail }, relaying to a home server) consumes files that
// Writer wrote with locking, including lines longer than FreeRADIUS
// would write itself (253-byte values of escaped bytes), and the home server
// receives every record with its values. (The home server writes what it
// receives with its own detail writer, which cuts lines over 1022
// characters: for those values only the start can be compared.)
func TestInteropFreeRADIUSReadsWriter(t *testing.T) {
	home := freeradiustest.StartHomeServer(t, freeradiustest.HomeOptions{})
	dir := t.TempDir()
	w, err := spool.New(spool.Options{
		Template: filepath.Join(dir, "detail-%Y%m%d"), Lock: true, Durability: spool.SyncEachRecord,
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
	freeradiustest.StartRelay(t, freeradiustest.RelayOptions{SpoolDir: dir, Home: home.Addr, Secret: home.Secret})
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
				t.Errorf("%s %s: home server got %.60q, Writer wrote %.60q", id.Value, name, a.Value, b.Value)
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
