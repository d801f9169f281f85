package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/radrelay/radrelay/config"
	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/listener"
	"github.com/radrelay/radrelay/sinks/radius"
	"github.com/radrelay/radrelay/tailer"
)

// statusFileName is the file in the state directory where a running
// radrelay publishes what the checkpoints do not hold (counters, last
// error, inputs), every statusInterval, for "radrelay status".
const statusFileName = "radrelay-status.json"

// statusInterval is how often the status file is rewritten.
const statusInterval = time.Second

var statusFlags struct {
	config     string
	state      string
	quarantine string
	json       bool
}

func init() {
	register(&command{
		name:    "status",
		summary: "show where each sink stands: position, backlog, lag, errors",
		usage: `Usage:
  radrelay status --state DIR [--json]
  radrelay status -c FILE [--json]

Status shows, for every sink with progress saved in the state directory DIR
(with -c, the state_dir of that configuration file) and for every input
file: the saved position, the records and bytes behind it, the lag (age of
the oldest record not yet delivered), the last delivery, the last error and
how many records are in the quarantine.

For a RADIUS sink of a running radrelay, it shows each server: up or DOWN,
its round-trip time, window and counters. For a postgres sink of a running
radrelay, it shows the open sessions (per NAS in --json) and the sessions
closed as stale or by NAS reboot detection. When the run has [[listen]]
servers, each is listed with the counters /metrics has: packets received,
requests accepted, duplicates, drops by reason, the spool's size, the group
commits' fsync time and the acknowledgements' latency (p50, p99).

It works while "radrelay run" is running (it reads the checkpoints, which
are replaced atomically, and the status radrelay run publishes every second
in DIR/` + statusFileName + `) and when it is not (the last published status
is shown as such). It changes nothing. When the status file cannot be read,
status warns and shows the positions from the checkpoints.

A sink is "delivering" when its last delivery call acknowledged a record,
"failing" when every call since its last delivery failed, "starting" until
its first delivery call ends, "stopped" when radrelay is not running, and
"unknown" when the status file cannot be read.

Exit status: 0 when the status was shown, 1 when DIR holds no state,
2 for a usage error.

Examples:
  radrelay status --state /var/lib/radrelay
  radrelay status -c /etc/radrelay/radrelay.toml
  radrelay status --state /var/lib/radrelay --json | jq '.sinks[].records_behind'`,
		flags: func(fs *flag.FlagSet) {
			statusFlags.config, statusFlags.state, statusFlags.quarantine, statusFlags.json = "", "", "", false
			fs.StringVar(&statusFlags.config, "c", "", "take the state and quarantine directories from the configuration `FILE`")
			fs.StringVar(&statusFlags.config, "config", "", "same as -c `FILE`")
			fs.StringVar(&statusFlags.state, "state", "", "the state directory of radrelay run (`DIR`, required)")
			fs.StringVar(&statusFlags.quarantine, "quarantine", "", "the quarantine `DIR` (default: the one run published, else STATE/quarantine)")
			fs.BoolVar(&statusFlags.json, "json", false, "print JSON instead of text")
		},
		run: runStatus,
	})
}

