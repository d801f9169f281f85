package tailer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/radrelay/radrelay/detail"
)

// Quarantine annotations. A quarantined record is written in detail format
// with these attributes first, so the quarantine file stays a valid detail
// file: an operator reads why and where from, and `radrelay replay` can send
// it again once the cause is fixed (the tailer strips every attribute whose
// name starts with QuarantineAttrPrefix before handing a record to a sink).
const (
	QuarantineAttrPrefix = "Radrelay-Quarantine-"
	// QuarantineReasonAttr says why: "rejected: ...", "malformed: ...",
	// "truncated: ...", "retries exhausted: ...".
	QuarantineReasonAttr = QuarantineAttrPrefix + "Reason"
	// QuarantineSourceAttr is "file:line:offset" of the record in its source.
	QuarantineSourceAttr = QuarantineAttrPrefix + "Source"
	// QuarantineSinkAttr names the sink the record was meant for; an
	// entry of a record that could not be parsed is written once for every
	// sink, and names them all, comma-separated.
	QuarantineSinkAttr = QuarantineAttrPrefix + "Sink"
	// QuarantineTimeAttr is when it was quarantined (Unix seconds).
	QuarantineTimeAttr = QuarantineAttrPrefix + "Time"
	// QuarantineRawAttr holds, quoted, the bytes of a record that could not
	// be parsed (malformed or truncated); such a quarantined record has no
	// other attributes, and replaying it quarantines it again until an
	// operator repairs it by hand.
	QuarantineRawAttr = QuarantineAttrPrefix + "Raw"
	// QuarantineRawFileAttr names a side file holding every byte of an
	// unparseable span too long to keep inline (an oversized record, a run
	// of garbage); Raw then holds its first bytes only.
	QuarantineRawFileAttr = QuarantineAttrPrefix + "Raw-File"
	// QuarantineRawLengthAttr is the length in bytes of the unparseable span
	// in its source (set when Raw does not hold all of it).
	QuarantineRawLengthAttr = QuarantineAttrPrefix + "Raw-Length"
)

// quarantine appends one sink's quarantined records to
// <QuarantineDir>/<sink>-YYYYMMDD.detail (one file per sink and day, so
// `radrelay replay --to SINK` can send them again to that sink only).
type quarantine struct {
	dir, sink string
	// every names all sinks: the Sink of an entry that could not be
	// parsed, quarantined once for all of them (unparsed.go).
	every string

	mu    sync.Mutex
	f     *os.File
	day   string
	dirty bool
	buf   []byte
}

func (q *quarantine) fileFor(now time.Time) string {
	name := strings.TrimSuffix(stateFileName(q.sink), ".state")
	return filepath.Join(q.dir, name+"-"+now.Format("20060102")+".detail")
}

// put writes rec (nil for an unparsable span, whose bytes are raw) with the
// annotations. It does not fsync; sync does, before a checkpoint moves past it.
func (q *quarantine) put(rec *detail.Record, raw []byte, reason, file string, line int, offset int64, extra ...detail.Attribute) error {
	if q.dir == "" {
		return fmt.Errorf("no quarantine directory configured")
	}
	now := time.Now()
	sink := q.sink
	if rec == nil && q.every != "" {
		sink = q.every
	}
	ann := []detail.Attribute{
		{Name: QuarantineReasonAttr, Value: reason, Quoted: true},
		{Name: QuarantineSourceAttr, Value: file + ":" + strconv.Itoa(line) + ":" + strconv.FormatInt(offset, 10), Quoted: true},
		{Name: QuarantineSinkAttr, Value: sink, Quoted: true},
		{Name: QuarantineTimeAttr, Value: strconv.FormatInt(now.Unix(), 10)},
	}
	var out detail.Record
	if rec != nil {
		out = *rec
		out.Attrs = append(ann, stripQuarantine(rec.Attrs)...)
	} else {
		out = detail.Record{
			Header:       detail.FormatHeader(now),
			Attrs:        append(append(ann, extra...), detail.Attribute{Name: QuarantineRawAttr, Value: string(raw), Quoted: true}),
			Timestamp:    now.Unix(),
			HasTimestamp: true,
		}
	}
	out.Done = false
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.openLocked(now); err != nil {
		return err
	}
	q.buf = detail.AppendRecord(q.buf[:0], &out)
	fi, err := q.f.Stat()
	if err != nil {
		return fmt.Errorf("writing quarantine %s: %w", q.f.Name(), err)
	}
	if _, err := q.f.Write(q.buf); err != nil {
		// A partial write (ENOSPC) would leave half a record that the
		// retry's full copy then follows: cut it off again.
		if terr := q.f.Truncate(fi.Size()); terr != nil {
			err = errors.Join(err, terr)
		}
		return fmt.Errorf("writing quarantine %s: %w", q.f.Name(), err)
	}
	q.dirty = true
	return nil
}

