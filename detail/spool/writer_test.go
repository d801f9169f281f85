package spool

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/radrelay/radrelay/detail"
)

// TestMain doubles as a helper process holding a FreeRADIUS-style lock on a
// file (RADRELAY_TEST_LOCK_FILE): it locks, prints "locked", and releases
// the lock when its stdin is closed.
func TestMain(m *testing.M) {
	if path := os.Getenv("RADRELAY_TEST_LOCK_FILE"); path != "" {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		lk := syscall.Flock_t{Type: syscall.F_WRLCK}
		if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLKW, &lk); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("locked")
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// readAll reads every record and error of a finished file.
func readAll(t testing.TB, data []byte, name string) (recs []*detail.Record, errs []error) {
	t.Helper()
	r := detail.NewReader(bytes.NewReader(data), name)
	for {
		rec, err := r.Next()
		if errors.Is(err, detail.ErrIncomplete) {
			rec, err = r.Finish()
		}
		if err == io.EOF {
			return recs, errs
		}
		if err != nil {
			var se *detail.SyntaxError
			var te *detail.TruncatedError
			if !errors.As(err, &se) && !errors.As(err, &te) {
				t.Fatalf("unexpected error: %v", err)
			}
			errs = append(errs, err)
			continue
		}
		recs = append(recs, rec)
	}
}

func testRecord(user string, ts int64, nas string) *detail.Record {
	return &detail.Record{
		Attrs: []detail.Attribute{
			{Name: "Acct-Status-Type", Value: "Start"},
			{Name: "User-Name", Value: user, Quoted: true},
			{Name: "NAS-IP-Address", Value: nas},
			{Name: "Reply-Message", Value: strings.Repeat("\x01\"x", 80), Quoted: true},
		},
		Timestamp: ts, HasTimestamp: true,
	}
}

func TestWriterPath(t *testing.T) {
	loc := time.FixedZone("X", 3600)
	ts := time.Date(2026, 11, 3, 7, 4, 5, 0, loc).Unix()
	tests := []struct {
		template string
		rec      *detail.Record
		want     string
	}{
		{"detail-%Y%m%d", testRecord("a", ts, "10.0.0.1"), "detail-20261103"},
		{"detail-%Y%m%d:%H", testRecord("a", ts, "10.0.0.1"), "detail-20261103:07"},
		{"d-%y%j-%e-%M%S-%%", testRecord("a", ts, "10.0.0.1"), "d-26307- 3-0405-%"},
		{"radacct/%{Client-IP-Address}/detail-%Y%m%d", testRecord("a", ts, "10.0.0.1"), "radacct/10.0.0.1/detail-20261103"},
		{"radacct/%{User-Name}/x", testRecord("../../etc/passwd", ts, "10.0.0.1"), "radacct/_._.._etc_passwd/x"},
		{"radacct/%{Calling-Station-Id}/x", testRecord("a", ts, "10.0.0.1"), "radacct/unknown/x"},
	}
	for _, tt := range tests {
		w, err := New(Options{Template: tt.template, Location: loc})
		if err != nil {
			t.Fatal(err)
		}
		if got := w.Path(tt.rec); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.template, got, tt.want)
		}
		w.Close()
	}
	for _, bad := range []string{"", "detail-%Q", "detail-%", "x-%{", "x-%{}"} {
		if _, err := New(Options{Template: bad}); err == nil {
			t.Errorf("template %q accepted", bad)
		}
	}
}

func TestParseDurability(t *testing.T) {
	tests := []struct {
		in   string
		want Durability
		d    time.Duration
		err  bool
	}{
		{"none", NoSync, 0, false}, {"", NoSync, 0, false}, {"each", SyncEachRecord, 0, false},
		{"always", SyncEachRecord, 0, false}, {"250ms", SyncInterval, 250 * time.Millisecond, false},
		{"sometimes", 0, 0, true}, {"-1s", 0, 0, true},
	}
	for _, tt := range tests {
		got, d, err := ParseDurability(tt.in)
		if (err != nil) != tt.err || got != tt.want || d != tt.d {
			t.Errorf("ParseDurability(%q) = %v %v %v", tt.in, got, d, err)
		}
	}
}

