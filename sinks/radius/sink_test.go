package radius

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	layeh "layeh.com/radius"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks"
)

const testSecret = "s3cret-test"

// fakeEncoder encodes the handful of attributes the transport tests use, so
// that they do not depend on the dictionary. The interop test uses the real
// dictionary.
type fakeEncoder struct{}

type unencodableError struct{ name string }

func (e *unencodableError) Error() string { return "cannot encode " + e.name }

func (fakeEncoder) Encode(p *layeh.Packet, attrs []detail.Attribute) error {
	for _, a := range attrs {
		switch a.Name {
		case "User-Name":
			p.Attributes = append(p.Attributes, &layeh.AVP{Type: 1, Attribute: []byte(a.Value)})
		case "Acct-Session-Id":
			p.Attributes = append(p.Attributes, &layeh.AVP{Type: 44, Attribute: []byte(a.Value)})
		case "Acct-Delay-Time":
			n, err := strconv.ParseUint(a.Value, 10, 32)
			if err != nil {
				return &unencodableError{a.Name}
			}
			p.Attributes = append(p.Attributes, &layeh.AVP{Type: 41, Attribute: binary.BigEndian.AppendUint32(nil, uint32(n))})
		case "NAS-IP-Address":
			ip := net.ParseIP(a.Value).To4()
			if ip == nil {
				return &unencodableError{a.Name}
			}
			p.Attributes = append(p.Attributes, &layeh.AVP{Type: 4, Attribute: layeh.Attribute(ip)})
		case "Unencodable":
			return &unencodableError{a.Name}
		}
	}
	return nil
}

