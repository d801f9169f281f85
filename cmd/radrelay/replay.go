package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/radrelay/radrelay/config"
	"github.com/radrelay/radrelay/tailer"
)

var replayFlags struct {
	daemonFlags
	state string
	only  stringList
}

func init() {
	register(&command{
		name:    "replay",
		summary: "deliver the records of old detail files once, then exit",
		usage: `Usage:
  radrelay replay --to SINK-URL [--to SINK-URL]... [options] FILE...
  radrelay replay -c FILE [options] FILE...

Replay reads the given detail files read-only (it never renames, deletes or
writes them), delivers every record to every sink with the same window and
retries as "radrelay run", and exits when every record has been delivered or
quarantined. Use it to load history into a new database, to re-send a day
that a server missed, or to convert files to JSON lines or CSV.

Sinks come from --to URLs (see "radrelay help run" for their forms) or from
the [[sink]] tables of a configuration file given with -c; the file's
[[input]] tables, state_dir, log_file and metrics_listen are ignored, so a
replay never disturbs a running daemon that uses the same file.

With --state DIR the replay is resumable: it keeps each sink's progress
there, and running the same command again after an interruption continues
where it stopped instead of sending everything again. Without --state, an
interrupted replay starts from the beginning next time.

Records that are malformed, or that a sink rejects permanently, are written
to the quarantine directory (in detail format, with the reason and the
source file and line): --quarantine DIR, else quarantine_dir of the
configuration, else DIR/quarantine of --state, else ./` + config.DefaultReplayQuarantine + `.
A damaged compressed file: the records decompressed before the damage are
delivered (each whole), the rest of the file is quarantined as one
"unreadable" entry naming the file and offset (gzip's checksum is checked
only at the end, after its records were delivered; "radrelay check" first
if in doubt).

A sink that stays down is retried for ever with --to URLs; with -c, its
[sink.retry] max_duration quarantines what it could not deliver once it has
failed that long, counted from the first failed attempt. A radius sink
fails a record only once its servers are marked dead (zombie_period, 20 s
by default, of silence each), so a replay into dead RADIUS servers takes at
least that long, whatever max_duration says.

On a terminal, a progress bar shows bytes done of the total, records per
second and the time left; at the end a summary gives the records read,
delivered per sink and quarantined, the duration and the rate. Logs go to
stderr at level warn unless --log-level says otherwise.

Exit status: 0 when every record was delivered, 1 when a record was
quarantined or a sink failed, 2 for a usage or configuration error, 130/143
when interrupted (SIGINT/SIGTERM).

Examples:
  Convert a month of detail files to JSON lines on stdout:
    radrelay replay --to jsonl:- /var/log/freeradius/radacct/10.0.0.1/detail-202611* > nov.jsonl

  Load history into PostgreSQL, resumable, with the sink of a configuration:
    radrelay replay -c /etc/radrelay/sql.toml --state /var/tmp/replay-state \
      /srv/archive/radacct/*/detail-2026*

  Re-send what the sink "backup" quarantined, once its cause is fixed (the
  quarantine annotations are stripped before delivery):
    radrelay replay -c /etc/radrelay/radrelay.toml --sink backup \
      /var/lib/radrelay/quarantine/backup-20261122.detail

  Re-send one day to the backup RADIUS server:
    radrelay replay --to 'radius://10.0.0.2:1813?secret_file=/etc/radrelay/backup.secret' \
      /var/log/freeradius/radacct/*/detail-20261122`,
		flags: func(fs *flag.FlagSet) {
			replayFlags.daemonFlags = daemonFlags{}
			replayFlags.state, replayFlags.only = "", nil
			replayFlags.daemonFlags.register(fs)
			fs.StringVar(&replayFlags.state, "state", "", "keep progress in `DIR` to make the replay resumable")
			fs.Var(&replayFlags.only, "sink", "with -c, deliver only to the sink named `NAME` (repeatable), e.g. to re-send its quarantine")
		},
		run: runReplay,
	})
}