func TestWriterModesAndContent(t *testing.T) {
	for _, dur := range []Durability{NoSync, SyncEachRecord, SyncInterval} {
		dir := t.TempDir()
		w, err := New(Options{
			Template:   filepath.Join(dir, "radacct/%{Client-IP-Address}/detail-%Y%m%d"),
			Durability: dur, SyncInterval: time.Millisecond, Location: time.UTC,
		})
		if err != nil {
			t.Fatal(err)
		}
		recs := []*detail.Record{testRecord("a", 1795435059, "10.0.0.1"), testRecord("b", 1795435060, "10.0.0.1"), testRecord("c", 1795435061, "10.0.0.2")}
		for _, rec := range recs {
			if err := w.Write(rec); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "radacct/10.0.0.1/detail-20261123")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		want := string(detail.AppendRecord(detail.AppendRecord(nil, recs[0]), recs[1]))
		if string(data) != want {
			t.Errorf("file content:\n%s\nwant:\n%s", data, want)
		}
		st, _ := os.Stat(path)
		dst, _ := os.Stat(filepath.Dir(path))
		if st.Mode().Perm() != 0o600 || dst.Mode().Perm() != 0o700 {
			t.Errorf("modes: file %v, dir %v", st.Mode(), dst.Mode())
		}
		if _, err := os.Stat(filepath.Join(dir, "radacct/10.0.0.2/detail-20261123")); err != nil {
			t.Error(err)
		}
		if err := w.Write(recs[0]); err == nil {
			t.Error("write after Close succeeded")
		}
	}
}

