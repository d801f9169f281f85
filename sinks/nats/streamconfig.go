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
			st, err := s.js.CreateStream(ctx, s.cfg.streamConfig())
			return st, s.asked.refused(s.cfg.Stream, err)
		case err != nil:
			return nil, err
		}
		cur := st.CachedInfo().Config
		if err := s.asked.unchangeable(cur); err != nil {
			return nil, err
		}
		next, changed := s.asked.managedStreamConfig(cur)
		s.logKept(cur)
		if !changed {
			return st, nil
		}
		s.logger.Info("nats sink: updating the stream's settings (create_stream)", "stream", s.cfg.Stream,
			"subjects", next.Subjects, "storage", next.Storage.String(), "retention", next.Retention.String(), "replicas", next.Replicas,
			"max_age", next.MaxAge.String(), "duplicate_window", next.Duplicates.String())
		st, err := s.js.UpdateStream(ctx, next)
		return st, s.asked.refused(s.cfg.Stream, err)
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

// A StreamSettingsError is a create_stream setting that the existing
// stream cannot take (JetStream refuses the update): a configuration
// error, not a failure that retrying can end. Open returns it when the
// server answers at start, so that radrelay does not start; met later
// (the server was down at start), the records wait with it as their
// error until the configuration or the stream is changed.
type StreamSettingsError struct {
	Stream string
	Key    string // the sink's key ("storage", "retention"); "" when the server's words are all there is
	msg    string
	err    error // the server's refusal, when it refused
}

func (e *StreamSettingsError) Error() string {
	if e.err != nil {
		return e.msg + ": " + e.err.Error()
	}
	return e.msg
}

func (e *StreamSettingsError) Unwrap() error { return e.err }

// JetStream's error codes of a stream configuration the server refuses
// whatever the retries: an invalid configuration or update (a storage or
// retention change, a duplicate window longer than max_age, ...); more
// than one replica on a server that is not clustered; subjects another
// stream captures.
const (
	errCodeStreamInvalidConfig  = 10052
	errCodeReplicasNotSupported = 10074
	errCodeStreamSubjectOverlap = 10065
)

// unchangeable returns the StreamSettingsError of a key set in c (the
// sink's configuration as written) to a value an existing stream (cur)
// cannot be updated to: JetStream never changes a stream's storage, nor
// its retention to or from workqueue (limits and interest may be
// switched). Without it, the update was refused (10052) at every retry,
// for ever, in the server's words, which name neither key nor fix.
func (c Config) unchangeable(cur jetstream.StreamConfig) error {
	want := c.WithDefaults().streamConfig()
	if c.Storage != "" && want.Storage != cur.Storage {
		return &StreamSettingsError{Stream: c.Stream, Key: "storage", msg: fmt.Sprintf(
			"nats sink: stream %s: storage = %q is set, but the existing stream has %s storage, which JetStream cannot change: "+
				"remove the storage key (or set it to %q) to use the stream as it is, or delete the stream (nats stream rm %s; its messages go with it) for radrelay to create it with %s storage",
			c.Stream, strings.ToLower(c.Storage), storageName(cur.Storage), storageName(cur.Storage), c.Stream, strings.ToLower(c.Storage))}
	}
	if c.Retention != "" && want.Retention != cur.Retention &&
		(want.Retention == jetstream.WorkQueuePolicy || cur.Retention == jetstream.WorkQueuePolicy) {
		return &StreamSettingsError{Stream: c.Stream, Key: "retention", msg: fmt.Sprintf(
			"nats sink: stream %s: retention = %q is set, but the existing stream has %s retention, and JetStream cannot change a stream's retention to or from workqueue: "+
				"remove the retention key (or set it to %q) to use the stream as it is, or delete the stream (nats stream rm %s; its messages go with it) for radrelay to create it with %s retention",
			c.Stream, strings.ToLower(c.Retention), retentionName(cur.Retention), retentionName(cur.Retention), c.Stream, strings.ToLower(c.Retention))}
	}
	return nil
}

// storageName is a storage type as the storage key writes it.
func storageName(t jetstream.StorageType) string {
	if t == jetstream.MemoryStorage {
		return "memory"
	}
	return "file"
}

// retentionName is a retention policy as the retention key writes it.
func retentionName(p jetstream.RetentionPolicy) string {
	switch p {
	case jetstream.InterestPolicy:
		return "interest"
	case jetstream.WorkQueuePolicy:
		return "workqueue"
	}
	return "limits"
}

// refused turns the server's refusal of the stream create_stream creates
// or updates into a StreamSettingsError (see the codes above); any other
// error is returned as it is (retryable: no meta leader yet, a timeout).
func (c Config) refused(stream string, err error) error {
	var apiErr *jetstream.APIError
	if err == nil || !errors.As(err, &apiErr) {
		return err
	}
	switch apiErr.ErrorCode {
	case errCodeReplicasNotSupported:
		return &StreamSettingsError{Stream: stream, Key: "replicas", err: err, msg: fmt.Sprintf(
			"nats sink: stream %s: the server refuses replicas = %d (its JetStream is not clustered): remove the replicas key, or set it to 1", stream, c.Replicas)}
	case errCodeStreamInvalidConfig, errCodeStreamSubjectOverlap:
		return &StreamSettingsError{Stream: stream, err: err, msg: fmt.Sprintf(
			"nats sink: stream %s: the server refuses the stream's settings (create_stream): compare storage, retention, replicas, max_age and duplicate_window with the stream's (nats stream info %s), and the subject with the other streams'; change the configuration or the stream", stream, stream)}
	}
	return err
}

// logKept says which settings of an existing stream create_stream leaves
// alone because the configuration does not set them: at INFO those that
// differ from what radrelay would have created the stream with (an
// operator's 30-day max_age, 3 replicas: worth knowing, since the
// configuration says nothing of them), at DEBUG when every kept value is
// radrelay's own (a stream radrelay created: nothing to say at every
// start).
func (s *Sink) logKept(cur jetstream.StreamConfig) {
	differ, same := s.asked.keptStreamSettings(cur)
	if len(differ) > 0 {
		s.logger.Info("nats sink: keeping the existing stream's own settings for the keys that are not set", append([]any{"stream", s.cfg.Stream}, differ...)...)
	}
	if len(same) > 0 {
		s.logger.Debug("nats sink: the existing stream's settings for the keys that are not set are radrelay's defaults", append([]any{"stream", s.cfg.Stream}, same...)...)
	}
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
// does not set them, with the values kept: differ those that are not what
// radrelay would create the stream with (its defaults), same those that are.
func (c Config) keptStreamSettings(cur jetstream.StreamConfig) (differ, same []any) {
	want := c.WithDefaults().streamConfig()
	add := func(isSame bool, key string, value any) {
		if isSame {
			same = append(same, key, value)
		} else {
			differ = append(differ, key, value)
		}
	}
	if c.Storage == "" {
		add(cur.Storage == want.Storage, "storage", storageName(cur.Storage))
	}
	if c.Retention == "" {
		add(cur.Retention == want.Retention, "retention", retentionName(cur.Retention))
	}
	if c.Replicas == 0 {
		add(cur.Replicas <= 1, "replicas", cur.Replicas)
	}
	if c.MaxAge == 0 {
		add(cur.MaxAge == want.MaxAge, "max_age", cur.MaxAge.String())
	}
	if c.DuplicateWindow == 0 {
		add(cur.Duplicates == want.Duplicates, "duplicate_window", cur.Duplicates.String())
	}
	return differ, same
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
