package radius

import (
	"crypto/md5"
	"errors"
	"log/slog"
	"net"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// manualClock is a health clock that moves only when the test says so.
// armed receives a value whenever a timer is set, so a test knows the
// zombie timer runs before it moves the clock.
type manualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*manualTimer
	armed  chan struct{}
}

type manualTimer struct {
	at      time.Time
	f       func()
	stopped bool
}

func newManualClock() *manualClock {
	return &manualClock{now: time.Unix(1_800_000_000, 0), armed: make(chan struct{}, 64)}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	t := &manualTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	c.mu.Unlock()
	c.armed <- struct{}{}
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !t.stopped
		t.stopped = true
		return was
	}
}

// Advance moves the clock by d and runs, in order, the timers that are due.
func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*manualTimer
	kept := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case !t.at.After(c.now):
			t.stopped = true
			due = append(due, t)
		default:
			kept = append(kept, t)
		}
	}
	c.timers = kept
	c.mu.Unlock()
	sort.Slice(due, func(i, j int) bool { return due[i].at.Before(due[j].at) })
	for _, t := range due {
		t.f()
	}
}

// drainArmed consumes c.armed until the test ends, for a test that no
// longer waits for timers to be set (AfterFunc blocks on a full armed).
func drainArmed(t testing.TB, c *manualClock) {
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	go func() {
		for {
			select {
			case <-c.armed:
			case <-done:
				return
			}
		}
	}()
}

// silentServer takes datagrams and answers none (no ICMP errors either).
func silentServer(t *testing.T) string {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, _, err := c.ReadFrom(buf); errors.Is(err, net.ErrClosed) {
				return
			}
		}
	}()
	return c.LocalAddr().String()
}

// useClock puts every server of s on c.
func useClock(s *Sink, c *manualClock) {
	for _, e := range s.servers {
		e.now, e.afterFunc = c.Now, c.AfterFunc
	}
}

// TestZombiePeriodFromFirstUnansweredRequest: a primary that answers nothing
// is marked dead zombie_period after the first request it was sent, not when
// a retransmission timer next expires (issue 11 item 11), and the request
// then fails over to the backup at once.
func TestZombiePeriodFromFirstUnansweredRequest(t *testing.T) {
	const zombie = 20 * time.Second
	backup := newReceiver(t, testSecret)
	cfg := fastConfig(silentServer(t), backup.addr)
	// Retransmission timers far beyond the test: only the zombie timer can
	// mark the primary dead.
	cfg.InitialRTX, cfg.MaxRTX, cfg.MaxRTXDuration = time.Hour, time.Hour, 10*time.Hour
	cfg.ZombiePeriod = zombie
	cfg.FastRetransmit = -1
	s := openSink(t, cfg)
	clock := newManualClock()
	useClock(s, clock)
	primary := s.servers[0]

	recs := testRecords("zombie", 2)
	first := make(chan []error, 1)
	go func() { first <- send(t, s, recs[:1]) }()
	<-clock.armed // the first request is on the wire; the zombie timer runs

	// A second request 15 s later does not restart the period.
	clock.Advance(15 * time.Second)
	second := make(chan []error, 1)
	go func() { second <- send(t, s, recs[1:]) }()
	waitOutstanding(t, primary, 2)

	clock.Advance(zombie - 15*time.Second - time.Millisecond)
	if !primary.alive() {
		t.Fatal("primary marked dead before zombie_period")
	}
	select {
	case r := <-first:
		t.Fatalf("first record settled before zombie_period: %v", r)
	default:
	}

	clock.Advance(time.Millisecond)
	if primary.alive() {
		t.Fatal("primary still alive zombie_period after its first unanswered request")
	}
	mustAllSucceed(t, <-first)
	mustAllSucceed(t, <-second)
	checkHolds(t, backup.Delivered(), ids(recs))
	if st := s.Stats()[0]; st.Deaths != 1 || st.Timeouts != 0 {
		t.Fatalf("primary: deaths %d, retransmission timeouts %d; want 1 and 0", st.Deaths, st.Timeouts)
	}
}

// TestZombiePeriodRestartsOnReply: a reply ends the silence; the period then
// counts from it.
func TestZombiePeriodRestartsOnReply(t *testing.T) {
	e := &endpoint{timing: timing{zombiePeriod: 20 * time.Second}, dead: make(chan struct{}), closed: make(chan struct{})}
	e.log = testLogger(t)
	clock := newManualClock()
	e.now, e.afterFunc = clock.Now, clock.AfterFunc

	e.busyStart(clock.Now())
	e.busyStart(clock.Now())
	<-clock.armed
	clock.Advance(10 * time.Second)
	e.replied(clock.Now()) // one of the two answered; the other is not
	e.busyEnd()
	clock.Advance(10 * time.Second) // the timer fires, finds a reply 10 s old, rearms
	<-clock.armed
	if !e.alive() {
		t.Fatal("marked dead 10 s after a reply")
	}
	clock.Advance(10 * time.Second)
	if e.alive() {
		t.Fatal("alive 20 s after the last reply with a request outstanding")
	}
	select {
	case <-e.deadSignal():
	default:
		t.Fatal("dead signal not given")
	}

	// Revival makes a fresh signal; an idle server is never marked dead.
	e.replied(clock.Now())
	e.busyEnd()
	clock.Advance(time.Hour)
	if !e.alive() {
		t.Fatal("an idle server was marked dead")
	}
}

