package postgres

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/internal/freeradiustest"
)

// requests is radclient input: Accounting-Requests that a real FreeRADIUS
// 3.2 turns into the records of a test.
type requests struct {
	b strings.Builder
	n int
}

// add appends one request: head (lines "Name = value\n") and then the
// name, value pairs of kv.
func (r *requests) add(head string, kv ...string) {
	r.b.WriteString(head)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&r.b, "%s = %s\n", kv[i], kv[i+1])
	}
	r.b.WriteString("\n")
	r.n++
}

// viaFreeRADIUS sends the requests through a real FreeRADIUS 3.2
// (radclient → FreeRADIUS → detail file), one at a time so that they
// arrive in order, and returns the records FreeRADIUS wrote.
func (r *requests) viaFreeRADIUS(t *testing.T) []*detail.Record {
	t.Helper()
	home := freeradiustest.StartHomeServer(t, freeradiustest.HomeOptions{})
	freeradiustest.SendAccounting(t, home.Addr, home.Secret, r.b.String(), 1)
	home.WaitRecords(t, r.n, 30*time.Second)
	return home.Records(t)
}
