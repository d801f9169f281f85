package listener

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/detail/spool"
	"github.com/radrelay/radrelay/dictionary"
)

// Defaults of Config.
const (
	DefaultPort            = 1813
	DefaultDuplicateWindow = 30 * time.Second
	// DefaultFileTemplate is the file of a record under the client's
	// directory, as FreeRADIUS's detail module names it.
	DefaultFileTemplate = "detail-%Y%m%d"
	// maxBatch bounds the records of one group commit.
	maxBatch = 1024
	// maxCommitters is how many group commits may run at once: while one
	// waits for its fsync, the next group is written and fsynced too. Two,
	// not more: ext4 commits its journal one transaction at a time, so a
	// third commit only waits behind the second while splitting the
	// requests in flight into smaller groups, each with its own fsync (CPU
	// in the kernel, and a longer fsync tail); see docs/benchmarks.md.
	maxCommitters = 2
	// readersPerSocket is how many goroutines read each UDP socket: while
	// one checks and decodes what it read, the other reads.
	readersPerSocket = 2
	// readBatch is how many datagrams a reader takes from its socket at
	// once (one recvmmsg(2) on Linux). Not more: a reader checks and
	// decodes its batch before handing it on, so a large batch delays its
	// first requests and leaves the socket's other reader idle (16 gave
	// 6% more acknowledgements per second than 64, docs/benchmarks.md).
	readBatch = 16
	// maxDatagram is the longest RADIUS packet (RFC 2865 §3), and one
	// octet more to tell a longer datagram.
	maxDatagram = 4096 + 1
	// queueBatches bounds the batches of requests waiting for a
	// committer: when the disk is slower than the clients, the readers
	// wait, and then the socket's buffer fills.
	queueBatches = 1024
)

// Config configures a Listener.
type Config struct {
	// UDP are the addresses to receive on, host:port ("0.0.0.0:1813",
	// "[::]:1813", "127.0.0.1:0").
	UDP []string
	// Clients may send; the longest prefix containing a source address is
	// its client.
	Clients []Client
	// RadSec are TCP addresses to serve RadSec (RFC 6614) on; see
	// RadSecConfig.
	RadSec []string
	RadSecConfig
	// SpoolDir holds one directory per client (its address, as
	// FreeRADIUS's radacct/<client>/), each holding FileTemplate files.
	SpoolDir string
	// FileTemplate names a client's files (DefaultFileTemplate when
	// empty): time fields only (%Y %m %d %H ...), no '/'; see
	// checkFileTemplate.
	FileTemplate string
	// Attributes is AttributesDefaultSite (default) or AttributesPacket.
	Attributes string
	// MaxSpoolBytes stops acknowledging while the spool holds more (0: no
	// limit but the disk's).
	MaxSpoolBytes int64
	// DuplicateWindow is how long an answered request's response is kept
	// for its retransmissions.
	DuplicateWindow time.Duration
	// Dictionary names the attributes (dictionary.Builtin() when nil).
	Dictionary *dictionary.Dictionary
	Logger     *slog.Logger
	// Location is the time zone of the file names (time.Local when nil).
	Location *time.Location
}

// Validate reports every problem of c at once.
func (c *Config) Validate() error {
	var errs []error
	if len(c.UDP) == 0 && len(c.RadSec) == 0 {
		errs = append(errs, errors.New("no address to receive on: give udp (--listen) or radsec addresses"))
	}
	errs = append(errs, c.validateRadSec()...)
	for _, a := range c.UDP {
		if err := checkHostPort("udp", a); err != nil {
			errs = append(errs, fmt.Errorf("udp %q: %w (e.g. 0.0.0.0:1813 or [::]:1813)", a, err))
		}
	}
	if len(c.Clients) == 0 && len(c.UDP) > 0 {
		errs = append(errs, errors.New("no client: every request would be dropped (give [[listen.client]], clients_conf, or --client PREFIX:SECRET_FILE)"))
	}
	if err := duplicateClients(c.Clients, nil); err != nil {
		errs = append(errs, err)
	}
	for _, cl := range c.Clients {
		if cl.Secret == "" {
			errs = append(errs, fmt.Errorf("client %s: empty secret", cl.Prefix))
		}
	}
	if c.SpoolDir == "" {
		errs = append(errs, errors.New("spool: no spool directory: received records are written there before they are acknowledged"))
	}
	if c.FileTemplate != "" {
		if err := checkFileTemplate(c.FileTemplate); err != nil {
			errs = append(errs, err)
		}
	}
	switch c.Attributes {
	case "", AttributesDefaultSite, AttributesPacket:
	default:
		errs = append(errs, fmt.Errorf("attributes %q: want %q or %q", c.Attributes, AttributesDefaultSite, AttributesPacket))
	}
	if c.MaxSpoolBytes < 0 {
		errs = append(errs, errors.New("max_spool_bytes: negative"))
	}
	return errors.Join(errs...)
}

