package nats

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// openStream makes sure the stream exists and captures the subject: with
// create_stream it creates the stream, or updates the settings radrelay
// manages on an existing one (managedStreamConfig); without, it finds the
// stream. A stream that does not capture the subject is an error that says
// so, rather than publishes that time out unanswered.
func (s *Sink) openStream(ctx context.Context) (jetstream.Stream, error) {
	st, err := s.js.Stream(ctx, s.cfg.Stream)
	if s.cfg.CreateStream {
		switch {
		case errors.Is(err, jetstream.ErrStreamNotFound):
			s.logger.Info("nats sink: creating the stream", "stream", s.cfg.Stream, "subject", s.cfg.Subject)
			return s.js.CreateStream(ctx, s.cfg.streamConfig())
		case err != nil:
			return nil, err
		}
		cur := st.CachedInfo().Config
		next, changed := s.cfg.managedStreamConfig(cur)
		if s.cfg.Replicas == 0 {
			s.logger.Info("nats sink: keeping the existing stream's replicas (replicas is not set)", "stream", s.cfg.Stream, "replicas", cur.Replicas)
		}
		if !changed {
			return st, nil
		}
		s.logger.Info("nats sink: updating the stream's settings (create_stream)", "stream", s.cfg.Stream,
			"subjects", next.Subjects, "replicas", next.Replicas, "max_age", next.MaxAge.String(), "duplicate_window", next.Duplicates.String())
		return s.js.UpdateStream(ctx, next)
	}
	if err != nil {
		return nil, err
	}
	if subjects := st.CachedInfo().Config.Subjects; !captured(subjects, s.cfg.Subject) {
		return nil, fmt.Errorf("the stream does not capture the subject %s (its subjects: %s): add it to the stream, or set create_stream",
			s.cfg.Subject, strings.Join(subjects, " "))
	}
	return st, nil
}

// managedStreamConfig is cur, an existing stream's configuration, with the
// settings create_stream manages set as configured (storage, replicas when
// set, retention, max_age, duplicate_window, fast batches allowed with
// batch_publish) and the subject added when no
// subject of the stream captures it. Everything else is the operator's and
// kept: other subjects, limits (max_bytes, max_msgs, max_msg_size),
// placement, sources. changed reports whether it differs from cur.
func (c Config) managedStreamConfig(cur jetstream.StreamConfig) (next jetstream.StreamConfig, changed bool) {
	want := c.streamConfig()
	next = cur
	next.Storage, next.Retention, next.MaxAge, next.Duplicates = want.Storage, want.Retention, want.MaxAge, want.Duplicates
	if c.Replicas != 0 {
		// Only a count the operator asked for: the default (1) would
		// scale a replicated stream down.
		next.Replicas = c.Replicas
	}
	changed = next.Storage != cur.Storage || next.Replicas != cur.Replicas || next.Retention != cur.Retention ||
		next.MaxAge != cur.MaxAge || next.Duplicates != cur.Duplicates
	if want.AllowBatchPublish && !cur.AllowBatchPublish {
		// batch_publish: allowed, never disallowed (another publisher
		// may use fast batches).
		next.AllowBatchPublish = true
		changed = true
	}
	if !captured(cur.Subjects, c.Subject) {
		next.Subjects = append(slices.Clone(cur.Subjects), c.Subject)
		changed = true
	}
	return next, changed
}

// captured reports whether one of filters (subjects of a stream, with
// wildcards) matches subject (literal).
func captured(filters []string, subject string) bool {
	return slices.ContainsFunc(filters, func(f string) bool { return subjectCaptured(f, subject) })
}

// subjectCaptured reports whether the subject filter f matches the literal
// subject: "*" matches one token, a final ">" one or more.
func subjectCaptured(f, subject string) bool {
	ft, st := strings.Split(f, "."), strings.Split(subject, ".")
	for i, t := range ft {
		if t == ">" && i == len(ft)-1 {
			return len(st) > i
		}
		if i >= len(st) || t != "*" && t != st[i] {
			return false
		}
	}
	return len(ft) == len(st)
}

// recheckStream makes the next Send look for the stream again
// (ensureStream) when a publish found no stream to answer it: the stream
// was deleted, or a memory-storage stream went with a server restart.
// With create_stream it is then created again; without, the records fail
// saying the stream is not found until it exists.
func (s *Sink) recheckStream(results []error) {
	for _, err := range results {
		var apiErr *jetstream.APIError
		if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) ||
			errors.As(err, &apiErr) && apiErr.Code == 503 { // no responders, as a fast batch reports it
			s.mu.Lock()
			s.ready = false
			s.mu.Unlock()
			return
		}
	}
}
