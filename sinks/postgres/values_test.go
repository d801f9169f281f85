package postgres

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash/fnv"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks/sinktest"
)

func TestParseEventTime(t *testing.T) {
	for in, want := range map[string]int64{
		"1795435200":               1795435200,
		"Nov 23 2026 12:00:00 UTC": 1795435200,
		"Nov 23 2026 12:00:00 GMT": 1795435200,
		"Dec  1 2026 00:00:00 UTC": 1796083200,
		" Nov 23 2026 12:00:00 ":   1795435200 - localOffset(1795435200),
	} {
		got, err := parseEventTime(in)
		if err != nil || got != want {
			t.Errorf("parseEventTime(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "yesterday", "Nov 23 2026", "Foo 23 2026 12:00:00 UTC"} {
		if _, err := parseEventTime(bad); err == nil {
			t.Errorf("parseEventTime(%q) succeeded", bad)
		}
	}
}

func TestParseStatus(t *testing.T) {
	for in, want := range map[string]statusType{
		"Start": statusStart, "start": statusStart, "1": statusStart, "::Start": statusStart,
		"Stop": statusStop, "2": statusStop, "Interim-Update": statusInterim, "Alive": statusInterim,
		"3": statusInterim, "Accounting-On": statusAccountingOn, "7": statusAccountingOn,
		"Accounting-Off": statusAccountingOff, "8": statusAccountingOff, "Failed": statusOther, "15": statusOther,
	} {
		if got := parseStatus(in); got != want {
			t.Errorf("parseStatus(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestText(t *testing.T) {
	for in, want := range map[string]string{
		"plain":       "plain",
		"日本 =41 'x'":  "日本 =41 'x'",
		"a\x00b":      "a=00b",
		"\xff\xfe":    "=FF=FE",
		"cut\xe2\x82": "cut=E2=82",
	} {
		if got := text(in); got != want {
			t.Errorf("text(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseRecordErrors(t *testing.T) {
	for name, kv := range map[string][]string{
		"bad session time":    {"Acct-Session-Time", "lots"},
		"bad octets":          {"Acct-Input-Octets", "-x"},
		"bad framed ip":       {"Framed-IP-Address", "10.0.0.256"},
		"bad nas":             {"NAS-IP-Address", "bras-1"},
		"bad event time":      {"Event-Timestamp", "soon"},
		"event time year 3e5": {"Event-Timestamp", "9999999999999"},
	} {
		_, err := parseRecord(acctRec("Start", "s", base, kv...), false)
		var ce *contentError
		if !errors.As(err, &ce) {
			t.Errorf("%s: got %v, want a content error", name, err)
		}
	}
	a, err := parseRecord(acctRec("Stop", "s", base, "Acct-Input-Octets", "5", "Acct-Input-Gigawords", "4294967295", "-NAS-IP-Address", ""), false)
	if err != nil {
		t.Fatal(err)
	}
	if a.inputOctets != -4294967296+5 {
		t.Errorf("gigawords shift should wrap like PostgreSQL's bigint <<: got %d", a.inputOctets)
	}
	if a.nas != "0.0.0.0" {
		t.Errorf("NAS without address: %q, want 0.0.0.0", a.nas)
	}
}

func TestAttributesJSON(t *testing.T) {
	r := &detail.Record{Attrs: []detail.Attribute{
		{Name: "User-Name", Value: "bob\x00\"", Quoted: true},
		{Name: "Class", Value: "0x01"},
		{Name: "Class", Value: "0x02"},
		{Name: "Tunnel-Type", HasTag: true, Tag: 1, Value: "VLAN"},
		{Name: "Reply-Message", Value: "ctl\x01\x7f\ttab", Quoted: true},
	}}
	got := attributesJSON(&acct{rec: r})
	var m map[string]any
	if err := json.Unmarshal([]byte(got), &m); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	if m["User-Name"] != "bob=00\"" || m["Tunnel-Type:1"] != "VLAN" || m["Reply-Message"] != "ctl\x01\x7f\ttab" {
		t.Errorf("got %s", got)
	}
	if c, ok := m["Class"].([]any); !ok || len(c) != 2 || c[1] != "0x02" {
		t.Errorf("repeated Class: got %s", got)
	}
}

func FuzzParseRecord(f *testing.F) {
	f.Add("Start", "Nov 23 2026 12:00:00 UTC", "10.0.0.1", "60", "2001:db8::/64", "user\x00\xff")
	f.Add("3", "1795435200", "::1", "", "", "")
	f.Fuzz(func(t *testing.T, status, event, framed, sessionTime, prefix, user string) {
		r := acctRec(status, "s", base, "Event-Timestamp", event, "Framed-IP-Address", framed,
			"Acct-Session-Time", sessionTime, "Framed-IPv6-Prefix", prefix, "User-Name", user)
		a, err := parseRecord(r, true)
		if err != nil {
			var ce *contentError
			if !errors.As(err, &ce) {
				t.Fatalf("non-content error %v", err)
			}
			return
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(attributesJSON(a)), &m); err != nil {
			t.Fatalf("invalid JSON: %v", err)
		}
	})
}

// localOffset is the local zone's offset from UTC at Unix time ts, in seconds.
func localOffset(ts int64) int64 {
	_, off := time.Unix(ts, 0).In(time.Local).Zone()
	return int64(off)
}

// TestFingerprintIsStable pins the fingerprint of known records: it is
// stored in the history, and a change would make every record stored
// before the change look new when replayed.
func TestFingerprintIsStable(t *testing.T) {
	recs := readDetail(t, "../../detail/testdata/freeradius/packets-sessions.detail")
	h := sha256.New()
	for _, r := range recs {
		fp := fingerprint(r)
		h.Write(fp[:])
	}
	noEvent := &detail.Record{Timestamp: 1795435059, HasTimestamp: true, Attrs: []detail.Attribute{
		{Name: "User-Name", Value: "bob", Quoted: true}, {Name: "Acct-Delay-Time", Value: "3"}, {Name: "Tunnel-Type", HasTag: true, Tag: 1, Value: "VLAN"}}}
	fp := fingerprint(noEvent)
	h.Write(fp[:])
	const want = "26e1fb79"
	if got := hex.EncodeToString(h.Sum(nil))[:8]; got != want {
		t.Errorf("fingerprints of %d FreeRADIUS-written records and one without Event-Timestamp hash to %s, want %s: the history's fingerprint changed", len(recs)+1, got, want)
	}
	// parseRecord computes it knowing whether the record has an
	// Event-Timestamp: the same fingerprint, also when the first
	// Event-Timestamp is empty and a later one is not.
	blankFirst := &detail.Record{Timestamp: 1795435059, HasTimestamp: true, Attrs: []detail.Attribute{
		{Name: "Acct-Status-Type", Value: "Start"}, {Name: "Event-Timestamp", Value: " ", Quoted: true},
		{Name: "User-Name", Value: "bob", Quoted: true}, {Name: "event-timestamp", Value: "1795435000"}}}
	for _, r := range append(recs, noEvent, blankFirst) {
		a, err := parseRecord(r, false)
		if err != nil {
			t.Fatal(err)
		}
		if a.fingerprint != fingerprint(r) {
			t.Errorf("record at line %d: parseRecord's fingerprint %x, fingerprint's %x", r.Line, a.fingerprint, fingerprint(r))
		}
	}
}

// TestUTCEventTime: the fast path reads every second FreeRADIUS can print
// in UTC as the time package does (one every 7 hours 13 minutes and 17
// seconds from 1970 to 2100, leap days, single-digit days padded with a
// space) and leaves everything else to the general parser.
func TestUTCEventTime(t *testing.T) {
	for sec := int64(0); sec < 4102444800; sec += 7*3600 + 13*60 + 17 {
		v := time.Unix(sec, 0).UTC().Format("Jan _2 2006 15:04:05 MST")
		got, ok := parseUTCEventTime(v)
		if !ok || got != sec {
			t.Fatalf("parseUTCEventTime(%q) = %d, %v; want %d", v, got, ok, sec)
		}
	}
	for _, v := range []string{"Feb 29 2028 12:00:00 UTC", "Dec 31 2099 23:59:59 GMT", "Nov 03 2026 00:44:05 UTC"} {
		want, _, _ := parseEventTimeGeneral(v)
		if got, ok := parseUTCEventTime(v); !ok || got != want {
			t.Errorf("parseUTCEventTime(%q) = %d, %v; want %d", v, got, ok, want)
		}
	}
	for _, v := range []string{"Feb 29 2027 12:00:00 UTC", "Nov 31 2026 00:00:00 UTC", "Nov 23 2026 24:00:00 UTC",
		"Nov 23 2026 23:60:00 UTC", "Nov 23 2026 23:59:60 UTC", "Nov 23 2026 00:44:05 CET", "nov 23 2026 00:44:05 UTC",
		"Nov 3  2026 00:44:05 UTC", "Nov 23 1969 23:59:59 UTC", "1795435000", "Nov 23 2026 00:44:05 UTC ", "ovD 23 2026 00:44:05 UTC"} {
		if got, ok := parseUTCEventTime(v); ok {
			t.Errorf("parseUTCEventTime(%q) = %d, want it left to the general parser", v, got)
		}
	}
}

// FuzzUTCEventTime: what the fast path accepts, the general parser reads
// as the same time.
func FuzzUTCEventTime(f *testing.F) {
	for _, v := range []string{"Nov 23 2026 00:44:05 UTC", "Nov  3 2026 00:44:05 GMT", "Feb 29 2028 12:00:00 UTC", "Feb 29 2027 12:00:00 UTC"} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, ok := parseUTCEventTime(v)
		if !ok {
			return
		}
		want, foreign, err := parseEventTimeGeneral(strings.TrimSpace(v))
		if err != nil || foreign != "" || got != want {
			t.Errorf("%q: fast path %d, general parser %d, %q, %v", v, got, want, foreign, err)
		}
	})
}

// TestHistoryRowsRead: the COPY data is the same whatever sizes the
// connection reads it in (rows are encoded in place when they fit, else
// split across reads), and skips the records that are not new.
func TestHistoryRowsRead(t *testing.T) {
	var accts []*acct
	for _, r := range sinktest.Records(400) {
		a, err := parseRecord(r, false)
		if err != nil {
			t.Fatal(err)
		}
		accts = append(accts, a)
	}
	isNew := make([]bool, len(accts))
	want := append([]byte(nil), copyHeader...)
	for i, a := range accts {
		isNew[i] = i%7 != 3
		if isNew[i] {
			want = appendHistoryTuple(want, a, true)
		}
	}
	want = append(want, 0xff, 0xff)
	for _, size := range []int{1, 7, 100, 4095, 4096, 5000, 65531, 1 << 20} {
		h := &historyRows{accts: accts, isNew: isNew, jsonb: true}
		var got []byte
		p := make([]byte, size)
		for {
			n, err := h.Read(p)
			got = append(got, p[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				t.Fatalf("reads of %d bytes: Read returned 0 bytes without EOF", size)
			}
		}
		if !bytes.Equal(got, want) {
			t.Errorf("reads of %d bytes: %d bytes of COPY data, want %d (or different bytes)", size, len(got), len(want))
		}
	}
}

// TestLockKeyIsFNV1a: the sessions' advisory lock keys are FNV-1a of
// Acct-Unique-Session-Id; radrelay instances of different versions on one
// database must lock a session by the same key.
func TestLockKeyIsFNV1a(t *testing.T) {
	for _, id := range []string{"", "a", "2061053dd2fafc59c201521bef3bcf58", "日本語\x00\xff"} {
		h := fnv.New32a()
		h.Write([]byte(id))
		if got, want := lockKey(id), int32(h.Sum32()); got != want {
			t.Errorf("lockKey(%q) = %d, want %d", id, got, want)
		}
	}
}