func runStatus(e *env, args []string) int {
	f := &statusFlags
	if len(args) > 0 {
		fmt.Fprintf(e.stderr, "radrelay status: unexpected argument %q (give the state directory with --state)\n", args[0])
		return 2
	}
	if f.config != "" {
		if f.state != "" || f.quarantine != "" {
			fmt.Fprintln(e.stderr, "radrelay status: give -c FILE or --state DIR, not both")
			return 2
		}
		cfg, err := config.Load(f.config, config.Options{Offline: true})
		if err != nil {
			fmt.Fprintln(e.stderr, err)
			return 2
		}
		if cfg.StateDir == "" {
			fmt.Fprintf(e.stderr, "radrelay status: %s has no state_dir\n", f.config)
			return 2
		}
		f.state, f.quarantine = cfg.StateDir, cfg.EffectiveQuarantineDir()
	}
	if f.state == "" {
		fmt.Fprintln(e.stderr, "radrelay status: no --state DIR: give the state directory of radrelay run (e.g. --state /var/lib/radrelay) or its configuration with -c FILE")
		return 2
	}
	rep, err := collectStatus(statusOptions{stateDir: f.state, quarantineDir: f.quarantine, countRecords: true, now: time.Now()})
	if err != nil {
		fmt.Fprintf(e.stderr, "radrelay status: %v\n", err)
		return 1
	}
	if f.json {
		// (The text report shows its warnings at its top.)
		for _, warning := range rep.Warnings {
			fmt.Fprintf(e.stderr, "radrelay status: warning: %s\n", warning)
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
		return 0
	}
	printStatus(e.stdout, rep)
	return 0
}

// runtimeStatus is what a running radrelay publishes in the status file.
type runtimeStatus struct {
	Command       string        `json:"command"`
	PID           int           `json:"pid"`
	Version       string        `json:"version"`
	Started       time.Time     `json:"started"`
	Updated       time.Time     `json:"updated"`
	Stopped       *time.Time    `json:"stopped,omitempty"`
	MetricsListen string        `json:"metrics_listen,omitempty"`
	QuarantineDir string        `json:"quarantine_dir,omitempty"`
	Inputs        []statusInput `json:"inputs,omitempty"`
	BacklogBytes  int64         `json:"backlog_bytes"`
	BacklogFiles  int           `json:"backlog_files"`
	// Malformed: records of this run that could not be parsed,
	// quarantined once for every sink (in no sink's quarantined).
	Malformed int64         `json:"malformed"`
	Sinks     []runtimeSink `json:"sinks"`
	// Listeners are the [[listen]] servers' counters, by address.
	Listeners map[string]listener.Stats `json:"listeners,omitempty"`
}

type statusInput struct {
	Glob  string   `json:"glob,omitempty"`
	Files []string `json:"files,omitempty"`
	Mode  string   `json:"mode"`
}

// runtimeSink is one sink's live counters as published.
type runtimeSink struct {
	Name              string         `json:"name"`
	Type              string         `json:"type,omitempty"`
	Read              int64          `json:"read"`
	Delivered         int64          `json:"delivered"`
	Filtered          int64          `json:"filtered"`
	Retried           int64          `json:"retried"`
	Quarantined       int64          `json:"quarantined"`
	InFlight          int            `json:"in_flight"`
	BytesDone         int64          `json:"bytes_done"`
	Rate              float64        `json:"rate"`
	OldestUndelivered *time.Time     `json:"oldest_undelivered,omitempty"`
	LastDelivery      *time.Time     `json:"last_delivery,omitempty"`
	LastError         string         `json:"last_error,omitempty"`
	LastErrorAt       *time.Time     `json:"last_error_at,omitempty"`
	FailingSince      *time.Time     `json:"failing_since,omitempty"`
	Servers           []serverStatus `json:"servers,omitempty"`
	// Sessions: a postgres sink's live-session table.
	Sessions *sessionsStatus `json:"sessions,omitempty"`
}

// serverStatus is one RADIUS server of a sink.
type serverStatus struct {
	Address string `json:"address"`
	State   string `json:"state"`
	Up      bool   `json:"up"`
	// RTTSeconds is the smoothed round-trip time (0: no answer yet).
	RTTSeconds   float64 `json:"rtt_seconds"`
	Window       int     `json:"window"`
	Outstanding  int     `json:"outstanding"`
	Requests     int64   `json:"requests"`
	Acked        int64   `json:"acked"`
	Retransmits  int64   `json:"retransmits"`
	Timeouts     int64   `json:"timeouts"`
	BadAuth      int64   `json:"bad_authenticator"`
	UnknownID    int64   `json:"unknown_id"`
	Deaths       int64   `json:"deaths"`
	FailedDeliv  int64   `json:"failed"`
	WindowCuts   int64   `json:"window_cuts"`
	MalformedRep int64   `json:"malformed"`
	Refusals     int64   `json:"connection_refused"`
}

func serverStatuses(in []radius.ServerStats) []serverStatus {
	var out []serverStatus
	for _, s := range in {
		out = append(out, serverStatus{
			Address: s.Address, State: s.State, Up: s.State == "alive", RTTSeconds: s.RTT.Seconds(), Window: s.Window, Outstanding: s.Outstanding,
			Requests: s.Requests, Acked: s.Acked, Retransmits: s.Retransmits, Timeouts: s.Timeouts,
			BadAuth: s.Forged, UnknownID: s.Unmatched, Deaths: s.Deaths, FailedDeliv: s.Failed,
			WindowCuts: s.WindowCuts, MalformedRep: s.Malformed, Refusals: s.Refusals,
		})
	}
	return out
}

// upDown says whether a server is up, and its state when it is not.
func upDown(s serverStatus) string {
	if s.Up {
		return "up"
	}
	return "DOWN (" + s.State + ")"
}

// formatRTT shows a round-trip time to a useful precision ("-": none yet).
func formatRTT(seconds float64) string {
	if seconds <= 0 {
		return "-"
	}
	d := time.Duration(seconds * float64(time.Second))
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	default:
		return d.Round(time.Microsecond).String()
	}
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// runtime converts a live snapshot into the published form.
func (s liveSnapshot) runtime() []runtimeSink {
	var out []runtimeSink
	for _, ss := range s.Sinks {
		out = append(out, runtimeSink{
			Name: ss.Name, Type: ss.Type, Read: ss.Read, Delivered: ss.Delivered, Filtered: ss.Filtered,
			Retried: ss.Retried, Quarantined: ss.Quarantined, InFlight: ss.InFlight, BytesDone: ss.BytesDone,
			Rate: ss.Rate, OldestUndelivered: timePtr(ss.OldestUndelivered), LastDelivery: timePtr(ss.LastDelivery),
			LastError: ss.LastError, LastErrorAt: timePtr(ss.LastErrorAt), FailingSince: timePtr(ss.FailingSince),
			Servers: serverStatuses(ss.Servers), Sessions: sessionsStatusOf(ss.Sessions),
		})
	}
	return out
}

// statusPublisher writes the status file of a run.
type statusPublisher struct {
	m    *monitor
	dir  string
	base runtimeStatus
}

func (p *statusPublisher) current(stopped bool) runtimeStatus {
	snap := p.m.sample()
	rs := p.base
	rs.Updated = snap.At
	rs.BacklogBytes, rs.BacklogFiles, rs.Malformed = snap.BacklogBytes, snap.BacklogFiles, snap.Malformed
	rs.Sinks = snap.runtime()
	p.m.mu.Lock()
	ls := p.m.listeners
	p.m.mu.Unlock()
	if ls != nil {
		rs.Listeners = ls()
	}
	if stopped {
		rs.Stopped = &rs.Updated
	}
	return rs
}

// write replaces the status file atomically (no fsync: it is a report, not a checkpoint).
func (p *statusPublisher) write(rs runtimeStatus) error {
	data, err := json.MarshalIndent(rs, "", "  ")
	if err != nil {
		return err
	}
	// The tailer makes the state directory when it starts; this may come first.
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return err
	}
	dst := filepath.Join(p.dir, statusFileName)
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// run publishes every statusInterval until ctx is done, then once more
// with Stopped set; it closes done when it has.
func (p *statusPublisher) run(ctx context.Context, started <-chan struct{}, done chan<- struct{}, logf func(error)) {
	defer close(done)
	// The state directory is the tailer's once it has locked and checked
	// it: before, it may be another radrelay's, or not writable (the
	// tailer's error says so, once).
	select {
	case <-started:
	case <-ctx.Done():
		return
	}
	t := time.NewTicker(statusInterval)
	defer t.Stop()
	failed := false
	for {
		if err := p.write(p.current(false)); err != nil && !failed {
			logf(err)
			failed = true // said once; the run goes on without it
		}
		select {
		case <-ctx.Done():
			if err := p.write(p.current(true)); err != nil && !failed {
				logf(err)
			}
			return
		case <-t.C:
		}
	}
}

// readRuntimeStatus reads the status file of dir (nil when there is none).
func readRuntimeStatus(dir string) (*runtimeStatus, error) {
	data, err := os.ReadFile(filepath.Join(dir, statusFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rs runtimeStatus
	if err := json.Unmarshal(data, &rs); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, statusFileName), err)
	}
	return &rs, nil
}

