//go:build ignore

// retime rewrites a detail file as if its requests had arrived when they
// happened: each record's receive time (header and Timestamp) becomes its
// Event-Timestamp plus Acct-Delay-Time, and the records are put in that order.
// Everything else is kept; records are written back with detail.AppendRecord,
// which writes what FreeRADIUS 3.2 writes. radclient sends a whole test file
// within a second, so this gives sample data whose times look like a day of
// traffic.
//
//	TZ=UTC go run retime.go < in.detail > out.detail
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/radrelay/radrelay/detail"
)

func main() {
	r := detail.NewReader(bufio.NewReader(os.Stdin), "stdin")
	var recs []*detail.Record
	for {
		rec, err := r.Next()
		if errors.Is(err, detail.ErrIncomplete) {
			rec, err = r.Finish()
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "retime:", err)
			os.Exit(1)
		}
		if ev, ok := rec.Get("Event-Timestamp"); ok {
			t, err := time.Parse("Jan _2 2006 15:04:05 MST", ev.Value)
			if err == nil {
				delay := int64(0)
				if d, ok := rec.Get("Acct-Delay-Time"); ok {
					delay, _ = strconv.ParseInt(d.Value, 10, 64)
				}
				rec.Timestamp = t.Unix() + delay
				rec.Header = ""
			}
		}
		recs = append(recs, rec)
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Timestamp < recs[j].Timestamp })
	w := bufio.NewWriter(os.Stdout)
	var buf []byte
	for _, rec := range recs {
		buf = detail.AppendRecord(buf[:0], rec)
		w.Write(buf)
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "retime:", err)
		os.Exit(1)
	}
}
