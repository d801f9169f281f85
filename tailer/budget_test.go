package tailer

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestOutageLogsAChangedCause: while a sink stays down, a failure for
// another reason is logged when it is seen (after a sink that could not
// connect connects and is refused for its settings, the log said only the
// first cause until the reminder a minute later); the same cause in other
// digits (a new local port, a count) is not a new cause, and causes that
// alternate within causeGap write no line per failure.
func TestOutageLogsAChangedCause(t *testing.T) {
	var buf bytes.Buffer
	r := &sinkRunner{t: &Tailer{cfg: Config{FailureReminder: time.Minute}}, log: slog.New(slog.NewTextHandler(&buf, nil))}
	notConnected := func(port int) error {
		return fmt.Errorf("nats sink: %w", fmt.Errorf("read tcp 127.0.0.1:%d->127.0.0.1:4222: i/o timeout", port))
	}
	refused := fmt.Errorf("nats sink: %w", errors.New(`storage = "file" is set, but the existing stream has memory storage`))
	t0 := time.Unix(1_800_000_000, 0)
	for _, step := range []struct {
		at   time.Duration
		err  error
		want string // the line logged; "" none
	}{
		{0, notConnected(40001), "sink is failing; retrying"},
		{time.Second, notConnected(40002), ""}, // same cause, another port
		{2 * time.Second, refused, ""},         // another cause, but within causeGap of the last line
		{6 * time.Second, refused, "for another reason now"},
		{7 * time.Second, notConnected(40003), ""}, // alternating: not a line a failure
		{8 * time.Second, refused, ""},
		{12 * time.Second, refused, ""}, // the cause last logged
		{62 * time.Second, refused, ""}, // the reminder counts from the last line
		{67 * time.Second, refused, "sink still failing"},
	} {
		buf.Reset()
		r.noteFailure(t0.Add(step.at), step.at == 0, step.err)
		got := strings.TrimSpace(buf.String())
		switch {
		case step.want == "" && got != "":
			t.Errorf("at %s (%v): logged %s", step.at, step.err, got)
		case step.want != "" && !strings.Contains(got, step.want):
			t.Errorf("at %s (%v): logged %q, want a line with %q", step.at, step.err, got, step.want)
		}
	}
}