// TestWriterConcurrent: goroutines write while a Reader follows the
// file; the reader never sees a partial record, and sees every record.
func TestWriterConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "detail")
	w, err := New(Options{Template: path, Lock: true})
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 300
	done := make(chan struct{})
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := w.Write(testRecord(fmt.Sprintf("u%d-%d", g, i), 1795435059, "10.0.0.1")); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()

	// Wait for the file to exist.
	var f *os.File
	for f == nil {
		f, err = os.Open(path)
		if err != nil {
			select {
			case <-done:
				t.Fatal("writers finished but no file")
			default:
				runtime.Gosched()
			}
		}
	}
	defer f.Close()
	r := detail.NewReader(f, path)
	seen := map[string]bool{}
	finished := false
	for {
		rec, err := r.Next()
		if err == nil {
			u, _ := rec.Get("User-Name")
			if seen[u.Value] {
				t.Fatalf("record %s seen twice", u.Value)
			}
			seen[u.Value] = true
			continue
		}
		if !errors.Is(err, detail.ErrIncomplete) && err != io.EOF {
			t.Fatalf("reader saw a bad record while writers were writing: %v", err)
		}
		// A read(2) racing a write(2) may see part of the record being
		// appended (that is what the lock is for); the Reader then waits
		// with detail.ErrIncomplete. Once the writers are done nothing may remain.
		if finished {
			if errors.Is(err, detail.ErrIncomplete) {
				t.Fatalf("partial record at offset %d after the writers finished", r.Offset())
			}
			break
		}
		select {
		case <-done:
			finished = true // one more pass to read what is left
		default:
			runtime.Gosched()
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if len(seen) != writers*each {
		t.Fatalf("reader saw %d records, want %d", len(seen), writers*each)
	}
}

// TestWriterRenamedUnderIt: a reader renames the file away (as
// FreeRADIUS's detail reader does, to detail.work) or deletes it; the writer
// must start a new file at the path, not write into the renamed one.
func TestWriterRenamedUnderIt(t *testing.T) {
	for _, lock := range []bool{false, true} {
		dir := t.TempDir()
		path := filepath.Join(dir, "detail")
		w, err := New(Options{Template: path, Lock: lock})
		if err != nil {
			t.Fatal(err)
		}
		write := func(users ...string) {
			for _, u := range users {
				if err := w.Write(testRecord(u, 1, "10.0.0.1")); err != nil {
					t.Fatal(err)
				}
			}
		}
		users := func(p string) []string {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			recs, errs := readAll(t, data, p)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			var us []string
			for _, r := range recs {
				u, _ := r.Get("User-Name")
				us = append(us, u.Value)
			}
			return us
		}
		write("a", "b")
		if err := os.Rename(path, path+".work"); err != nil {
			t.Fatal(err)
		}
		write("c")
		if got := fmt.Sprint(users(path + ".work")); got != "[a b]" {
			t.Errorf("lock=%v: renamed file holds %s", lock, got)
		}
		if got := fmt.Sprint(users(path)); got != "[c]" {
			t.Errorf("lock=%v: new file holds %s", lock, got)
		}
		os.Remove(path)
		write("d")
		if got := fmt.Sprint(users(path)); got != "[d]" {
			t.Errorf("lock=%v: after unlink the file holds %s", lock, got)
		}
		w.Close()
	}
}

// TestWriterLock: while another process holds the FreeRADIUS-style lock,
// Write fails after its tries; once released, Write succeeds.
func TestWriterLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "detail")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "RADRELAY_TEST_LOCK_FILE="+path)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("helper: %q %v", line, err)
	}
	w, err := New(Options{Template: path, Lock: true, LockTries: 2, LockRetryDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Write(testRecord("a", 1, "10.0.0.1")); err == nil || !strings.Contains(err.Error(), "locking") {
		t.Fatalf("write under a held lock: %v", err)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(testRecord("b", 1, "10.0.0.1")); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	recs, _ := readAll(t, data, path)
	if len(recs) != 1 {
		t.Fatalf("%d records in the file, want 1", len(recs))
	}
}

// TestWriterRotationClosesIdleFiles: with a daily template, the previous
// day's file is closed once it has been idle, so a reader that renames and
// deletes it gets its disk space back.
func TestWriterRotationClosesIdleFiles(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 23, 23, 59, 0, 0, time.UTC)
	w, err := New(Options{
		Template: filepath.Join(dir, "detail-%Y%m%d"), Location: time.UTC,
		Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	day1 := time.Date(2026, 11, 23, 23, 59, 0, 0, time.UTC).Unix()
	if err := w.Write(testRecord("a", day1, "10.0.0.1")); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	if err := w.Write(testRecord("b", day1+120, "10.0.0.1")); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	_, old := w.files[filepath.Join(dir, "detail-20261123")]
	_, cur := w.files[filepath.Join(dir, "detail-20261124")]
	w.mu.Unlock()
	if old || !cur {
		t.Errorf("open files after rotation: old %v, current %v", old, cur)
	}
	for _, name := range []string{"detail-20261123", "detail-20261124"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
}

// halfDisk returns a write function that lets the writes numbered in fail
// (1-based) put only half their bytes on disk and fail with ENOSPC, as a
// filling disk does, and writes whole otherwise.
func halfDisk(fail ...int) func(f *os.File, b []byte) (int, error) {
	calls := 0
	return func(f *os.File, b []byte) (int, error) {
		calls++
		for _, c := range fail {
			if c == calls {
				n, _ := f.Write(b[:len(b)/2])
				return n, syscall.ENOSPC
			}
		}
		return f.Write(b)
	}
}

// users returns the User-Name of every record of the file at path, and its
// read errors.
func users(t *testing.T, path string) ([]string, []error) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, errs := readAll(t, data, path)
	var us []string
	for _, r := range recs {
		u, _ := r.Get("User-Name")
		us = append(us, u.Value)
	}
	return us, errs
}

// TestWriterCutRecord: a write(2) that fails part way (a full disk) leaves
// nothing of the record in the file, so the record the caller writes again
// is there once and whole. When the fragment cannot be truncated at once
// (ftruncate fails), it is ended at once with a line readers reject; when
// that write fails too, the fragment is dealt with before the next record.
func TestWriterCutRecord(t *testing.T) {
	for _, tc := range []struct {
		name          string
		truncateFails int // how many calls of truncate fail
		termFails     bool
		malformed     int
	}{
		{"truncated at once", 0, false, 0},
		{"cannot truncate: ended at once", 99, false, 1},
		{"cannot truncate nor end: truncated before the next record", 1, true, 0},
		{"cannot truncate nor end: ended before the next record", 99, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "detail")
			w, err := New(Options{Template: path})
			if err != nil {
				t.Fatal(err)
			}
			writes := 0
			w.write = func(f *os.File, b []byte) (int, error) {
				switch writes++; {
				case writes == 1: // the record: half of it reaches the disk
					n, _ := f.Write(b[:len(b)/2])
					return n, syscall.ENOSPC
				case writes == 2 && tc.termFails && tc.truncateFails > 0: // the terminator: nothing
					return 0, syscall.ENOSPC
				}
				return f.Write(b)
			}
			truncates := 0
			w.truncate = func(f *os.File, size int64) error {
				if truncates++; truncates <= tc.truncateFails {
					return syscall.EIO
				}
				return f.Truncate(size)
			}
			a, b := testRecord("a", 1, "10.0.0.1"), testRecord("b", 2, "10.0.0.1")
			if err := w.Write(a); !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("first write: %v", err)
			}
			if data, _ := os.ReadFile(path); tc.truncateFails == 0 && len(data) != 0 {
				t.Fatalf("after the failed write the file holds %q", data)
			}
			// The caller retries, then goes on.
			if err := w.Write(a); err != nil {
				t.Fatal(err)
			}
			if err := w.Write(b); err != nil {
				t.Fatal(err)
			}
			w.Close()
			got, errs := users(t, path)
			if strings.Join(got, ",") != "a,b" || len(errs) != tc.malformed {
				t.Fatalf("records %v, errors %v; want a,b and %d malformed", got, errs, tc.malformed)
			}
			if tc.malformed > 0 {
				var se *detail.SyntaxError
				if !errors.As(errs[0], &se) || se.Offset != 0 || !strings.Contains(string(se.Raw), "a failed write cut off this record") {
					t.Errorf("fragment: %v", errs[0])
				}
			}
		})
	}
}