// saveRaw copies length bytes of src from offset into a new side file next
// to the quarantine files, fsynced, and returns its path. A side file is
// written before the entry that names it, so an entry never points nowhere.
func (q *quarantine) saveRaw(src io.ReaderAt, offset, length int64) (string, error) {
	if q.dir == "" {
		return "", fmt.Errorf("no quarantine directory configured")
	}
	if err := os.MkdirAll(q.dir, 0o700); err != nil {
		return "", fmt.Errorf("creating quarantine directory: %w", err)
	}
	now := time.Now()
	name := strings.TrimSuffix(stateFileName(q.sink), ".state")
	path := filepath.Join(q.dir, fmt.Sprintf("%s-%s-%d-%d.raw", name, now.Format("20060102"), now.UnixNano(), offset))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("writing quarantine side file: %w", err)
	}
	n, err := io.Copy(f, io.NewSectionReader(src, offset, length))
	if err == nil && n < length {
		err = fmt.Errorf("source ended after %d of %d bytes", n, length)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return "", fmt.Errorf("writing quarantine side file %s: %w", path, err)
	}
	return path, nil
}

func (q *quarantine) openLocked(now time.Time) error {
	day := now.Format("20060102")
	if q.f != nil && q.day == day {
		return nil
	}
	if q.f != nil {
		// Records of the previous day not fsynced yet must not be lost
		// with the descriptor.
		if q.dirty {
			if err := q.f.Sync(); err != nil {
				return fmt.Errorf("fsync quarantine %s: %w", q.f.Name(), err)
			}
			q.dirty = false
		}
		q.f.Close()
		q.f = nil
	}
	if err := os.MkdirAll(q.dir, 0o700); err != nil {
		return fmt.Errorf("creating quarantine directory: %w", err)
	}
	f, err := os.OpenFile(q.fileFor(now), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("opening quarantine file: %w", err)
	}
	q.f, q.day = f, day
	return nil
}

// sync makes quarantined records durable.
func (q *quarantine) sync() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.dirty || q.f == nil {
		return nil
	}
	// dirty is cleared only once the fsync succeeded: a failed one is
	// retried by the next flush, which must not pass these records first.
	if err := q.f.Sync(); err != nil {
		return err
	}
	q.dirty = false
	return nil
}

func (q *quarantine) close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.f == nil {
		return nil
	}
	err := q.f.Sync()
	if cerr := q.f.Close(); err == nil {
		err = cerr
	}
	q.f = nil
	return err
}

// stripQuarantine returns attrs without quarantine annotations (attrs itself
// when there are none, the common case).
func stripQuarantine(attrs []detail.Attribute) []detail.Attribute {
	n := 0
	for i := range attrs {
		if isQuarantineAttr(attrs[i].Name) {
			n++
		}
	}
	if n == 0 {
		return attrs
	}
	out := make([]detail.Attribute, 0, len(attrs)-n)
	for _, a := range attrs {
		if !isQuarantineAttr(a.Name) {
			out = append(out, a)
		}
	}
	return out
}

func isQuarantineAttr(name string) bool {
	return len(name) > len(QuarantineAttrPrefix) && name[0] == 'R' && strings.HasPrefix(name, QuarantineAttrPrefix)
}