func runReplay(e *env, args []string) int {
	f := &replayFlags
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, "radrelay replay: no files to replay\nrun \"radrelay replay --help\" for usage")
		return 2
	}
	var files []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			fmt.Fprintf(e.stderr, "radrelay replay: %v\n", err)
			return 2
		}
		if !st.Mode().IsRegular() {
			fmt.Fprintf(e.stderr, "radrelay replay: %s is not a regular file\n", a)
			return 2
		}
		files = append(files, a)
	}

	var cfg *config.Config
	if f.config != "" {
		c, err := config.Load(f.config, config.Options{Replay: true})
		if err != nil {
			fmt.Fprintln(e.stderr, err)
			return 2
		}
		cfg = c
		// The file may be a running daemon's: its progress, log file and
		// metrics port are not the replay's (flags may still set them).
		cfg.StateDir, cfg.LogFile, cfg.MetricsListen = "", "", ""
		if len(f.only) > 0 {
			var kept []config.Sink
			for _, name := range f.only {
				found := false
				for _, s := range cfg.Sinks {
					if s.Name == name {
						kept, found = append(kept, s), true
					}
				}
				if !found {
					var names []string
					for _, s := range cfg.Sinks {
						names = append(names, s.Name)
					}
					fmt.Fprintf(e.stderr, "radrelay replay: --sink %q: %s has no such sink (it has %s)\n", name, f.config, strings.Join(names, ", "))
					return 2
				}
			}
			cfg.Sinks = kept
		}
		if len(f.to) > 0 {
			more, err := sinksFromFlags(&f.daemonFlags)
			if err != nil {
				fmt.Fprintf(e.stderr, "radrelay replay: %v\n", err)
				return 2
			}
			cfg.Sinks = append(cfg.Sinks, more...)
		} else {
			for i := range cfg.Sinks {
				cfg.Sinks[i].SetWindow(f.maxOutstanding, f.batchSize)
			}
		}
	} else {
		if len(f.only) > 0 {
			fmt.Fprintln(e.stderr, "radrelay replay: --sink selects sinks of a configuration file: give -c FILE")
			return 2
		}
		sinks, err := sinksFromFlags(&f.daemonFlags)
		if err != nil {
			fmt.Fprintf(e.stderr, "radrelay replay: %v\nrun \"radrelay replay --help\" for usage\n", err)
			return 2
		}
		cfg = config.New()
		cfg.Replay, cfg.Sinks = true, sinks
	}
	if f.config == "" || f.logLevel == "" {
		cfg.LogLevel = "warn"
	}
	cfg.StateDir, cfg.ReplayFiles = f.state, files
	if f.quarantine != "" {
		cfg.QuarantineDir = f.quarantine
	}
	if err := f.daemonFlags.override(cfg); err != nil {
		fmt.Fprintf(e.stderr, "radrelay replay: %v\n", err)
		return 2
	}
	tc := cfg.TailerConfig()
	tc.Inputs = []tailer.Input{{Files: files, Mode: tailer.Replay}}
	tc.QuarantineDir = cfg.EffectiveQuarantineDir()
	res := runTailer(e, cfg, tc, true)
	if res.err != nil && res.stats.Sinks == nil {
		return res.status
	}
	quarantined := printReplaySummary(e.stderr, res, len(files))
	switch {
	case res.signal != nil:
		if f.state != "" {
			fmt.Fprintf(e.stderr, "interrupted: run the same command again to resume (progress is in %s)\n", f.state)
		} else {
			fmt.Fprintln(e.stderr, "interrupted: without --state, a new replay starts from the beginning")
		}
		return signalExitStatus(res.signal)
	case quarantined > 0:
		dir, _ := filepath.Abs(tc.QuarantineDir)
		fmt.Fprintf(e.stderr, "some records were quarantined: see %s (counts per sink above)\n", dir)
		return 1
	case res.status != 0:
		return res.status
	}
	return 0
}

// printReplaySummary writes the end-of-replay summary and returns the
// number of records quarantined (for any sink, or malformed).
func printReplaySummary(w io.Writer, res runResult, files int) int64 {
	var read int64
	quarantined := res.stats.Malformed
	for _, s := range res.stats.Sinks {
		read = max(read, s.Read)
		quarantined += s.Quarantined
	}
	secs := res.duration.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(read) / secs
	}
	// "read", not "replayed": what was read is not what was delivered
	// (a sink down, a stop); each sink's line says what became of them.
	fmt.Fprintf(w, "read %s from %s in %s (%s records/s)\n",
		plural(read, "record"), plural(int64(files), "file"), res.duration.Round(time.Millisecond), formatCount(int64(rate)))
	if n := res.stats.Malformed; n > 0 {
		// Not a sink's: every sink reads the same bytes, and the record
		// is quarantined once for all of them.
		fmt.Fprintf(w, "  malformed: %s could not be parsed, quarantined once for every sink\n", plural(n, "record"))
	}
	for _, s := range res.stats.Sinks {
		line := fmt.Sprintf("  sink %s: %s delivered, %s quarantined", s.Name,
			formatCount(s.Delivered), formatCount(s.Quarantined))
		left := unsettled(s)
		if left > 0 {
			line += fmt.Sprintf(", %s NOT delivered", formatCount(left))
		}
		if at, ok := res.unsettledAtSignal[s.Name]; ok && at > left {
			// The stopping line's number, and what became of it.
			line += fmt.Sprintf(" (%s in flight when interrupted, %s of them delivered or quarantined while stopping)",
				formatCount(at), formatCount(at-left))
		}
		if s.Retried == 1 {
			line += ", 1 retry"
		} else {
			line += ", " + formatCount(s.Retried) + " retries"
		}
		if n := res.filtered[s.Name]; n > 0 {
			line += fmt.Sprintf(" (%s of the delivered passed over by its filter)", formatCount(n))
		}
		fmt.Fprintln(w, line)
	}
	return quarantined
}
