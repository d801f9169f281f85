package radius

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	layeh "layeh.com/radius"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks"
)

// encoder turns the attributes of a record into wire attributes, skipping
// server-internal ones. *dictionary.Dictionary is the real one.
type encoder interface {
	Encode(p *layeh.Packet, attrs []detail.Attribute) error
}

// Sink sends records as Accounting-Requests; it implements sinks.Sink.
type Sink struct {
	cfg      Config
	servers  []*endpoint
	enc      encoder
	log      *slog.Logger
	progress *progress // broadcast only
	rr       atomic.Uint32
	// secrets are the distinct shared secrets and group maps each server to
	// its secret: a record is encoded once per secret (encrypted attributes
	// such as Tunnel-Password are hidden with it), usually once.
	secrets [][]byte
	group   []int
	order   []int // configuration order, for failover
}

var _ sinks.Sink = (*Sink)(nil)

// newSink opens the sockets of every server.
func newSink(cfg Config, logger *slog.Logger, enc encoder) (*Sink, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Policy == PolicyBroadcast && len(cfg.Servers) > 64 {
		return nil, errors.New("radius sink: broadcast supports at most 64 servers")
	}
	t := timing{
		backoff:        backoff{initial: cfg.InitialRTX, max: cfg.MaxRTX},
		maxCount:       max(cfg.MaxRTXCount, 0),
		maxDuration:    max(cfg.MaxRTXDuration, 0),
		zombiePeriod:   cfg.ZombiePeriod,
		reviveInterval: cfg.ReviveInterval,
		statusServer:   cfg.StatusServer,
		updateDelay:    cfg.AcctDelayTime == DelayUpdate,
		fastRetransmit: uint64(max(cfg.FastRetransmit, 0)),
	}
	s := &Sink{cfg: cfg, enc: enc, log: logger}
	if cfg.Policy == PolicyBroadcast {
		s.progress = newProgress()
	}
	for _, sc := range cfg.Servers {
		secret, err := sc.secret()
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("radius server %s: %s: %w", sc.Address, sc.secretField(), err)
		}
		window := cfg.ServerWindow
		sockets := cfg.sockets(sc)
		if sockets == 1 && 2*window+1 > 256 {
			window = 127
			logger.Warn("radius sink: fixed source port allows one socket; server_window lowered", "server", sc.Address, "server_window", window)
		}
		g := slices.IndexFunc(s.secrets, func(b []byte) bool { return string(b) == string(secret) })
		if g < 0 {
			g = len(s.secrets)
			s.secrets = append(s.secrets, secret)
		}
		s.group = append(s.group, g)
		var e *endpoint
		if sc.radsec() {
			e, err = dialRadSecEndpoint(sc, secret, window, t, logger)
		} else {
			e, err = dialEndpoint(sc.Address, secret, sc.SourceAddress, sockets, window, t, logger)
		}
		if err != nil {
			s.Close()
			return nil, err
		}
		s.order = append(s.order, len(s.servers))
		s.servers = append(s.servers, e)
	}
	names := make([]string, len(cfg.Servers))
	for i, sc := range cfg.Servers {
		names[i] = sc.String()
	}
	logger.Info("radius sink ready", "servers", names, "policy", cfg.Policy,
		"server_window", cfg.ServerWindow, "initial_rtx", cfg.InitialRTX, "max_rtx", cfg.MaxRTX,
		"max_rtx_count", cfg.MaxRTXCount, "max_rtx_duration", cfg.MaxRTXDuration,
		"status_server", cfg.StatusServer, "acct_delay_time", cfg.AcctDelayTime)
	return s, nil
}

// Close closes every socket. It waits for nothing: Send has returned.
func (s *Sink) Close() error {
	for _, e := range s.servers {
		e.close()
	}
	return nil
}

// Stats returns the counters of every server, in configuration order.
func (s *Sink) Stats() []ServerStats {
	out := make([]ServerStats, len(s.servers))
	for i, e := range s.servers {
		out[i] = e.snapshot()
	}
	return out
}

// Send sends every record of the batch at once (each server's window bounds
// how many are on the wire) and stores each record's outcome in results.
func (s *Sink) Send(ctx context.Context, recs []*detail.Record, results []error) {
	var wg sync.WaitGroup
	for i, r := range recs {
		msgs, err := s.prepare(r)
		if err != nil {
			results[i] = sinks.Permanent(fmt.Errorf("radius sink: %s: %w", where(r), err))
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = s.deliver(ctx, r, msgs)
		}()
	}
	wg.Wait()
}

// ConcurrentSends lets the tailer hand the sink its next batch while earlier
// ones are still in flight (see sinks.ConcurrentSender): every record is
// delivered on its own goroutine anyway, and the adaptive window, not the
// batch, bounds what a server sees. Without it, a late or retransmitted
// request at the end of a batch leaves the server idle until it is answered.
func (s *Sink) ConcurrentSends() int { return 4 }

func where(r *detail.Record) string {
	if r.File == "" {
		return fmt.Sprintf("record at line %d", r.Line)
	}
	return fmt.Sprintf("%s:%d", r.File, r.Line)
}

