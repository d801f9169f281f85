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

// The state of one sink is a small JSON document of file cursors:
//
//	{"version":1,"sink":"...","seq":42,"files":[...]}
//	crc32c 1a2b3c4d
//
// The trailing line is the CRC-32C of the JSON line, so a file cut short or
// filled with zeroes by a power cut is recognised as corrupt and ignored.
//
// Two copies are kept, both replaced atomically (write a temporary file, then
// rename it over the old one):
//
//   - <sink>.state is rewritten after every group of acknowledgements,
//     without fsync: a killed process (kill -9, OOM, panic) loses nothing, the
//     page cache keeps it. This is what bounds re-sent records by max_outstanding.
//   - <sink>.state.synced is rewritten every SyncInterval (and at shutdown)
//     with fsync of the file and of the directory: after a power cut it is
//     intact and at most SyncInterval old.
//
// Loading takes the valid copy with the higher sequence number. Either copy
// only ever holds positions of acknowledged records, so whichever survives,
// nothing acknowledged is skipped... and nothing unacknowledged is lost.

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
	// MissingSince (Unix seconds) is set while a saved position's file
	// is not found at start; the position is dropped only after
	// savedCursorGrace, so a spool that is briefly away (not mounted yet,
	// moved by an operator) does not lose every position.
	MissingSince int64 `json:"missing_since,omitempty"`

	// of is the open file the cursor belongs to in this run: an inode number
	// is reused as soon as a deleted file's is freed, so a cursor is matched
	// by the openFile, not by the number.
	of *openFile
}

type stateDoc struct {
	Version int      `json:"version"`
	Sink    string   `json:"sink"`
	Seq     uint64   `json:"seq"`
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

// load returns the saved cursors from the newer valid copy, and its
// sequence number; none when there is no state. corrupt reports a copy that
// existed but could not be used.
func (s stateFile) load() (files []cursor, seq uint64, corrupt error, err error) {
	cur := s.path()
	var best *stateDoc
	for _, p := range []string{cur, cur + ".synced"} {
		data, rerr := os.ReadFile(p)
		if errors.Is(rerr, fs.ErrNotExist) {
			continue
		}
		if rerr != nil {
			return nil, 0, nil, fmt.Errorf("tailer: reading state %s: %w", p, rerr)
		}
		doc, derr := decodeState(data)
		if derr != nil {
			if corrupt == nil {
				corrupt = fmt.Errorf("state file %s: %w", p, derr)
			}
			continue
		}
		if doc.Sink != s.name {
			return nil, 0, nil, fmt.Errorf("tailer: state file %s belongs to sink %q, not %q", p, doc.Sink, s.name)
		}
		if best == nil || doc.Seq > best.Seq {
			best = doc
		}
	}
	if best == nil {
		return nil, 0, corrupt, nil
	}
	return best.Files, best.Seq, corrupt, nil
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

// save replaces <sink>.state (durable false: no fsync, survives a killed
// process) or <sink>.state.synced (durable true: fsynced, survives a power cut).
func (s stateFile) save(files []cursor, seq uint64, durable bool) error {
	body, err := json.Marshal(stateDoc{Version: stateVersion, Sink: s.name, Seq: seq, Files: files})
	if err != nil {
		return err
	}
	data := make([]byte, 0, len(body)+20)
	data = append(data, body...)
	data = fmt.Appendf(data, "\ncrc32c %08x\n", crc32.Checksum(body, crcTable))

	dst := s.path()
	if durable {
		dst += ".synced"
	}
	tmp := dst + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("tailer: saving state: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("tailer: saving state %s: %w", tmp, err)
	}
	if durable {
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("tailer: saving state %s: %w", tmp, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("tailer: saving state %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("tailer: saving state: %w", err)
	}
	if durable {
		return syncDir(s.dir)
	}
	return nil
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
