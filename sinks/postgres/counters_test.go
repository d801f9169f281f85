package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/radrelay/radrelay/internal/freeradiustest"
)

// TestCountersNeverShrink sends sessions whose counters go down through a
// real FreeRADIUS 3.2 (radclient → FreeRADIUS → detail file) and loads
// what FreeRADIUS wrote: a 32-bit counter without Gigawords that wraps
// keeps counting past 4 GiB; a 64-bit counter (with Gigawords) that drops
// was reset, and the total counted so far is kept. FreeRADIUS's stock
// queries would store the last value as it came (100 and 10 here).
func TestCountersNeverShrink(t *testing.T) {
	home := freeradiustest.StartHomeServer(t, freeradiustest.HomeOptions{})
	var b strings.Builder
	req := func(status, sid string, event int64, kv ...string) {
		fmt.Fprintf(&b, "Acct-Status-Type = %s\nUser-Name = \"alice\"\nNAS-IP-Address = 192.0.2.1\nNAS-Port = 7\nAcct-Session-Id = \"%s\"\nEvent-Timestamp = %d\n", status, sid, event)
		for i := 0; i+1 < len(kv); i += 2 {
			fmt.Fprintf(&b, "%s = %s\n", kv[i], kv[i+1])
		}
		b.WriteString("\n")
	}
	req("Start", "wrap", base)
	req("Interim-Update", "wrap", base+600, "Acct-Input-Octets", "4000000000", "Acct-Output-Octets", "7")
	req("Interim-Update", "wrap", base+1200, "Acct-Input-Octets", "100", "Acct-Output-Octets", "9")
	req("Stop", "wrap", base+1500, "Acct-Input-Octets", "300", "Acct-Output-Octets", "10", "Acct-Session-Time", "1500")
	req("Start", "reset", base)
	req("Interim-Update", "reset", base+600, "Acct-Input-Octets", "5000", "Acct-Input-Gigawords", "1")
	req("Interim-Update", "reset", base+1200, "Acct-Input-Octets", "10", "Acct-Input-Gigawords", "0")
	req("Stop", "reset", base+1500, "Acct-Input-Octets", "20", "Acct-Input-Gigawords", "0", "Acct-Session-Time", "1500")
	// One request at a time: the records of a session must arrive in order.
	freeradiustest.SendAccounting(t, home.Addr, home.Secret, b.String(), 1)
	home.WaitRecords(t, 8, 30*time.Second)
	recs := home.Records(t)

	dsn := pg.NewDatabase(t)
	s := openSink(t, dsn, Config{})
	mustSend(t, s, recs)
	conn := connect(t, dsn)
	const gw = int64(1) << 32
	for sid, want := range map[string][2]int64{"wrap": {gw + 300, 10}, "reset": {gw + 5000, 0}} {
		var in, out int64
		if err := conn.QueryRow(context.Background(), "SELECT acctinputoctets, acctoutputoctets FROM radacct WHERE acctsessionid = $1", sid).Scan(&in, &out); err != nil {
			t.Fatalf("session %s: %v", sid, err)
		}
		if in != want[0] || out != want[1] {
			t.Errorf("session %s: input %d output %d octets, want %d and %d", sid, in, out, want[0], want[1])
		}
	}
}

// TestCounterTotal: the rule on its own, case by case.
func TestCounterTotal(t *testing.T) {
	const gw = int64(1) << 32
	tests := []struct {
		name      string
		prev      *int64
		got       int64
		gigawords bool
		want      int64
	}{
		{"first value", nil, 5, false, 5},
		{"going up", i64(5), 9, true, 9},
		{"32-bit wrap", i64(4_000_000_000), 100, false, gw + 100},
		{"within a counted wrap", i64(gw + 100), 500, false, gw + 500},
		{"second wrap", i64(gw + 4_000_000_000), 7, false, 2*gw + 7},
		{"64-bit reset keeps the total", i64(gw + 5000), 10, true, gw + 5000},
	}
	for _, tt := range tests {
		if got := *counterTotal(tt.prev, tt.got, tt.gigawords); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}
