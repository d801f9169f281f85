package tailer

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/radrelay/radrelay/detail"
)

// recordingSink keeps, in order, every record it is sent with its source
// position: two runs delivered the same when their lists are equal.
type recordingSink struct {
	mu   sync.Mutex
	recs []string
}

func (s *recordingSink) Send(_ context.Context, recs []*detail.Record, results []error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		s.recs = append(s.recs, fmt.Sprintf("%s:%d@%d+%d ts %d/%v tsoff %d\n%s", filepath.Base(r.File), r.Line, r.Offset, r.Length,
			r.Timestamp, r.HasTimestamp, r.TimestampOffset, detail.AppendRecord(nil, r)))
	}
	clear(results)
}

func (s *recordingSink) Close() error { return nil }

// warnLog keeps the WARN and ERROR lines a tailer logs, without their time.
type warnLog struct {
	mu    *sync.Mutex
	lines *[]string
	attrs []slog.Attr
}

func newWarnLog() warnLog { return warnLog{mu: new(sync.Mutex), lines: new([]string)} }

func (h warnLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h warnLog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
	for _, a := range h.attrs {
		fmt.Fprintf(&b, " %s", a)
	}
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s", a)
		return true
	})
	h.mu.Lock()
	*h.lines = append(*h.lines, b.String())
	h.mu.Unlock()
	return nil
}

func (h warnLog) WithAttrs(as []slog.Attr) slog.Handler {
	h.attrs = append(slices.Clip(h.attrs), as...)
	return h
}

func (h warnLog) WithGroup(string) slog.Handler { return h }

// replayOutcome is everything a replay leaves that a user or a sink sees.
type replayOutcome struct {
	delivered  []string
	quarantine []string // entries without their time, side files' bytes included
	logs       []string
	state      []string // the sink's saved cursors
	stats      string
}

// replayFiles replays files into a recordingSink with the given backlog
// threshold (0: one Reader only) and chunk size, and returns its outcome.
func replayFiles(t *testing.T, files []string, parallelMin int64, chunk int) replayOutcome {
	t.Helper()
	dir := t.TempDir()
	sink := &recordingSink{}
	wl := newWarnLog()
	tl, err := New(Config{
		Inputs:        []Input{{Files: files, Mode: Replay}},
		Sinks:         []SinkSpec{{Name: "rec", Sink: sink, MaxOutstanding: 64, BatchSize: 16}},
		StateDir:      filepath.Join(dir, "state"),
		QuarantineDir: filepath.Join(dir, "quarantine"),
		Logger:        slog.New(wl),
	})
	if err != nil {
		t.Fatal(err)
	}
	tl.parallelMin, tl.parallelChunk = parallelMin, chunk
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := tl.Run(ctx); err != nil {
		t.Fatal(err)
	}
	var out replayOutcome
	out.delivered = sink.recs
	for _, l := range *wl.lines {
		out.logs = append(out.logs, strings.ReplaceAll(l, dir, "DIR"))
	}
	st := tl.Stats().Sinks[0]
	out.stats = fmt.Sprintf("read %d delivered %d quarantined %d bytes %d", st.Read, st.Delivered, st.Quarantined, st.BytesDone)
	qs, _ := filepath.Glob(filepath.Join(dir, "quarantine", "*.detail"))
	for _, q := range qs {
		data, err := os.ReadFile(q)
		if err != nil {
			t.Fatal(err)
		}
		// An entry holds up to a maximum record size of raw bytes
		// inline, plus its annotations.
		rd := detail.NewReader(bytes.NewReader(data), q)
		rd.MaxRecordSize = 1 << 20
		for {
			rec, err := rd.Finish()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("quarantine file: %v", err)
			}
			var b strings.Builder
			for _, a := range rec.Attrs {
				switch a.Name {
				case QuarantineTimeAttr:
				case QuarantineRawFileAttr:
					raw, err := os.ReadFile(a.Value)
					if err != nil {
						t.Error(err)
					}
					fmt.Fprintf(&b, "%s: %d bytes %q\n", a.Name, len(raw), raw)
				default:
					fmt.Fprintf(&b, "%s = %q\n", a.Name, a.Value)
				}
			}
			out.quarantine = append(out.quarantine, b.String())
		}
	}
	cursors, _, _, err := (&stateFile{dir: filepath.Join(dir, "state"), name: "rec"}).load()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cursors {
		out.state = append(out.state, fmt.Sprintf("%s offset %d line %d done %v", filepath.Base(c.Path), c.Offset, c.Line, c.Done))
	}
	slices.Sort(out.state)
	return out
}

