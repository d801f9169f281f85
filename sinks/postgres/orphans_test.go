package postgres

import (
	"fmt"
	"testing"
)

// TestOrphanAndLateRecords: the remaining data-quality rules, with records
// a real FreeRADIUS 3.2 wrote (radclient → FreeRADIUS → detail file), each
// as FreeRADIUS's stock queries.conf does it:
//
//   - an Interim-Update without a Start makes an open row whose start and
//     update time are the interim's event time (the installed 3.2 queries
//     use the event time, not event − Acct-Session-Time), with its session
//     time and octets;
//   - a Stop without a Start makes a closed row that started at
//     event − Acct-Session-Time;
//   - an Interim-Update after the Stop does not reopen the session nor
//     change it (the history keeps it).
func TestOrphanAndLateRecords(t *testing.T) {
	var rq requests
	req := func(status, sid string, event int64, kv ...string) {
		rq.add(fmt.Sprintf("Acct-Status-Type = %s\nUser-Name = \"alice\"\nNAS-IP-Address = 192.0.2.1\nNAS-Port = 7\nAcct-Session-Id = \"%s\"\nEvent-Timestamp = %d\n", status, sid, event), kv...)
	}
	req("Interim-Update", "interim-only", base+600, "Acct-Session-Time", "600", "Acct-Input-Octets", "100")
	req("Stop", "stop-only", base+900, "Acct-Session-Time", "900", "Acct-Input-Octets", "200", "Acct-Terminate-Cause", "User-Request")
	req("Start", "after-stop", base)
	req("Stop", "after-stop", base+300, "Acct-Session-Time", "300", "Acct-Input-Octets", "300", "Acct-Terminate-Cause", "Idle-Timeout")
	req("Interim-Update", "after-stop", base+600, "Acct-Session-Time", "600", "Acct-Input-Octets", "999")
	recs := rq.viaFreeRADIUS(t)

	dsn := pg.NewDatabase(t)
	mustSend(t, openSink(t, dsn, Config{}), recs)
	conn := connect(t, dsn)
	for sid, want := range map[string]string{
		"interim-only": "600-600-open 600 100 ",
		"stop-only":    "0-900-900 900 200 User-Request",
		"after-stop":   "0-300-300 300 300 Idle-Timeout",
	} {
		r, ok := readRow(t, conn, sid)
		if !ok {
			t.Errorf("session %s: no row", sid)
			continue
		}
		rel := func(p *int64) string {
			if p == nil {
				return "open"
			}
			return fmt.Sprint(*p - base)
		}
		cause := ""
		if r.cause != nil {
			cause = *r.cause
		}
		got := fmt.Sprintf("%s-%s-%s %s %d %s", rel(r.start), rel(r.update), rel(r.stop), fmtp(r.sessionTime), r.in, cause)
		if got != want {
			t.Errorf("session %s: start-update-stop time, octets, cause = %q, want %q", sid, got, want)
		}
	}
}
