package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks/file"
	"github.com/radrelay/radrelay/sinks/route"
)

var catFlags struct {
	format     string
	columns    string
	dictionary string
	filter     filterFlags
}

// filterFlags are a sink filter ([sink.filter], sinks/route) given as
// flags: the same criteria, the same meaning.
type filterFlags struct {
	statusType, nas, nasIdentifier, realm, keep, drop string
	match                                             stringList
}

func (f *filterFlags) register(fs *flag.FlagSet) {
	*f = filterFlags{}
	fs.StringVar(&f.statusType, "status-type", "", "only records whose Acct-Status-Type is in `LIST` (e.g. Stop or Start,Stop)")
	fs.StringVar(&f.nas, "nas", "", "only records from the NAS addresses or CIDR prefixes in `LIST`")
	fs.StringVar(&f.nasIdentifier, "nas-identifier", "", "only records whose NAS-Identifier is in `LIST`")
	fs.StringVar(&f.realm, "realm", "", "only records whose User-Name realm is in `LIST` (NULL: no realm)")
	fs.Var(&f.match, "match", "only records whose attribute matches: `ATTR=REGEXP` (repeat: all must match)")
	fs.StringVar(&f.keep, "keep-attributes", "", "print only the attributes in `LIST` (shell patterns)")
	fs.StringVar(&f.drop, "drop-attributes", "", "leave out the attributes in `LIST` (shell patterns)")
}

// filter returns the filter the flags describe (nil: none).
func (f *filterFlags) filter() (*route.Filter, error) {
	list := func(s string) []string {
		var out []string
		for _, v := range strings.Split(s, ",") {
			if v = strings.TrimSpace(v); v != "" {
				out = append(out, v)
			}
		}
		return out
	}
	c := route.Config{StatusType: list(f.statusType), NAS: list(f.nas), NASIdentifier: list(f.nasIdentifier),
		Realm: list(f.realm), KeepAttributes: list(f.keep), DropAttributes: list(f.drop)}
	for _, m := range f.match {
		name, re, ok := strings.Cut(m, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--match %q: want ATTR=REGEXP", m)
		}
		if c.Match == nil {
			c.Match = map[string]string{}
		}
		c.Match[name] = re
	}
	if c.IsZero() {
		return nil, nil
	}
	return route.New(c)
}

func init() {
	register(&command{
		name:    "cat",
		summary: "print the records of detail files as detail, JSON lines or CSV",
		usage: `Usage:
  radrelay cat [--format detail|json|csv] [--columns LIST] [--dictionary PATH] FILE...

Cat reads detail files (FreeRADIUS 1.x to 4, Cistron, Livingston) and prints
their records on standard output, in file order. FILE "-" reads standard
input. Files are only read, never changed. Files compressed by logrotate
(gzip, bzip2, xz, zstd) are read decompressed, recognised by their content.
Records are parsed on every core and printed in file order.

Formats:
  detail  (default) each record re-written by radrelay's writer, byte for
          byte as FreeRADIUS 3.2 writes it: cat of a file FreeRADIUS 3.2
          wrote reproduces the file exactly. Concatenating files, or dropping
          malformed records from a damaged file, gives a clean detail file.
  json    JSON Lines, one object per record:
            {"time":"2026-11-23T11:57:39Z","timestamp":1795435059,
             "header":"Mon Nov 23 11:57:39 2026","file":"detail-20261123",
             "line":1,"offset":0,"attributes":{"User-Name":"carl",
             "Acct-Status-Type":"Start","Cisco-AVPair":["a=b","c=d"],...}}
          Attributes keep file order; a repeated attribute is an array; a
          tagged one is "Name:tag". Values are typed by the dictionary (the
          built-in one, extended by --dictionary PATH): integers, dates and
          counters are JSON numbers, VALUE names stay names ("Start"),
          addresses and octets ("0x...") are strings, and an attribute the
          dictionary does not know keeps its text. A string that is not
          valid UTF-8 is given as the detail file writes it (\ooo escapes),
          its attribute named in "escaped" (the header line or file name
          in "escaped_fields").
          "done": true marks a record FreeRADIUS marked done (Donestamp).
  csv     a comma-delimited accounting log with a header row (RFC 4180,
          CR LF), ready for a spreadsheet: one row per record, one column
          per attribute of --columns, in the order given. The default
          columns are Date, Time and Timestamp of the record, the usual
          accounting attributes (User-Name, NAS-IP-Address, Acct-Session-Id,
          Acct-Session-Time, octet and packet counters, ...) and
          Other-Attributes, which holds every attribute of the record that
          has no column of its own (Name = value; ...), so nothing is lost.
          Columns are fixed in advance because cat streams: it never holds
          a file in memory. Special columns: Date and Time (of the
          record's Timestamp, in local time, as the header), Timestamp,
          Done, Header, File, Line, Offset, Other-Attributes.

Filters select records with the criteria of a sink's [sink.filter]
(docs/configuration.md), with the same meaning: --status-type, --nas,
--nas-identifier, --realm and --match ATTR=REGEXP must all match (a list
matches when any entry does); --keep-attributes or --drop-attributes
choose the attributes printed.

Malformed records and a record cut off at the end of a file are reported on
standard error as FILE:LINE: what, and left out of the output; cat goes on
with the next record.

Exit status:
  0  every record was printed
  1  a record was malformed or truncated (left out, the rest printed)
  2  usage error
  3  a FILE cannot be opened or read: it does not exist, permission is
     denied, it is binary data (not a detail file nor a gzip, bzip2, xz or
     zstd file), or its compressed data is damaged. 3 wins over 1: the
     other files are still printed.

Examples:
  Look at the sample data as JSON (with jq):
    radrelay cat --format json examples/radacct/127.0.0.1/detail-20261123 | jq '.attributes["User-Name"]'

  A spreadsheet of one day's Stop records, chosen columns:
    radrelay cat --format csv --status-type Stop \
      --columns Date,Time,User-Name,Acct-Session-Time,Acct-Input-Octets,Acct-Output-Octets \
      /var/log/freeradius/radacct/*/detail-20261122 > 2026-11-22.csv

  Last month's rotated files, compressed or not, as one JSON Lines stream:
    radrelay cat --format json /var/log/freeradius/radacct/*/detail-202611* > 2026-11.jsonl

  Drop the damaged records of a file, keeping every good one:
    radrelay cat examples/damaged/detail-damaged > detail-clean

  Check that radrelay's writer reproduces a FreeRADIUS file:
    radrelay cat detail-20261123 | cmp - detail-20261123`,
		flags: func(fs *flag.FlagSet) {
			catFlags.format, catFlags.columns = "detail", ""
			fs.StringVar(&catFlags.format, "format", "detail", "output `FORMAT`: detail, json (JSON Lines) or csv")
			fs.StringVar(&catFlags.columns, "columns", "", "csv: comma-separated `LIST` of columns (default: Date,Time,Timestamp, the usual accounting attributes, Other-Attributes)")
			addDictionaryFlag(fs, &catFlags.dictionary)
			catFlags.filter.register(fs)
		},
		run: runCat,
	})
}

