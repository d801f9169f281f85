package sinktest

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/radrelay/radrelay/detail"
)

// base is the receive time of the first record Records makes: fixed, so tests
// are reproducible.
var base = time.Date(2026, time.November, 23, 11, 0, 0, 0, time.UTC)

// Records returns n realistic accounting records as a FreeRADIUS 3.2 detail
// writer would have stored them: sessions of Start, Interim-Update and Stop
// (the last session may be cut short), each session with its own
// Acct-Session-Id and Acct-Unique-Session-Id, users in two realms, two NASes.
// The same n always gives the same records.
func Records(n int) []*detail.Record {
	return records("sess", n)
}

// records is Records with a session-id prefix, so one test can make several
// disjoint sets.
func records(prefix string, n int) []*detail.Record {
	recs := make([]*detail.Record, n)
	var offset int64
	line := 1
	for i := range recs {
		r := accountingRecord(prefix, i)
		r.File = "sinktest"
		r.Line = line
		r.Offset = offset
		r.Length = approxLength(r)
		r.TimestampOffset = offset + r.Length - int64(len("\tTimestamp = 1795435059\n\n"))
		offset += r.Length
		line += len(r.Attrs) + 3
		recs[i] = r
	}
	return recs
}

var statusTypes = [3]string{"Start", "Interim-Update", "Stop"}

func accountingRecord(prefix string, i int) *detail.Record {
	session := i / 3
	status := statusTypes[i%3]
	realm := "example.net"
	if session%2 == 1 {
		realm = "example.org"
	}
	nas := fmt.Sprintf("192.0.2.%d", 1+session%2)
	user := fmt.Sprintf("user%d@%s", session, realm)
	sessionID := fmt.Sprintf("%s-%06d", prefix, session)
	nasPort := strconv.Itoa(1000 + session)
	received := base.Add(time.Duration(i) * time.Second)
	sessionTime := int64(i%3) * 300

	attrs := []detail.Attribute{
		quoted("User-Name", user),
		plain("NAS-IP-Address", nas),
		plain("NAS-Port", nasPort),
		plain("NAS-Port-Type", "Ethernet"),
		plain("Service-Type", "Framed-User"),
		plain("Framed-Protocol", "PPP"),
		plain("Framed-IP-Address", fmt.Sprintf("198.51.100.%d", 1+session%250)),
		quoted("Called-Station-Id", "bras-1"),
		quoted("Calling-Station-Id", fmt.Sprintf("02-00-00-00-%02x-%02x", (session>>8)&0xff, session&0xff)),
		plain("Acct-Status-Type", status),
		quoted("Acct-Session-Id", sessionID),
		plain("Acct-Authentic", "RADIUS"),
		plain("Acct-Delay-Time", "0"),
		quoted("NAS-Identifier", "bras-"+nas),
		quoted("Event-Timestamp", received.Format("Jan _2 2006 15:04:05 MST")),
	}
	if status != "Start" {
		in := int64(session+1) * 1_000_000 * int64(i%3)
		out := in * 4
		attrs = append(attrs,
			plain("Acct-Session-Time", strconv.FormatInt(sessionTime, 10)),
			plain("Acct-Input-Octets", strconv.FormatInt(in&0xffffffff, 10)),
			plain("Acct-Output-Octets", strconv.FormatInt(out&0xffffffff, 10)),
			plain("Acct-Input-Gigawords", strconv.FormatInt(in>>32, 10)),
			plain("Acct-Output-Gigawords", strconv.FormatInt(out>>32, 10)),
			plain("Acct-Input-Packets", strconv.FormatInt(in/1000, 10)),
			plain("Acct-Output-Packets", strconv.FormatInt(out/1000, 10)),
		)
	}
	if status == "Stop" {
		attrs = append(attrs, plain("Acct-Terminate-Cause", "User-Request"))
	}
	attrs = append(attrs, quoted("Acct-Unique-Session-Id", uniqueID(user, sessionID, nas, nasPort)))
	return &detail.Record{
		Header:       received.Format("Mon Jan _2 15:04:05 2006"),
		Attrs:        attrs,
		Timestamp:    received.Unix(),
		HasTimestamp: true,
	}
}

