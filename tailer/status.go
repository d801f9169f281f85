package tailer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// SavedPosition is one sink's saved position in one file, as ReadSavedStates
// returns it: the start of the first record the sink has not acknowledged.
type SavedPosition struct {
	// Path is where the file was last seen (a consume work file, or a
	// followed file).
	Path   string
	Offset int64
	Line   int
	// Done: the file was read to its final end and every record of it was
	// acknowledged or quarantined.
	Done bool
	// Dev and Ino identify the file (0 where the platform has none).
	Dev, Ino uint64
	// MissingSince is set while the file was not found at the last start.
	MissingSince time.Time
}

// SavedState is the checkpoint of one sink in a state directory.
type SavedState struct {
	Sink string
	// Seq grows with every checkpoint.
	Seq uint64
	// Saved is when the checkpoint was written (the modification time of
	// the copy used): the tailer writes one after every group of
	// acknowledgements, so it is also roughly the last delivery.
	Saved time.Time
	Files []SavedPosition
	// Corrupt describes a copy that could not be used (nil when both are fine).
	Corrupt error
}

// ReadSavedStates reads, without changing anything, the checkpoint of every
// sink in the state directory dir, in sink name order. It is safe while a
// Tailer runs on dir: checkpoints are replaced atomically. A sink whose
// both copies are unusable is returned with Corrupt set and no files.
func ReadSavedStates(dir string) ([]SavedState, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("tailer: reading state directory: %w", err)
	}
	var out []SavedState
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".state") {
			continue
		}
		st, err := readSavedState(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Sink < out[j].Sink })
	return out, nil
}

// readSavedState reads both copies of one checkpoint (path and path.synced)
// and keeps the newer valid one, as the tailer does when it starts.
func readSavedState(path string) (SavedState, error) {
	var st SavedState
	var best *stateDoc
	for _, p := range []string{path, path + ".synced"} {
		data, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return st, fmt.Errorf("tailer: reading state %s: %w", p, err)
		}
		doc, derr := decodeState(data)
		if derr != nil {
			if st.Corrupt == nil {
				st.Corrupt = fmt.Errorf("state file %s: %w", p, derr)
			}
			continue
		}
		if best == nil || doc.Seq > best.Seq {
			best = doc
			if fi, err := os.Stat(p); err == nil {
				st.Saved = fi.ModTime()
			}
		}
	}
	if best == nil {
		// The name is all there is: undo stateFileName's escaping.
		st.Sink = unescapeStateName(strings.TrimSuffix(filepath.Base(path), ".state"))
		return st, nil
	}
	st.Sink, st.Seq = best.Sink, best.Seq
	for _, c := range best.Files {
		p := SavedPosition{Path: c.Path, Offset: c.Offset, Line: c.Line, Done: c.Done, Dev: c.Dev, Ino: c.Ino}
		if c.MissingSince != 0 {
			p.MissingSince = time.Unix(c.MissingSince, 0)
		}
		st.Files = append(st.Files, p)
	}
	return st, nil
}

// unescapeStateName reverses stateFileName's %xx escapes (best effort).
func unescapeStateName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			var r rune
			if _, err := fmt.Sscanf(s[i+1:i+3], "%02x", &r); err == nil {
				b.WriteRune(r)
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// QuarantineFiles returns the quarantine files of sink in dir
// (<sink>-YYYYMMDD.detail), oldest first.
func QuarantineFiles(dir, sink string) ([]string, error) {
	prefix := strings.TrimSuffix(stateFileName(sink), ".state") + "-"
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tailer: reading quarantine directory: %w", err)
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		rest, ok := strings.CutPrefix(n, prefix)
		if e.IsDir() || !ok || len(rest) != len("20060102.detail") || !strings.HasSuffix(rest, ".detail") ||
			strings.Trim(rest[:8], "0123456789") != "" {
			continue
		}
		out = append(out, filepath.Join(dir, n))
	}
	sort.Strings(out)
	return out, nil
}
