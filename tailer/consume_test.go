package tailer

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// A work file left by FreeRADIUS (track = yes: delivered records carry a
// Donestamp) or by a killed radrelay is resumed first: marked records are
// skipped, the rest delivered, a truncated record at its end quarantined, and
// the file deleted once everything is accounted for. Newer files follow.
func TestConsumeResumesFreeRADIUSWorkFile(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	var work []byte
	for i := 0; i < 100; i++ {
		rec := string(testRecord(i))
		if i < 60 {
			rec = strings.Replace(rec, "\tTimestamp = ", "\tDonestamp = ", 1)
		}
		work = append(work, rec...)
	}
	work = append(work, "Mon Nov 23 11:57:39 2026\n\tUser-Name = \"cut off\"\n\tAcct-Sta"...)
	if err := os.WriteFile(filepath.Join(dir, workName), work, 0o600); err != nil {
		t.Fatal(err)
	}
	writeRecords(t, filepath.Join(dir, "detail-20261124"), 100, 200)

	sink := newMemSink(140)
	cfg := liveConfig(t, dir, state, Consume, SinkSpec{Name: "mem", Sink: sink, MaxOutstanding: 16})
	deleted := make(chan string, 10)
	tl, stop := runTailer(t, cfg, func(tl *Tailer) { tl.testWorkDeleted = func(p string) { deleted <- p } })
	waitClosed(t, sink.full, "the records not yet done")
	for range 2 { // the resumed work file, then the claimed detail-20261124
		select {
		case <-deleted:
		case <-time.After(90 * time.Second):
			t.Fatal("work files not deleted")
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	got, total := sink.snapshot()
	for i := 0; i < 200; i++ {
		want := 1
		if i < 60 {
			want = 0
		}
		if got[sessionID(i)] != want {
			t.Errorf("record %d delivered %d times, want %d", i, got[sessionID(i)], want)
		}
	}
	if total != 140 {
		t.Errorf("%d deliveries, want 140", total)
	}
	if st := tl.Stats(); st.Malformed != 1 || st.Sinks[0].Quarantined != 0 {
		t.Errorf("malformed %d, quarantined for the sink %d; want the truncated record counted once, as malformed", st.Malformed, st.Sinks[0].Quarantined)
	}
	recs, _ := readDetail(t, globOne(t, filepath.Join(state, "quarantine", "mem-*.detail")))
	if len(recs) != 1 {
		t.Fatalf("quarantine holds %d records", len(recs))
	}
	if raw, _ := recs[0].Get(QuarantineRawAttr); !strings.Contains(raw.Value, "cut off") {
		t.Errorf("quarantined raw %q", raw.Value)
	}
	if names := listDir(t, dir); len(names) != 0 {
		t.Errorf("left in the directory: %v", names)
	}
}

// A work file locked by another process (FreeRADIUS's own detail reader, or
// a second radrelay) is left alone, and so are the other files of its
// directory (that reader claims them next; TestConsumeLeavesForeignWorkDirAlone).
// Once it lets go, radrelay takes the work file up and then the rest.
func TestConsumeLeavesLockedWorkFileAlone(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, workName)
	writeRecords(t, path, 0, 10)
	// The lock must belong to another process (POSIX locks are per process).
	holder := startLockHolder(t, path)
	sink := newMemSink(15)
	cfg := liveConfig(t, dir, t.TempDir(), Consume, SinkSpec{Name: "mem", Sink: sink})
	_, stop := runTailer(t, cfg)
	writeRecords(t, filepath.Join(dir, "detail-x"), 100, 105)
	close(holder) // the other reader exits without finishing its work file
	waitClosed(t, sink.full, "the records of the work file and the new file")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	got, total := sink.snapshot()
	for _, i := range []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 100, 101, 102, 103, 104} {
		if got[sessionID(i)] != 1 {
			t.Errorf("record %d delivered %d times, want once", i, got[sessionID(i)])
		}
	}
	if total != 15 {
		t.Errorf("%d deliveries, want 15", total)
	}
}