// processAlive reports whether a process with the given pid exists.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	// A zombie (killed, not yet reaped) still answers signal 0.
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			return false
		}
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// statusReport is what "radrelay status" shows and /status.json serves.
type statusReport struct {
	StateDir      string     `json:"state_dir"`
	QuarantineDir string     `json:"quarantine_dir"`
	Now           time.Time  `json:"now"`
	Running       bool       `json:"running"`
	Command       string     `json:"command,omitempty"`
	PID           int        `json:"pid,omitempty"`
	Version       string     `json:"version,omitempty"`
	Started       *time.Time `json:"started,omitempty"`
	Updated       *time.Time `json:"updated,omitempty"`
	Stopped       *time.Time `json:"stopped,omitempty"`
	Ready         *bool      `json:"ready,omitempty"`
	// Malformed counts the entries of the quarantine files that hold a
	// record that could not be parsed: quarantined once for every sink, in
	// the file of the sink that reached it first, and counted here, not in
	// that sink's quarantined.
	Malformed int64         `json:"malformed"`
	Sinks     []sinkStatus  `json:"sinks"`
	Inputs    []statusInput `json:"inputs,omitempty"`
	// Listeners: the running process's [[listen]] servers.
	Listeners map[string]listener.Stats `json:"listeners,omitempty"`
	// Warnings: what could not be read, so the report is partial.
	Warnings []string       `json:"warnings,omitempty"`
	Runtime  *runtimeStatus `json:"-"`
}

