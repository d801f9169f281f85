package tailer

import (
	"time"
)

// Quarantine warnings are logged one by one for the first few records of a
// file, then summarised (with counts): a file of garbage, or a dead sink
// over its retry budget, must not write a log line per record.
const (
	quarantineLogFirst     = 5           // records of one file logged one by one
	quarantineSummaryEvery = time.Minute // at most one summary per file this often
)

// fileQuarantineLog counts the quarantined records of one file.
type fileQuarantineLog struct {
	logged     int       // entries logged one by one
	unlogged   int       // records quarantined since the last line about this file
	lastReason string    // reason of the last of them
	since      time.Time // of the last line about this file
}

// logQuarantined logs a quarantined item (n records) or counts it for the
// file's next summary.
func (r *sinkRunner) logQuarantined(it *item, reason string, n int) {
	r.qlogMu.Lock()
	fl := r.qlog[it.file]
	if fl == nil {
		fl = &fileQuarantineLog{}
		r.qlog[it.file] = fl
	}
	now := time.Now()
	if fl.logged < quarantineLogFirst {
		fl.logged++
		fl.since = now
		last := fl.logged == quarantineLogFirst
		r.qlogMu.Unlock()
		args := []any{"file", it.file, "line", it.line, "offset", it.offset, "reason", reason, "quarantine", r.q.dir}
		if n > 1 {
			args = append(args, "records", n)
		}
		if last {
			args = append(args, "note", "further records of this file quarantined are summarised, at most once a minute")
		}
		log := r.log
		if it.rec == nil && len(r.t.runners) > 1 {
			// Quarantined once for every sink (unparsed.go).
			log = r.t.log.With("sinks", r.q.every)
		}
		log.Warn("record quarantined", args...)
		return
	}
	fl.unlogged += n
	fl.lastReason = reason
	due := now.Sub(fl.since) >= quarantineSummaryEvery
	r.qlogMu.Unlock()
	if due {
		r.summariseQuarantine(it.file)
	}
}

// summariseQuarantine logs how many records of file were quarantined
// without a line of their own since the last line about it (file "" : every file).
func (r *sinkRunner) summariseQuarantine(file string) {
	r.qlogMu.Lock()
	type sum struct {
		file, reason string
		n            int
	}
	var out []sum
	for f, fl := range r.qlog {
		if (file == "" || f == file) && fl.unlogged > 0 {
			out = append(out, sum{f, fl.lastReason, fl.unlogged})
			fl.unlogged = 0
			fl.since = time.Now()
		}
	}
	r.qlogMu.Unlock()
	for _, s := range out {
		r.log.Warn("more records quarantined", "file", s.file, "records", s.n, "last_reason", s.reason, "quarantine", r.q.dir)
	}
}

// endQuarantineLog summarises a finished file and forgets its counts.
func (r *sinkRunner) endQuarantineLog(file string) {
	r.summariseQuarantine(file)
	r.qlogMu.Lock()
	delete(r.qlog, file)
	r.qlogMu.Unlock()
}
