package tailer

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReadSavedStates(t *testing.T) {
	dir := t.TempDir()
	a := stateFile{dir: dir, name: "a/b"}
	if err := a.save([]cursor{{Path: "/x/detail-1", Offset: 10, Line: 3, Dev: 1, Ino: 2}}, 1, false); err != nil {
		t.Fatal(err)
	}
	// The synced copy is newer: it wins, as at start.
	if err := a.save([]cursor{{Path: "/x/detail-1", Offset: 99, Line: 9, Done: true}}, 2, true); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "broken.state"), []byte("{}\ncrc32c 00000000\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "radrelay-status.json"), []byte("{}"), 0o600)

	got, err := ReadSavedStates(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Sink != "a/b" || got[1].Sink != "broken" {
		t.Fatalf("ReadSavedStates = %+v", got)
	}
	if st := got[0]; st.Seq != 2 || len(st.Files) != 1 || st.Files[0].Offset != 99 || !st.Files[0].Done || st.Saved.IsZero() || st.Corrupt != nil {
		t.Errorf("sink a/b: %+v", st)
	}
	if st := got[1]; st.Corrupt == nil || len(st.Files) != 0 {
		t.Errorf("broken state: %+v", st)
	}
	if _, err := ReadSavedStates(filepath.Join(dir, "none")); err == nil {
		t.Error("no error for a missing directory")
	}
}

func TestQuarantineFiles(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"sql-20261123.detail", "sql-20261122.detail", "sql-x-20261122.detail", "sqlite-20261122.detail", "sql-2026.detail", "sql-abcdefgh.detail"} {
		os.WriteFile(filepath.Join(dir, n), nil, 0o600)
	}
	got, err := QuarantineFiles(dir, "sql")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "sql-20261122.detail"), filepath.Join(dir, "sql-20261123.detail")}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("QuarantineFiles = %q, want %q", got, want)
	}
	if got, err := QuarantineFiles(filepath.Join(dir, "none"), "sql"); err != nil || got != nil {
		t.Errorf("missing directory: %q, %v", got, err)
	}
}