// sinkStatus is one sink in a statusReport.
type sinkStatus struct {
	Name  string `json:"name"`
	Type  string `json:"type,omitempty"`
	State string `json:"state"` // delivering, failing, stopped, unknown
	// Ready is set only in the running process (/status.json, /readyz).
	Ready *bool `json:"ready,omitempty"`
	// Checkpoint is when the position was last saved.
	Checkpoint    *time.Time     `json:"checkpoint,omitempty"`
	LastDelivery  *time.Time     `json:"last_delivery,omitempty"`
	LastError     string         `json:"last_error,omitempty"`
	LastErrorAt   *time.Time     `json:"last_error_at,omitempty"`
	FailingSince  *time.Time     `json:"failing_since,omitempty"`
	BytesBehind   int64          `json:"bytes_behind"`
	RecordsBehind *int64         `json:"records_behind,omitempty"` // not counted by the status page
	LagSeconds    float64        `json:"lag_seconds"`
	Rate          float64        `json:"rate"`
	InFlight      int            `json:"in_flight"`
	Delivered     int64          `json:"delivered"`
	Quarantined   int64          `json:"quarantined"` // records quarantined for the sink (its quarantine files, without the malformed ones)
	QuarantineN   int            `json:"quarantine_files"`
	Files         []fileStatus   `json:"files"`
	Servers       []serverStatus `json:"servers,omitempty"`
	// Sessions: a postgres sink's live-session table.
	Sessions *sessionsStatus `json:"sessions,omitempty"`
	Problem  string          `json:"problem,omitempty"` // a damaged checkpoint
	// BehindUnknown: no copy of the checkpoint could be read, so neither
	// the position nor what is behind it is known (bytes_behind is 0).
	BehindUnknown bool `json:"behind_unknown,omitempty"`
}

// fileStatus is one sink's position in one input file.
type fileStatus struct {
	Path          string     `json:"path"`
	Offset        int64      `json:"offset"`
	Line          int        `json:"line"`
	Size          int64      `json:"size"`
	Done          bool       `json:"done,omitempty"`
	Missing       bool       `json:"missing,omitempty"`
	Unseen        bool       `json:"unseen,omitempty"` // matches an input, no position saved yet
	BytesBehind   int64      `json:"bytes_behind"`
	RecordsBehind *int64     `json:"records_behind,omitempty"`
	OldestPending *time.Time `json:"oldest_pending,omitempty"` // Timestamp of the first record behind
	LagSeconds    float64    `json:"lag_seconds"`
}

type statusOptions struct {
	stateDir, quarantineDir string
	// countRecords reads every file from each position to its end to count
	// the records behind (the status command); the status page only stats.
	countRecords bool
	now          time.Time
	// live, when set, is the running process's own view (the status page).
	live *runtimeStatus
}