// fastConfig returns ms-scale timers so that fault tests take milliseconds.
func fastConfig(addrs ...string) Config {
	c := Config{
		Policy:         PolicyFailover,
		InitialRTX:     20 * time.Millisecond,
		MaxRTX:         80 * time.Millisecond,
		MaxRTXCount:    8,
		MaxRTXDuration: 2 * time.Second,
		ServerWindow:   64,
		ZombiePeriod:   300 * time.Millisecond,
		ReviveInterval: 100 * time.Millisecond,
	}
	for _, a := range addrs {
		c.Servers = append(c.Servers, ServerConfig{Address: a, Secret: testSecret})
	}
	return c
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func openSink(t testing.TB, cfg Config) *Sink {
	t.Helper()
	s, err := newSink(cfg, testLogger(t), fakeEncoder{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testRecords(prefix string, n int) []*detail.Record {
	recs := make([]*detail.Record, n)
	for i := range recs {
		recs[i] = &detail.Record{
			File: "detail-test", Line: 1 + 5*i, Offset: int64(100 * i),
			Attrs: []detail.Attribute{
				{Name: "User-Name", Value: fmt.Sprintf("user%d", i), Quoted: true},
				{Name: "Acct-Session-Id", Value: fmt.Sprintf("%s-%05d", prefix, i), Quoted: true},
				{Name: "NAS-IP-Address", Value: "192.0.2.1"},
				{Name: "Acct-Unique-Session-Id", Value: "internal", Quoted: true},
			},
		}
	}
	return recs
}

func ids(recs []*detail.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = sessionID(r)
	}
	return out
}

func send(t testing.TB, s *Sink, recs []*detail.Record) []error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	results := make([]error, len(recs))
	s.Send(ctx, recs, results)
	return results
}

func mustAllSucceed(t testing.TB, results []error) {
	t.Helper()
	for i, err := range results {
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
}

// checkHolds checks that every id arrived at least once.
func checkHolds(t testing.TB, got, want []string) {
	t.Helper()
	have := make(map[string]bool, len(got))
	for _, id := range got {
		have[id] = true
	}
	var missing []string
	for _, id := range want {
		if !have[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%d of %d records missing at the receiver, e.g. %v", len(missing), len(want), missing[:min(5, len(missing))])
	}
}

func TestSignMatchesLayehEncode(t *testing.T) {
	p := &layeh.Packet{Code: layeh.CodeAccountingRequest, Identifier: 77, Secret: []byte(testSecret)}
	p.Attributes = append(p.Attributes, &layeh.AVP{Type: 44, Attribute: []byte("abc")}, &layeh.AVP{Type: 41, Attribute: []byte{0, 0, 0, 9}})
	want, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	m, err := newMessage(p, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 20+len(m.attrs))
	copy(buf[20:], m.attrs)
	signAccountingRequest(buf, 77, []byte(testSecret))
	if !slices.Equal(buf, want) {
		t.Fatalf("signAccountingRequest:\n got %x\nwant %x", buf, want)
	}
	if !layeh.IsAuthenticRequest(buf, []byte(testSecret)) {
		t.Fatal("layeh does not accept our Request Authenticator")
	}
	if m.delayOff != 5+2 || m.baseDelay != 9 {
		t.Fatalf("Acct-Delay-Time at %d = %d, want at 7 = 9", m.delayOff, m.baseDelay)
	}
}

func TestMessageDelay(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		name     string
		base     []byte // nil: no Acct-Delay-Time in the record
		received int64
		update   bool
		want     uint32
		wantOff  bool
	}{
		{"raised by spool time", []byte{0, 0, 0, 5}, now.Unix() - 60, true, 65, true},
		{"added when missing", nil, now.Unix() - 7, true, 7, true},
		{"no timestamp", []byte{0, 0, 0, 5}, 0, true, 5, true},
		{"keep", []byte{0, 0, 0, 5}, now.Unix() - 60, false, 0, false},
		{"future timestamp", nil, now.Unix() + 60, true, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &layeh.Packet{Code: layeh.CodeAccountingRequest}
			p.Attributes = append(p.Attributes, &layeh.AVP{Type: 1, Attribute: []byte("u")})
			if tc.base != nil {
				p.Attributes = append(p.Attributes, &layeh.AVP{Type: 41, Attribute: tc.base})
			}
			m, err := newMessage(p, tc.received, tc.update)
			if err != nil {
				t.Fatal(err)
			}
			if (m.delayOff >= 0) != tc.wantOff {
				t.Fatalf("delayOff = %d", m.delayOff)
			}
			if got := m.delayAt(now); got != tc.want {
				t.Fatalf("delayAt = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	b := backoff{initial: 2 * time.Second, max: 16 * time.Second}
	rt := b.first()
	if rt < 1800*time.Millisecond || rt > 2200*time.Millisecond {
		t.Fatalf("first = %s", rt)
	}
	prev := rt
	for i := 0; i < 10; i++ {
		rt = b.next(prev)
		lo, hi := time.Duration(1.9*float64(prev)), time.Duration(2.1*float64(prev))
		if capped := rt >= 14400*time.Millisecond; capped {
			if rt > 17600*time.Millisecond {
				t.Fatalf("step %d: %s above MRT+10%%", i, rt)
			}
		} else if rt < lo || rt > hi {
			t.Fatalf("step %d: %s not in [%s,%s]", i, rt, lo, hi)
		}
		prev = rt
	}
}

// TestDeliversEverything: every record of a large batch reaches a healthy
// server and is acknowledged exactly once. The timers are patient: with
// fastConfig's 300 ms zombie_period, a machine loaded enough to keep the
// in-process receiver or the reply reader off the CPU for 300 ms made the
// only server "dead" and the test fail; retransmission (20 ms) still runs.
func TestDeliversEverything(t *testing.T) {
	r := newReceiver(t, testSecret)
	s := openSink(t, patientConfig(r.addr))
	recs := testRecords("all", 2000)
	mustAllSucceed(t, send(t, s, recs))
	got := r.Delivered()
	checkHolds(t, got, ids(recs))
	st := s.Stats()[0]
	if st.Acked != 2000 || st.Forged != 0 || st.Failed != 0 || st.Deaths != 0 || st.State != "alive" {
		t.Fatalf("stats %+v", st)
	}
}

// TestKeepModeAddsNothing: with acct_delay_time = keep the sink adds no
// Acct-Delay-Time to a record that has none.
func TestKeepModeAddsNothing(t *testing.T) {
	r := newReceiver(t, testSecret)
	cfg := patientConfig(r.addr)
	cfg.AcctDelayTime = DelayKeep
	s := openSink(t, cfg)
	mustAllSucceed(t, send(t, s, testRecords("keep", 3)))
	if d := r.sentDelays(); len(d) != 0 {
		t.Fatalf("acct_delay_time=keep added Acct-Delay-Time: %v", r.delays)
	}
}

// TestAcctDelayTimeRaised: the record waited 100 s in the detail file, so
// its Acct-Delay-Time of 3 goes out as 103. The sink's delay clock is fixed
// and the one request is never resent (an hour's retransmission timer, no
// early resend), so neither scheduling nor a retransmission changes it.
func TestAcctDelayTimeRaised(t *testing.T) {
	r := newReceiver(t, testSecret)
	cfg := patientConfig(r.addr)
	cfg.InitialRTX, cfg.MaxRTX = time.Hour, time.Hour
	cfg.FastRetransmit = -1
	s := openSink(t, cfg)
	sent := time.Unix(1_800_000_000, 0)
	s.servers[0].clock = func(time.Time) time.Time { return sent }
	recs := testRecords("delay", 1)
	recs[0].Attrs = append(recs[0].Attrs, detail.Attribute{Name: "Acct-Delay-Time", Value: "3"})
	recs[0].Timestamp, recs[0].HasTimestamp = sent.Unix()-100, true
	mustAllSucceed(t, send(t, s, recs))
	if d := r.sentDelays(); len(d) != 1 || d[0] != 103 {
		t.Fatalf("Acct-Delay-Time sent: %v, want 3+100", d)
	}
}

func TestUnencodableIsPermanent(t *testing.T) {
	r := newReceiver(t, testSecret)
	s := openSink(t, patientConfig(r.addr))
	recs := testRecords("perm", 3)
	recs[1].Attrs = append(recs[1].Attrs, detail.Attribute{Name: "Unencodable", Value: "x"})
	res := send(t, s, recs)
	if res[0] != nil || res[2] != nil {
		t.Fatalf("good records failed: %v", res)
	}
	if !sinks.IsPermanent(res[1]) || !strings.Contains(res[1].Error(), "detail-test:6") {
		t.Fatalf("unencodable record: %v (permanent %v)", res[1], sinks.IsPermanent(res[1]))
	}
}

func TestDroppedRequestsAreRetransmitted(t *testing.T) {
	r := newReceiver(t, testSecret)
	r.set(func(r *receiver) { r.drop = func(n int) bool { return n%3 == 0 } }) // a third of all datagrams
	s := openSink(t, patientConfig(r.addr))
	recs := testRecords("drop", 600)
	mustAllSucceed(t, send(t, s, recs))
	checkHolds(t, r.Delivered(), ids(recs))
	if st := s.Stats()[0]; st.Retransmits == 0 || st.State != "alive" {
		t.Fatalf("stats %+v", st)
	}
}

func TestSlowServer(t *testing.T) {
	r := newReceiver(t, testSecret)
	r.set(func(r *receiver) { r.delay = 50 * time.Millisecond }) // > initial_rtx
	s := openSink(t, patientConfig(r.addr))
	recs := testRecords("slow", 200)
	mustAllSucceed(t, send(t, s, recs))
	checkHolds(t, r.Delivered(), ids(recs))
	if st := s.Stats()[0]; st.Retransmits == 0 {
		t.Fatalf("expected retransmissions to a slow server: %+v", st)
	}
}

// TestWrongAuthenticatorNeverBelieved: replies with a wrong Response
// Authenticator acknowledge nothing, and the retry succeeds once the same
// server answers correctly. The server's health runs on a clock that never
// moves, so a loaded machine cannot get it marked dead on the way.
func TestWrongAuthenticatorNeverBelieved(t *testing.T) {
	r := newReceiver(t, testSecret)
	r.set(func(r *receiver) { r.wrongAuth = true })
	cfg := fastConfig(r.addr)
	cfg.MaxRTXCount = 2
	s := openSink(t, cfg)
	frozen := newManualClock()
	useClock(s, frozen)
	drainArmed(t, frozen)
	recs := testRecords("forged", 20)
	for i, err := range send(t, s, recs) {
		if err == nil || sinks.IsPermanent(err) {
			t.Fatalf("record %d: want a retryable error, got %v", i, err)
		}
	}
	if st := s.Stats()[0]; st.Forged == 0 || st.Acked != 0 {
		t.Fatalf("stats %+v", st)
	}
	// The same server answering correctly: the retry succeeds, however
	// long the answers take (no retransmission limit from here on; no
	// exchange runs while it is changed).
	r.set(func(r *receiver) { r.wrongAuth = false })
	s.servers[0].timing.maxCount, s.servers[0].timing.maxDuration = 0, 0
	mustAllSucceed(t, send(t, s, recs))
}

// TestServerDownAtStart: records for a server that is not up fail
// retryably (without the secret in the error) and are delivered once it is.
// Its health runs on a clock that never moves: the records fail by the
// retransmission limit, and once the server is up nothing can mark it dead.
func TestServerDownAtStart(t *testing.T) {
	addr := reservedAddr(t)
	r := newStoppedReceiver(t, testSecret, addr)
	cfg := fastConfig(addr)
	cfg.MaxRTXDuration = 200 * time.Millisecond
	s := openSink(t, cfg)
	frozen := newManualClock()
	useClock(s, frozen)
	drainArmed(t, frozen)
	recs := testRecords("down", 50)
	for i, err := range send(t, s, recs) {
		if err == nil || sinks.IsPermanent(err) {
			t.Fatalf("record %d: want a retryable error, got %v", i, err)
		}
	}
	if strings.Contains(fmt.Sprint(send(t, s, recs[:1])), testSecret) {
		t.Fatal("secret in an error")
	}
	r.restart()
	// No retransmission limit from here on (no exchange runs while it is
	// changed): a loaded machine may take long to read the answers.
	s.servers[0].timing.maxCount, s.servers[0].timing.maxDuration = 0, 0
	mustAllSucceed(t, send(t, s, recs))
	checkHolds(t, r.Delivered(), ids(recs))
}

func TestServerKilledMidStreamAndRestarted(t *testing.T) {
	r := newReceiver(t, testSecret)
	killed := make(chan struct{})
	var once sync.Once
	r.set(func(r *receiver) {
		r.drop = func(n int) bool { return n > 300 } // the crash loses what was in flight
		r.onRequest = func(n int) {
			if n == 300 {
				once.Do(func() { close(killed) })
			}
		}
	})
	cfg := fastConfig(r.addr)
	cfg.MaxRTXCount = -1
	cfg.MaxRTXDuration = 20 * time.Second
	cfg.ZombiePeriod = time.Hour // keep the only server in use
	s := openSink(t, cfg)
	recs := testRecords("kill", 1000)
	done := make(chan []error)
	go func() { done <- send(t, s, recs) }()
	<-killed
	r.stop()
	r.set(func(r *receiver) { r.drop = nil; r.onRequest = nil })
	r.restart()
	mustAllSucceed(t, <-done)
	checkHolds(t, r.Delivered(), ids(recs))
}

// TestFailover: records fail over to the backup when the primary is marked
// dead; Status-Server revives the primary once it is back, and it takes
// all the traffic again. Health runs on a manual clock (the primary is
// marked dead when the test says so, and nothing else ever is) and requests
// are retransmitted until answered, so how loaded the machine is changes
// nothing.
func TestFailover(t *testing.T) {
	primaryAddr := reservedAddr(t)
	primary := newStoppedReceiver(t, testSecret, primaryAddr)
	backup := newReceiver(t, testSecret)
	cfg := patientConfig(primaryAddr, backup.addr)
	// How long a Status-Server waits for its answer; unanswered, it is
	// sent again every revive_interval.
	cfg.InitialRTX, cfg.MaxRTX = time.Second, 2*time.Second
	cfg.StatusServer = true
	s := openSink(t, cfg)
	clock := newManualClock()
	useClock(s, clock)

	recs := testRecords("fo", 300)
	sent := make(chan []error, 1)
	go func() { sent <- send(t, s, recs) }()
	// Failover order: the first zombie timer is the primary's (the backup
	// gets nothing before the primary fails).
	<-clock.armed
	drainArmed(t, clock)
	clock.Advance(cfg.ZombiePeriod) // the primary is marked dead
	mustAllSucceed(t, <-sent)
	checkHolds(t, backup.Delivered(), ids(recs))
	if st := s.Stats()[0]; st.State != "dead" || st.Deaths != 1 {
		t.Fatalf("primary %+v", st)
	}

	// The primary comes back: Status-Server revives it and it takes the traffic again.
	primary.restart()
	deadline := time.Now().Add(time.Minute) // a hang guard, not a threshold
	for s.Stats()[0].State != "alive" {
		if time.Now().After(deadline) {
			t.Fatalf("primary not revived: %+v", s.Stats()[0])
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
	before := backup.requestCount()
	more := testRecords("fo2", 100)
	mustAllSucceed(t, send(t, s, more))
	checkHolds(t, primary.Delivered(), ids(more))
	if n := backup.requestCount() - before; n != 0 {
		t.Fatalf("backup got %d requests after the primary came back", n)
	}
}

// patientConfig is fastConfig for tests in which no server may be marked
// dead and no record may fail: requests are retransmitted until answered and
// no server is ever silent for zombie_period, however loaded the machine.
func patientConfig(addrs ...string) Config {
	c := fastConfig(addrs...)
	c.MaxRTXCount, c.MaxRTXDuration = -1, 10*time.Hour
	c.ZombiePeriod = time.Hour
	return c
}

// TestLoadBalance: both servers take a share. Equal loads take turns, so the
// first two records go one to each server; no server can die (patient
// timers), so neither share can be empty.
func TestLoadBalance(t *testing.T) {
	a, b := newReceiver(t, testSecret), newReceiver(t, testSecret)
	cfg := patientConfig(a.addr, b.addr)
	cfg.Policy = PolicyLoadBalance
	s := openSink(t, cfg)
	recs := testRecords("lb", 1000)
	mustAllSucceed(t, send(t, s, recs))
	got := append(a.Delivered(), b.Delivered()...)
	checkHolds(t, got, ids(recs))
	if len(a.Delivered()) == 0 || len(b.Delivered()) == 0 {
		t.Fatalf("load not spread: %d / %d", len(a.Delivered()), len(b.Delivered()))
	}
	for i, st := range s.Stats() {
		if st.Deaths != 0 {
			t.Fatalf("server %d marked dead %d times", i, st.Deaths)
		}
	}
}

// TestLoadBalanceSurvivesDeadServer: records sent to a server that is down
// go to the live one once it is marked dead. The live server's health runs
// on a clock that never moves and requests are retransmitted until
// answered, so it can neither be marked dead nor fail a record however
// loaded the machine is; the dead one is never probed again (an hour's
// revive_interval: a probe of it would never end).
func TestLoadBalanceSurvivesDeadServer(t *testing.T) {
	a := newReceiver(t, testSecret)
	cfg := patientConfig(a.addr, reservedAddr(t))
	cfg.Policy = PolicyLoadBalance
	cfg.ZombiePeriod = 200 * time.Millisecond
	cfg.ReviveInterval = time.Hour
	s := openSink(t, cfg)
	frozen := newManualClock()
	s.servers[0].now, s.servers[0].afterFunc = frozen.Now, frozen.AfterFunc
	drainArmed(t, frozen)
	recs := testRecords("lbdead", 300)
	mustAllSucceed(t, send(t, s, recs))
	checkHolds(t, a.Delivered(), ids(recs))
	if st := s.Stats(); st[0].Deaths != 0 || st[1].Deaths != 1 {
		t.Fatalf("deaths: live %d, down %d; want 0 and 1", st[0].Deaths, st[1].Deaths)
	}
}

// TestBroadcast: a record the backup missed fails (retryably, naming the
// backup) although the primary has it; once the backup is back, the retry
// goes only to the backup. The backup's health runs on a manual clock: it
// is marked dead and becomes eligible for a probe when the test says so,
// and requests are retransmitted until answered (patient timers), so how
// loaded the machine is changes nothing.
func TestBroadcast(t *testing.T) {
	primary := newReceiver(t, testSecret)
	backupAddr := reservedAddr(t)
	backup := newStoppedReceiver(t, testSecret, backupAddr)
	cfg := patientConfig(primary.addr, backupAddr)
	cfg.Policy = PolicyBroadcast
	s := openSink(t, cfg)
	clock := newManualClock()
	s.servers[1].now, s.servers[1].afterFunc = clock.Now, clock.AfterFunc

	recs := testRecords("bc", 200)
	sent := make(chan []error, 1)
	go func() { sent <- send(t, s, recs) }()
	<-clock.armed                   // a request is on its way to the backup: its zombie timer runs
	clock.Advance(cfg.ZombiePeriod) // and the backup is marked dead
	for i, err := range <-sent {
		if err == nil || sinks.IsPermanent(err) || !strings.Contains(err.Error(), backupAddr) {
			t.Fatalf("record %d: want a retryable error naming the backup, got %v", i, err)
		}
	}
	checkHolds(t, primary.Delivered(), ids(recs))

	// From here the backup's zombie timer is armed whenever it gets busy
	// again; nothing waits on that.
	drainArmed(t, clock)
	backup.restart()
	clock.Advance(cfg.ReviveInterval) // the next request probes the backup
	before := s.Stats()[0].Requests
	mustAllSucceed(t, send(t, s, recs))
	checkHolds(t, backup.Delivered(), ids(recs))
	// The retry went only to the server that had missed the records.
	if n := s.Stats()[0].Requests - before; n != 0 {
		t.Fatalf("primary got %d requests on the retry", n)
	}
}

// TestStatusServerProbe: an answered Status-Server counts, an unanswered one
// does not. The answer is waited for initial_rtx: an hour where one must
// come (a loaded machine may take long to read it), 20 ms where none can.
func TestStatusServerProbe(t *testing.T) {
	r := newReceiver(t, testSecret)
	patient := patientConfig(r.addr)
	patient.InitialRTX, patient.MaxRTX = time.Hour, time.Hour
	if !openSink(t, patient).servers[0].statusServer() {
		t.Fatal("no answer to Status-Server")
	}
	r.set(func(r *receiver) { r.noStatus = true })
	if openSink(t, fastConfig(r.addr)).servers[0].statusServer() {
		t.Fatal("an unanswered Status-Server counted as answered")
	}
	if n := r.statusCount(); n != 2 {
		t.Fatalf("receiver saw %d Status-Server", n)
	}
}

func TestCancelledSend(t *testing.T) {
	addr := reservedAddr(t)
	cfg := fastConfig(addr)
	cfg.MaxRTXCount = -1
	cfg.MaxRTXDuration = time.Hour
	cfg.ZombiePeriod = time.Hour
	s := openSink(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	recs := testRecords("cancel", 10)
	results := make([]error, len(recs))
	go func() {
		// cancel once all ten are on the wire
		for s.Stats()[0].Outstanding < 10 {
			time.Sleep(time.Millisecond) // polling
		}
		cancel()
	}()
	s.Send(ctx, recs, results)
	for i, err := range results {
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("record %d: %v", i, err)
		}
	}
}

// TestEarlyRetransmission: a lost request is resent long before its
// retransmission timer (here an hour) once the server answers later ones.
func TestEarlyRetransmission(t *testing.T) {
	for _, tc := range []struct {
		name string
		drop int // which request to lose
		n    int
	}{
		{"overtaken", 5, 200},     // many later requests answered
		{"tail of batch", 20, 20}, // the last one: nothing overtakes it
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newReceiver(t, testSecret)
			r.set(func(r *receiver) { r.drop = func(n int) bool { return n == tc.drop } })
			cfg := patientConfig(r.addr)
			cfg.InitialRTX, cfg.MaxRTX = time.Hour, time.Hour
			s := openSink(t, cfg)
			recs := testRecords("early", tc.n)
			mustAllSucceed(t, send(t, s, recs))
			checkHolds(t, r.Delivered(), ids(recs))
			if st := s.Stats()[0]; st.FastRetransmits == 0 || st.Timeouts != 0 || st.NewIDs != 0 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// TestEarlyRetransmissionLostAgain: a fast retransmission lost in the same
// burst of drops as the original is resent again once a window-full of
// later requests was answered, not after the retransmission timer (an
// hour here: a record delivered at all proves it).
func TestEarlyRetransmissionLostAgain(t *testing.T) {
	r := newReceiver(t, testSecret)
	recs := testRecords("again", 2000)
	lost, _ := recs[5].Get("Acct-Session-Id")
	r.set(func(r *receiver) {
		r.dropCopy = func(session string, k int) bool { return session == lost.Value && k <= 3 }
	})
	cfg := fastConfig(r.addr)
	cfg.InitialRTX, cfg.MaxRTX = time.Hour, time.Hour
	cfg.MaxRTXDuration = 2 * time.Hour
	cfg.ZombiePeriod = time.Hour
	s := openSink(t, cfg)
	results := send(t, s, recs)
	t.Logf("stats %+v", s.Stats()[0])
	mustAllSucceed(t, results)
	checkHolds(t, r.Delivered(), ids(recs))
	if st := s.Stats()[0]; st.FastRetransmits < 3 || st.Timeouts != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestEarlyRetransmissionOff(t *testing.T) {
	r := newReceiver(t, testSecret)
	r.set(func(r *receiver) { r.drop = func(n int) bool { return n == 3 } })
	cfg := patientConfig(r.addr)
	cfg.FastRetransmit = -1
	s := openSink(t, cfg)
	mustAllSucceed(t, send(t, s, testRecords("noearly", 100)))
	if st := s.Stats()[0]; st.FastRetransmits != 0 || st.Timeouts == 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestFailoverRevivesWithoutStatusServer: a dead primary is probed with a
// real record after revive_interval (others go to the backup meanwhile) and
// takes the traffic again once it answers. Health runs on a manual clock
// (the primary dies and becomes eligible for a probe when the test says so,
// nothing else ever dies) and requests are retransmitted until answered, so
// how loaded the machine is changes nothing.
func TestFailoverRevivesWithoutStatusServer(t *testing.T) {
	primaryAddr := reservedAddr(t)
	primary := newStoppedReceiver(t, testSecret, primaryAddr)
	backup := newReceiver(t, testSecret)
	cfg := patientConfig(primaryAddr, backup.addr)
	cfg.ZombiePeriod = 200 * time.Millisecond
	cfg.ReviveInterval = 100 * time.Millisecond // less than the zombie period: the backup's timer stays put
	s := openSink(t, cfg)
	clock := newManualClock()
	useClock(s, clock)

	recs := testRecords("nss", 100)
	sent := make(chan []error, 1)
	go func() { sent <- send(t, s, recs) }()
	<-clock.armed // the primary's zombie timer (failover order: the backup has nothing yet)
	drainArmed(t, clock)
	clock.Advance(cfg.ZombiePeriod) // the primary is marked dead
	mustAllSucceed(t, <-sent)
	checkHolds(t, backup.Delivered(), ids(recs))
	if st := s.Stats()[0]; st.State != "dead" || st.Deaths != 1 {
		t.Fatalf("primary %+v", st)
	}

	primary.restart()
	clock.Advance(cfg.ReviveInterval) // the next record probes the primary
	more := testRecords("nss-revived", 10)
	mustAllSucceed(t, send(t, s, more))
	checkHolds(t, append(primary.Delivered(), backup.Delivered()...), ids(more))
	if st := s.Stats()[0]; st.State != "alive" || st.Revivals != 1 || primary.requestCount() == 0 {
		t.Fatalf("primary %+v, %d requests", st, primary.requestCount())
	}
	// Alive again, it takes the traffic.
	before := backup.requestCount()
	last := testRecords("nss-after", 10)
	mustAllSucceed(t, send(t, s, last))
	checkHolds(t, primary.Delivered(), ids(last))
	if n := backup.requestCount() - before; n != 0 {
		t.Fatalf("backup got %d requests after the primary came back", n)
	}
}

// TestSourceAddress: requests come from the configured source address and
// port, for every server of the sink (the receiving server lists radrelay as
// a client by that address).
func TestSourceAddress(t *testing.T) {
	a, b := newReceiver(t, testSecret), newReceiver(t, testSecret)
	src := reservedAddr(t)
	cfg := patientConfig(a.addr, b.addr)
	cfg.Policy = PolicyBroadcast
	for i := range cfg.Servers {
		cfg.Servers[i].SourceAddress = src
	}
	s := openSink(t, cfg)
	mustAllSucceed(t, send(t, s, testRecords("src", 10)))
	for _, r := range []*receiver{a, b} {
		r.mu.Lock()
		from := r.lastFrom.String()
		r.mu.Unlock()
		if from != src {
			t.Fatalf("request from %s, want %s", from, src)
		}
	}
}

// TestResendWithNewDelayGetsNewIdentifier: when Acct-Delay-Time has grown
// between two sends, the resend is a new request (RFC 2866 §5.2): new
// Identifier, new authenticator; with acct_delay_time = keep it is the same
// datagram again.
func TestResendWithNewDelayGetsNewIdentifier(t *testing.T) {
	for _, mode := range []string{DelayUpdate, DelayKeep} {
		t.Run(mode, func(t *testing.T) {
			r := newReceiver(t, testSecret)
			r.set(func(r *receiver) { r.drop = func(n int) bool { return n == 1 } })
			cfg := patientConfig(r.addr)
			cfg.AcctDelayTime = mode
			cfg.FastRetransmit = -1
			s := openSink(t, cfg)
			var calls atomic.Int64
			s.servers[0].clock = func(t time.Time) time.Time { // 5 s pass between sends
				return t.Add(time.Duration(calls.Add(1)) * 5 * time.Second)
			}
			recs := testRecords("rfc2866", 1)
			recs[0].Timestamp, recs[0].HasTimestamp = time.Now().Unix(), true
			mustAllSucceed(t, send(t, s, recs))
			// The first send is lost and the second usually answered; on a
			// loaded machine the 20 ms timer may fire again before the
			// answer is read, so every resend is checked against the one
			// before it.
			seen := r.seenRequests()
			if len(seen) < 2 {
				t.Fatalf("%d requests seen, want the lost one and its resend", len(seen))
			}
			for k := 1; k < len(seen); k++ {
				first, second := seen[k-1], seen[k]
				switch mode {
				case DelayUpdate:
					if first.id == second.id || first.auth == second.auth || second.delay <= first.delay {
						t.Fatalf("resend with a new delay reused the request: %+v then %+v", first, second)
					}
				case DelayKeep:
					if first != second {
						t.Fatalf("acct_delay_time=keep resend differs: %+v then %+v", first, second)
					}
				}
			}
			want := int64(0)
			if mode == DelayUpdate {
				want = int64(len(seen) - 1)
			}
			if st := s.Stats()[0]; st.NewIDs != want {
				t.Fatalf("stats %+v, want %d new Identifiers", st, want)
			}
		})
	}
}
