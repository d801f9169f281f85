package tailer

import (
	"log/slog"
	"path/filepath"
	"strconv"
	"time"

	"github.com/radrelay/radrelay/sinks"
)

// Mode says how an input's files are taken.
type Mode int

const (
	// Consume renames each file to a work file, as FreeRADIUS's detail
	// reader does, and deletes it once every sink has acknowledged every record.
	Consume Mode = iota
	// Follow never renames, deletes or writes source files: it follows them
	// as they grow and across rotation, keeping its position in the state directory.
	Follow
	// Replay reads the given files read-only, once, and returns when every
	// record has been delivered or quarantined (radrelay replay).
	Replay
)

// String returns "consume", "follow" or "replay".
func (m Mode) String() string {
	switch m {
	case Consume:
		return "consume"
	case Follow:
		return "follow"
	case Replay:
		return "replay"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// Input is one source of detail files.
type Input struct {
	// Glob selects the files (e.g. /var/log/freeradius/radacct/*/detail-*);
	// files are taken oldest first. For Replay, Files may list files instead.
	Glob  string
	Files []string
	Mode  Mode
	// StartAtEnd (Follow only): a file found by the first look of a run
	// for which a sink has no saved position at all (a first start) is
	// read from its end at that moment, for that sink. Files that appear
	// later are read from their start: they are new records.
	StartAtEnd bool
	// ReadAhead (Consume only) lets a sink that has finished the work
	// files read the directory's unclaimed files in place, as Follow does,
	// instead of waiting for the slowest sink to finish the work file (the
	// next file is claimed only then). Each sink then has its own cursor
	// across the whole spool, so a sink that is down holds up no other.
	// Only for a spool this process is the sole consumer of (the
	// listener's own): another consumer claiming a file being read in
	// place would deliver it a second time.
	ReadAhead bool
}

// RetryPolicy says how a sink's retryable failures are retried: exponential
// backoff with jitter from Initial up to Max. Zero MaxAttempts and zero
// MaxDuration retry forever; when a limit is reached the record is quarantined.
type RetryPolicy struct {
	Initial     time.Duration
	Max         time.Duration
	MaxAttempts int
	MaxDuration time.Duration
}

// SinkSpec is one sink with its delivery settings. Each sink has its own
// cursor: a sink that is down does not hold up the others.
type SinkSpec struct {
	// Name identifies the sink in logs, metrics and its state file; it must
	// be unique and stable across restarts.
	Name string
	Sink sinks.Sink
	// MaxOutstanding is the number of records in flight to this sink; when it
	// is reached, reading for this sink waits (backpressure).
	MaxOutstanding int
	// BatchSize is the most records handed to one Sink.Send call; it may
	// not exceed MaxOutstanding.
	BatchSize int
	// Concurrency is how many Send calls may run at once on Sink, each with
	// its own batch (positions are still committed in order). The caller
	// declares it from the sink it opened, before any wrapper (see
	// sinks.Concurrency); 0 reads it from Sink itself.
	Concurrency int
	// Preparer, when set, is called with each record as it is read, before
	// the record joins the window (sinks.Preparer): the sink behind Sink's
	// wrappers, declared by the caller like Concurrency; nil reads it from
	// Sink itself.
	Preparer sinks.Preparer
	Retry    RetryPolicy
}

// Config is everything a Tailer needs.
type Config struct {
	Inputs []Input
	Sinks  []SinkSpec
	// StateDir holds the per-sink checkpoints (required for Consume and
	// Follow; optional for Replay, where it makes a replay resumable).
	StateDir string
	// QuarantineDir receives records that are malformed or that a sink
	// rejected permanently, in detail format with the reason and source
	// position (see QuarantineReasonAttr). Default:
	// DefaultQuarantineDir(StateDir); required when there is no StateDir.
	QuarantineDir string
	// RaiseDelayTime raises Acct-Delay-Time by the time a record waited
	// (now − its Timestamp), as FreeRADIUS's detail reader does.
	RaiseDelayTime bool
	// PollInterval is the period of the stat poll that backs up fsnotify.
	PollInterval time.Duration
	// ShutdownTimeout bounds how long Run drains in-flight records after ctx is done.
	ShutdownTimeout time.Duration
	Logger          *slog.Logger

	// SettleTime is how long a file must stay the same size before its end
	// is taken as final: a followed file that left the glob (renamed away
	// or deleted), or a consume work file that radrelay holds locked but
	// cannot tell is no longer open in another process (a consume work
	// file is final as soon as it can tell; see docs/tailer.md). Only then
	// is a truncated record at its end quarantined and the file deleted
	// (Consume) or forgotten (Follow). Default DefaultSettleTime.
	SettleTime time.Duration
	// SyncInterval is how often checkpoints (and quarantine files) are
	// fsynced. Checkpoints are written after every group of
	// acknowledgements, which a killed process never loses; a power cut can
	// lose at most SyncInterval of them (those records are sent again).
	// Default DefaultSyncInterval.
	SyncInterval time.Duration
	// FailureReminder is how often a sink that stays down is logged again
	// ("sink still failing"): never silent, never a flood. Default
	// DefaultFailureReminder.
	FailureReminder time.Duration
}

// Defaults for zero Config and SinkSpec fields.
const (
	DefaultMaxOutstanding  = 256
	DefaultMaxBatch        = 256 // BatchSize default: min(MaxOutstanding, DefaultMaxBatch)
	DefaultPollInterval    = time.Second
	DefaultShutdownTimeout = 30 * time.Second
	DefaultFailureReminder = time.Minute
	DefaultSettleTime      = 2 * time.Second
	DefaultSyncInterval    = time.Second
)

// DefaultQuarantineDir is the quarantine directory of a Config with a
// state directory and no QuarantineDir.
func DefaultQuarantineDir(stateDir string) string {
	return filepath.Join(stateDir, "quarantine")
}

// Stats is a snapshot of a Tailer's progress, for metrics and progress bars.
type Stats struct {
	Sinks []SinkStats
	// BacklogBytes and BacklogFiles count what is not yet read by the slowest sink.
	BacklogBytes int64
	BacklogFiles int
	// TotalBytes is the size of every file a Replay was given (for an ETA).
	TotalBytes int64
	// SkippedFiles counts input files left alone because they are not
	// detail text: compressed or binary files matched by a consume or
	// follow glob, binary files given to a Replay.
	SkippedFiles int
	// Malformed counts the records that could not be parsed (malformed,
	// truncated, unreadable). Such a record is the same for every sink and
	// is quarantined once for all of them, so it is counted here, once,
	// and in no sink's Quarantined.
	Malformed int64
}

// SinkStats is the progress of one sink. Quarantined counts the records
// quarantined for this sink (rejected by it, retries exhausted); records
// that could not be parsed are counted in Stats.Malformed instead.
type SinkStats struct {
	Name                                  string
	Read, Delivered, Retried, Quarantined int64
	InFlight                              int
	BytesDone                             int64
	// BytesPassed counts the bytes the sink's position has advanced over
	// this run (decompressed bytes for a compressed file). Unlike
	// BytesDone it never falls: a consumed file's deletion does not take
	// its bytes away.
	BytesPassed int64
	// OldestUndelivered is the Timestamp of the oldest record not yet
	// acknowledged (zero when none); lag = now − OldestUndelivered.
	OldestUndelivered time.Time
}

// Unsettled is the number of records read for the sink and neither
// delivered nor quarantined yet: in flight while the sink runs, not
// delivered once it stopped. (InFlight counts the window slots held by
// records and unparseable spans, also those acknowledged but not yet
// committed behind an earlier, unacknowledged record: it is the window's
// occupancy, not a count of records to wait for.)
func (s SinkStats) Unsettled() int64 {
	return max(s.Read-s.Delivered-s.Quarantined, 0)
}