// collectStatus builds the status of the state directory opts.stateDir.
func collectStatus(opts statusOptions) (*statusReport, error) {
	var saved []tailer.SavedState
	var err error
	if opts.stateDir != "" {
		saved, err = tailer.ReadSavedStates(opts.stateDir)
	}
	if err != nil && !(opts.live != nil && errors.Is(err, fs.ErrNotExist)) {
		// (The running process may be asked before the tailer made the directory.)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s does not exist: no radrelay run has kept state there (a spool-only run, --listen without --to, keeps none: its counters are on --metrics)", opts.stateDir)
		}
		return nil, err
	}
	rt := opts.live
	var statusFileProblem string
	if rt == nil {
		rt, err = readRuntimeStatus(opts.stateDir)
		if err != nil {
			if len(saved) == 0 {
				return nil, err
			}
			// A damaged status file (a full disk, an editor) hides only the
			// counters: the checkpoints still say where each sink stands.
			statusFileProblem = fmt.Sprintf("the status file is unreadable (%v): whether radrelay runs is unknown; positions from the checkpoints", err)
		}
	}
	if len(saved) == 0 && rt == nil {
		return nil, fmt.Errorf("no sink has state in %s: radrelay run has not run with --state %s (or state_dir = %q)", opts.stateDir, opts.stateDir, opts.stateDir)
	}
	rep := &statusReport{StateDir: opts.stateDir, Now: opts.now, Runtime: rt}
	if statusFileProblem != "" {
		rep.Warnings = append(rep.Warnings, statusFileProblem)
	}
	if rt != nil {
		rep.Listeners = rt.Listeners
	}
	rep.QuarantineDir = opts.quarantineDir
	live := map[string]runtimeSink{}
	var order []string
	if rt != nil {
		rep.Command, rep.PID, rep.Version = rt.Command, rt.PID, rt.Version
		rep.Started, rep.Updated, rep.Stopped = timePtr(rt.Started), timePtr(rt.Updated), rt.Stopped
		rep.Running = rt.Stopped == nil && (opts.live != nil || processAlive(rt.PID))
		rep.Inputs = rt.Inputs
		if rep.QuarantineDir == "" {
			rep.QuarantineDir = rt.QuarantineDir
		}
		for _, s := range rt.Sinks {
			live[s.Name] = s
			order = append(order, s.Name)
		}
	}
	if rep.QuarantineDir == "" && opts.stateDir != "" {
		rep.QuarantineDir = filepath.Join(opts.stateDir, "quarantine")
	}
	byName := map[string]tailer.SavedState{}
	for _, s := range saved {
		byName[s.Sink] = s
		if _, ok := live[s.Sink]; !ok {
			order = append(order, s.Sink)
		}
	}
	// Files matching the inputs, for the ones no sink has a position in yet.
	var inputFiles []string
	for _, in := range rep.Inputs {
		if in.Glob != "" {
			m, _ := filepath.Glob(in.Glob)
			inputFiles = append(inputFiles, m...)
		}
		inputFiles = append(inputFiles, in.Files...)
	}
	// And the files other sinks have positions in: a consume work file no
	// longer matches the input glob, but a sink that has not started it is
	// behind by all of it.
	for _, sv := range saved {
		for _, p := range sv.Files {
			inputFiles = append(inputFiles, p.Path)
		}
	}
	for _, name := range order {
		ls, isLive := live[name]
		sv := byName[name]
		ss := sinkStatus{Name: name, Type: ls.Type, State: "unknown", Checkpoint: timePtr(sv.Saved)}
		if sv.Corrupt != nil {
			ss.Problem = sv.Corrupt.Error()
			ss.BehindUnknown = len(sv.Files) == 0 && sv.Saved.IsZero()
		}
		if isLive {
			ss.LastDelivery, ss.LastError, ss.LastErrorAt, ss.FailingSince = ls.LastDelivery, ls.LastError, ls.LastErrorAt, ls.FailingSince
			ss.InFlight, ss.Delivered, ss.Servers = ls.InFlight, ls.Delivered, ls.Servers
			ss.Sessions = ls.Sessions
			switch {
			case !rep.Running:
				ss.State = "stopped"
			case ls.FailingSince != nil:
				ss.State = "failing"
			case ls.LastDelivery != nil:
				ss.State = "delivering"
			default:
				ss.State = "starting" // no delivery call has ended yet
			}
			if rep.Running {
				ss.Rate = ls.Rate
			}
		} else if rt == nil && statusFileProblem == "" {
			ss.State = "stopped"
		}
		if ss.LastDelivery == nil && ss.Checkpoint != nil {
			// Not published (an older run): the checkpoint is written
			// after every group of acknowledgements.
			ss.LastDelivery = ss.Checkpoint
		}
		seen := map[string]bool{}
		for _, p := range sv.Files {
			seen[p.Path] = true
			ss.Files = append(ss.Files, fileStatusOf(p.Path, p.Offset, p.Line, p.Done, false, opts))
		}
		for _, path := range inputFiles {
			if !seen[path] && !ss.BehindUnknown {
				seen[path] = true
				if fst := fileStatusOf(path, 0, 1, false, true, opts); !fst.Missing {
					ss.Files = append(ss.Files, fst)
				}
			}
		}
		sort.SliceStable(ss.Files, func(i, j int) bool { return ss.Files[i].Path < ss.Files[j].Path })
		var oldest time.Time
		for _, f := range ss.Files {
			ss.BytesBehind += f.BytesBehind
			if f.RecordsBehind != nil {
				if ss.RecordsBehind == nil {
					ss.RecordsBehind = new(int64)
				}
				*ss.RecordsBehind += *f.RecordsBehind
			}
			if f.OldestPending != nil && (oldest.IsZero() || f.OldestPending.Before(oldest)) {
				oldest = *f.OldestPending
			}
		}
		if opts.countRecords && ss.RecordsBehind == nil && !ss.BehindUnknown {
			ss.RecordsBehind = new(int64)
		}
		if isLive && rep.Running && ls.OldestUndelivered != nil {
			// The running tailer knows records read but not acknowledged.
			if oldest.IsZero() || ls.OldestUndelivered.Before(oldest) {
				oldest = *ls.OldestUndelivered
			}
		}
		ss.LagSeconds = lagSeconds(opts.now, oldest)
		if files, err := tailer.QuarantineFiles(rep.QuarantineDir, name); err == nil {
			ss.QuarantineN = len(files)
			for _, q := range files {
				own, malformed := countQuarantined(q)
				ss.Quarantined += own
				rep.Malformed += malformed
			}
		}
		rep.Sinks = append(rep.Sinks, ss)
	}
	return rep, nil
}

