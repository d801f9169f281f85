package main

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks"
)

// memoryConfig is the Config of the in-test "memory" sink type, shaped like
// the sink packages' Configs (toml tags, a URL form, a secret by file).
type memoryConfig struct {
	Store      string `toml:"store"`
	SecretFile string `toml:"secret_file"`
	// Secret is a secret written in the file itself (validate warns).
	Secret string `toml:"secret"`
	// FailUser: records whose User-Name starts with it are rejected permanently.
	FailUser string `toml:"fail_user"`
	// DownWhile: every Send fails (retryably) while this file exists.
	DownWhile string `toml:"down_while"`
}

// memoryStores holds what the memory sinks of a test received, by store name.
var memoryStores = struct {
	sync.Mutex
	m       map[string][]*detail.Record
	waiters map[string][]memoryWaiter
}{m: map[string][]*detail.Record{}, waiters: map[string][]memoryWaiter{}}

type memoryWaiter struct {
	n  int
	ch chan struct{}
}

// memoryWait returns a channel closed once store holds at least n records.
func memoryWait(store string, n int) <-chan struct{} {
	memoryStores.Lock()
	defer memoryStores.Unlock()
	ch := make(chan struct{})
	if len(memoryStores.m[store]) >= n {
		close(ch)
		return ch
	}
	memoryStores.waiters[store] = append(memoryStores.waiters[store], memoryWaiter{n, ch})
	return ch
}

// memoryReset empties store.
func memoryReset(store string) {
	memoryStores.Lock()
	defer memoryStores.Unlock()
	delete(memoryStores.m, store)
	delete(memoryStores.waiters, store)
}

func memoryRecords(store string) []*detail.Record {
	memoryStores.Lock()
	defer memoryStores.Unlock()
	return append([]*detail.Record(nil), memoryStores.m[store]...)
}

type memorySink struct{ cfg memoryConfig }

func (s *memorySink) Send(ctx context.Context, recs []*detail.Record, results []error) {
	if s.cfg.DownWhile != "" {
		if _, err := os.Stat(s.cfg.DownWhile); err == nil {
			for i := range results {
				results[i] = errors.New("memory sink: down (" + s.cfg.DownWhile + " exists)")
			}
			return
		}
	}
	memoryStores.Lock()
	defer memoryStores.Unlock()
	for i, r := range recs {
		if u, _ := r.Get("User-Name"); s.cfg.FailUser != "" && strings.HasPrefix(u.Value, s.cfg.FailUser) {
			results[i] = sinks.Permanent(errors.New("memory sink: user rejected"))
			continue
		}
		c := *r
		c.Attrs = append([]detail.Attribute(nil), r.Attrs...)
		memoryStores.m[s.cfg.Store] = append(memoryStores.m[s.cfg.Store], &c)
		results[i] = nil
	}
	have := len(memoryStores.m[s.cfg.Store])
	waiting := memoryStores.waiters[s.cfg.Store][:0]
	for _, w := range memoryStores.waiters[s.cfg.Store] {
		if have >= w.n {
			close(w.ch)
		} else {
			waiting = append(waiting, w)
		}
	}
	memoryStores.waiters[s.cfg.Store] = waiting
}

func (s *memorySink) Close() error { return nil }

func memoryFromURL(raw string) (memoryConfig, error) {
	rest, ok := strings.CutPrefix(raw, "memory:")
	if !ok || rest == "" {
		return memoryConfig{}, errors.New("want memory:STORE")
	}
	return memoryConfig{Store: rest}, nil
}

// The memory type implements sinks.Config as the sink packages do.

func (c *memoryConfig) Validate() error {
	if c.Store == "" {
		return sinks.Errorf("store", "a memory sink needs a store")
	}
	return nil
}

func (c *memoryConfig) CheckEnvironment() error {
	if c.SecretFile != "" {
		f, err := os.Open(c.SecretFile)
		if err != nil {
			return sinks.Errorf("secret_file", "%v", err)
		}
		f.Close()
	}
	return nil
}

func (c *memoryConfig) Effective() sinks.Config { d := *c; return &d }

func (c *memoryConfig) Redacted() sinks.Config {
	r := *c
	if r.Secret != "" {
		r.Secret = "xxxxx"
	}
	return &r
}

func (c *memoryConfig) Warnings() []error {
	if c.Secret != "" {
		return []error{sinks.Errorf("secret", "the secret is written in the configuration file; prefer secret_file or secret_env")}
	}
	return nil
}

func (c *memoryConfig) Open(context.Context, sinks.Env) (sinks.Sink, error) {
	return &memorySink{*c}, nil
}

func init() {
	sinks.Register(&sinks.Type{
		Name:      "memory",
		Schemes:   []string{"memory"},
		NewConfig: func() sinks.Config { return new(memoryConfig) },
		FromURL: func(raw string) (sinks.Config, error) {
			c, err := memoryFromURL(raw)
			if err != nil {
				return nil, err
			}
			return &c, nil
		},
	})
}
