package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/radrelay/radrelay/tailer"
)

var quarantineFlags struct {
	output string
}

func init() {
	register(&command{
		name:    "quarantine",
		summary: "list, show and unpack quarantined records for repair",
		actions: []string{"list", "show", "unpack"},
		usage: `Usage:
  radrelay quarantine list DIR|FILE...
  radrelay quarantine show FILE...
  radrelay quarantine unpack [-o OUT] FILE...

Quarantine files (quarantine_dir, by default STATE/quarantine, one
<sink>-YYYYMMDD.detail file per sink and day) hold the records radrelay could
not deliver, each with Radrelay-Quarantine-* attributes saying why.

  list    each quarantine file: its entries by sink and reason
  show    each entry: where it is, the sink, the reason, the source, and
          whether it must be repaired first or can be sent again as it is
  unpack  write the entries as plain, editable detail records (to stdout,
          or to OUT): a record that could not be parsed is written back
          exactly as it was in its source, the others without the
          quarantine attributes

Entries of records a sink rejected, or whose retries ran out, need no
editing: fix the cause on the sink's side and send the quarantine file
again to that sink ("retry"):
    radrelay replay -c /etc/radrelay/radrelay.toml --sink sql \
      /var/lib/radrelay/quarantine/sql-20261122.detail

A malformed or truncated record is quarantined once for every sink (its
Radrelay-Quarantine-Sink names them all), counted once as malformed (not
in a sink's quarantined count), and sent again only once repaired:
unpack it, edit the file, check it, and replay that file (to every sink, or
to those named with --sink):
    radrelay quarantine unpack -o /tmp/fix.detail \
      /var/lib/radrelay/quarantine/sql-20261122.detail
    $EDITOR /tmp/fix.detail
    radrelay check /tmp/fix.detail
    radrelay replay -c /etc/radrelay/radrelay.toml /tmp/fix.detail

radrelay never deletes quarantine files: move a file away once done.

Exit status: 0, 1 when a file is not a quarantine file or cannot be read,
2 for a usage error.`,
		flags: func(fs *flag.FlagSet) {
			quarantineFlags.output = ""
			fs.StringVar(&quarantineFlags.output, "o", "", "unpack: write to `FILE` instead of stdout")
		},
		run: runQuarantine,
	})
}

func runQuarantine(e *env, args []string) int {
	if len(args) < 2 {
		fmt.Fprintln(e.stderr, "radrelay quarantine: give an action and files: list DIR|FILE..., show FILE..., unpack [-o OUT] FILE...\nrun \"radrelay quarantine --help\" for usage")
		return 2
	}
	action, names := args[0], args[1:]
	switch action {
	case "list", "show", "unpack":
	default:
		fmt.Fprintf(e.stderr, "radrelay quarantine: unknown action %q (list, show or unpack)\n", action)
		return 2
	}
	if action == "unpack" {
		// -o may follow the action: radrelay quarantine unpack -o OUT FILE.
		fs := flag.NewFlagSet("quarantine unpack", flag.ContinueOnError)
		fs.SetOutput(e.stderr)
		fs.StringVar(&quarantineFlags.output, "o", quarantineFlags.output, "write to `FILE` instead of stdout")
		if err := fs.Parse(names); err != nil {
			return 2
		}
		names = fs.Args()
	}
	if len(names) == 0 {
		fmt.Fprintf(e.stderr, "radrelay quarantine %s: give a quarantine file\n", action)
		return 2
	}
	for _, n := range names {
		if strings.HasPrefix(n, "-") && n != "-" {
			fmt.Fprintf(e.stderr, "radrelay quarantine %s: unknown flag %s (give quarantine files or directories)\nrun \"radrelay quarantine --help\" for usage\n", action, n)
			return 2
		}
	}
	if action == "list" {
		names = quarantineFiles(e, names)
	}
	var out strings.Builder
	status := 0
	for _, name := range names {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintf(e.stderr, "radrelay quarantine: %v\n", err)
			status = 1
			continue
		}
		entries, err := tailer.ReadQuarantine(f, name)
		f.Close()
		if err != nil {
			fmt.Fprintf(e.stderr, "radrelay quarantine: %s: %v\n", name, err)
			status = 1
		}
		switch action {
		case "list":
			listQuarantine(e, name, entries)
		case "show":
			for _, en := range entries {
				showQuarantineEntry(e, en)
			}
		case "unpack":
			for _, en := range entries {
				b, err := en.Unpacked()
				if err != nil {
					fmt.Fprintf(e.stderr, "radrelay quarantine: %v\n", err)
					status = 1
					continue
				}
				out.Write(b)
			}
		}
	}
	if action == "unpack" {
		if quarantineFlags.output == "" {
			fmt.Fprint(e.stdout, out.String())
		} else if err := os.WriteFile(quarantineFlags.output, []byte(out.String()), 0o600); err != nil {
			fmt.Fprintf(e.stderr, "radrelay quarantine: %v\n", err)
			return 1
		} else {
			fmt.Fprintf(e.stderr, "unpacked to %s: edit it, then \"radrelay check %s\" and \"radrelay replay -c CONFIG %s\" (a malformed record goes to every sink; --sink NAME for one)\n",
				quarantineFlags.output, quarantineFlags.output, quarantineFlags.output)
		}
	}
	return status
}

