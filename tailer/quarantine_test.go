package tailer

import (
	"strings"
	"testing"

	"github.com/radrelay/radrelay/detail"
)

// quarantine.sync used to clear dirty before the fsync: a failed fsync was
// reported once, the retry (flush -> q.sync) succeeded without syncing, and
// the checkpoint moved past quarantined records that may not be on disk.
func TestQuarantineSyncErrorRetried(t *testing.T) {
	q := &quarantine{dir: t.TempDir(), sink: "s"}
	if err := q.put(nil, []byte("garbage\n"), "malformed: x", "f", 1, 0); err != nil {
		t.Fatal(err)
	}
	q.f.Close() // make the next fsync fail (stands in for EIO)
	if err := q.sync(); err == nil {
		t.Fatal("first sync should fail")
	}
	if err := q.sync(); err == nil {
		t.Errorf("second sync reports success although nothing was fsynced")
	}
}

// TestInlineRawFits: the longest start of raw whose quoted form fits.
func TestInlineRawFits(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		max  int
		want int
	}{
		{"plain, fits", "abcdef", 8, 6},
		{"plain, cut", "abcdefgh", 8, 6},
		{"control bytes take four", "\x01\x01\x01", 10, 2},
		{"escaped quote takes two", `a"b`, 5, 2},
		{"nothing fits", "\x01", 3, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := inlineRawFits([]byte(tt.raw), tt.max); got != tt.want {
				t.Errorf("inlineRawFits(%q, %d) = %d, want %d", tt.raw, tt.max, got, tt.want)
			}
		})
	}
}

// TestMayBeAnnotated: a record recordItem or prepare would find a
// quarantine annotation in is never taken as plain (whatever the case of
// the name, or a rune that folds to an ASCII letter), and an ordinary
// record is.
func TestMayBeAnnotated(t *testing.T) {
	annotations := []string{QuarantineRawAttr, QuarantineReasonAttr, QuarantineRawFileAttr, QuarantineRawLengthAttr,
		QuarantineSourceAttr, QuarantineSinkAttr, QuarantineTimeAttr, QuarantineAttrPrefix + "X"}
	for _, name := range annotations {
		for _, n := range []string{name, strings.ToLower(name), strings.ToUpper(name), strings.ReplaceAll(name, "s", "\u017f")} {
			rec := &detail.Record{Attrs: []detail.Attribute{{Name: "User-Name", Value: "x"}, {Name: n, Value: "1"}}}
			_, found := rec.Get(name)
			if (found || isQuarantineAttr(n)) && !mayBeAnnotated(rec.Attrs) {
				t.Errorf("%q: taken as plain", n)
			}
		}
	}
	plain := []detail.Attribute{{Name: "User-Name"}, {Name: "Realm"}, {Name: "Acct-Status-Type"}, {Name: "Reply-Message"}}
	if mayBeAnnotated(plain) {
		t.Error("an ordinary record is not plain")
	}
}