// InputGlob is the glob of the spool's files, for the tailer.
func (c *Config) InputGlob() string {
	t := c.FileTemplate
	if t == "" {
		t = DefaultFileTemplate
	}
	return filepath.Join(c.SpoolDir, "*", templateGlob(t))
}

// A Listener receives, spools and acknowledges accounting requests.
type Listener struct {
	cfg     Config
	log     *slog.Logger
	clients *clientTable
	dedup   *dedup
	c       counters
	socks   []*udpSocket
	tcp     []net.Listener
	radsec  *radsecServer
	queue   chan *batch
	batches sync.Pool // of *batch

	mu      sync.Mutex
	writers map[writerKey]*spool.Writer
	paused  string // why requests are not acknowledged, "" when they are
	loudAt  time.Time

	drops dropLog // says why requests are dropped, not for each one
}

// writerKey names a spool writer: each committer has its own per client
// directory, so that its fsync covers exactly its own writes and runs while
// the others write (O_APPEND keeps their records whole in a shared file).
type writerKey struct {
	committer int
	dir       string
}

// pending is a request waiting for its group commit.
type pending struct {
	rec  detail.Record // its Attrs' array is reused (putBatch)
	dir  string
	to   replyTo
	key  dedupKey
	dd   *dedupEntry
	auth [16]byte
	resp [20]byte  // the Accounting-Response
	at   time.Time // when it was received
}

// batch is requests read together (one recvmmsg(2), or one RadSec packet):
// readers hand batches to the committers, one channel send for many
// requests. Batches are reused (Listener.batches).
type batch struct {
	items []pending
}

func (l *Listener) getBatch() *batch {
	if b, ok := l.batches.Get().(*batch); ok {
		return b
	}
	return &batch{items: make([]pending, 0, readBatch)}
}

func (l *Listener) putBatch(b *batch) {
	for i := range b.items {
		// Let the request go, keep its attributes' array for the next.
		attrs := b.items[i].rec.Attrs
		clear(attrs)
		b.items[i] = pending{rec: detail.Record{Attrs: attrs[:0]}}
	}
	b.items = b.items[:0]
	l.batches.Put(b)
}

// next returns the item after b's last, to fill and then add with
// b.items = b.items[:len(b.items)+1]. Its record's Attrs keep the array of
// the item that was there before (putBatch).
func (b *batch) next() *pending {
	n := len(b.items)
	if n == cap(b.items) {
		b.items = append(b.items, pending{})[:n]
	}
	return &b.items[:n+1][n]
}

// replyTo is where a request's response goes: a UDP socket and the
// request's source, or a RadSec connection.
type replyTo struct {
	udp    *udpSocket
	addr   replyAddr
	radsec *radsecReplier
}

// send sends one response at once (a Status-Server's, a duplicate's).
func (r *replyTo) send(b []byte, from netip.AddrPort) {
	if r.radsec != nil {
		r.radsec.write(b)
		return
	}
	r.udp.conn.WriteToUDPAddrPort(b, from)
}

// worker is the state of one goroutine that checks requests (a UDP reader,
// a RadSec connection), reused from request to request.
type worker struct {
	checker
	packetScratch
	client   *Client
	secret   []byte // client's secret
	lastAddr netip.Addr
	lastDir  string // clientDir(lastAddr)
}

func (w *worker) secretOf(cl *Client) []byte {
	if cl != w.client {
		w.client, w.secret = cl, []byte(cl.Secret)
	}
	return w.secret
}

func (w *worker) clientDir(a netip.Addr) string {
	if w.lastDir == "" || a != w.lastAddr {
		w.lastAddr, w.lastDir = a, clientDir(a)
	}
	return w.lastDir
}