// sameOutcome fails the test at the first difference.
func sameOutcome(t *testing.T, what string, got, want replayOutcome) {
	t.Helper()
	for _, part := range []struct {
		name      string
		got, want []string
	}{
		{"delivered", got.delivered, want.delivered},
		{"quarantine", got.quarantine, want.quarantine},
		{"logs", got.logs, want.logs},
		{"state", got.state, want.state},
		{"stats", []string{got.stats}, []string{want.stats}},
	} {
		for i := range min(len(part.got), len(part.want)) {
			if part.got[i] != part.want[i] {
				t.Fatalf("%s: %s %d of %d differs:\n got %.600q\nwant %.600q", what, part.name, i, len(part.want), part.got[i], part.want[i])
			}
		}
		if len(part.got) != len(part.want) {
			t.Fatalf("%s: %d %s, want %d", what, len(part.got), part.name, len(part.want))
		}
	}
}

// damagedBacklog returns a file of n good records with damage of every
// kind between them: malformed records alone and in runs, a flood of garbage
// longer than an entry keeps inline, an oversized record, attribute lines
// without a header, records without their blank line, CRLF records, blank
// lines, and (tail) a last record cut off.
func damagedBacklog(n int, tail bool) []byte {
	var b []byte
	long := strings.Repeat("x", 70<<10) // longer than the default maximum record size
	for i := range n {
		switch i % 97 {
		case 5:
			b = append(b, "Mon Nov 23 11:57:39 2026\n\tUser-Name = \"broken\n\tthis is not an attribute\n\n"...)
		case 17: // a run of three malformed records: one entry
			for range 3 {
				b = append(b, "Mon Nov 23 11:57:39 2026\n\tno equals sign here\n\n"...)
			}
		case 29:
			b = append(b, "\tAcct-Session-Id = \"orphan\"\n\tUser-Name = \"x\"\n\n"...)
		case 41: // without the blank line
			b = append(b, bytes.TrimSuffix(testRecord(i), []byte("\n"))...)
			continue
		case 53:
			b = append(b, bytes.ReplaceAll(testRecord(i), []byte("\n"), []byte("\r\n"))...)
			continue
		case 67:
			b = append(b, "\n\n \n"...)
		case 71:
			b = append(b, "Mon Nov 23 11:57:39 2026\n\tUser-Name = \""+long+"\"\n\tAcct-Session-Id = \"big\"\n\n"...)
		}
		if i == n/2 { // a flood of header-only lines: one entry, the bytes in a side file
			for k := range 5000 {
				b = fmt.Appendf(b, "Mon Nov 23 11:%02d:%02d 2026\n", k/60%60, k%60)
			}
		}
		b = append(b, testRecord(i)...)
	}
	if tail {
		b = append(b, "Mon Nov 23 11:57:39 2026\n\tUser-Name = \"cut\"\n\tAcct-Sess"...)
	}
	return b
}

// TestBacklogSameAsSerial: a backlog parsed in parallel delivers the same
// records with the same positions, quarantines the same entries (one per
// run of unparseable spans, with the real start line), logs the same
// warnings and saves the same cursors as one Reader does, whatever the
// chunks' size, so that chunk boundaries fall inside and between every kind
// of damage.
func TestBacklogSameAsSerial(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	gz := func(data []byte) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(data)
		zw.Close()
		return b.Bytes()
	}
	var good []byte
	for i := range 1500 {
		good = append(good, testRecord(i)...)
	}
	damaged := damagedBacklog(600, true)
	cut := gz(damaged)
	cut = cut[:len(cut)*2/3] // a gzip file cut short: the rest is "unreadable"
	for _, tc := range []struct {
		name  string
		files []string
	}{
		{"good records", []string{write("detail-good", good)}},
		{"damage of every kind", []string{write("detail-damaged", damaged)}},
		{"damage, complete last record", []string{write("detail-damaged-whole", damagedBacklog(500, false))}},
		{"only garbage", []string{write("detail-garbage", bytes.Repeat([]byte("not a detail line at all\n"), 6000))}},
		{"two files", []string{write("detail-1", damagedBacklog(300, false)), write("detail-2", good)}},
		{"gzip", []string{write("detail-damaged.gz", gz(damaged))}},
		{"gzip cut short", []string{write("detail-cut.gz", cut)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := replayFiles(t, tc.files, 0, 0)
			if len(want.delivered) == 0 && tc.name != "only garbage" {
				t.Fatal("nothing delivered")
			}
			for _, chunk := range []int{100, 777, 4096, 0} {
				got := replayFiles(t, tc.files, 1, chunk)
				sameOutcome(t, fmt.Sprintf("chunks of %d", chunk), got, want)
			}
		})
	}
}

