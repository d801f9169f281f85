package radius

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/radrelay/radrelay/dictionary"
)

// New opens a RADIUS sink: it resolves the secrets, loads the dictionary
// (the built-in one, extended with cfg.Dictionary when set) and opens the
// sockets. Nothing is sent until Send; a server that is down is found out
// then. ctx is not kept.
func New(ctx context.Context, cfg Config, logger *slog.Logger) (*Sink, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dict := dictionary.Builtin()
	if cfg.Dictionary != "" {
		if err := dict.LoadFile(cfg.Dictionary); err != nil {
			return nil, fmt.Errorf("radius sink: dictionary: %w", err)
		}
	}
	s, err := newSink(cfg, logger, dict)
	if err != nil {
		return nil, err
	}
	return s, nil
}
