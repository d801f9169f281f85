package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/dictionary"
)

var checkFlags struct {
	json       bool
	strict     bool
	dictionary string
}

// maxCheckProblems bounds the problems listed (a file of garbage has one per
// line); the counts stay exact.
const maxCheckProblems = 1000

func init() {
	register(&command{
		name:    "check",
		summary: "validate detail files and summarize their records",
		usage: `Usage:
  radrelay check [--json] [--strict] [--dictionary PATH] FILE...

Check reads detail files (as FreeRADIUS 1.x to 4, Cistron and Livingston
write them) and reports, for each file and in total: the number of records,
how many of each Acct-Status-Type (Start, Stop, Interim-Update, ...), how many
are marked done (Donestamp), the earliest and latest Timestamp, every
malformed record with its file, line and what is wrong, and a record cut off
at the end of the file. FILE "-" reads standard input. Files are only read,
never changed, and may be of any size: check streams them.

Files compressed by logrotate (gzip, bzip2, xz, zstd) are read as they lie
on disk, decompressed on the fly; they are recognised by their content, not
their name. The byte counts are of the decompressed text. Records are parsed
on every core, the file cut at record boundaries; what is reported is in
file order, as one reader would see it.

A file is read as finished: a last record whose lines are complete but whose
empty line is missing counts as a record; one whose last line has no line end
is reported as truncated (a writer died, or the file is still being written).

With --strict, every attribute is also checked against the dictionary (the
built-in one, extended by --dictionary PATH): an attribute name it does not
know, or a value that is not valid for the attribute's type (a VALUE name
that does not exist, "abc" for an integer, a malformed address or date), is
an error with the file and line of the attribute. Use it to find what a
RADIUS sink would reject before relaying a file.

Problems are printed one per line as FILE:LINE: what, the form editors and
grep understand. With --json, one JSON object is printed instead:

  {"records": N, "errors": N, "truncated": N, "unreadable": N, "done": N,
   "by_status": {"Start": N, ...}, "first_timestamp": T, "last_timestamp": T,
   "files": [{"file": ..., "bytes": N, "format": "gzip", "records": N, ...}, ...],
   "problems": [{"file": ..., "line": N, "offset": N, "length": N,
                 "kind": "malformed"|"truncated"|"invalid"|"unreadable",
                 "message": ...}]}

(at most ` + fmt.Sprint(maxCheckProblems) + ` problems are listed; the counts are always complete).

Exit status:
  0  every record of every file is well formed
  1  a record is malformed or truncated (with --strict: or invalid)
  2  usage error
  3  a FILE cannot be opened or read: it does not exist, permission is
     denied, it is binary data (not a detail file nor a gzip, bzip2, xz or
     zstd file), or its compressed data is damaged. 3 wins over 1: the
     other files are still checked and reported.

Examples:
  Check today's files of every client:
    radrelay check /var/log/freeradius/radacct/*/detail-$(date +%Y%m%d)

  Check rotated files as logrotate left them, compressed or not:
    radrelay check /var/log/freeradius/radacct/10.0.0.1/detail-202611*

  Check the sample data shipped with radrelay (one clean file, one damaged):
    radrelay check examples/radacct/127.0.0.1/detail-20261123 examples/damaged/detail-damaged

  Check every attribute name and value against the dictionaries (the
  built-in one and a FreeRADIUS server's local additions):
    radrelay check --strict --dictionary /etc/freeradius/3.0/dictionary detail-20261123

  Count the Stop records of a file with jq:
    radrelay check --json detail-20261123 | jq .by_status.Stop

  Use it in a script before archiving a file:
    radrelay check detail-20261122 >/dev/null && mv detail-20261122 /srv/archive/`,
		flags: func(fs *flag.FlagSet) {
			checkFlags.json = false
			fs.BoolVar(&checkFlags.json, "json", false, "print one JSON object instead of text")
			checkFlags.strict = false
			fs.BoolVar(&checkFlags.strict, "strict", false, "also check every attribute name and value against the dictionary")
			addDictionaryFlag(fs, &checkFlags.dictionary)
		},
		run: runCheck,
	})
}

