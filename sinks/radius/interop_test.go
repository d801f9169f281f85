package radius

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/dictionary"
	"github.com/radrelay/radrelay/internal/freeradiustest"
	"github.com/radrelay/radrelay/sinks"
)

// fixtureDir holds detail files written by a real FreeRADIUS 3.2 (see
// generate.sh there): realistic sessions with vendor attributes, and
// hostile values (control bytes, invalid UTF-8, quotes, 253-octet values,
// tagged and hidden attributes, unknown vendors), with and without
// log_packet_header.
const fixtureDir = "../../detail/testdata/freeradius"

func readFixture(tb testing.TB, name string) []*detail.Record {
	tb.Helper()
	path := filepath.Join(fixtureDir, name)
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	rd := detail.NewReader(f, path)
	var recs []*detail.Record
	for {
		r, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return recs
		}
		if err != nil {
			tb.Fatalf("%s: %v", path, err)
		}
		recs = append(recs, r)
	}
}

func fixtureRecords(tb testing.TB) []*detail.Record {
	var recs []*detail.Record
	for _, name := range []string{"packets-hostile.detail", "packets-hostile-header.detail", "packets-sessions.detail", "packets-sessions-header.detail"} {
		recs = append(recs, readFixture(tb, name)...)
	}
	return recs
}

// cambiumDictionary is a vendor dictionary the built-in one lacks (the
// hostile fixture has a Cambium attribute): loading it is what an operator
// does with `dictionary = ...`.
const cambiumDictionary = "/usr/share/freeradius/dictionary.cambium"

// testDictionary is the dictionary New builds for cfg.Dictionary =
// cambiumDictionary.
func testDictionary(tb testing.TB) *dictionary.Dictionary {
	tb.Helper()
	d := dictionary.Builtin()
	if err := d.LoadFile(cambiumDictionary); err != nil {
		tb.Fatal(err)
	}
	return d
}

// comparable renders the attributes of a record that must survive the trip,
// one "Name:tag = value" per line, in order: everything except what the
// receiving server sets itself (Acct-Delay-Time is raised on purpose,
// Timestamp is its receive time, Proxy-State is per hop) and the internal
// attributes, which are never sent.
func comparable(d *dictionary.Dictionary, r *detail.Record) string {
	var b strings.Builder
	for _, a := range r.Attrs {
		switch a.Name {
		case "Acct-Delay-Time", "Proxy-State", "Timestamp":
			continue
		}
		if da, ok := d.Attribute(a.Name); ok && da.Internal {
			continue
		}
		b.WriteString(a.Name)
		if a.HasTag {
			b.WriteString(":" + strconv.Itoa(int(a.Tag)))
		}
		// The value, not its Raw text: FreeRADIUS cuts a line longer than
		// 1022 characters (the closing quote is lost); what was left of the
		// value is what goes on the wire, and the home server writes it whole.
		b.WriteString(" = " + strconv.Quote(a.Value) + "\n")
	}
	return b.String()
}