// New checks cfg and opens its sockets; Run serves them.
func New(cfg Config) (*Listener, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.FileTemplate == "" {
		cfg.FileTemplate = DefaultFileTemplate
	}
	if cfg.Attributes == "" {
		cfg.Attributes = AttributesDefaultSite
	}
	if cfg.DuplicateWindow <= 0 {
		cfg.DuplicateWindow = DefaultDuplicateWindow
	}
	if cfg.Dictionary == nil {
		cfg.Dictionary = dictionary.Builtin()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Location == nil {
		cfg.Location = time.Local
	}
	if err := os.MkdirAll(cfg.SpoolDir, 0o700); err != nil {
		return nil, fmt.Errorf("spool directory: %w", err)
	}
	cut, err := recoverSpool(cfg.InputGlob())
	if err != nil {
		return nil, err
	}
	for _, c := range cut {
		cfg.Logger.Warn("cut off the part of a record a killed radrelay left at the end of a spool file (it was never acknowledged; the NAS sends it again)", "cut", c)
	}
	l := &Listener{cfg: cfg, log: cfg.Logger.With("component", "listener"), clients: newClientTable(cfg.Clients),
		dedup: newDedup(cfg.DuplicateWindow), queue: make(chan *batch, queueBatches),
		writers: map[writerKey]*spool.Writer{}}
	for _, a := range cfg.UDP {
		ua, err := net.ResolveUDPAddr("udp", a)
		if err != nil {
			l.closeConns()
			return nil, fmt.Errorf("listen %s: %w", a, err)
		}
		c, err := net.ListenUDP("udp", ua)
		if err != nil {
			l.closeConns()
			return nil, fmt.Errorf("listen %s: %w", a, err)
		}
		_ = c.SetReadBuffer(4 << 20)
		s, err := newUDPSocket(c)
		if err != nil {
			c.Close()
			l.closeConns()
			return nil, fmt.Errorf("listen %s: %w", a, err)
		}
		l.socks = append(l.socks, s)
	}
	if err := l.openRadSec(); err != nil {
		l.closeConns()
		return nil, err
	}
	l.c.spoolBytes.Store(dirSize(cfg.SpoolDir))
	return l, nil
}

// Addrs are the addresses the listener receives on (with the ports chosen
// for ":0").
func (l *Listener) Addrs() []string {
	var out []string
	for _, s := range l.socks {
		out = append(out, s.conn.LocalAddr().String())
	}
	for _, t := range l.tcp {
		out = append(out, "radsec:"+t.Addr().String())
	}
	return out
}

// Stats returns the counters.
func (l *Listener) Stats() Stats {
	s := l.c.snapshot()
	if len(l.tcp) > 0 {
		s.RadSec = &RadSecStats{Opened: l.c.radsecOpened.Load(), HandshakeFailed: l.c.radsecHandshakeFailed.Load(), Refused: l.c.radsecRefused.Load()}
	}
	l.mu.Lock()
	s.Paused, s.PauseReason = l.paused != "", l.paused
	l.mu.Unlock()
	return s
}

func (l *Listener) closeConns() {
	for _, s := range l.socks {
		s.conn.Close()
	}
	for _, t := range l.tcp {
		t.Close()
	}
}

// Run serves until ctx ends, then stops receiving, writes and answers what
// it has received, and closes the spool files.
func (l *Listener) Run(ctx context.Context) error {
	l.log.Info("listening for accounting", "addrs", l.Addrs(), "spool", l.cfg.SpoolDir, "clients", len(l.cfg.Clients))
	var readers sync.WaitGroup
	for _, s := range l.socks {
		// Several readers per socket: checking and decoding requests
		// costs more than reading them.
		for range readersPerSocket {
			readers.Add(1)
			go func() { defer readers.Done(); l.readUDP(s) }()
		}
	}
	commitDone := make(chan struct{})
	go func() {
		defer close(commitDone)
		var wg sync.WaitGroup
		for i := range maxCommitters {
			wg.Add(1)
			go func() { defer wg.Done(); l.commitLoop(&committer{l: l, id: i}) }()
		}
		wg.Wait()
	}()
	watchCtx, stopWatch := context.WithCancel(context.Background())
	watchDone := make(chan struct{})
	go func() { defer close(watchDone); l.watchSpool(watchCtx) }()

	for _, t := range l.tcp {
		readers.Add(1)
		go func() { defer readers.Done(); l.radsec.serve(t) }()
	}
	<-ctx.Done()
	// Stop reading; what was read is written and answered.
	for _, s := range l.socks {
		s.conn.SetReadDeadline(time.Now())
	}
	l.radsec.stop()
	for _, t := range l.tcp {
		t.Close()
	}
	readers.Wait()
	close(l.queue)
	<-commitDone
	stopWatch()
	<-watchDone
	l.closeConns()
	var errs []error
	l.mu.Lock()
	for _, w := range l.writers {
		if err := w.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	l.mu.Unlock()
	return errors.Join(errs...)
}

// readUDP reads a socket's requests in batches, checks them, and hands
// those to be written to the committers, one batch at a time.
func (l *Listener) readUDP(s *udpSocket) {
	r := newUDPReader(s)
	var w worker
	for {
		dgs, err := r.read()
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		l.c.received.Add(int64(len(dgs)))
		b := l.getBatch()
		for i := range dgs {
			d := &dgs[i]
			cl, ok := l.clients.find(d.from.Addr())
			if !ok {
				l.c.drop(DropUnknownClient)
				l.drops.warn(l.log, DropUnknownClient, d.from, "dropped a request from an unknown client: its source address is in no client's prefix (add it as a client, or check the NAS's source address)")
				continue
			}
			l.handle(&w, d.b, d.from, cl, replyTo{udp: s, addr: *d.to}, b)
		}
		if len(b.items) == 0 {
			l.putBatch(b)
			continue
		}
		l.queue <- b
	}
}

// handle checks one request and adds it to b for writing, answers it from
// the duplicate cache, or drops it. p is the caller's buffer: nothing of it
// is kept.
func (l *Listener) handle(w *worker, p []byte, from netip.AddrPort, cl *Client, to replyTo, b *batch) {
	ma, err := checkPacket(p)
	if err != nil {
		l.c.drop(DropMalformed)
		l.drops.warn(l.log, DropMalformed, from, "dropped a malformed packet (its length and attributes do not add up)", "client", cl.Name)
		return
	}
	p = p[:int(p[2])<<8|int(p[3])]
	if p[0] != codeAccountingRequest && p[0] != codeStatusServer {
		l.c.drop(DropUnsupported)
		l.drops.warn(l.log, DropUnsupported, from, "dropped a packet that is not accounting (only Accounting-Request and Status-Server are handled: is an authentication port pointed here?)", "client", cl.Name, "code", p[0])
		return
	}
	secret := w.secretOf(cl)
	if err := w.verifyRequest(p, ma, secret); err != nil {
		reason := DropBadAuth
		if errors.Is(err, errBadMsgAuth) || errors.Is(err, errNoMsgAuth) {
			reason = DropBadMsgAuth
		}
		l.c.drop(reason)
		l.drops.warn(l.log, reason, from, "dropped a request that failed verification (wrong shared secret?)", "client", cl.Name, "problem", err.Error())
		return
	}
	if p[0] == codeStatusServer {
		l.c.status.Add(1)
		to.send(statusResponse(p, secret), from)
		return
	}
	var auth [16]byte
	copy(auth[:], p[4:20])
	key := dedupKey{src: from, id: p[1]}
	now := time.Now()
	dd, resp, answered := l.dedup.begin(key, auth, now)
	if dd == nil {
		l.c.duplicates.Add(1)
		if answered {
			to.send(cachedResponse(p[1], resp), from)
		}
		return
	}
	if l.overLimit() {
		l.dedup.forget(key, dd, auth)
		l.c.drop(DropSpoolFull)
		l.pause(fmt.Sprintf(pauseLimit+" %d bytes, max_spool_bytes is %d", l.c.spoolBytes.Load(), l.cfg.MaxSpoolBytes), nil)
		return
	}
	item := b.next()
	if err := buildRecordIn(&item.rec, &w.packetScratch, l.cfg.Dictionary, p, secret, from.Addr(), now, l.cfg.Attributes); err != nil {
		clear(item.rec.Attrs) // not added: let what was decoded go
		l.dedup.forget(key, dd, auth)
		l.c.drop(DropMalformed)
		l.log.Warn("dropped a request that cannot be decoded", "client", cl.Name, "err", err)
		return
	}
	item.dir, item.to, item.key, item.dd, item.auth = w.clientDir(from.Addr()), to, key, dd, auth
	item.resp, item.at = w.response(p, secret), now
	b.items = b.items[:len(b.items)+1]
}

// overLimit reports whether the spool limit is reached.
func (l *Listener) overLimit() bool {
	return l.cfg.MaxSpoolBytes > 0 && l.c.spoolBytes.Load() >= l.cfg.MaxSpoolBytes
}

// clientDir is the directory of a client's files: its address, as
// FreeRADIUS's %{%{Packet-Src-IP-Address}:-%{Packet-Src-IPv6-Address}}.
// (Without its zone, an address's text holds no '%' or '/'.)
func clientDir(a netip.Addr) string {
	return a.Unmap().WithZone("").String()
}

// committer is the state of one commitLoop, reused from group to group.
type committer struct {
	l       *Listener
	id      int
	batches []*batch
	group   []*pending
	errs    []error
	dirs    []string       // the group's client directories, in order
	byDir   map[string]int // index in dirs
	idx     [][]int        // by dirs: the group's requests for it
	recs    []*detail.Record
	werrs   []error
	udp     []udpResponses
	radsec  []radsecResponses
	sender  udpSender
}

type udpResponses struct {
	sock *udpSocket
	out  []outgoing
}

type radsecResponses struct {
	conn *radsecReplier
	b    []byte
}

// commitLoop writes the queued requests in groups: each group is written,
// fsynced once, then answered. While one group is being fsynced the next
// one gathers in the queue.
func (l *Listener) commitLoop(c *committer) {
	for b := range l.queue {
		c.batches = append(c.batches[:0], b)
		n := len(b.items)
	gather:
		for n < maxBatch {
			select {
			case q, ok := <-l.queue:
				if !ok {
					break gather
				}
				c.batches = append(c.batches, q)
				n += len(q.items)
			default:
				break gather
			}
		}
		c.group = c.group[:0]
		for _, b := range c.batches {
			for i := range b.items {
				c.group = append(c.group, &b.items[i])
			}
		}
		c.commit()
		clear(c.group)
		for _, b := range c.batches {
			l.putBatch(b)
		}
		clear(c.batches)
	}
}

func (c *committer) commit() {
	l, batch := c.l, c.group
	if l.overLimit() {
		l.pause(fmt.Sprintf(pauseLimit+" %d bytes, max_spool_bytes is %d", l.c.spoolBytes.Load(), l.cfg.MaxSpoolBytes), nil)
		for _, p := range batch {
			l.dedup.forget(p.key, p.dd, p.auth)
			l.c.drop(DropSpoolFull)
		}
		return
	}
	start := time.Now()
	if c.byDir == nil {
		c.byDir = map[string]int{}
	}
	clear(c.byDir)
	c.dirs = c.dirs[:0]
	for _, idx := range c.idx {
		clear(idx)
	}
	c.errs = slices.Grow(c.errs[:0], len(batch))[:len(batch)]
	clear(c.errs)
	for i, p := range batch {
		d, ok := c.byDir[p.dir]
		if !ok {
			d = len(c.dirs)
			c.byDir[p.dir] = d
			c.dirs = append(c.dirs, p.dir)
			if d == len(c.idx) {
				c.idx = append(c.idx, nil)
			}
			c.idx[d] = c.idx[d][:0]
		}
		c.idx[d] = append(c.idx[d], i)
	}
	errs := c.errs
	for d, dir := range c.dirs {
		idx := c.idx[d]
		w, err := l.writer(c.id, dir)
		if err != nil {
			for _, i := range idx {
				errs[i] = err
			}
			continue
		}
		c.recs = c.recs[:0]
		for _, i := range idx {
			c.recs = append(c.recs, &batch[i].rec)
		}
		recs := c.recs
		c.werrs = slices.Grow(c.werrs[:0], len(recs))[:len(recs)]
		werrs := c.werrs
		w.WriteBatch(recs, werrs)
		for k, i := range idx {
			errs[i] = werrs[k]
			if werrs[k] == nil {
				l.c.spoolBytes.Add(recordSize(recs[k]))
			}
		}
		// The file's data, and the first time a file is opened the names
		// leading to it from the spool directory (spool.Options.Root).
		if err := w.Sync(); err != nil {
			for _, i := range idx {
				errs[i] = err
			}
		}
	}
	clear(c.recs)
	took := time.Since(start)
	l.c.fsyncs.Add(1)
	l.c.fsyncNanos.Add(int64(took))
	l.c.fsyncLatency.observe(took)
	var firstErr error
	for _, err := range errs {
		if err != nil {
			firstErr = err
			break
		}
	}
	if firstErr != nil {
		l.pause(pauseWrite, firstErr)
	} else {
		l.resume(pauseWrite)
	}
	now := time.Now()
	accepted := 0
	for i, p := range batch {
		if errs[i] != nil {
			l.dedup.forget(p.key, p.dd, p.auth)
			l.c.drop(DropWriteError)
			continue
		}
		l.dedup.done(p.key, p.dd, p.auth, [16]byte(p.resp[4:20]), now)
		accepted++
		c.queueResponse(p)
	}
	clear(errs)
	l.c.accepted.Add(int64(accepted))
	l.c.fsyncRecords.Add(int64(accepted))
	c.sendResponses()
	now = time.Now()
	for i, p := range batch {
		if errs[i] == nil {
			l.c.ackLatency.observe(now.Sub(p.at))
		}
	}
}

// queueResponse adds p's response to those sent together when the group is
// answered: one sendmmsg(2) per UDP socket; on a RadSec connection one TLS
// record each, under one lock.
func (c *committer) queueResponse(p *pending) {
	if rs := p.to.radsec; rs != nil {
		for i := range c.radsec {
			if c.radsec[i].conn == rs {
				c.radsec[i].b = append(c.radsec[i].b, p.resp[:]...)
				return
			}
		}
		// Reuse the buffer of an earlier group's entry.
		c.radsec = slices.Grow(c.radsec, 1)[:len(c.radsec)+1]
		r := &c.radsec[len(c.radsec)-1]
		r.conn, r.b = rs, append(r.b[:0], p.resp[:]...)
		return
	}
	for i := range c.udp {
		if c.udp[i].sock == p.to.udp {
			c.udp[i].out = append(c.udp[i].out, outgoing{b: p.resp[:], to: &p.to.addr})
			return
		}
	}
	c.udp = append(c.udp, udpResponses{sock: p.to.udp, out: []outgoing{{b: p.resp[:], to: &p.to.addr}}})
}

// sendResponses sends what queueResponse queued.
func (c *committer) sendResponses() {
	for i := range c.udp {
		c.sender.send(c.udp[i].sock, c.udp[i].out)
		clear(c.udp[i].out)
		c.udp[i].out = c.udp[i].out[:0]
	}
	for i := range c.radsec {
		c.radsec[i].conn.write(c.radsec[i].b)
		c.radsec[i].conn = nil // a connection closes; its buffer is reused
	}
	c.radsec = c.radsec[:0]
}

// pauseLimit is the reason of a pause for max_spool_bytes.
const pauseLimit = "the spool holds"

// pauseWrite is the reason of a pause for a failed write.
const pauseWrite = "cannot write the spool"

// pause records that requests are not acknowledged, and says so loudly: at
// once, then every 10 seconds while it lasts.
func (l *Listener) pause(why string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if l.paused == "" || now.Sub(l.loudAt) >= 10*time.Second {
		args := []any{"reason", why, "spool", l.cfg.SpoolDir}
		if err != nil {
			args = append(args, "err", err.Error())
		}
		l.log.Error("NOT ACKNOWLEDGING accounting requests: they are not recorded; the NAS will send them again and they are accepted as soon as the spool can be written", args...)
		l.loudAt = now
	}
	l.paused = why
}

// resume ends a pause whose reason starts with kind.
func (l *Listener) resume(kind string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.paused != "" && strings.HasPrefix(l.paused, kind) {
		l.log.Warn("acknowledging accounting requests again: the spool can be written", "was", l.paused)
		l.paused = ""
	}
}

// writer returns the spool writer of a client directory.
func (l *Listener) writer(committer int, dir string) (*spool.Writer, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := writerKey{committer, dir}
	if w, ok := l.writers[key]; ok {
		return w, nil
	}
	w, err := spool.New(spool.Options{
		Template:   filepath.Join(strings.ReplaceAll(l.cfg.SpoolDir, "%", "%%"), strings.ReplaceAll(dir, "%", "%%"), l.cfg.FileTemplate),
		Lock:       true,
		Durability: spool.NoSync, // the listener fsyncs each group itself
		Location:   l.cfg.Location,
		Root:       l.cfg.SpoolDir,
	})
	if err != nil {
		return nil, err
	}
	l.writers[key] = w
	return w, nil
}

// watchSpool measures the spool every second (the tailer shrinks it as it
// consumes files) and lifts a pause for the spool limit.
func (l *Listener) watchSpool(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		l.c.spoolBytes.Store(dirSize(l.cfg.SpoolDir))
		if !l.overLimit() {
			l.resume(pauseLimit)
		}
	}
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// recordSize is about the size of rec in the file (escapes aside): the
// spool's size between two measurements of watchSpool.
func recordSize(rec *detail.Record) int64 {
	n := int64(len("Sun Dec  6 01:58:59 2026\n\tTimestamp = 1796522339\n\n"))
	for _, a := range rec.Attrs {
		n += int64(len(a.Name) + len(a.Value) + 6)
	}
	return n
}
