package tailer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/radrelay/radrelay/detail"
)

// testRecord returns record number i as FreeRADIUS 3.2 writes it; its
// Acct-Session-Id ("s%08d") identifies it in the sinks.
func testRecord(i int) []byte {
	return fmt.Appendf(nil, "Mon Nov 23 11:57:39 2026\n"+
		"\tUser-Name = \"user%d@example.net\"\n"+
		"\tAcct-Status-Type = Interim-Update\n"+
		"\tAcct-Session-Id = \"s%08d\"\n"+
		"\tNAS-IP-Address = 10.0.0.1\n"+
		"\tAcct-Input-Octets = %d\n"+
		"\tAcct-Unique-Session-Id = \"2061053dd2fafc59c201521bef3bcf58\"\n"+
		"\tTimestamp = 1795435059\n\n", i, i, i*1000)
}

func sessionID(i int) string { return fmt.Sprintf("s%08d", i) }

// writeRecords writes records [from, to) to path in one go.
func writeRecords(t testing.TB, path string, from, to int) {
	t.Helper()
	var b []byte
	for i := from; i < to; i++ {
		b = append(b, testRecord(i)...)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// appendLocked appends data to path the way FreeRADIUS's rlm_detail does with
// locking = yes: open, take the POSIX write lock, and if the file was renamed
// or deleted meanwhile (a reader claimed it), open the path again; then one
// write of the whole record. It waits for the lock (F_SETLKW), which
// FreeRADIUS does not: freeradiustest.AppendDetail is FreeRADIUS's way.
func appendLocked(path string, data []byte) error {
	for {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return err
		}
		lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: io.SeekStart}
		if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLKW, &lk); err != nil {
			f.Close()
			return err
		}
		fi, err1 := f.Stat()
		pi, err2 := os.Stat(path)
		if err1 != nil || err2 != nil || !os.SameFile(fi, pi) || fi.Sys().(*syscall.Stat_t).Nlink == 0 {
			f.Close()
			continue
		}
		_, err = f.Write(data)
		f.Close()
		return err
	}
}

// memSink records what it receives; fail, when set, decides each record's outcome.
type memSink struct {
	mu     sync.Mutex
	counts map[string]int
	total  int
	fail   func(id string) error
	want   int
	full   chan struct{} // closed when want distinct records arrived
	sends  int
	// changed is closed (and replaced) after every Send.
	changed chan struct{}
}

func newMemSink(want int) *memSink {
	return &memSink{counts: map[string]int{}, want: want, full: make(chan struct{}), changed: make(chan struct{})}
}

func (s *memSink) Send(ctx context.Context, recs []*detail.Record, results []error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sends++
	for i, r := range recs {
		a, _ := r.Get("Acct-Session-Id")
		if s.fail != nil {
			if err := s.fail(a.Value); err != nil {
				results[i] = err
				continue
			}
		}
		s.counts[a.Value]++
		s.total++
		results[i] = nil
	}
	if s.want > 0 && len(s.counts) >= s.want {
		select {
		case <-s.full:
		default:
			close(s.full)
		}
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// waitFor returns once the record with Acct-Session-Id id was delivered. It
// may run outside the test's goroutine, so it reports a timeout with Errorf.
func (s *memSink) waitFor(t *testing.T, id string) {
	t.Helper()
	timeout := time.After(90 * time.Second) // only a machine far overloaded gets here
	for {
		s.mu.Lock()
		got, changed := s.counts[id] > 0, s.changed
		s.mu.Unlock()
		if got {
			return
		}
		select {
		case <-changed:
		case <-timeout:
			t.Errorf("timed out waiting for record %s", id)
			return
		}
	}
}

func (s *memSink) Close() error { return nil }

func (s *memSink) setFail(f func(string) error) {
	s.mu.Lock()
	s.fail = f
	s.mu.Unlock()
}

func (s *memSink) snapshot() (map[string]int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		m[k] = v
	}
	return m, s.total
}

// checkExactlyOnce checks that ids [0, n) arrived once each and nothing else.
func checkExactlyOnce(t *testing.T, name string, s *memSink, n int) {
	t.Helper()
	m, total := s.snapshot()
	missing, dup := 0, 0
	for i := 0; i < n; i++ {
		c := m[sessionID(i)]
		if c == 0 {
			missing++
			if missing < 5 {
				t.Errorf("%s: record %s never delivered", name, sessionID(i))
			}
		}
		if c > 1 {
			dup++
			if dup < 5 {
				t.Errorf("%s: record %s delivered %d times", name, sessionID(i), c)
			}
		}
	}
	if total != n || missing+dup > 0 {
		t.Errorf("%s: %d deliveries of %d distinct records, want exactly %d once each (%d missing, %d duplicated)",
			name, total, len(m), n, missing, dup)
	}
}

// waitClosed waits for ch with a generous deadline (the test fails instead of hanging).
func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(90 * time.Second): // only a machine far overloaded gets here
		t.Fatalf("timed out waiting for %s", what)
	}
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// runTailer starts Run in a goroutine; stop cancels it and returns Run's error.
func runTailer(t *testing.T, cfg Config, setup ...func(*Tailer)) (tl *Tailer, stop func() error) {
	t.Helper()
	tl, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range setup {
		f(tl)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tl.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(30 * time.Second):
				runErr = errors.New("Run did not return after cancel")
			}
		})
		return runErr
	}
	t.Cleanup(func() { stop() })
	return tl, stop
}

// readDetail parses every record of a file (Finish at the end).
func readDetail(t *testing.T, path string) (recs []*detail.Record, bad int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd := detail.NewReader(f, path)
	for {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) || errors.Is(err, detail.ErrIncomplete) {
			rec, err = rd.Finish()
			if errors.Is(err, io.EOF) {
				return recs, bad
			}
		}
		if err != nil {
			bad++
			continue
		}
		recs = append(recs, rec)
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func globOne(t *testing.T, pattern string) string {
	t.Helper()
	m, _ := filepath.Glob(pattern)
	if len(m) != 1 {
		t.Fatalf("%s matches %v, want one file", pattern, m)
	}
	return m[0]
}

var _ = strings.Contains
