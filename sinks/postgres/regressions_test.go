package postgres

import (
	"context"
	"testing"

	"github.com/radrelay/radrelay/detail"
)

// A NAS retransmission, or a relayed copy of one Interim-Update that another
// server wrote to its own detail file: same Event-Timestamp and counters,
// only Acct-Delay-Time, the receiving server's Timestamp and the attributes
// it adds differ. It must be stored and applied once, else acctinterval
// becomes 0 (the event minus the update of the very same event).
func TestRelayedCopyOfARecordIsStoredAndAppliedOnce(t *testing.T) {
	dsn := pg.NewDatabase(t)
	s := openSink(t, dsn, Config{})
	start := acctRec("Start", "s", base)
	interim := acctRec("Interim-Update", "s", base+300, "Acct-Session-Time", "300", "Acct-Delay-Time", "0")
	interim.Attrs = append(interim.Attrs,
		detail.Attribute{Name: "Packet-Src-IP-Address", Value: "192.0.2.1"},
		detail.Attribute{Name: "Packet-Dst-Port", Value: "1813"})
	relayed := acctRec("Interim-Update", "s", base+300, "Acct-Session-Time", "300", "Acct-Delay-Time", "7")
	relayed.Timestamp += 7
	relayed.Attrs = append(relayed.Attrs,
		detail.Attribute{Name: "Proxy-State", Value: "0x3132"},
		detail.Attribute{Name: "Acct-Unique-Session-Id", Value: "0123456789abcdef", Quoted: true},
		detail.Attribute{Name: "Packet-Src-IP-Address", Value: "198.51.100.9"},
		detail.Attribute{Name: "Packet-Dst-Port", Value: "1646"})
	mustSend(t, s, []*detail.Record{start, interim})
	mustSend(t, s, []*detail.Record{relayed})
	conn := connect(t, dsn)
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM radrelay_history WHERE status_type='Interim-Update'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	var iv *int64
	if err := conn.QueryRow(context.Background(), "SELECT acctinterval FROM radacct").Scan(&iv); err != nil {
		t.Fatal(err)
	}
	if n != 1 || iv == nil || *iv != 300 {
		t.Errorf("history holds %d copies of one interim; acctinterval = %v, want 1 copy and 300", n, derefInt(iv))
	}

	// Without Event-Timestamp the receive time is the event time: two
	// records received at different times are different events.
	a := acctRec("Interim-Update", "t", base, "-Event-Timestamp", "")
	b := acctRec("Interim-Update", "t", base, "-Event-Timestamp", "")
	b.Timestamp += 60
	if string(fingerprint(a)) == string(fingerprint(b)) {
		t.Errorf("records without Event-Timestamp received 60 s apart have one fingerprint")
	}
}

func derefInt(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}
