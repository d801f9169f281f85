package tailer

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// liveConfig is a consume or follow configuration with fast test timings.
func liveConfig(t *testing.T, dir, state string, mode Mode, specs ...SinkSpec) Config {
	return Config{
		Inputs:        []Input{{Glob: filepath.Join(dir, "detail-*"), Mode: mode}},
		Sinks:         specs,
		StateDir:      state,
		QuarantineDir: filepath.Join(state, "quarantine"),
		PollInterval:  50 * time.Millisecond,
		SettleTime:    30 * time.Millisecond,
		Logger:        testLogger(t),
	}
}

// testConcurrentWriter runs a writer process appending n records through
// rotation while the tailer delivers them to two sinks, then checks each
// sink got every record exactly once, and that a restart re-sends nothing.
// readAhead sets Input.ReadAhead (Consume).
func testConcurrentWriter(t *testing.T, mode Mode, renameEvery int, readAhead bool) {
	dir, state := t.TempDir(), t.TempDir()
	const n = 2000
	s1, s2 := newMemSink(n), newMemSink(n)
	cfg := liveConfig(t, dir, state, mode,
		SinkSpec{Name: "one", Sink: s1, MaxOutstanding: 50, BatchSize: 16},
		SinkSpec{Name: "two", Sink: s2, MaxOutstanding: 7})
	cfg.Inputs[0].ReadAhead = readAhead
	_, stop := runTailer(t, cfg)
	writer := startWriter(t, dir, 0, n, 500, renameEvery, func(first int) {
		s1.waitFor(t, fmt.Sprintf("s%08d", first))
	})
	waitClosed(t, s1.full, "sink one to get every record")
	waitClosed(t, s2.full, "sink two to get every record")
	if err := <-writer; err != nil {
		t.Fatalf("writer: %v", err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, "one", s1, n)
	checkExactlyOnce(t, "two", s2, n)

	names := listDir(t, dir)
	switch mode {
	case Follow:
		// Read-only: every record is still in the files, none marked.
		var all []byte
		for _, name := range names {
			if name == workName {
				t.Errorf("follow mode created %s", workName)
			}
			b, _ := os.ReadFile(filepath.Join(dir, name))
			all = append(all, b...)
		}
		if c := bytes.Count(all, []byte("\n\tTimestamp = ")); c != n {
			t.Errorf("the source files hold %d records, want %d untouched", c, n)
		}
	case Consume:
		// What is left (the newest files) holds only records marked done.
		for _, name := range names {
			recs, _ := readDetail(t, filepath.Join(dir, name))
			for _, r := range recs {
				if !r.Done && name == workName {
					t.Errorf("%s: record at line %d delivered but not marked done", name, r.Line)
				}
			}
		}
	}

	// Restart with fresh sinks and append one record in a new file: it must
	// be the only one delivered (nothing before it is sent again).
	r1, r2 := newMemSink(1), newMemSink(1)
	cfg.Sinks[0].Sink, cfg.Sinks[1].Sink = r1, r2
	_, stop = runTailer(t, cfg)
	if err := appendLocked(filepath.Join(dir, "detail-9999"), testRecord(n)); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, r1.full, "the new record (one)")
	waitClosed(t, r2.full, "the new record (two)")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*memSink{r1, r2} {
		got, total := s.snapshot()
		if total != 1 || got[sessionID(n)] != 1 {
			var ids []string
			for id := range got {
				ids = append(ids, id)
			}
			t.Errorf("after restart: %d deliveries (%s...), want only the new record", total, strings.Join(ids[:min(5, len(ids))], ","))
		}
	}
}

func TestConsumeConcurrentWriterExactlyOnce(t *testing.T) {
	testConcurrentWriter(t, Consume, 0, false)
}

// The same with ReadAhead: the sinks read files waiting to be claimed in
// place, and still get every record once, across a restart.
func TestConsumeReadAheadConcurrentWriterExactlyOnce(t *testing.T) {
	testConcurrentWriter(t, Consume, 0, true)
}

