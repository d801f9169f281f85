package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/radrelay/radrelay/tailer"
)

// notifySignals delivers SIGINT, SIGTERM and SIGHUP to c until stop is
// called. Tests replace it to send signals without signalling the process.
var notifySignals = func(c chan<- os.Signal) (stop func()) {
	signal.Notify(c, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	return func() { signal.Stop(c) }
}

// exitNow ends the process at once (a second SIGINT/SIGTERM during
// shutdown). Tests replace it.
var exitNow = os.Exit

// signalExitStatus is the status of a process killed by sig, as a shell
// reports it (128 + the signal number): 130 for SIGINT, 143 for SIGTERM.
func signalExitStatus(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 1
}

// watchSignals starts delivering signals and returns a function that handles
// them until done is closed: the first SIGINT or SIGTERM calls shutdown
// (stop reading, drain, persist, exit 0), a second one calls immediate;
// SIGHUP calls reopen (log files). Registration happens before watchSignals
// returns, so no signal is missed once the caller goes on.
func watchSignals(done <-chan struct{}, shutdown func(os.Signal), reopen func(), immediate func(os.Signal)) (handle func()) {
	c := make(chan os.Signal, 4)
	stop := notifySignals(c)
	return func() {
		defer stop()
		stopping := false
		for {
			select {
			case <-done:
				return
			case sig := <-c:
				if sig == syscall.SIGHUP {
					reopen()
					continue
				}
				if stopping {
					immediate(sig)
					return
				}
				stopping = true
				shutdown(sig)
			}
		}
	}
}

// unsettled is what the stopping line and the replay summary count for a
// sink, so that their numbers agree: records read and neither delivered nor
// quarantined (tailer.SinkStats.Unsettled), in flight while it runs, NOT
// delivered once it stopped.
func unsettled(s tailer.SinkStats) int64 { return s.Unsettled() }

// stoppingMessage is the line of the first SIGINT/SIGTERM: what radrelay
// waits for (the records in flight, per sink) and for how long, and that a
// second signal exits at once.
func stoppingMessage(st tailer.Stats, timeout time.Duration) string {
	var total int64
	var per []string
	for _, s := range st.Sinks {
		n := unsettled(s)
		total += n
		if n > 0 {
			per = append(per, fmt.Sprintf("%s: %d", s.Name, n))
		}
	}
	what := "nothing is in flight"
	if total > 0 {
		what = fmt.Sprintf("waiting up to %s for %s in flight (%s) to be acknowledged", timeout, plural(total, "record"), strings.Join(per, ", "))
	}
	return "stopping: " + what + ", then saving progress; a second Ctrl-C (or signal) exits at once"
}
