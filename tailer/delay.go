package tailer

import (
	"strconv"
	"strings"
	"time"

	"github.com/radrelay/radrelay/detail"
)

// raiseDelay returns a copy of rec whose Acct-Delay-Time is raised by the
// time the record waited, the way FreeRADIUS's detail reader does on every
// (re)send: the wait is now − the record's Timestamp (when the writing server
// received it), or now − Event-Timestamp for a record without a Timestamp
// line (Livingston-era writers). A record with neither is returned as is.
// An Acct-Delay-Time the NAS sent is kept and added to; one is added when
// missing. rec itself is never modified.
func raiseDelay(rec *detail.Record, now time.Time) *detail.Record {
	var since int64
	switch {
	case rec.HasTimestamp:
		since = rec.Timestamp
	default:
		a, ok := rec.Get("Event-Timestamp")
		if !ok {
			return rec
		}
		t, ok := parseEventTimestamp(a.Value)
		if !ok {
			return rec
		}
		since = t
	}
	wait := now.Unix() - since
	if wait <= 0 {
		return rec
	}
	out := *rec
	out.Attrs = make([]detail.Attribute, len(rec.Attrs), len(rec.Attrs)+1)
	copy(out.Attrs, rec.Attrs)
	for i := range out.Attrs {
		a := &out.Attrs[i]
		if !strings.EqualFold(a.Name, "Acct-Delay-Time") {
			continue
		}
		old, err := strconv.ParseUint(strings.TrimSpace(a.Value), 10, 32)
		if err != nil {
			return rec // not a number we can add to: leave the record alone
		}
		nv := old + uint64(wait)
		if nv > 1<<32-1 {
			nv = 1<<32 - 1
		}
		a.Value, a.Quoted = strconv.FormatUint(nv, 10), false
		return &out
	}
	out.Attrs = append(out.Attrs, detail.Attribute{Name: "Acct-Delay-Time", Value: strconv.FormatInt(min(wait, 1<<32-1), 10)})
	return &out
}

// parseEventTimestamp reads an Event-Timestamp value as FreeRADIUS writes it:
// an integer (dates_as_integer) or "Nov 23 2026 11:00:00 UTC".
func parseEventTimestamp(v string) (int64, bool) {
	v = strings.TrimSpace(v)
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n, true
	}
	for _, layout := range []string{"Jan _2 2006 15:04:05 MST", "Jan 2 2006 15:04:05 MST"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.Unix(), true
		}
	}
	return 0, false
}
