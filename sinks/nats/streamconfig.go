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
		next, changed := s.asked.managedStreamConfig(cur)
		if kept := s.asked.keptStreamSettings(cur); len(kept) > 0 {
			s.logger.Info("nats sink: keeping the existing stream's own settings for the keys that are not set", append([]any{"stream", s.cfg.Stream}, kept...)...)
		}
		if !changed {
			return st, nil
		}
		s.logger.Info("nats sink: updating the stream's settings (create_stream)", "stream", s.cfg.Stream,
			"subjects", next.Subjects, "storage", next.Storage.String(), "retention", next.Retention.String(), "replicas", next.Replicas,
			"max_age", next.MaxAge.String(), "duplicate_window", next.Duplicates.String())
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

// managedStreamConfig is cur, an existing stream's configuration, with
// the settings create_stream manages that the operator set in c (the sink's
// configuration as written, before defaults: storage, retention, replicas,
// max_age, duplicate_window) applied, fast batches allowed with
// batch_publish, and the subject added when no subject of the stream
// captures it. A key that is not set keeps the stream's own value: a
// default must not shorten or lift an operator's max_age, scale a
// replicated stream down, or try to change a stream's storage. Everything
// else is the operator's and kept: other subjects, limits (max_bytes,
// max_msgs, max_msg_size), placement, sources. changed reports whether
// next differs from cur.
func (c Config) managedStreamConfig(cur jetstream.StreamConfig) (next jetstream.StreamConfig, changed bool) {
	want := c.WithDefaults().streamConfig()
	next = cur
	if c.Storage != "" {
		next.Storage = want.Storage
	}
	if c.Retention != "" {
		next.Retention = want.Retention
	}
	if c.Replicas != 0 {
		next.Replicas = want.Replicas
	}
	if c.MaxAge != 0 {
		next.MaxAge = want.MaxAge
	}
	if c.DuplicateWindow != 0 {
		next.Duplicates = want.Duplicates
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

// keptStreamSettings lists, as log attributes, the settings of cur (an
// existing stream) that create_stream leaves alone because c (as written)
// does not set them, with the values kept.
func (c Config) keptStreamSettings(cur jetstream.StreamConfig) []any {
	var kept []any
	if c.Storage == "" {
		kept = append(kept, "storage", cur.Storage.String())
	}
	if c.Retention == "" {
		kept = append(kept, "retention", cur.Retention.String())
	}
	if c.Replicas == 0 {
		kept = append(kept, "replicas", cur.Replicas)
	}
	if c.MaxAge == 0 {
		kept = append(kept, "max_age", cur.MaxAge.String())
	}
	if c.DuplicateWindow == 0 {
		kept = append(kept, "duplicate_window", cur.Duplicates.String())
	}
	return kept
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
	// Declared once: errors.As takes its address, which moved it to the
	// heap, an allocation per record when declared in the loop.
	var apiErr *jetstream.APIError
	for _, err := range results {
		if err == nil {
			continue
		}
		if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) ||
			errors.As(err, &apiErr) && apiErr.Code == 503 { // no responders, as a fast batch reports it
			s.mu.Lock()
			s.ready = false
			s.mu.Unlock()
			return
		}
	}
}