// checkSummary is what check reports for one file or for all of them.
type checkSummary struct {
	File           string         `json:"file,omitempty"`
	Bytes          int64          `json:"bytes"`
	Records        int            `json:"records"`
	Errors         int            `json:"errors"`
	Invalid        int            `json:"invalid,omitempty"`
	Truncated      int            `json:"truncated"`
	Unreadable     int            `json:"unreadable,omitempty"`
	Format         string         `json:"format,omitempty"` // compression, when the file is compressed
	Done           int            `json:"done"`
	ByStatus       map[string]int `json:"by_status"`
	FirstTimestamp *int64         `json:"first_timestamp,omitempty"`
	LastTimestamp  *int64         `json:"last_timestamp,omitempty"`
}

type checkProblem struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Offset  int64  `json:"offset"`
	Length  int64  `json:"length,omitempty"`
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

type checkReport struct {
	checkSummary
	Files           []checkSummary `json:"files"`
	Problems        []checkProblem `json:"problems"`
	ProblemsOmitted int            `json:"problems_omitted,omitempty"`
}

func (s *checkSummary) addTimestamp(ts int64) {
	if s.FirstTimestamp == nil || ts < *s.FirstTimestamp {
		s.FirstTimestamp = &ts
	}
	if s.LastTimestamp == nil || ts > *s.LastTimestamp {
		v := ts
		s.LastTimestamp = &v
	}
}

func (s *checkSummary) add(o *checkSummary) {
	s.Bytes += o.Bytes
	s.Records += o.Records
	s.Errors += o.Errors
	s.Invalid += o.Invalid
	s.Truncated += o.Truncated
	s.Unreadable += o.Unreadable
	s.Done += o.Done
	for k, v := range o.ByStatus {
		s.ByStatus[k] += v
	}
	if o.FirstTimestamp != nil {
		s.addTimestamp(*o.FirstTimestamp)
		s.addTimestamp(*o.LastTimestamp)
	}
}

func runCheck(e *env, args []string) int {
	defer parsingGC(0)()
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, "radrelay check: no FILE given\nrun \"radrelay check --help\" for usage")
		return 2
	}
	var dict *dictionary.Dictionary
	if checkFlags.strict || checkFlags.dictionary != "" {
		d, err := loadDictionary(checkFlags.dictionary)
		if err != nil {
			fmt.Fprintf(e.stderr, "radrelay check: %v\n", err)
			return 2
		}
		if checkFlags.strict {
			dict = d
		}
	}
	report := checkReport{checkSummary: checkSummary{ByStatus: map[string]int{}}, Problems: []checkProblem{}}
	problem := func(p checkProblem) {
		if len(report.Problems) >= maxCheckProblems {
			report.ProblemsOmitted++
			return
		}
		report.Problems = append(report.Problems, p)
		if !checkFlags.json {
			loc := p.File
			if p.Line > 0 {
				loc = fmt.Sprintf("%s:%d", p.File, p.Line)
			}
			msg := p.Message
			// The reader's messages already start with FILE:LINE.
			msg = strings.TrimPrefix(msg, loc+": ")
			fmt.Fprintf(e.stdout, "%s: %s\n", loc, msg)
		}
	}
	for _, name := range args {
		s := checkFile(e, name, dict, problem)
		report.Files = append(report.Files, s)
		report.add(&s)
		if !checkFlags.json {
			printCheckSummary(e.stdout, &s)
		}
	}
	if checkFlags.json {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(&report); err != nil {
			fmt.Fprintf(e.stderr, "radrelay check: %v\n", err)
			return 1
		}
	} else if len(args) > 1 {
		report.File = fmt.Sprintf("total of %d files", len(args))
		printCheckSummary(e.stdout, &report.checkSummary)
	}
	switch {
	case report.Unreadable > 0:
		return exitUnreadable
	case report.Errors > 0 || report.Truncated > 0 || report.Invalid > 0:
		return 1
	}
	return 0
}