func TestFollowConcurrentWriterExactlyOnce(t *testing.T) {
	testConcurrentWriter(t, Follow, 0, false)
}

func TestFollowAcrossRenameRotation(t *testing.T) {
	testConcurrentWriter(t, Follow, 450, false)
}

// A followed file truncated in place (copytruncate) is read again from its
// start; a file renamed out of the glob is read to its end first.
func TestFollowTruncationAndRenameAway(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "detail-live")
	writeRecords(t, path, 0, 50)
	sink := newMemSink(50)
	cfg := liveConfig(t, dir, t.TempDir(), Follow, SinkSpec{Name: "mem", Sink: sink, MaxOutstanding: 8})
	_, stop := runTailer(t, cfg)
	waitClosed(t, sink.full, "the first 50 records")

	// copytruncate: the same inode, emptied, then written again.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	sink.want, sink.full = 80, make(chan struct{})
	sink.mu.Unlock()
	for i := 50; i < 80; i++ {
		if err := appendLocked(path, testRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	waitClosed(t, sink.full, "the records written after the truncation")

	// Rename away (out of the glob) right after appending: the appended
	// records are still delivered.
	sink.mu.Lock()
	sink.want, sink.full = 100, make(chan struct{})
	sink.mu.Unlock()
	for i := 80; i < 100; i++ {
		if err := appendLocked(path, testRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(path, filepath.Join(dir, "rotated.1")); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, sink.full, "the records of the renamed file")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, "mem", sink, 100)
}

// A record still being written at the end of a growing file is waited for,
// never delivered half-written; once complete it is delivered once.
func TestPartialRecordIsWaitedFor(t *testing.T) {
	for _, mode := range []Mode{Consume, Follow} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			slow := filepath.Join(dir, "detail-1")
			newer := filepath.Join(dir, "detail-2")
			if mode == Consume {
				// Consume reads only claimed work files, one per
				// directory: the newer file lives in a second one.
				for _, d := range []string{"a", "b"} {
					os.Mkdir(filepath.Join(dir, d), 0o700)
				}
				slow, newer = filepath.Join(dir, "a", "detail-1"), filepath.Join(dir, "b", "detail-2")
			}
			rec := testRecord(0)
			half := len(rec) / 2
			// The slow writer keeps the file open between the halves, as
			// a writer in the middle of a record does (in consume mode
			// the claimed file is final as soon as nobody holds it open).
			f, err := os.OpenFile(slow, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.Write(rec[:half]); err != nil {
				t.Fatal(err)
			}
			old := time.Now().Add(-time.Hour)
			os.Chtimes(slow, old, old)
			sink := newMemSink(1)
			cfg := liveConfig(t, dir, t.TempDir(), mode, SinkSpec{Name: "mem", Sink: sink})
			cfg.SettleTime = 24 * time.Hour // the writer is only slow, not gone
			if mode == Consume {
				cfg.Inputs[0].Glob = filepath.Join(dir, "*", "detail-*")
			}
			_, stop := runTailer(t, cfg)
			// A newer file: once its record is delivered, the reader has
			// been over the half-written one (older files are read first).
			writeRecords(t, newer, 1, 2)
			waitClosed(t, sink.full, "the newer file's record")
			if got, _ := sink.snapshot(); got[sessionID(0)] != 0 {
				t.Fatal("a half-written record was delivered")
			}
			sink.mu.Lock()
			sink.want, sink.full = 2, make(chan struct{})
			sink.mu.Unlock()
			// (In consume mode the file was claimed meanwhile: the
			// writer's descriptor now writes to the work file.)
			if _, err := f.Write(rec[half:]); err != nil {
				t.Fatal(err)
			}
			f.Close()
			waitClosed(t, sink.full, "the completed record")
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			checkExactlyOnce(t, "mem", sink, 2)
		})
	}
}