// A writer without locking that opened the file before radrelay claimed it
// (FreeRADIUS's detail module with locking = no opens the file name for
// every record) can write its record after the claim. The work file's end
// is not final while that writer holds it open — however long it takes:
// settle_time is set far beyond the test, so nothing but the writer closing
// the file can finish it — and the record is delivered, not deleted with
// the work file.
func TestConsumeClaimWaitsForWriterHoldingTheFile(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	path := filepath.Join(dir, "detail-0000")
	writeRecords(t, path, 0, 10)
	write := startHolder(t, path, 10, 12)

	sink := newMemSink(12)
	cfg := liveConfig(t, dir, state, Consume, SinkSpec{Name: "mem", Sink: sink, MaxOutstanding: 4})
	cfg.SettleTime = time.Hour
	openElsewhere := make(chan struct{}, 1)
	deleted := make(chan string, 1)
	_, stop := runTailer(t, cfg, func(tl *Tailer) {
		tl.testWorkOpenElsewhere = func(string) {
			select {
			case openElsewhere <- struct{}{}:
			default:
			}
		}
		tl.testWorkDeleted = func(p string) { deleted <- p }
	})
	sink.waitFor(t, sessionID(9)) // claimed, and read to its present end
	select {
	case <-openElsewhere:
	case p := <-deleted:
		t.Fatalf("work file %s deleted while a writer still had it open", p)
	case <-time.After(90 * time.Second): // only a machine far overloaded gets here
		t.Fatal("the claimed work file was never found open in the writer")
	}
	write() // records 10 and 11 land in the claimed file; the writer closes it
	select {
	case <-deleted:
	case <-time.After(90 * time.Second):
		t.Fatal("work file not deleted after the writer closed it")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, "mem", sink, 12)
	if names := listDir(t, dir); len(names) != 0 {
		t.Errorf("left in the directory: %v", names)
	}
}

// A writer appending as FreeRADIUS does (lock tried without waiting, the
// file name opened again when refused) while the tailer consumes: the
// tailer claims a work file every few records, and each one is finished
// only because the writer no longer holds it open — settle_time is set far
// beyond the test — yet every record arrives exactly once at both sinks and
// every work file is deleted.
func TestConsumeClaimsBehindAFreeRADIUSWriter(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	const n = 3000
	s1, s2 := newMemSink(n), newMemSink(n)
	cfg := liveConfig(t, dir, state, Consume,
		SinkSpec{Name: "one", Sink: s1, MaxOutstanding: 50, BatchSize: 16},
		SinkSpec{Name: "two", Sink: s2, MaxOutstanding: 7})
	cfg.SettleTime = time.Hour
	var mu sync.Mutex
	deleted := 0
	deletedC := make(chan struct{}, 1)
	_, stop := runTailer(t, cfg, func(tl *Tailer) {
		tl.testWorkDeleted = func(string) {
			mu.Lock()
			deleted++
			mu.Unlock()
			select {
			case deletedC <- struct{}{}:
			default:
			}
		}
	})
	// The writer waits for each claim every 25 records: 120 claims.
	writer := startWriterEnv(t, dir, 0, n, n, []string{"NOWAIT=1", "CLAIM_EVERY=25"})
	if err := <-writer; err != nil {
		t.Fatalf("writer: %v", err)
	}
	waitClosed(t, s1.full, "sink one to get every record")
	waitClosed(t, s2.full, "sink two to get every record")
	// The writer has exited: the last work file is finished and deleted
	// (once both sinks' positions are committed).
	for names := listDir(t, dir); len(names) > 0; names = listDir(t, dir) {
		if len(names) > 1 || names[0] != workName {
			t.Fatalf("left in the spool: %v", names)
		}
		select {
		case <-deletedC:
		case <-time.After(90 * time.Second): // only a machine far overloaded gets here
			t.Fatalf("the last work file was not deleted")
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, "one", s1, n)
	checkExactlyOnce(t, "two", s2, n)
	mu.Lock()
	t.Logf("%d work files claimed and deleted for %d records", deleted, n)
	mu.Unlock()
}
