package tailer

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/radrelay/radrelay/archive"
)

// Files the maintainer leaves alone: compressed or binary files in the glob
// (never claimed, renamed or deleted; skipped with one warning each) and
// files that cannot be opened (set aside with one error saying what to fix,
// tried again with backoff, logged again only when the error changes or the
// file can be read again). Neither holds up the other files.

// asideMaxBackoff caps the wait between two attempts to open a set-aside file.
const asideMaxBackoff = 5 * time.Minute

// asideFile is a file that could not be opened.
type asideFile struct {
	err     string
	next    time.Time // not tried again before
	backoff time.Duration
}

// setAside records that path cannot be opened. The first time, and when the
// error changes, it is logged at ERROR with what to fix.
func (m *maintainer) setAside(path string, err error) {
	now := time.Now()
	a := m.aside[path]
	if a == nil || a.err != err.Error() {
		hint := "radrelay reads it again when it can"
		if errors.Is(err, fs.ErrPermission) {
			hint = "give radrelay's user read access (and, in consume mode, write access) to the file; radrelay goes on with the other files and tries this one again"
		}
		m.t.log.Error("cannot open input file; set aside, the other files go on", "file", path, "err", err, "fix", hint)
		a = &asideFile{err: err.Error(), backoff: m.t.cfg.PollInterval}
		m.aside[path] = a
	} else {
		a.backoff = min(2*a.backoff, asideMaxBackoff)
		m.t.log.Debug("set-aside input file still cannot be opened", "file", path, "retry_in", a.backoff)
	}
	a.next = now.Add(a.backoff)
}

// waitingAside reports whether path was set aside and is not due for another
// attempt yet.
func (m *maintainer) waitingAside(path string) bool {
	a := m.aside[path]
	return a != nil && time.Now().Before(a.next)
}

// readable notes that path could be opened; a set-aside file that recovered
// is logged once.
func (m *maintainer) readable(path string) {
	if _, ok := m.aside[path]; ok {
		delete(m.aside, path)
		m.t.log.Info("input file can be opened again; reading it", "file", path)
	}
}

// isText reports whether a candidate holds detail text. A compressed or
// binary file is warned about once (per file) and left alone; one that cannot
// be read is set aside.
func (m *maintainer) isText(c candidate) bool {
	if _, ok := m.archives[c.key]; ok {
		return false
	}
	format, err := detectFile(c.path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			m.setAside(c.path, err)
		}
		return false
	}
	if format == archive.Text {
		return true
	}
	m.archives[c.key] = format
	what := "compressed (" + format.String() + ")"
	if format == archive.Binary {
		what = "binary data, not a detail file"
	}
	m.t.log.Warn("input file is "+what+"; left alone (never claimed, renamed or deleted); use radrelay replay to deliver an archive",
		"file", c.path, "format", format.String())
	m.t.skippedFiles.Add(1)
	return false
}

// pruneSkipped forgets skipped and set-aside files that left the listing
// (listed holds every path found), so a file that comes back is looked at
// afresh.
func (m *maintainer) pruneSkipped(listed map[string]bool) {
	for p := range m.aside {
		if !listed[p] {
			delete(m.aside, p)
		}
	}
	if len(m.archives) == 0 {
		return
	}
	keys := map[fileKey]bool{}
	for p := range listed {
		if fi, err := os.Stat(p); err == nil {
			keys[keyOf(fi)] = true
		}
	}
	for k := range m.archives {
		if !keys[k] {
			delete(m.archives, k)
			m.t.skippedFiles.Add(-1)
		}
	}
}

// detectFile returns the format of the file at path from its first bytes.
func detectFile(path string) (archive.Format, error) {
	f, err := os.Open(path)
	if err != nil {
		return archive.Text, err
	}
	defer f.Close()
	return detectOpen(f)
}

func detectOpen(f *os.File) (archive.Format, error) {
	head := make([]byte, archive.HeadSize)
	n, err := f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return archive.Text, err
	}
	return archive.Detect(head[:n]), nil
}

// listError logs an error listing a glob (an entry that cannot be stat'ed)
// when it is new or changed, not at every look, and says when the listing
// works again.
func (m *maintainer) listError(glob string, err error) {
	prev, had := m.listErrs[glob]
	switch {
	case err == nil && had:
		delete(m.listErrs, glob)
		m.t.log.Info("listing input files works again", "glob", glob)
	case err != nil && (!had || prev != err.Error()):
		m.listErrs[glob] = err.Error()
		m.t.log.Error("listing input files", "glob", glob, "err", err)
	}
}