// prepare encodes r once per distinct secret.
func (s *Sink) prepare(r *detail.Record) ([]*message, error) {
	var received int64
	if r.HasTimestamp {
		received = r.Timestamp
	}
	msgs := make([]*message, len(s.secrets))
	for g, secret := range s.secrets {
		p := &layeh.Packet{Code: layeh.CodeAccountingRequest, Secret: secret}
		if err := s.enc.Encode(p, r.Attrs); err != nil {
			return nil, err
		}
		m, err := newMessage(p, received, s.cfg.AcctDelayTime == DelayUpdate)
		if err != nil {
			return nil, fmt.Errorf("encoding Accounting-Request: %w", err)
		}
		msgs[g] = m
	}
	return msgs, nil
}

func (s *Sink) deliver(ctx context.Context, r *detail.Record, msgs []*message) error {
	var err error
	switch s.cfg.Policy {
	case PolicyBroadcast:
		err = s.broadcast(ctx, r, msgs)
	case PolicyLoadBalance:
		err = s.oneOf(ctx, msgs, s.byLoad())
	default:
		err = s.oneOf(ctx, msgs, s.order)
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("radius sink: %s (Acct-Session-Id %q) not acknowledged: %w", where(r), sessionID(r), err)
	}
	return nil
}

func sessionID(r *detail.Record) string {
	a, _ := r.Get("Acct-Session-Id")
	return a.Value
}

// byLoad orders the servers by requests outstanding, starting the scan at a
// rotating position so that equal loads take turns.
func (s *Sink) byLoad() []int {
	n := len(s.servers)
	start := int(s.rr.Add(1)) % n
	order := make([]int, n)
	load := make([]int, n)
	for i := range order {
		order[i] = (start + i) % n
		load[i] = s.servers[order[i]].outstanding()
	}
	sort.Stable(byOutstanding{order, load})
	return order
}

type byOutstanding struct {
	i    []int
	load []int
}

func (b byOutstanding) Len() int           { return len(b.i) }
func (b byOutstanding) Less(i, j int) bool { return b.load[i] < b.load[j] }
func (b byOutstanding) Swap(i, j int) {
	b.i[i], b.i[j] = b.i[j], b.i[i]
	b.load[i], b.load[j] = b.load[j], b.load[i]
}

// oneOf tries the live servers in order until one acknowledges the record.
func (s *Sink) oneOf(ctx context.Context, msgs []*message, order []int) error {
	var failures []string
	for k, i := range order {
		e := s.servers[i]
		// A server being probed is skipped for the next one; the last one
		// has no next, so there the record waits for the probe's outcome.
		ok, probe := e.admit(ctx, k == len(order)-1)
		if !ok {
			failures = append(failures, e.address+": "+errServerDead.Error())
			continue
		}
		err := e.exchange(ctx, msgs[s.group[i]], probe)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		failures = append(failures, e.address+": "+err.Error())
	}
	return errors.New(strings.Join(failures, "; "))
}

// broadcast sends m to every server that has not acknowledged it yet (a
// record retried after a partial failure goes only to the servers that
// missed it) and succeeds when all have.
func (s *Sink) broadcast(ctx context.Context, r *detail.Record, msgs []*message) error {
	key := progressKey{file: r.File, offset: r.Offset, sum: checksum(r)}
	done := s.progress.get(key)
	var wg sync.WaitGroup
	errs := make([]error, len(s.servers))
	for i, e := range s.servers {
		if done&(1<<i) != 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, probe := e.admit(ctx, true)
			if !ok {
				errs[i] = errServerDead
				return
			}
			errs[i] = e.exchange(ctx, msgs[s.group[i]], probe)
		}()
	}
	wg.Wait()
	var failures []string
	for i, err := range errs {
		if err == nil {
			done |= 1 << i
		} else if done&(1<<i) == 0 {
			failures = append(failures, s.servers[i].address+": "+err.Error())
		}
	}
	if len(failures) == 0 {
		s.progress.forget(key)
		return nil
	}
	s.progress.set(key, done)
	return errors.New(strings.Join(failures, "; "))
}

// checksum identifies a record by its content (the attributes as read,
// before encoding: encrypted attributes get a random salt every time).
func checksum(r *detail.Record) uint64 {
	h := fnv.New64a()
	var sep = []byte{0}
	for _, a := range r.Attrs {
		h.Write([]byte(a.Name))
		h.Write(sep)
		h.Write([]byte{a.Tag})
		h.Write([]byte(a.Value))
		h.Write(sep)
	}
	return h.Sum64()
}

// progress remembers, for broadcast, which servers acknowledged a record
// that not all of them did, so that the retry goes only to the others.
type progress struct {
	mu   sync.Mutex
	acks map[progressKey]uint64
}

type progressKey struct {
	file   string
	offset int64
	sum    uint64
}

// maxProgress bounds the memory for partially delivered records. Past it the
// table is cleared: a retry then goes to every server again (a duplicate at
// the ones that had it, never a loss).
const maxProgress = 1 << 20

func newProgress() *progress { return &progress{acks: make(map[progressKey]uint64)} }

func (p *progress) get(k progressKey) uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.acks[k]
}

func (p *progress) set(k progressKey, done uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.acks) >= maxProgress {
		clear(p.acks)
	}
	if done != 0 {
		p.acks[k] = done
	}
}

func (p *progress) forget(k progressKey) {
	p.mu.Lock()
	delete(p.acks, k)
	p.mu.Unlock()
}