// TestInteropFreeRADIUSHomeServer relays FreeRADIUS-written detail files to
// a real FreeRADIUS 3.2 home server and checks that the home server's own
// detail file holds every record, attribute for attribute.
func TestInteropFreeRADIUSHomeServer(t *testing.T) {
	home := freeradiustest.StartHomeServer(t, freeradiustest.HomeOptions{Secret: "interop \"secret\" 42"})
	d := testDictionary(t)
	cfg := Config{
		Servers:        []ServerConfig{{Address: home.Addr, Secret: home.Secret}},
		InitialRTX:     500 * time.Millisecond,
		MaxRTXDuration: 20 * time.Second,
		Dictionary:     cambiumDictionary,
	}
	sink, err := New(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	s := sink

	recs := fixtureRecords(t)
	results := send(t, s, recs)
	var want []string
	for i, err := range results {
		if err != nil {
			t.Errorf("%s: %v", where(recs[i]), err)
			continue
		}
		want = append(want, comparable(d, recs[i]))
	}
	if t.Failed() {
		t.FailNow()
	}
	home.WaitRecords(t, len(want), 30*time.Second)
	got := home.Records(t)
	var have []string
	for _, r := range got {
		have = append(have, comparable(d, r))
	}
	// Every record sent is there (as often as it was sent: the fixtures hold
	// some records twice); a retransmission with a new Identifier may add a
	// copy, nothing else may appear.
	count := map[string]int{}
	for _, h := range have {
		count[h]++
	}
	for _, w := range want {
		if count[w] == 0 {
			t.Errorf("record missing or changed at the home server:\n%s", w)
			continue
		}
		count[w]--
	}
	sent := map[string]bool{}
	for _, w := range want {
		sent[w] = true
	}
	for _, h := range have {
		if !sent[h] {
			t.Errorf("home server holds a record radrelay did not send:\n%s", h)
		}
	}
	if st := s.Stats()[0]; st.Forged != 0 {
		t.Errorf("forged replies from FreeRADIUS: %+v", st)
	}
	t.Logf("%d records relayed to FreeRADIUS %s", len(recs), home.Addr)
	if t.Failed() && os.Getenv("H4KEEP") != "" {
		b, _ := os.ReadFile(home.DetailFile)
		os.WriteFile("/tmp/h4home.detail", b, 0o600)
	}
}

// TestInteropHomeServerKilledMidStream kills the FreeRADIUS home server
// (SIGKILL) while records are in flight and starts it again: every record
// ends up in its detail file.
func TestInteropHomeServerKilledMidStream(t *testing.T) {
	home := freeradiustest.StartHomeServer(t, freeradiustest.HomeOptions{})
	d := testDictionary(t)
	cfg := Config{
		Servers:        []ServerConfig{{Address: home.Addr, Secret: home.Secret}},
		InitialRTX:     200 * time.Millisecond,
		MaxRTX:         time.Second,
		MaxRTXCount:    -1,
		MaxRTXDuration: 60 * time.Second,
		ZombiePeriod:   time.Hour, // the only server: keep trying it
	}
	s, err := newSink(cfg, testLogger(t), d)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := readFixture(t, "packets-sessions.detail")
	var recs []*detail.Record
	for round := 0; round < 10; round++ {
		for _, r := range base {
			c := *r
			c.Attrs = slices.Clone(r.Attrs)
			for i := range c.Attrs {
				if c.Attrs[i].Name == "Acct-Session-Id" {
					c.Attrs[i].Value = fmt.Sprintf("%s/%d", c.Attrs[i].Value, round)
				}
			}
			c.Offset += int64(round) << 32
			recs = append(recs, &c)
		}
	}
	done := make(chan []error)
	go func() { done <- send(t, s, recs) }()
	home.WaitRecords(t, 300, 2*time.Minute)
	home.Kill()
	home.Start(t)
	for i, err := range <-done {
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	have := map[string]bool{}
	for _, r := range home.Records(t) {
		have[sessionID(r)] = true
	}
	for _, r := range recs {
		if !have[sessionID(r)] {
			t.Fatalf("record %s lost", sessionID(r))
		}
	}
	t.Logf("stats after the kill: %+v", s.Stats()[0])
}

// TestInteropStatusServer checks that FreeRADIUS answers our Status-Server
// (RFC 5997, with Message-Authenticator) on its accounting port.
func TestInteropStatusServer(t *testing.T) {
	home := freeradiustest.StartHomeServer(t, freeradiustest.HomeOptions{})
	cfg := fastConfig(home.Addr)
	cfg.Servers[0].Secret = home.Secret
	cfg.InitialRTX = time.Second
	cfg.MaxRTX = 2 * time.Second
	s := openSink(t, cfg)
	if !s.servers[0].statusServer() {
		t.Fatal("FreeRADIUS did not answer Status-Server")
	}
}

// TestUnknownVendorIsPermanent: without the vendor's dictionary a record
// with its attribute cannot be encoded; that record is a permanent failure
// naming the attribute, the rest of the batch is delivered. (The built-in
// dictionary knows every vendor of FreeRADIUS's stock tree, so the test
// adds an attribute of a vendor no dictionary knows to every third record.)
func TestUnknownVendorIsPermanent(t *testing.T) {
	const unknown = "Example-Unlisted-Vendor-Quota"
	r := newReceiver(t, testSecret)
	// Patient timers: the good records must be delivered however loaded
	// the machine is.
	sink, err := New(context.Background(), patientConfig(r.addr), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	recs := readFixture(t, "packets-hostile.detail")
	for i, rec := range recs {
		if i%3 == 0 {
			rec.Attrs = append(rec.Attrs, detail.Attribute{Name: unknown, Value: "1"})
		}
	}
	results := make([]error, len(recs))
	sink.Send(context.Background(), recs, results)
	bad := 0
	for i, err := range results {
		if _, ok := recs[i].Get(unknown); ok {
			bad++
			if !sinks.IsPermanent(err) || !strings.Contains(err.Error(), unknown) {
				t.Errorf("%s: %v", where(recs[i]), err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", where(recs[i]), err)
		}
	}
	if bad == 0 {
		t.Fatal("no record with the unknown attribute")
	}
}

// TestInteropBroadcastKeepsBackupInSync: two FreeRADIUS home servers, one
// of them down while the records are sent; the tailer-style retry after it
// comes back sends the records only to it, and both detail files end up
// with every record. Requests are retransmitted until answered and health
// runs on manual clocks: the backup is marked dead when the test says so
// and nothing else ever is, so how loaded the machine is changes nothing.
func TestInteropBroadcastKeepsBackupInSync(t *testing.T) {
	primary := freeradiustest.StartHomeServer(t, freeradiustest.HomeOptions{})
	backup := freeradiustest.StartHomeServer(t, freeradiustest.HomeOptions{})
	backup.Stop()
	cfg := Config{
		Servers: []ServerConfig{
			{Address: primary.Addr, Secret: primary.Secret},
			{Address: backup.Addr, Secret: backup.Secret},
		},
		Policy:         PolicyBroadcast,
		InitialRTX:     100 * time.Millisecond, // also how long a Status-Server waits for its answer
		MaxRTX:         200 * time.Millisecond,
		MaxRTXCount:    -1,
		MaxRTXDuration: 10 * time.Hour,
		ZombiePeriod:   300 * time.Millisecond,
		ReviveInterval: 100 * time.Millisecond,
		StatusServer:   true,
		Dictionary:     cambiumDictionary,
	}
	sink, err := New(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	s := sink
	primaryClock, backupClock := newManualClock(), newManualClock()
	s.servers[0].now, s.servers[0].afterFunc = primaryClock.Now, primaryClock.AfterFunc
	s.servers[1].now, s.servers[1].afterFunc = backupClock.Now, backupClock.AfterFunc
	drainArmed(t, primaryClock) // the primary's clock never moves: it cannot die
	recs := readFixture(t, "packets-sessions.detail")
	sent := make(chan []error, 1)
	go func() { sent <- send(t, s, recs) }()
	<-backupClock.armed // requests wait for the backup: its zombie timer runs
	drainArmed(t, backupClock)
	backupClock.Advance(cfg.ZombiePeriod) // and it is marked dead
	for i, err := range <-sent {
		if err == nil || sinks.IsPermanent(err) {
			t.Fatalf("record %d with the backup down: %v", i, err)
		}
	}
	primary.WaitRecords(t, len(recs), 30*time.Second)

	backup.Start(t)
	deadline := time.Now().Add(30 * time.Second)
	for s.Stats()[1].State != "alive" {
		if time.Now().After(deadline) {
			t.Fatalf("backup not revived by Status-Server: %+v", s.Stats()[1])
		}
		time.Sleep(20 * time.Millisecond) // polling an external server with a deadline
	}
	before := s.Stats()[0].Requests
	mustAllSucceed(t, send(t, s, recs))
	backup.WaitRecords(t, len(recs), 30*time.Second)
	if n := s.Stats()[0].Requests - before; n != 0 {
		t.Fatalf("the retry sent %d requests to the primary, which had every record", n)
	}
	// Every record at both, and nothing radrelay did not send; a record
	// resent after its Acct-Delay-Time grew is a new request (RFC 2866),
	// so a loaded machine may leave a second copy in phase one.
	d := testDictionary(t)
	checkHomeHolds(t, d, primary, recs)
	checkHomeHolds(t, d, backup, recs)
}

// checkHomeHolds checks that home's detail file holds every record of recs
// (as often as recs has it) and no record recs does not hold.
func checkHomeHolds(t *testing.T, d *dictionary.Dictionary, home *freeradiustest.HomeServer, recs []*detail.Record) {
	t.Helper()
	count := map[string]int{}
	for _, r := range home.Records(t) {
		count[comparable(d, r)]++
	}
	sent := map[string]bool{}
	for _, r := range recs {
		w := comparable(d, r)
		sent[w] = true
		if count[w] == 0 {
			t.Errorf("record missing or changed at %s:\n%s", home.Addr, w)
			continue
		}
		count[w]--
	}
	for h := range count {
		if !sent[h] {
			t.Errorf("%s holds a record radrelay did not send:\n%s", home.Addr, h)
		}
	}
}