// checkFile reads one file and summarizes it, passing each problem to problem.
// With a dictionary (--strict), every attribute is checked against it too.
func checkFile(e *env, name string, dict *dictionary.Dictionary, problem func(checkProblem)) checkSummary {
	s := checkSummary{File: name, ByStatus: map[string]int{}}
	src, err := e.openInput(name)
	if err != nil {
		s.Unreadable++
		problem(checkProblem{File: name, Kind: "unreadable", Message: err.Error()})
		return s
	}
	defer src.Close()
	if src.format.Compressed() {
		s.Format = src.format.String()
	}
	r := detail.NewParallelReader(src, name)
	defer r.Close()
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		var se *detail.SyntaxError
		var te *detail.TruncatedError
		switch {
		case errors.As(err, &se):
			s.Errors++
			problem(checkProblem{File: name, Line: se.Line, Offset: se.Offset, Length: se.Length, Kind: "malformed", Message: se.Msg})
			continue
		case errors.As(err, &te):
			s.Truncated++
			problem(checkProblem{File: name, Line: te.Line, Offset: te.Offset, Length: te.Length, Kind: "truncated",
				Message: fmt.Sprintf("truncated record at the end of the file (offset %d, %d bytes; its last line has no line end)", te.Offset, te.Length)})
			continue
		case err != nil:
			s.Unreadable++
			problem(checkProblem{File: name, Offset: r.Offset(), Kind: "unreadable",
				Message: fmt.Sprintf("cannot be read after %d bytes: %v", r.Offset(), err)})
			s.Bytes = r.Offset()
			return s
		}
		s.Records++
		if dict != nil {
			for i, a := range rec.Attrs {
				if err := dict.Check(a); err != nil {
					s.Invalid++
					// Attribute lines follow the header one per line.
					problem(checkProblem{File: name, Line: rec.Line + 1 + i, Offset: rec.Offset, Length: rec.Length, Kind: "invalid", Message: err.Error()})
				}
			}
		}
		status := "(none)"
		if a, ok := rec.Get("Acct-Status-Type"); ok {
			status = a.Value
		}
		s.ByStatus[status]++
		if rec.Done {
			s.Done++
		}
		if rec.HasTimestamp {
			s.addTimestamp(rec.Timestamp)
		}
	}
	s.Bytes = r.Offset()
	return s
}

func printCheckSummary(w io.Writer, s *checkSummary) {
	verdict := "ok"
	if s.Errors > 0 || s.Truncated > 0 || s.Invalid > 0 {
		verdict = "NOT OK"
	}
	if s.Unreadable > 0 {
		verdict = "NOT OK: cannot be read"
		if s.File != "" && strings.HasPrefix(s.File, "total of ") {
			verdict = fmt.Sprintf("NOT OK: %d cannot be read", s.Unreadable)
		}
	}
	compressed := ""
	if s.Format != "" {
		compressed = " (" + s.Format + ", decompressed)"
	}
	invalid := ""
	if s.Invalid > 0 {
		invalid = fmt.Sprintf(", %d invalid attributes", s.Invalid)
	}
	fmt.Fprintf(w, "%s: %s: %s, %d malformed, %d truncated%s, %s%s\n", s.File, verdict, plural(int64(s.Records), "record"), s.Errors, s.Truncated, invalid, plural(s.Bytes, "byte"), compressed)
	if len(s.ByStatus) > 0 {
		type kv struct {
			k string
			v int
		}
		var st []kv
		for k, v := range s.ByStatus {
			st = append(st, kv{k, v})
		}
		sort.Slice(st, func(i, j int) bool {
			if st[i].v != st[j].v {
				return st[i].v > st[j].v
			}
			return st[i].k < st[j].k
		})
		parts := make([]string, len(st))
		for i, x := range st {
			parts[i] = fmt.Sprintf("%s %d", x.k, x.v)
		}
		fmt.Fprintf(w, "  by Acct-Status-Type: %s\n", strings.Join(parts, ", "))
	}
	if s.Done > 0 {
		fmt.Fprintf(w, "  marked done (Donestamp): %d\n", s.Done)
	}
	if s.FirstTimestamp != nil {
		const layout = "2006-01-02 15:04:05 UTC"
		fmt.Fprintf(w, "  Timestamp: first %s (%d), last %s (%d)\n",
			time.Unix(*s.FirstTimestamp, 0).UTC().Format(layout), *s.FirstTimestamp,
			time.Unix(*s.LastTimestamp, 0).UTC().Format(layout), *s.LastTimestamp)
	}
}