// TestWriterCutOtherFormats: JSON Lines and CSV records (Encode set) cut by
// a failed write are truncated away too; a CSV header cut off is written
// again whole.
func TestWriterCutOtherFormats(t *testing.T) {
	line := func(dst []byte, rec *detail.Record) []byte {
		u, _ := rec.Get("User-Name")
		return append(dst, `{"user":"`+u.Value+`","pad":"`+strings.Repeat("x", 40)+`"}`+"\n"...)
	}
	for _, tc := range []struct {
		name   string
		header string
		fail   []int
		want   string
	}{
		{"jsonl", "", []int{2}, "a,b"},
		{"csv header", "user,pad\r\n", []int{1}, "user,pad|a,b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out")
			w, err := New(Options{Template: path, Encode: line, Header: []byte(tc.header)})
			if err != nil {
				t.Fatal(err)
			}
			w.write = halfDisk(tc.fail...)
			for _, u := range []string{"a", "b"} {
				rec := testRecord(u, 1, "10.0.0.1")
				if err := w.Write(rec); err != nil {
					if !errors.Is(err, syscall.ENOSPC) {
						t.Fatal(err)
					}
					if err := w.Write(rec); err != nil {
						t.Fatal(err)
					}
				}
			}
			w.Close()
			data, _ := os.ReadFile(path)
			var got []string
			for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
				l = strings.TrimSuffix(l, "\r")
				if i := strings.Index(l, `"user":"`); i >= 0 {
					l = l[i+8 : i+9]
				} else if l != "user,pad" {
					t.Errorf("broken line %q", l)
				}
				got = append(got, l)
			}
			want := strings.Split(strings.ReplaceAll(tc.want, "|", ","), ",")
			if tc.header == "" {
				want = strings.Split(tc.want, ",")
			} else {
				want = append([]string{"user,pad"}, strings.Split(tc.want[len("user,pad|"):], ",")...)
			}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("file holds %q", data)
			}
		})
	}
}

