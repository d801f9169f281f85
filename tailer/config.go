package tailer

import (
	"context"
	"errors"
	"log/slog"
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

// Input is one source of detail files.
type Input struct {
	// Glob selects the files (e.g. /var/log/freeradius/radacct/*/detail-*);
	// files are taken oldest first. For Replay, Files may list files instead.
	Glob  string
	Files []string
	Mode  Mode
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
	// BatchSize is the most records handed to one Sink.Send call.
	BatchSize int
	Retry     RetryPolicy
}

// Config is everything a Tailer needs.
type Config struct {
	Inputs []Input
	Sinks  []SinkSpec
	// StateDir holds the per-sink checkpoints (required for Consume and
	// Follow; optional for Replay, where it makes a replay resumable).
	StateDir string
	// QuarantineDir receives records that are malformed or that a sink
	// rejected permanently, in detail format with the reason and source position.
	QuarantineDir string
	// RaiseDelayTime raises Acct-Delay-Time by the time a record waited
	// (now − its Timestamp), as FreeRADIUS's detail reader does.
	RaiseDelayTime bool
	// PollInterval is the period of the stat poll that backs up fsnotify.
	PollInterval time.Duration
	// ShutdownTimeout bounds how long Run drains in-flight records after ctx is done.
	ShutdownTimeout time.Duration
	Logger          *slog.Logger
}

// Stats is a snapshot of a Tailer's progress, for metrics and progress bars.
type Stats struct {
	Sinks []SinkStats
	// BacklogBytes and BacklogFiles count what is not yet read by the slowest sink.
	BacklogBytes int64
	BacklogFiles int
	// TotalBytes is the size of every file a Replay was given (for an ETA).
	TotalBytes int64
}

// SinkStats is the progress of one sink.
type SinkStats struct {
	Name                                  string
	Read, Delivered, Retried, Quarantined int64
	InFlight                              int
	BytesDone                             int64
	// OldestUndelivered is the Timestamp of the oldest record not yet
	// acknowledged (zero when none); lag = now − OldestUndelivered.
	OldestUndelivered time.Time
}

// Tailer follows the inputs of a Config and feeds its sinks.
type Tailer struct {
	cfg Config
}

// New checks cfg and returns a Tailer ready to Run.
func New(cfg Config) (*Tailer, error) {
	if len(cfg.Inputs) == 0 {
		return nil, errors.New("tailer: no input")
	}
	if len(cfg.Sinks) == 0 {
		return nil, errors.New("tailer: no sink")
	}
	return &Tailer{cfg: cfg}, nil
}

// Run delivers records until ctx is done (Consume, Follow) or every file has
// been delivered (Replay). After ctx is done it stops reading, drains the
// records in flight for up to ShutdownTimeout and persists progress.
func (t *Tailer) Run(ctx context.Context) error {
	return errors.New("tailer: not implemented yet")
}

// Stats returns a snapshot of the Tailer's progress. It is safe to call
// concurrently with Run.
func (t *Tailer) Stats() Stats {
	return Stats{}
}
