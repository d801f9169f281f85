package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/radrelay/radrelay/sinks/postgres"
)

// sqlFlags are the options of "radrelay sql".
type sqlFlags struct {
	dsn, dsnFile, dsnEnv    string
	liveTable, historyTable string
	attributesType          string
	noLive, noHistory       bool
	before                  string
	keepMonths              int
	partitionsAhead         int
	timeout                 time.Duration
	staleAfter              time.Duration
	staleCause              string
	rebootCause             string
	dryRun                  bool
}

var sqlOpts sqlFlags

func init() {
	register(&command{
		name:    "sql",
		summary: "create, upgrade or expire the PostgreSQL schema of the postgres sink; close stale sessions",
		actions: []string{"init", "expire", "close-stale", "status"},
		usage: `Usage:
  radrelay sql init   --dsn DSN [options]
  radrelay sql expire --dsn DSN (--keep-months N | --before YYYY-MM-DD) [options]
  radrelay sql close-stale --dsn DSN [--after DURATION] [--cause CAUSE] [--dry-run] [options]
  radrelay sql status --dsn DSN [--after DURATION] [--cause CAUSE] [--reboot-cause CAUSE] [options]

"sql init" creates the tables the postgres sink writes, or upgrades them, in
one transaction; running it again changes nothing. It creates:

  radacct              live sessions, with FreeRADIUS 3.2's columns, types and
                       index names, and nasreload. An existing radacct made by
                       FreeRADIUS's schema.sql is used as it is (columns that
                       older FreeRADIUS versions lack are added).
  radrelay_history     every accounting record, append-only, partitioned by
                       month of event time; this month's and the next
                       month's partitions are created now, later ones on demand.
                       Its attributes column is json, or jsonb with
                       --history-attributes-type jsonb (an existing table
                       keeps its type).
  radrelay_schema_version   which schema steps ran.

The sink does the same at start unless create_schema = false; run
"sql init" once as the schema owner to let radrelay run with a role that may
only write.

"sql expire" drops the monthly history partitions older than the cut-off (whole
months; the month holding the cut-off is kept). Dropping a partition is instant
and returns the space at once, unlike DELETE. radacct is never touched.

"sql close-stale" closes the sessions of radacct that have had no record for
too long (the NAS crashed or lost its route, the Stop never came): after three
of the session's interim intervals (each at least 60s), or --after (default
2h) when it reported no interim. The row is closed at its last record (not
now), with the terminate cause --cause (default Stale-Session), and the
session time the NAS last reported. It prints each session it closed;
--dry-run prints them and closes nothing. Safe to run from several places at
once, and again: a session is closed once. A later Interim-Update of such a
session reopens it, its real Stop closes it for good. The sink does the same
by itself with close_stale_every (see docs/postgres.md).

"sql status" prints, per NAS, its open sessions, how many of them are stale
by the same rule, and the time of the oldest last record among them; then
how many sessions were closed as stale (terminate cause --cause) and with
the cause --reboot-cause (default NAS-Reboot: reboot detection, but also
Accounting-On/Off and a NAS's own Stop with that cause; give detect_reboots
its own reboot_cause to tell them apart). Counting by cause reads the whole
table. A running radrelay shows the same as metrics and in "radrelay status".

The DSN is a libpq connection string, URL or keyword form. Prefer --dsn-file or
--dsn-env for one with a password; the password is never printed.

Examples:
  radrelay sql init --dsn postgres://radius@db.example.net/radius
  radrelay sql init --dsn-env RADRELAY_PG_DSN --no-history
  radrelay sql init --dsn 'host=/run/postgresql dbname=radius' --live-table acct_live
  radrelay sql expire --dsn-file /etc/radrelay/pg.dsn --keep-months 24
  radrelay sql close-stale --dsn-file /etc/radrelay/pg.dsn --after 3h --dry-run`,
		flags: func(fs *flag.FlagSet) { declareSQLFlags(fs, &sqlOpts) },
		run:   runSQL,
	})
}

// declareSQLFlags declares the options of "radrelay sql" into o.
func declareSQLFlags(fs *flag.FlagSet, o *sqlFlags) {
	fs.StringVar(&o.dsn, "dsn", "", "PostgreSQL `DSN` (URL or keyword form)")
	fs.StringVar(&o.dsnFile, "dsn-file", "", "read the DSN from `FILE`")
	fs.StringVar(&o.dsnEnv, "dsn-env", "", "read the DSN from environment variable `NAME`")
	fs.StringVar(&o.liveTable, "live-table", postgres.DefaultLiveTable, "live-session `table`")
	fs.StringVar(&o.historyTable, "history-table", postgres.DefaultHistoryTable, "history `table`")
	fs.StringVar(&o.attributesType, "history-attributes-type", postgres.DefaultHistoryAttributesType, "init: `type` of a new history table's attributes column, json or jsonb (an existing table keeps its own)")
	fs.BoolVar(&o.noLive, "no-live", false, "leave the live-session table alone")
	fs.BoolVar(&o.noHistory, "no-history", false, "leave the history table alone")
	fs.IntVar(&o.partitionsAhead, "partitions-ahead", 1, "init: history partitions to create beyond the current month")
	fs.IntVar(&o.keepMonths, "keep-months", 0, "expire: keep this many whole months before the current one")
	fs.StringVar(&o.before, "before", "", "expire: drop partitions that end on or before `YYYY-MM-DD`")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "give up after this long")
	fs.DurationVar(&o.staleAfter, "after", postgres.DefaultStaleAfter, "close-stale, status: a session without interims is stale after this long without a record (at least 1s)")
	fs.StringVar(&o.staleCause, "cause", postgres.DefaultStaleCause, "close-stale, status: the acctterminatecause of a session closed as stale")
	fs.StringVar(&o.rebootCause, "reboot-cause", postgres.DefaultRebootCause, "status: the acctterminatecause of a session closed by reboot detection (detect_reboots)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "close-stale: list the stale sessions, close nothing")
}