// TestWriterWriteBatch: consecutive records for one file go out in one
// write(2); records for other files start a new run; a write that fails part
// way through a run fails only the records it did not write whole, and
// leaves none of them in part.
func TestWriterWriteBatch(t *testing.T) {
	dir := t.TempDir()
	w, err := New(Options{
		Template: filepath.Join(dir, "%{Client-IP-Address}/detail"), Location: time.UTC,
	})
	if err != nil {
		t.Fatal(err)
	}
	recs := []*detail.Record{
		testRecord("a", 1, "10.0.0.1"), testRecord("b", 2, "10.0.0.1"), testRecord("c", 3, "10.0.0.1"),
		testRecord("d", 4, "10.0.0.2"),
		testRecord("e", 5, "10.0.0.1"), testRecord("f", 6, "10.0.0.1"),
	}
	var writes []int
	w.write = func(f *os.File, b []byte) (int, error) {
		writes = append(writes, len(b))
		if len(writes) == 3 { // the run e, f: e and half of f reach the disk
			first := len(detail.AppendRecord(nil, recs[4]))
			n, _ := f.Write(b[:first+(len(b)-first)/2])
			return n, syscall.ENOSPC
		}
		return f.Write(b)
	}
	errs := make([]error, len(recs))
	w.WriteBatch(recs, errs)
	if len(writes) < 3 || writes[0] != len(detail.AppendRecord(detail.AppendRecord(detail.AppendRecord(nil, recs[0]), recs[1]), recs[2])) {
		t.Fatalf("writes %v: want the first three records in one write", writes)
	}
	for i, err := range errs {
		if wantErr := i == 5; (err != nil) != wantErr || (wantErr && !errors.Is(err, syscall.ENOSPC)) {
			t.Errorf("record %d: error %v", i, err)
		}
	}
	w.write = func(f *os.File, b []byte) (int, error) { return f.Write(b) }
	w.WriteBatch(recs[5:], errs[5:]) // the caller retries the failed record
	if errs[5] != nil {
		t.Fatal(errs[5])
	}
	w.Close()

	names, rerrs := users(t, filepath.Join(dir, "10.0.0.1/detail"))
	if strings.Join(names, ",") != "a,b,c,e,f" || len(rerrs) != 0 {
		t.Errorf("10.0.0.1: records %v, errors %v (want a,b,c,e,f, nothing malformed)", names, rerrs)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "10.0.0.2/detail"))
	if string(data) != string(detail.AppendRecord(nil, recs[3])) {
		t.Errorf("10.0.0.2: %q", data)
	}
}

// TestWriterFsyncFails: with SyncEachRecord, a record whose fsync fails is
// reported as not written and taken back out of the file, so that writing
// it again leaves it there once.
func TestWriterFsyncFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "detail")
	w, err := New(Options{Template: path, Durability: SyncEachRecord})
	if err != nil {
		t.Fatal(err)
	}
	syncs := 0
	w.fsync = func(f *os.File) error {
		if syncs++; syncs == 2 {
			return syscall.EIO
		}
		return f.Sync()
	}
	a, b := testRecord("a", 1, "10.0.0.1"), testRecord("b", 2, "10.0.0.1")
	if err := w.Write(a); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(b); !errors.Is(err, syscall.EIO) {
		t.Fatalf("write with a failing fsync: %v", err)
	}
	if err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	w.Close()
	got, errs := users(t, path)
	if strings.Join(got, ",") != "a,b" || len(errs) != 0 {
		t.Fatalf("records %v, errors %v; want a,b", got, errs)
	}
}