// uniqueID computes Acct-Unique-Session-Id the way FreeRADIUS 3.2's default
// acct_unique policy does (MD5 over the session's identifying attributes).
func uniqueID(user, sessionID, nas, nasPort string) string {
	sum := md5.Sum([]byte(user + "," + sessionID + "," + nas + ",bras-" + nas + ",," + nasPort))
	return hex.EncodeToString(sum[:])
}

func quoted(name, value string) detail.Attribute {
	return detail.Attribute{Name: name, Value: value, Quoted: true}
}

func plain(name, value string) detail.Attribute {
	return detail.Attribute{Name: name, Value: value}
}

// approxLength is the size the record takes in a detail file, close enough
// for Offset/Length bookkeeping in tests (escapes are not counted).
func approxLength(r *detail.Record) int64 {
	n := len(r.Header) + 1
	for _, a := range r.Attrs {
		v := len(a.Value)
		if a.Quoted {
			v = len(escape(a.Value))
		}
		n += 1 + len(a.Name) + 3 + v + 1
	}
	n += len("\tTimestamp = 1795435059\n\n")
	return int64(n)
}

// SessionID returns the Acct-Session-Id of r ("" when it has none).
func SessionID(r *detail.Record) string {
	a, _ := r.Get("Acct-Session-Id")
	return a.Value
}

// escape quotes value the way a FreeRADIUS 3.2 detail file shows a string, so
// that approxLength counts what a file holds.
func escape(value string) string {
	b := make([]byte, 0, len(value)+2)
	b = append(b, '"')
	for i := 0; i < len(value); {
		c := value[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c < 0x20 || c == 0x7f:
			b = append(b, fmt.Sprintf("\\%03o", c)...)
		case c < utf8.RuneSelf:
			b = append(b, c)
		default:
			r, size := utf8.DecodeRuneInString(value[i:])
			if r == utf8.RuneError && size <= 1 {
				b = append(b, fmt.Sprintf("\\%03o", c)...)
				i++
				continue
			}
			b = append(b, value[i:i+size]...)
			i += size
			continue
		}
		i++
	}
	return string(append(b, '"'))
}

// Repeat returns n records made from the records of from, in turn and again
// from the start, each a copy with its own Acct-Session-Id (the original's
// with "/i" added) and Offset i: many distinct records from a small real
// fixture.
func Repeat(from []*detail.Record, n int) []*detail.Record {
	recs := make([]*detail.Record, 0, n)
	for i := 0; len(recs) < n; i++ {
		r := from[i%len(from)]
		c := *r
		c.Attrs = slices.Clone(r.Attrs)
		for j := range c.Attrs {
			if c.Attrs[j].Name == "Acct-Session-Id" {
				c.Attrs[j].Value = fmt.Sprintf("%s/%d", c.Attrs[j].Value, i)
			}
		}
		c.Offset = int64(i)
		recs = append(recs, &c)
	}
	return recs
}

// DetailValue reads s as the inside of a detail file's quoted value, as
// FreeRADIUS and radrelay's Reader do: what a sink's escaped text (the
// "escaped" fields of a stream record, a Radrelay-Escaped header) must
// read back to.
func DetailValue(t testing.TB, s string) string {
	t.Helper()
	r := detail.NewReader(strings.NewReader("Mon Nov 23 11:57:39 2026\n\tReply-Message = \""+s+"\"\n\n"), "escaped")
	rec, err := r.Next()
	if err != nil || len(rec.Attrs) != 1 {
		t.Fatalf("%q does not read back: %v", s, err)
	}
	return rec.Attrs[0].Value
}
