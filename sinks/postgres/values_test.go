package postgres

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/radrelay/radrelay/detail"
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
		h.Write(fingerprint(r))
	}
	noEvent := &detail.Record{Timestamp: 1795435059, HasTimestamp: true, Attrs: []detail.Attribute{
		{Name: "User-Name", Value: "bob", Quoted: true}, {Name: "Acct-Delay-Time", Value: "3"}, {Name: "Tunnel-Type", HasTag: true, Tag: 1, Value: "VLAN"}}}
	h.Write(fingerprint(noEvent))
	const want = "26e1fb79"
	if got := hex.EncodeToString(h.Sum(nil))[:8]; got != want {
		t.Errorf("fingerprints of %d FreeRADIUS-written records and one without Event-Timestamp hash to %s, want %s: the history's fingerprint changed", len(recs)+1, got, want)
	}
}