func runCat(e *env, args []string) int {
	defer parsingGC(0)()
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, "radrelay cat: no FILE given\nrun \"radrelay cat --help\" for usage")
		return 2
	}
	dict, err := loadDictionary(catFlags.dictionary)
	if err != nil {
		fmt.Fprintf(e.stderr, "radrelay cat: %v\n", err)
		return 2
	}
	opts := file.EncoderOptions{Dictionary: dict}
	if catFlags.columns != "" {
		if !strings.EqualFold(catFlags.format, file.FormatCSV) {
			fmt.Fprintln(e.stderr, "radrelay cat: --columns is for --format csv")
			return 2
		}
		for _, c := range strings.Split(catFlags.columns, ",") {
			opts.Columns = append(opts.Columns, strings.TrimSpace(c))
		}
	}
	enc, err := file.NewEncoder(catFlags.format, opts)
	if err != nil {
		fmt.Fprintf(e.stderr, "radrelay cat: --format: %v\n", err)
		return 2
	}
	filter, err := catFlags.filter.filter()
	if err != nil {
		fmt.Fprintf(e.stderr, "radrelay cat: %v\n", err)
		return 2
	}
	encode := enc.Append
	if filter != nil {
		// Records the filter passes over encode to nothing: they are
		// left out, in the parallel reader's workers like the rest.
		encode = func(dst []byte, rec *detail.Record) []byte {
			if !filter.Matches(rec) {
				return dst
			}
			return enc.Append(dst, filter.Rewrite(rec))
		}
	}
	out := bufio.NewWriterSize(e.stdout, 256<<10)
	out.Write(enc.Header())
	status := 0
	for _, name := range args {
		status = max(status, catFile(e, name, encode, out))
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintf(e.stderr, "radrelay cat: writing: %v\n", err)
		return 1
	}
	return status
}

// catFile writes every record of the file name to out, formatted by enc (in
// the parsing goroutines), reporting bad records on stderr. It returns the exit status the file calls for: 0, 1
// when a record was bad, exitUnreadable when the file could not be read.
func catFile(e *env, name string, encode func([]byte, *detail.Record) []byte, out io.Writer) int {
	src, err := e.openInput(name)
	if err != nil {
		fmt.Fprintf(e.stderr, "radrelay cat: %s: %v\n", name, err)
		return exitUnreadable
	}
	defer src.Close()
	status := 0
	r := detail.NewParallelReader(src, name)
	r.Encode = encode
	defer r.Close()
	for {
		_, err := r.Next()
		if err == io.EOF {
			return status
		}
		var se *detail.SyntaxError
		var te *detail.TruncatedError
		switch {
		case errors.As(err, &se), errors.As(err, &te):
			fmt.Fprintf(e.stderr, "radrelay cat: %v (left out)\n", err)
			status = 1
			continue
		case err != nil:
			fmt.Fprintf(e.stderr, "radrelay cat: %s: cannot be read after %d bytes: %v\n", name, r.Offset(), err)
			return exitUnreadable
		}
		if _, err := out.Write(r.Encoded()); err != nil {
			fmt.Fprintf(e.stderr, "radrelay cat: writing: %v\n", err)
			return 1
		}
	}
}
