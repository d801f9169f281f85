package main

import (
	"fmt"
	"io"
	"time"

	"github.com/radrelay/radrelay/sinks/postgres"
)

// sessionsStatus is what a postgres sink publishes about its live-session
// table: open sessions per NAS (as last counted) and the sessions it closed
// without a Stop.
type sessionsStatus struct {
	Open         int64            `json:"open"`
	OpenByNAS    map[string]int64 `json:"open_by_nas,omitempty"`
	CountedAt    *time.Time       `json:"counted_at,omitempty"`
	CountError   string           `json:"count_error,omitempty"`
	StaleClosed  int64            `json:"closed_stale"`
	RebootClosed int64            `json:"closed_reboot"`
}

func sessionsStatusOf(st *postgres.SessionStats) *sessionsStatus {
	if st == nil {
		return nil
	}
	out := &sessionsStatus{CountedAt: timePtr(st.CountedAt), CountError: st.CountError,
		StaleClosed: st.StaleClosed, RebootClosed: st.RebootClosed}
	if len(st.OpenByNAS) > 0 {
		out.OpenByNAS = map[string]int64{}
	}
	for _, n := range st.OpenByNAS {
		out.Open += n.Open
		out.OpenByNAS[n.NAS] = n.Open
	}
	return out
}

// printSessions prints a sink's session lines of "radrelay status".
func printSessions(w io.Writer, s *sessionsStatus, ago func(*time.Time) string) {
	if s == nil {
		return
	}
	switch {
	case s.CountedAt == nil && s.CountError != "":
		fmt.Fprintf(w, "  sessions:       not counted yet: %s\n", s.CountError)
	case s.CountedAt == nil:
		fmt.Fprintf(w, "  sessions:       not counted yet\n")
	default:
		fmt.Fprintf(w, "  sessions:       %s open on %s (counted %s)\n", plural(s.Open, "session"), nasCount(len(s.OpenByNAS)), ago(s.CountedAt))
		if s.CountError != "" {
			fmt.Fprintf(w, "                  last count failed: %s\n", s.CountError)
		}
	}
	fmt.Fprintf(w, "  closed:         %s stale, %s by NAS reboot detection (this run)\n", formatCount(s.StaleClosed), formatCount(s.RebootClosed))
}

func nasCount(n int) string {
	if n == 1 {
		return "1 NAS"
	}
	return fmt.Sprintf("%d NASes", n)
}
