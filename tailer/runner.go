package tailer

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks"
)

// itemKind says what an item in a sink's pipeline is.
type itemKind uint8

const (
	itemRecord    itemKind = iota // a record to send
	itemSkip                      // a record already marked done (Donestamp): nothing to send
	itemBad                       // a malformed span: quarantine
	itemTruncated                 // a truncated record at the final end of a file: quarantine
	itemFileEnd                   // the file is finished: every earlier item of it resolved
	itemReset                     // the file was truncated in place: start again at 0
)

// item is one entry of a sink's pipeline, in file order. Every item holds one
// slot of the sink's window from the moment it is read until the commit that
// covers it is persisted.
type item struct {
	kind itemKind
	of   *openFile
	rec  *detail.Record
	raw  []byte // itemBad, itemTruncated
	// A run of consecutive unparseable spans is one itemBad: length is its
	// size in the source (from offset), spans how many records it held,
	// lastLine where the last began. partial says raw does not hold every
	// byte (an oversized record, a long run): the quarantine copies them
	// from the source into a side file. rawFile names a side file written
	// earlier (a quarantine file replayed).
	length   int64
	spans    int
	lastLine int
	partial  bool
	// plain: no attribute of rec can be a quarantine annotation
	// (mayBeAnnotated), so none is stripped before sending. (Next to
	// partial: the item stays in its allocation size class.)
	plain   bool
	rawFile string
	reason  string
	file    string
	line    int
	offset  int64
	end     int64 // commit position after this item
	endLine int
}

// sinkRunner is the pipeline of one sink.
type sinkRunner struct {
	t    *Tailer
	spec SinkSpec
	log  *slog.Logger
	// preparer is spec.Sink when it does part of its work on each record
	// as it is read (sinks.Preparer), nil otherwise.
	preparer sinks.Preparer

	items  chan *item
	tokens chan struct{} // the window: one token per item in flight

	q     *quarantine
	state stateFile // zero when there is no StateDir
	// fresh: the state directory had no state for this sink (its first
	// start), so start_at = "end" applies to it.
	fresh bool

	mu        sync.Mutex
	committed map[fileKey]*cursor // acknowledged positions
	saved     map[fileKey]cursor  // loaded at start, consumed as files are found
	unflushed int                 // tokens to release at the next persist
	// unflushedMarks: how many of those are held by marks (itemFileEnd,
	// itemReset), which are not records.
	unflushedMarks int
	dirty          bool
	flushC         chan struct{}

	// Flusher only.
	seq        uint64    // sequence number of the last state saved
	syncedSeq  uint64    // ... of the last state fsynced
	lastSynced time.Time // when

	health sinkHealth // the sink's retry budget (budget.go)

	qlogMu sync.Mutex
	qlog   map[string]*fileQuarantineLog // by file (quarantinelog.go)

	// markTokens counts the window's tokens held by marks (the end of a
	// file, a reset): InFlight counts records only.
	markTokens atomic.Int64

	read, delivered, retried, quarantined atomic.Int64
	oldest                                atomic.Int64 // Unix time, 0 = none
	// bytesPassed only grows: bytes committed this run, kept apart from
	// the positions, which vanish with a consumed file.
	bytesPassed atomic.Int64
}

func newSinkRunner(t *Tailer, spec SinkSpec) (*sinkRunner, error) {
	r := &sinkRunner{
		t:         t,
		spec:      spec,
		log:       t.log.With("sink", spec.Name),
		items:     make(chan *item, spec.MaxOutstanding),
		tokens:    make(chan struct{}, spec.MaxOutstanding),
		q:         &quarantine{dir: t.cfg.QuarantineDir, sink: spec.Name, every: t.sinkList()},
		committed: map[fileKey]*cursor{},
		saved:     map[fileKey]cursor{},
		flushC:    make(chan struct{}, 1),
		qlog:      map[string]*fileQuarantineLog{},
	}
	r.preparer = spec.Preparer
	if r.preparer == nil {
		r.preparer, _ = spec.Sink.(sinks.Preparer)
	}
	if t.cfg.StateDir != "" {
		r.state = stateFile{dir: t.cfg.StateDir, name: spec.Name}
		files, seq, corrupt, err := r.state.load()
		if err != nil {
			return nil, err
		}
		if corrupt != nil {
			r.log.Warn("state file damaged (power cut?); using the other copy (some records may be sent again)", "err", corrupt)
		}
		r.seq = seq
		r.fresh = seq == 0 && len(files) == 0 && corrupt == nil
		for _, c := range files {
			r.saved[fileKey{c.Dev, c.Ino}] = c
		}
	}
	return r, nil
}

// run runs the sink's pipeline until the reader is done (ctx done, or every
// Replay file finished) and the sender has drained.
func (r *sinkRunner) run(ctx, drainCtx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); r.readLoop(ctx) }()
	senderDone := make(chan struct{})
	go func() { defer close(senderDone); r.sendLoop(drainCtx) }()
	var flushErr error
	flusherDone := make(chan struct{})
	go func() { defer close(flusherDone); flushErr = r.flushLoop(senderDone) }()
	wg.Wait()
	<-senderDone
	<-flusherDone
	return flushErr
}

// stats returns the sink's counters and its backlog over the listed files.
func (r *sinkRunner) stats(sizes map[fileKey]int64) (SinkStats, int64, int) {
	ss := SinkStats{
		Name:        r.spec.Name,
		Read:        r.read.Load(),
		Delivered:   r.delivered.Load(),
		Retried:     r.retried.Load(),
		Quarantined: r.quarantined.Load(),
		InFlight:    max(len(r.tokens)-int(r.markTokens.Load()), 0),
		BytesPassed: r.bytesPassed.Load(),
	}
	if ts := r.oldest.Load(); ts != 0 {
		ss.OldestUndelivered = time.Unix(ts, 0)
	}
	var backlog int64
	var files int
	r.mu.Lock()
	for k, size := range sizes {
		c, ok := r.committed[k]
		switch {
		case !ok:
			backlog += size
			files++
		case c.Done:
			ss.BytesDone += size
		default:
			// min: a compressed file's position is in its decompressed
			// stream, larger than its size (progress is approximate).
			ss.BytesDone += min(c.Offset, size)
			if size > c.Offset {
				backlog += size - c.Offset
				files++
			}
		}
	}
	r.mu.Unlock()
	return ss, backlog, files
}