// waitOutstanding waits until e has n requests in flight (an event the
// test cannot otherwise observe; polled with yields, no sleeping).
func waitOutstanding(t *testing.T, e *endpoint, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for e.outstanding() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests outstanding, want %d", e.outstanding(), n)
		}
		runtime.Gosched()
	}
}

// TestReplyTimeIsWhenTheReaderReadIt: the server's last reply is when the
// reader read it, not when the request's goroutine woke up to see it. On a
// CPU-starved process that goroutine can run long after; the server
// answered all along and must not be marked dead for it (nor look quieter
// on the status page). Here the goroutine never runs at all.
func TestReplyTimeIsWhenTheReaderReadIt(t *testing.T) {
	const zombie = 20 * time.Second
	e := newEndpoint("127.0.0.1:1813", []byte(testSecret), 32, timing{zombiePeriod: zombie}, testLogger(t))
	clock := newManualClock()
	e.now, e.afterFunc = clock.Now, clock.AfterFunc
	c := newConn(nil, e)

	// A request in flight whose goroutine is starved: nothing reads p.acked.
	e.busyStart(clock.Now())
	<-clock.armed
	p := newPending()
	id, s, ok := c.acquire(p)
	if !ok {
		t.Fatal("no Identifier")
	}
	req := make([]byte, 20)
	req[0], req[1], req[3] = byte(4), id, 20 // Accounting-Request, no attributes
	copy(req[4:], "request-authent!")
	c.mu.Lock()
	copy(s.header[:], req)
	c.mu.Unlock()

	clock.Advance(zombie - time.Second)
	answered := clock.Now()
	c.handleReply(accountingResponse(req, testSecret))

	clock.Advance(time.Second) // the zombie period since the request ends
	if !e.alive() {
		t.Fatal("marked dead although it answered a second before the zombie period ended")
	}
	if got := e.lastReplyTime(); !got.Equal(answered) {
		t.Fatalf("last reply %v, want %v (when the reader read it)", got, answered)
	}
	select {
	case <-p.acked:
	default:
		t.Fatal("the request was not acknowledged")
	}
	if got := p.repliedAt(); !got.Equal(answered) {
		t.Fatalf("the request's reply time is %v, want %v", got, answered)
	}
	// When the goroutine finally runs, its late view does not move the
	// reply time forward.
	clock.Advance(5 * time.Second)
	e.replied(p.repliedAt())
	if got := e.lastReplyTime(); !got.Equal(answered) {
		t.Fatalf("last reply %v after the late wake-up, want %v", got, answered)
	}
	e.busyEnd()
}

// accountingResponse is the Accounting-Response to req signed with secret
// (RFC 2866: MD5(Code, Identifier, Length, Request Authenticator, secret)).
func accountingResponse(req []byte, secret string) []byte {
	b := make([]byte, 20)
	b[0], b[1], b[3] = 5, req[1], 20
	h := md5.New()
	h.Write(b[:4])
	h.Write(req[4:20])
	h.Write([]byte(secret))
	copy(b[4:], h.Sum(nil))
	return b
}

// TestRefusalEpisode: refusals (ICMP port unreachable) are warned about
// once per episode, show the server as "refused" without marking it dead,
// and an authentic reply ends the episode.
func TestRefusalEpisode(t *testing.T) {
	logs := &logBuffer{}
	e := newEndpoint("127.0.0.1:1813", []byte(testSecret), 32, timing{zombiePeriod: time.Hour},
		slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	for range 3 {
		e.noteRefused()
	}
	e.writeFailed(syscall.ECONNREFUSED)
	st := e.snapshot()
	if !st.Refused || st.Refusals != 4 || st.State != "refused" || !e.alive() || st.Deaths != 0 {
		t.Fatalf("after 4 refusals: %+v (alive for routing %v); want refused, 4 counted, not dead", st, e.alive())
	}
	if n := strings.Count(logs.String(), "connection refused"); n != 1 {
		t.Fatalf("%d warnings, want 1:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "level=WARN") || strings.Contains(logs.String(), testSecret) {
		t.Fatalf("want one WARN, without the secret:\n%s", logs)
	}
	e.heard(time.Now())
	if st := e.snapshot(); st.Refused || st.State != "alive" {
		t.Fatalf("after a reply: %+v; want alive", st)
	}
	if !strings.Contains(logs.String(), "answering again after refusing connections") {
		t.Fatalf("the end of the refusals is not said:\n%s", logs)
	}
	e.noteRefused() // a new episode is news again
	if n := strings.Count(logs.String(), "connection refused"); n != 2 {
		t.Fatalf("%d warnings after a second episode, want 2:\n%s", n, logs)
	}
}