// countQuarantined counts the entries of a quarantine file: those of
// records quarantined for its sink, and those of records that could not be
// parsed (quarantined once for every sink, whichever sink's file holds
// them). An unreadable file counts its records as the sink's.
func countQuarantined(path string) (own, malformed int64) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	entries, err := tailer.ReadQuarantine(f, path)
	if err != nil {
		n, _, _ := countRecords(path, 0, 1)
		return n, 0
	}
	for _, e := range entries {
		if e.NeedsRepair() {
			malformed++
		} else {
			own++
		}
	}
	return own, malformed
}

// fileStatusOf measures one position in one file.
func fileStatusOf(path string, offset int64, line int, done, unseen bool, opts statusOptions) fileStatus {
	fst := fileStatus{Path: path, Offset: offset, Line: line, Done: done, Unseen: unseen}
	fi, err := os.Stat(path)
	if err != nil {
		fst.Missing = true
		return fst
	}
	fst.Size = fi.Size()
	if done || fst.Size <= offset {
		if opts.countRecords {
			fst.RecordsBehind = new(int64)
		}
		return fst
	}
	fst.BytesBehind = fst.Size - offset
	n, first, err := int64(0), time.Time{}, error(nil)
	if opts.countRecords {
		n, first, err = countRecords(path, offset, line)
		if err == nil {
			fst.RecordsBehind = &n
		}
	} else {
		first, err = firstTimestamp(path, offset, line)
	}
	if err == nil && !first.IsZero() {
		fst.OldestPending = &first
		fst.LagSeconds = lagSeconds(opts.now, first)
	}
	return fst
}

// countRecords counts the records of path from offset to its end (a
// malformed record counts as one: it will be quarantined) and returns the
// Timestamp of the first.
func countRecords(path string, offset int64, line int) (int64, time.Time, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, time.Time{}, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return 0, time.Time{}, err
	}
	r := detail.NewReader(f, path)
	r.SetPosition(offset, line)
	var n int64
	var first time.Time
	for {
		rec, err := r.Next()
		var syn *detail.SyntaxError
		switch {
		case err == nil:
			if n == 0 && rec.HasTimestamp {
				first = time.Unix(rec.Timestamp, 0)
			}
			n++
		case errors.As(err, &syn):
			n++
		case errors.Is(err, io.EOF), errors.Is(err, detail.ErrIncomplete):
			return n, first, nil
		default:
			return n, first, err
		}
	}
}

// firstTimestamp returns the Timestamp of the first record of path at offset.
func firstTimestamp(path string, offset int64, line int) (time.Time, error) {
	f, err := os.Open(path)
	if err != nil {
		return time.Time{}, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return time.Time{}, err
	}
	r := detail.NewReader(f, path)
	r.SetPosition(offset, line)
	for range 16 { // skip a few malformed records, not a whole file
		rec, err := r.Next()
		var syn *detail.SyntaxError
		switch {
		case err == nil:
			if rec.HasTimestamp {
				return time.Unix(rec.Timestamp, 0), nil
			}
			return time.Time{}, nil
		case errors.As(err, &syn):
			continue
		default:
			return time.Time{}, nil
		}
	}
	return time.Time{}, nil
}