// quarantineFiles expands the directories among names to their quarantine
// files (*.detail), oldest name first. A state directory stands for its
// quarantine subdirectory; a directory without any says so (an empty
// answer looked like a wrong path).
func quarantineFiles(e *env, names []string) []string {
	var out []string
	for _, n := range names {
		if st, err := os.Stat(n); err == nil && st.IsDir() {
			m, _ := filepath.Glob(filepath.Join(n, "*.detail"))
			if sub := filepath.Join(n, "quarantine"); len(m) == 0 {
				if st, err := os.Stat(sub); err == nil && st.IsDir() {
					n = sub
					m, _ = filepath.Glob(filepath.Join(n, "*.detail"))
				}
			}
			if len(m) == 0 {
				fmt.Fprintf(e.stdout, "%s: no quarantine files (nothing quarantined)\n", n)
			}
			sort.Strings(m)
			out = append(out, m...)
			continue
		}
		out = append(out, n)
	}
	return out
}

func listQuarantine(e *env, name string, entries []tailer.QuarantineEntry) {
	repair := 0
	bySink := map[string]map[string]int{}
	for _, en := range entries {
		if en.NeedsRepair() {
			repair++
		}
		reason := en.Reason
		if i := strings.IndexByte(reason, ':'); i > 0 {
			reason = reason[:i]
		}
		if bySink[en.Sink] == nil {
			bySink[en.Sink] = map[string]int{}
		}
		bySink[en.Sink][reason]++
	}
	noun := "entries"
	if len(entries) == 1 {
		noun = "entry"
	}
	fmt.Fprintf(e.stdout, "%s: %d %s, %d to repair (unpack), %d to send again as they are\n",
		name, len(entries), noun, repair, len(entries)-repair)
	sinks := make([]string, 0, len(bySink))
	for s := range bySink {
		sinks = append(sinks, s)
	}
	sort.Strings(sinks)
	for _, s := range sinks {
		var parts []string
		for r, n := range bySink[s] {
			parts = append(parts, fmt.Sprintf("%s %d", r, n))
		}
		sort.Strings(parts)
		fmt.Fprintf(e.stdout, "  sink %s: %s\n", s, strings.Join(parts, ", "))
	}
}

func showQuarantineEntry(e *env, en tailer.QuarantineEntry) {
	what := "send again as it is (radrelay replay --sink " + en.Sink + " " + en.File + ")"
	if en.NeedsRepair() {
		what = "repair first (radrelay quarantine unpack " + en.File + ")"
	}
	fmt.Fprintf(e.stdout, "%s:%d\n  sink:   %s\n  reason: %s\n  source: %s\n  when:   %s\n  action: %s\n",
		en.File, en.Line, en.Sink, en.Reason, en.Source, en.Time.UTC().Format("2006-01-02 15:04:05 UTC"), what)
}