// A backlog parsed in parallel stops before a record still being written at
// the end of a growing file: it is waited for, never delivered half-written
// or quarantined as truncated, and delivered once when complete.
func TestBacklogLeavesPartialRecord(t *testing.T) {
	for _, mode := range []Mode{Consume, Follow} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "detail-1")
			const n = 3000
			var backlog []byte
			for i := range n {
				backlog = append(backlog, testRecord(i)...)
			}
			last := testRecord(n)
			half := len(last) / 2
			// The writer keeps the file open between the halves (in
			// consume mode a claimed file is final once nobody holds it).
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.Write(append(backlog, last[:half]...)); err != nil {
				t.Fatal(err)
			}
			sink := newMemSink(n)
			cfg := liveConfig(t, dir, t.TempDir(), mode, SinkSpec{Name: "mem", Sink: sink})
			cfg.SettleTime = 24 * time.Hour // the writer is only slow, not gone
			tl, stop := runTailer(t, cfg, func(tl *Tailer) { tl.parallelMin, tl.parallelChunk = 1, 1000 })
			waitClosed(t, sink.full, "the backlog")
			sink.mu.Lock()
			sink.want, sink.full = n+1, make(chan struct{})
			sink.mu.Unlock()
			if _, err := f.Write(last[half:]); err != nil {
				t.Fatal(err)
			}
			f.Close()
			waitClosed(t, sink.full, "the completed record")
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			checkExactlyOnce(t, "mem", sink, n+1)
			if q := tl.Stats().Sinks[0].Quarantined; q != 0 {
				t.Errorf("%d records quarantined, want none", q)
			}
		})
	}
}

// A backlog region's source says when the file ended before the region did
// (truncated while being read), rather than ending as if complete.
func TestRegionReaderShrunk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "detail")
	if err := os.WriteFile(path, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := io.ReadAll(&regionReader{f: f, off: 2, end: 6})
	if string(got) != "2345" || err != nil {
		t.Errorf("region [2,6): %q, %v", got, err)
	}
	got, err = io.ReadAll(&regionReader{f: f, off: 4, end: 20})
	if string(got) != "456789" || !errors.Is(err, errShrunk) {
		t.Errorf("region [4,20) of a 10-byte file: %q, %v; want the 6 bytes, then errShrunk", got, err)
	}
}

// A backlog region ends at the last header line before the file's size,
// looked for up to backlogLookBack back.
func TestBacklogEnd(t *testing.T) {
	rec := string(testRecord(0))
	for _, tc := range []struct {
		name string
		data string
		off  int64
		want int64
	}{
		{"records", rec + rec + rec, 0, int64(2 * len(rec))},
		{"header being written", rec + rec + "Mon Nov 2", 0, int64(2 * len(rec))},
		{"from the position", rec + rec + rec, int64(len(rec)), int64(2 * len(rec))},
		{"no header after the position", rec + rec, int64(len(rec)), -1},
		{"long last record", rec + "H\n\tA = \"" + strings.Repeat("x", 200<<10) + "\"\n", 0, int64(len(rec))},
		{"nothing but one line", strings.Repeat("x", backlogLookBack+10), 0, -1},
		{"header too far back", rec + "H\n\t" + strings.Repeat("x", backlogLookBack+10), 0, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "detail")
			if err := os.WriteFile(path, []byte(tc.data), 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			fr := &fileReader{of: &openFile{f: f}, off: tc.off}
			if got := fr.backlogEnd(int64(len(tc.data))); got != tc.want {
				t.Errorf("backlogEnd = %d, want %d", got, tc.want)
			}
		})
	}
}