// printStatus writes the report for people.
func printStatus(w io.Writer, rep *statusReport) {
	ago := func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return humanDuration(rep.Now.Sub(*t)) + " ago"
	}
	for _, warning := range rep.Warnings {
		fmt.Fprintf(w, "WARNING: %s\n", warning)
	}
	switch {
	case rep.Runtime == nil && len(rep.Warnings) > 0:
	case rep.Runtime == nil:
		fmt.Fprintf(w, "radrelay: not running (no status published in %s; positions from the checkpoints)\n", rep.StateDir)
	case rep.Running:
		fmt.Fprintf(w, "radrelay %s: running, pid %d, version %s, started %s, status updated %s\n",
			rep.Command, rep.PID, rep.Version, ago(rep.Started), ago(rep.Updated))
		if rep.Updated != nil && rep.Now.Sub(*rep.Updated) > 10*statusInterval {
			fmt.Fprintf(w, "WARNING: the status was not updated for %s: radrelay may be stuck\n", humanDuration(rep.Now.Sub(*rep.Updated)))
		}
	case rep.Stopped != nil:
		fmt.Fprintf(w, "radrelay %s: not running (stopped %s; last status below)\n", rep.Command, ago(rep.Stopped))
	default:
		fmt.Fprintf(w, "radrelay %s: not running (pid %d is gone: killed or crashed; last status updated %s)\n", rep.Command, rep.PID, ago(rep.Updated))
	}
	printListeners(w, rep.Listeners)
	if rep.Malformed > 0 {
		fmt.Fprintf(w, "\nmalformed:        %s that could not be parsed, quarantined once for every sink (%s)\n", plural(rep.Malformed, "record"), rep.QuarantineDir)
	}
	for _, s := range rep.Sinks {
		typ := ""
		if s.Type != "" {
			typ = " (" + s.Type + ")"
		}
		fmt.Fprintf(w, "\nsink %s%s: %s", s.Name, typ, s.State)
		if s.FailingSince != nil {
			if s.State == "failing" {
				fmt.Fprintf(w, " since %s", ago(s.FailingSince))
			} else {
				fmt.Fprintf(w, " (failing since %s when it stopped)", ago(s.FailingSince))
			}
		}
		fmt.Fprintln(w)
		behind := formatBytes(s.BytesBehind)
		if s.RecordsBehind != nil {
			behind = plural(*s.RecordsBehind, "record") + ", " + behind
		}
		if s.BehindUnknown {
			fmt.Fprintf(w, "  behind:         unknown (no readable checkpoint); lag unknown\n")
		} else {
			fmt.Fprintf(w, "  behind:         %s; lag %s\n", behind, humanDuration(time.Duration(s.LagSeconds*float64(time.Second))))
		}
		fmt.Fprintf(w, "  last delivery:  %s\n", ago(s.LastDelivery))
		if s.LastError != "" {
			fmt.Fprintf(w, "  last error:     %s: %s\n", ago(s.LastErrorAt), s.LastError)
		} else {
			fmt.Fprintf(w, "  last error:     none\n")
		}
		fmt.Fprintf(w, "  quarantined:    %s in %s (%s)\n", plural(s.Quarantined, "record"), plural(int64(s.QuarantineN), "file"), rep.QuarantineDir)
		if s.Problem != "" {
			fmt.Fprintf(w, "  checkpoint:     %s\n", s.Problem)
		}
		printSessions(w, s.Sessions, ago)
		for _, srv := range s.Servers {
			fmt.Fprintf(w, "  server %s: %s, rtt %s, window %d, %d outstanding, %d retransmits, %d timeouts, %d bad authenticator, %d unknown id\n",
				srv.Address, upDown(srv), formatRTT(srv.RTTSeconds), srv.Window, srv.Outstanding, srv.Retransmits, srv.Timeouts, srv.BadAuth, srv.UnknownID)
		}
		if len(s.Files) == 0 {
			fmt.Fprintln(w, "  no files")
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  FILE\tPOSITION\tBEHIND\tLAG\t")
		for _, f := range s.Files {
			pos := fmt.Sprintf("line %d, byte %d", f.Line, f.Offset)
			var behind string
			switch {
			case f.Done:
				behind = "done"
			case f.Missing:
				pos, behind = "-", "file is gone"
			case f.BytesBehind == 0:
				behind = "caught up"
			default:
				behind = formatBytes(f.BytesBehind)
				if f.RecordsBehind != nil {
					behind = plural(*f.RecordsBehind, "record") + ", " + behind
				}
			}
			if f.Unseen {
				pos = "not started"
			}
			lag := "-"
			if f.OldestPending != nil {
				lag = humanDuration(time.Duration(f.LagSeconds * float64(time.Second)))
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t\n", f.Path, pos, behind, lag)
		}
		tw.Flush()
	}
}

// printListeners writes the [[listen]] servers' counters, as /metrics has
// them, one block per listener in the order of their addresses.
func printListeners(w io.Writer, ls map[string]listener.Stats) {
	addrs := make([]string, 0, len(ls))
	for a := range ls {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	for _, a := range addrs {
		st := ls[a]
		state := "acknowledging"
		if st.Paused {
			state = "NOT ACKNOWLEDGING: " + st.PauseReason
		}
		fmt.Fprintf(w, "\nlistener %s: %s\n", a, state)
		fmt.Fprintf(w, "  received:       %d packets; %d accepted (written, fsynced, acknowledged), %d duplicates, %d Status-Server\n",
			st.Received, st.Accepted, st.Duplicates, st.StatusServer)
		var drops []string
		reasons := make([]string, 0, len(st.Dropped))
		for r := range st.Dropped {
			reasons = append(reasons, r)
		}
		sort.Strings(reasons)
		for _, r := range reasons {
			if n := st.Dropped[r]; n > 0 {
				drops = append(drops, fmt.Sprintf("%d %s", n, r))
			}
		}
		if len(drops) == 0 {
			drops = []string{"none"}
		}
		fmt.Fprintf(w, "  dropped:        %s\n", strings.Join(drops, ", "))
		fmt.Fprintf(w, "  spool:          %s\n", formatBytes(st.SpoolBytes))
		if rs := st.RadSec; rs != nil {
			fmt.Fprintf(w, "  radsec:         %d connections opened, %d handshakes failed, %d refused (max_connections)\n",
				rs.Opened, rs.HandshakeFailed, rs.Refused)
		}
		if st.Fsyncs > 0 {
			fmt.Fprintf(w, "  fsync:          %d group commits, %.2f ms each on average, %.1f records each\n",
				st.Fsyncs, 1000*st.FsyncSeconds/float64(st.Fsyncs), float64(st.FsyncRecords)/float64(st.Fsyncs))
		} else {
			fmt.Fprintf(w, "  fsync:          no group commit yet\n")
		}
		if st.AckLatency.Count > 0 {
			fmt.Fprintf(w, "  ack latency:    p50 %s, p99 %s (receipt to Accounting-Response; fsync p99 %s)\n",
				quantile(st.AckLatency, 0.5), quantile(st.AckLatency, 0.99), quantile(st.FsyncLatency, 0.99))
		}
	}
}

// quantile says which bucket of h holds its q-quantile: "≤ 5ms".
func quantile(h listener.Histogram, q float64) string {
	if d, ok := h.Quantile(q); ok {
		return "≤ " + d.String()
	}
	if h.Count == 0 {
		return "-"
	}
	return fmt.Sprintf("> %s", time.Duration(listener.LatencyBuckets[len(listener.LatencyBuckets)-1]*float64(time.Second)))
}

// humanDuration rounds d for people: 3s, 4m10s, 2h5m, 3d4h.
func humanDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		s := d.Round(time.Second).String()
		if strings.HasSuffix(s, "m0s") {
			s = s[:len(s)-2]
		}
		return s
	case d < 48*time.Hour:
		return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
	}
	days := int(d / (24 * time.Hour))
	return fmt.Sprintf("%dd%dh", days, int((d-time.Duration(days)*24*time.Hour)/time.Hour))
}

func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return formatCount(n) + " " + word + "s"
}

// newStatusPublisher prepares the status file of a run of the tailer tc.
func newStatusPublisher(m *monitor, command string, started time.Time, tc tailer.Config) *statusPublisher {
	base := runtimeStatus{
		Command: command, PID: os.Getpid(), Version: versionString(), Started: started,
		QuarantineDir: tc.QuarantineDir,
	}
	if base.QuarantineDir == "" && tc.StateDir != "" {
		base.QuarantineDir = filepath.Join(tc.StateDir, "quarantine")
	}
	for _, in := range tc.Inputs {
		base.Inputs = append(base.Inputs, statusInput{Glob: in.Glob, Files: in.Files, Mode: in.Mode.String()})
	}
	return &statusPublisher{m: m, dir: tc.StateDir, base: base}
}
