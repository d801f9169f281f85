package tailer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The state of one sink is a small JSON document of file cursors, written to
// <StateDir>/<sink>.state as
//
//	{"version":1,"sink":"...","files":[...]}
//	crc32c 1a2b3c4d
//
// The trailing line is the CRC-32C of the JSON line, so a file cut short or
// filled with zeroes by a power cut is recognised as corrupt. Every save writes
// a temporary file, fsyncs it, renames the current file to <sink>.state.prev,
// renames the temporary file into place and fsyncs the directory: whatever
// instant the machine stops, one of the two files is complete and valid, and
// loading falls back to the previous one when the current one is not.

const stateVersion = 1

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// cursor is one sink's position in one file.
type cursor struct {
	// Dev, Ino and the fingerprint (CRC-32C of the first FPLen bytes)
	// identify the file across renames and restarts.
	Dev   uint64 `json:"dev"`
	Ino   uint64 `json:"ino"`
	FPLen int    `json:"fp_len"`
	FP    uint32 `json:"fp"`
	// Path is where the file was last seen (for messages and for finding a
	// consume work file again).
	Path string `json:"path"`
	// Offset is the start of the first record not yet acknowledged and Line
	// its line number (1-based).
	Offset int64 `json:"offset"`
	Line   int   `json:"line"`
	// Done is set when the file was read to its final end and every record
	// of it was acknowledged or quarantined.
	Done bool `json:"done,omitempty"`
}

type stateDoc struct {
	Version int      `json:"version"`
	Sink    string   `json:"sink"`
	Files   []cursor `json:"files"`
}

// stateFile stores one sink's cursors.
type stateFile struct {
	dir, name string
}

func (s stateFile) path() string { return filepath.Join(s.dir, stateFileName(s.name)) }

// stateFileName turns a sink name into a file name that cannot escape the
// state directory.
func stateFileName(sink string) string {
	var b strings.Builder
	for _, r := range sink {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			fmt.Fprintf(&b, "%%%02x", r)
		}
	}
	return b.String() + ".state"
}

// load returns the saved cursors: from the current file when it is valid,
// else from the previous one, else none. corrupt reports a state file that
// existed but could not be used.
func (s stateFile) load() (files []cursor, corrupt error, err error) {
	cur := s.path()
	for i, p := range []string{cur, cur + ".prev"} {
		data, rerr := os.ReadFile(p)
		if errors.Is(rerr, fs.ErrNotExist) {
			continue
		}
		if rerr != nil {
			return nil, nil, fmt.Errorf("tailer: reading state %s: %w", p, rerr)
		}
		doc, derr := decodeState(data)
		if derr != nil {
			if corrupt == nil {
				corrupt = fmt.Errorf("state file %s: %w", p, derr)
			}
			continue
		}
		if doc.Sink != s.name {
			return nil, nil, fmt.Errorf("tailer: state file %s belongs to sink %q, not %q", p, doc.Sink, s.name)
		}
		_ = i
		return doc.Files, corrupt, nil
	}
	return nil, corrupt, nil
}

func decodeState(data []byte) (*stateDoc, error) {
	nl := bytes.IndexByte(data, '\n')
	if nl < 0 {
		return nil, errors.New("no checksum line (cut short)")
	}
	body, tail := data[:nl], strings.TrimSpace(string(data[nl+1:]))
	hex, ok := strings.CutPrefix(tail, "crc32c ")
	if !ok {
		return nil, errors.New("no checksum line")
	}
	want, err := strconv.ParseUint(hex, 16, 32)
	if err != nil {
		return nil, fmt.Errorf("bad checksum %q", hex)
	}
	if got := crc32.Checksum(body, crcTable); got != uint32(want) {
		return nil, fmt.Errorf("checksum mismatch (%08x, want %08x)", got, want)
	}
	var doc stateDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, err
	}
	if doc.Version != stateVersion {
		return nil, fmt.Errorf("unknown state version %d", doc.Version)
	}
	return &doc, nil
}

// save stores files atomically and durably.
func (s stateFile) save(files []cursor) error {
	body, err := json.Marshal(stateDoc{Version: stateVersion, Sink: s.name, Files: files})
	if err != nil {
		return err
	}
	data := make([]byte, 0, len(body)+20)
	data = append(data, body...)
	data = fmt.Appendf(data, "\ncrc32c %08x\n", crc32.Checksum(body, crcTable))

	cur := s.path()
	tmp := cur + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("tailer: saving state: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("tailer: saving state %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("tailer: saving state %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("tailer: saving state %s: %w", tmp, err)
	}
	if err := os.Rename(cur, cur+".prev"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("tailer: saving state: %w", err)
	}
	if err := os.Rename(tmp, cur); err != nil {
		return fmt.Errorf("tailer: saving state: %w", err)
	}
	return syncDir(s.dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("tailer: fsync %s: %w", dir, err)
	}
	return nil
}
