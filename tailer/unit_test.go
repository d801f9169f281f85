package tailer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/radrelay/radrelay/detail"
)

func TestStateSurvivesDamage(t *testing.T) {
	dir := t.TempDir()
	s := stateFile{dir: dir, name: "radius/primary"}
	if filepath.Dir(s.path()) != dir {
		t.Fatalf("state path %s escapes %s", s.path(), dir)
	}
	v1 := []cursor{{Dev: 1, Ino: 2, Offset: 100, Line: 9, Path: "/x"}}
	v2 := []cursor{{Dev: 1, Ino: 2, Offset: 200, Line: 17, Path: "/x"}}
	prepare := func(t *testing.T) {
		t.Helper()
		// The fsynced copy holds seq 1, the fast copy seq 2.
		if err := s.save(v1, 1, true); err != nil {
			t.Fatal(err)
		}
		if err := s.save(v2, 2, false); err != nil {
			t.Fatal(err)
		}
	}
	prepare(t)
	got, seq, corrupt, err := s.load()
	if err != nil || corrupt != nil || seq != 2 || got[0].Offset != 200 {
		t.Fatalf("load = %v, %d, %v, %v", got, seq, corrupt, err)
	}
	tests := []struct {
		name    string
		damage  func(p string)
		want    int64
		corrupt bool
	}{
		{"empty after power cut", func(p string) { os.WriteFile(p, nil, 0o600) }, 100, true},
		{"zero-filled", func(p string) { os.WriteFile(p, make([]byte, 80), 0o600) }, 100, true},
		{"cut short", func(p string) { b, _ := os.ReadFile(p); os.WriteFile(p, b[:len(b)-7], 0o600) }, 100, true},
		{"bit flip", func(p string) {
			b, _ := os.ReadFile(p)
			b[30] ^= 1
			os.WriteFile(p, b, 0o600)
		}, 100, true},
		{"never reached the disk", func(p string) { os.Remove(p) }, 100, false},
		{"older copy survived", func(p string) {
			// An older but valid fast copy: the newer synced one wins.
			s.save(v1, 0, false)
		}, 100, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prepare(t)
			tc.damage(s.path())
			got, _, corrupt, err := s.load()
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].Offset != tc.want || (corrupt != nil) != tc.corrupt {
				t.Errorf("load = %+v, corrupt %v; want offset %d", got, corrupt, tc.want)
			}
		})
	}
	// Both damaged or gone: a fresh start (the caller logs it), not an error.
	os.WriteFile(s.path(), []byte("{"), 0o600)
	os.Remove(s.path() + ".synced")
	if got, _, corrupt, err := s.load(); err != nil || len(got) != 0 || corrupt == nil {
		t.Errorf("no usable state: %v %v %v", got, corrupt, err)
	}
}

func TestRaiseDelay(t *testing.T) {
	now := time.Unix(1795435059+90, 0)
	rec := &detail.Record{
		Attrs:        []detail.Attribute{{Name: "User-Name", Value: "a", Quoted: true}, {Name: "Acct-Delay-Time", Value: "5"}},
		Timestamp:    1795435059,
		HasTimestamp: true,
	}
	out := raiseDelay(rec, now)
	if a, _ := out.Get("Acct-Delay-Time"); a.Value != "95" {
		t.Errorf("Acct-Delay-Time = %q, want 95", a.Value)
	}
	if a, _ := rec.Get("Acct-Delay-Time"); a.Value != "5" {
		t.Errorf("original changed: %q", a.Value)
	}
	// Missing: added.
	rec2 := &detail.Record{Attrs: []detail.Attribute{{Name: "User-Name", Value: "a"}}, Timestamp: 1795435059, HasTimestamp: true}
	if a, ok := raiseDelay(rec2, now).Get("Acct-Delay-Time"); !ok || a.Value != "90" {
		t.Errorf("added Acct-Delay-Time = %q", a.Value)
	}
	if len(rec2.Attrs) != 1 {
		t.Error("original changed")
	}
	// No Timestamp (Livingston): Event-Timestamp, as FreeRADIUS prints it.
	rec3 := &detail.Record{Attrs: []detail.Attribute{{Name: "Event-Timestamp", Value: "Nov 23 2026 11:57:39 UTC", Quoted: true}}}
	ev, _ := time.Parse(time.RFC3339, "2026-11-23T11:57:39Z")
	if a, _ := raiseDelay(rec3, ev.Add(30*time.Second)).Get("Acct-Delay-Time"); a.Value != "30" {
		t.Errorf("from Event-Timestamp: %q", a.Value)
	}
	// Neither: unchanged.
	rec4 := &detail.Record{Attrs: []detail.Attribute{{Name: "User-Name", Value: "a"}}}
	if raiseDelay(rec4, now) != rec4 {
		t.Error("record without a time changed")
	}
}

func TestBackoff(t *testing.T) {
	p := RetryPolicy{Initial: 100 * time.Millisecond, Max: time.Second}
	for attempt, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 50: time.Second} {
		for range 20 {
			d := p.Backoff(attempt)
			if d < want/2 || d > want {
				t.Fatalf("Backoff(%d) = %v, want in [%v, %v]", attempt, d, want/2, want)
			}
		}
	}
	start := time.Now()
	if (RetryPolicy{}).Exhausted(1000, start, start.Add(time.Hour)) {
		t.Error("the default policy gave up")
	}
	if !(RetryPolicy{MaxAttempts: 3}).Exhausted(3, start, start) || !(RetryPolicy{MaxDuration: time.Minute}).Exhausted(1, start, start.Add(time.Minute)) {
		t.Error("limits not applied")
	}
}

func TestMarkDoneWritesDonestamp(t *testing.T) {
	p := filepath.Join(t.TempDir(), "detail.work")
	writeRecords(t, p, 0, 10)
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var end int64
	for i := range 4 {
		end += int64(len(testRecord(i)))
	}
	if err := markDone(f, 0, end, nil); err != nil {
		t.Fatal(err)
	}
	recs, _ := readDetail(t, p)
	for i, r := range recs {
		if r.Done != (i < 4) {
			t.Errorf("record %d: Done = %v", i, r.Done)
		}
	}
	b, _ := os.ReadFile(p)
	if c := strings.Count(string(b), "\tDonestamp = 1795435059\n"); c != 4 {
		t.Errorf("%d Donestamp lines, want 4", c)
	}
}

// markDone reads in chunks: a Timestamp line across a chunk boundary is
// still found, and nothing else is written.
func TestMarkDoneAcrossChunks(t *testing.T) {
	p := filepath.Join(t.TempDir(), "detail.work")
	writeRecords(t, p, 0, 100)
	before, _ := os.ReadFile(p)
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := markDone(f, 0, int64(len(before)), make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(p)
	want := strings.ReplaceAll(string(before), "\n\tTimestamp = ", "\n\tDonestamp = ")
	if string(after) != want {
		t.Error("marking changed more (or less) than the Timestamp lines")
	}
}