// TestWriterSyncsNewDirectoryEntries: an fsync covers the name of a file
// the Writer created, and of the directories it made for it (fsync of the
// file alone does not make its directory entry survive a power loss). A
// file created again at the same path, after a reader renamed the old one
// away (the listener's spool, consumed by the tailer), needs it again; so
// does one that was there already (an earlier process, killed before its
// fsync, may have created it), with the directories up to Root. A
// directory whose fsync failed is tried again at the next Sync, also after
// a failed write closed the file.
func TestWriterSyncsNewDirectoryEntries(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "spool", "10.0.0.1", "detail")
	w, err := New(Options{Template: path, Durability: NoSync})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var synced []string
	failDir := ""
	w.syncDir = func(dir string) error {
		if dir == failDir {
			failDir = ""
			return syscall.EIO
		}
		synced = append(synced, "root"+strings.TrimPrefix(dir, root))
		return nil
	}
	step := func(what, want string) {
		t.Helper()
		if err := w.Write(testRecord("u", 1, "10.0.0.1")); err != nil {
			t.Fatal(err)
		}
		err := w.Sync()
		if failDir != "" || (err != nil) != (want == "error") {
			t.Fatalf("%s: Sync: %v", what, err)
		}
		if want == "error" {
			want = ""
		}
		sort.Strings(synced)
		if got := strings.Join(synced, " "); got != want {
			t.Errorf("%s: directories fsynced %q, want %q", what, got, want)
		}
		synced = nil
	}
	step("first record", "root root/spool root/spool/10.0.0.1")
	step("appended", "")
	if err := os.Rename(path, path+".work"); err != nil {
		t.Fatal(err)
	}
	step("created again after a rename", "root/spool/10.0.0.1")
	os.Remove(path)
	failDir = filepath.Join(root, "spool", "10.0.0.1")
	step("failing directory fsync", "error")
	step("tried again", "root/spool/10.0.0.1")

	// A failed write closes the file before any fsync: the entry is still
	// synced at the first Sync after the file is opened again.
	os.Remove(path)
	w.write = func(f *os.File, b []byte) (int, error) { return 0, syscall.ENOSPC }
	if err := w.Write(testRecord("u", 1, "10.0.0.1")); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write on a full disk: %v", err)
	}
	w.write = (*os.File).Write
	step("after a failed write", "root/spool/10.0.0.1")

	// A file that was there before the Writer (left by a process killed
	// before its first fsync): its name, in the directory Template names
	// (the default Root)...
	w2, err := New(Options{Template: path, Durability: NoSync})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	w2.syncDir = w.syncDir
	w = w2
	step("existing file", "root/spool/10.0.0.1")
	step("existing file appended", "")

	// ... and every name from Root down (the listener's Root is its
	// spool directory: a client's directory may be the killed process's).
	w3, err := New(Options{Template: path, Durability: NoSync, Root: filepath.Join(root, "spool") + "/"})
	if err != nil {
		t.Fatal(err)
	}
	defer w3.Close()
	w3.syncDir = w2.syncDir
	w = w3
	step("existing file under Root", "root/spool root/spool/10.0.0.1")
	step("existing file under Root appended", "")
	// Created again after a rename: its name is new, the names above it
	// are not (a claim every few milliseconds under load).
	if err := os.Rename(path, path+".work"); err != nil {
		t.Fatal(err)
	}
	step("created again under Root", "root/spool/10.0.0.1")
	w3.Close()

	// A Root that is not above the file: its own directory only.
	w4, err := New(Options{Template: path, Durability: NoSync, Root: "/elsewhere"})
	if err != nil {
		t.Fatal(err)
	}
	defer w4.Close()
	w4.syncDir = w2.syncDir
	w = w4
	step("Root not above the file: its directory", "root/spool/10.0.0.1")
}