func runSQL(e *env, args []string) int {
	if len(args) == 0 || (args[0] != "init" && args[0] != "expire" && args[0] != "close-stale" && args[0] != "status") {
		fmt.Fprintln(e.stderr, `radrelay sql: say "init", "expire", "close-stale" or "status"; run "radrelay sql --help" for usage`)
		return 2
	}
	// Options may come before or after the verb ("sql --dsn X init" or
	// "sql init --dsn X"); the ones after it are parsed here.
	o := sqlOpts
	fs := flag.NewFlagSet("radrelay sql "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	declareSQLFlags(fs, &o)
	// Re-apply what was given before the verb over the defaults just declared.
	o = sqlOpts
	if err := fs.Parse(args[1:]); err != nil {
		fmt.Fprintf(e.stderr, "radrelay sql: %v\nrun \"radrelay sql --help\" for usage\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "radrelay sql %s: unexpected argument %q\n", args[0], fs.Arg(0))
		return 2
	}
	cfg := postgres.Config{DSN: o.dsn, DSNFile: o.dsnFile, DSNEnv: o.dsnEnv,
		LiveTable: o.liveTable, HistoryTable: o.historyTable, HistoryAttributesType: o.attributesType,
		PartitionsAhead: o.partitionsAhead}
	off := false
	if o.noLive {
		cfg.LiveSessions = &off
	}
	if o.noHistory {
		cfg.History = &off
	}
	if cfg.DSN == "" && cfg.DSNFile == "" && cfg.DSNEnv == "" {
		fmt.Fprintln(e.stderr, "radrelay sql: give the database with --dsn, --dsn-file or --dsn-env")
		return 2
	}
	if args[0] == "status" && o.noLive {
		fmt.Fprintln(e.stderr, "radrelay sql status: shows live sessions; drop --no-live")
		return 2
	}
	if (args[0] == "close-stale" || args[0] == "status") && o.staleAfter <= 0 {
		// StaleOptions would silently read 0 or a negative value as the
		// 2h default, while status printed the value given.
		fmt.Fprintf(e.stderr, "radrelay sql %s: --after %s: want a positive duration (e.g. 2h)\n", args[0], o.staleAfter)
		return 2
	}
	if (args[0] == "close-stale" || args[0] == "status") && o.staleAfter < time.Second {
		// Staleness is counted in whole seconds: under one, every open
		// session would be stale at once.
		fmt.Fprintf(e.stderr, "radrelay sql %s: --after %s is less than a second (staleness is counted in whole seconds): want e.g. 2h\n", args[0], o.staleAfter)
		return 2
	}
	var cutoff time.Time
	if args[0] == "expire" {
		var err error
		if o.noHistory {
			fmt.Fprintln(e.stderr, "radrelay sql expire: only the history expires; drop --no-history")
			return 2
		}
		switch {
		case o.before != "" && o.keepMonths > 0:
			fmt.Fprintln(e.stderr, "radrelay sql expire: give --before or --keep-months, not both")
			return 2
		case o.before != "":
			cutoff, err = time.Parse("2006-01-02", o.before)
			if err != nil {
				fmt.Fprintf(e.stderr, "radrelay sql expire: --before %q: want YYYY-MM-DD\n", o.before)
				return 2
			}
		case o.keepMonths > 0:
			now := time.Now().UTC()
			cutoff = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -o.keepMonths, 0)
		default:
			fmt.Fprintln(e.stderr, "radrelay sql expire: give --before YYYY-MM-DD or --keep-months N")
			return 2
		}
	}
	for _, w := range cfg.Warnings() {
		fmt.Fprintf(e.stderr, "radrelay sql: warning: --%s\n", w)
	}
	dsn, err := cfg.ResolveDSN()
	if err != nil {
		fmt.Fprintf(e.stderr, "radrelay sql: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	connCfg, err := postgres.ParseDSN(dsn)
	if err != nil {
		fmt.Fprintf(e.stderr, "radrelay sql: %v\n", err)
		return 2
	}
	conn, err := pgx.ConnectConfig(ctx, connCfg)
	if err != nil {
		fmt.Fprintf(e.stderr, "radrelay sql: connecting to %s: %s\n", postgres.RedactDSN(dsn), postgres.RedactError(err, dsn))
		return 1
	}
	defer conn.Close(context.Background())
	switch args[0] {
	case "init":
		res, err := postgres.Migrate(ctx, conn, cfg)
		if err != nil {
			fmt.Fprintf(e.stderr, "radrelay sql init: %v\n", err)
			return 1
		}
		for _, r := range res {
			if r.From == r.To {
				fmt.Fprintf(e.stdout, "%s: schema version %d, up to date\n", r.Store, r.To)
			} else {
				fmt.Fprintf(e.stdout, "%s: upgraded from version %d to %d (%s)\n", r.Store, r.From, r.To, strings.Join(r.Description, "; "))
			}
		}
		return 0
	case "expire":
		dropped, err := postgres.DropHistoryBefore(ctx, conn, cfg, cutoff)
		for _, d := range dropped {
			fmt.Fprintf(e.stdout, "dropped %s\n", d)
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "radrelay sql expire: %v\n", err)
			return 1
		}
		if len(dropped) == 0 {
			fmt.Fprintf(e.stdout, "no history partition ends on or before %s\n", cutoff.Format("2006-01-02"))
		}
		return 0
	case "status":
		nases, closed, err := postgres.SessionStatus(ctx, conn, cfg, postgres.StaleOptions{After: o.staleAfter, Cause: o.staleCause})
		if err != nil {
			fmt.Fprintf(e.stderr, "radrelay sql status: %v\n%s", err, missingTableHint(err))
			return 1
		}
		var open, stale int64
		if len(nases) == 0 {
			fmt.Fprintln(e.stdout, "no open sessions")
		} else {
			fmt.Fprintf(e.stdout, "%-39s %10s %10s  %s\n", "NAS", "open", "stale", "oldest last record")
			for _, n := range nases {
				fmt.Fprintf(e.stdout, "%-39s %10d %10d  %s\n", n.NAS, n.Open, n.Stale, n.OldestRecord.UTC().Format(time.RFC3339))
				open, stale = open+n.Open, stale+n.Stale
			}
			nasWord := "NASes"
			if len(nases) == 1 {
				nasWord = "NAS"
			}
			fmt.Fprintf(e.stdout, "%s on %d %s, %d stale (no record for 3 interim intervals, or %s without one)\n",
				plural(open, "open session"), len(nases), nasWord, stale, o.staleAfter)
		}
		fmt.Fprintf(e.stdout, "%s closed as stale (cause %s)\n", plural(closed, "session"), o.staleCause)
		if o.rebootCause != o.staleCause {
			rebooted, err := postgres.ClosedByCause(ctx, conn, cfg, o.rebootCause)
			if err != nil {
				fmt.Fprintf(e.stderr, "radrelay sql status: %v\n%s", err, missingTableHint(err))
				return 1
			}
			fmt.Fprintf(e.stdout, "%s closed with cause %s (by NAS reboot detection, Accounting-On/Off or the NAS's own Stop)\n", plural(rebooted, "session"), o.rebootCause)
		}
		return 0
	case "close-stale":
		if o.noLive {
			fmt.Fprintln(e.stderr, "radrelay sql close-stale: closes live sessions; drop --no-live")
			return 2
		}
		closed, err := postgres.CloseStale(ctx, conn, cfg, postgres.StaleOptions{After: o.staleAfter, Cause: o.staleCause, DryRun: o.dryRun})
		verb := "closed"
		if o.dryRun {
			verb = "stale"
		}
		for _, c := range closed {
			fmt.Fprintf(e.stdout, "%s %s session %q user %q NAS %s, last record %s\n", verb, c.UniqueID, c.SessionID, c.UserName, c.NAS, c.LastUpdate.UTC().Format(time.RFC3339))
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "radrelay sql close-stale: %v\n%s", err, missingTableHint(err))
			return 1
		}
		if o.dryRun {
			fmt.Fprintf(e.stdout, "%d stale sessions (dry run: none closed)\n", len(closed))
		} else {
			fmt.Fprintf(e.stdout, "%d stale sessions closed (cause %s)\n", len(closed), o.staleCause)
		}
		return 0
	}
	return 2
}

// missingTableHint says what to do when err is PostgreSQL's "relation does
// not exist" (SQLSTATE 42P01): "sql init" never ran on the database, or it
// is not the one the sink writes. It is "" for any other error.
func missingTableHint(err error) string {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42P01" {
		return ""
	}
	table := "a table radrelay needs"
	if _, rest, ok := strings.Cut(pgErr.Message, `"`); ok {
		if name, _, ok := strings.Cut(rest, `"`); ok {
			table = "table " + name
		}
	}
	return fmt.Sprintf("hint: %s does not exist in this database: create it with \"radrelay sql init\" "+
		"(same --dsn and --live-table), or check that --dsn names the database the postgres sink writes\n", table)
}
