package sinks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
)

// A Type is one kind of sink as the configuration knows it: the name a
// [[sink]] table gives in type = "...", the URL schemes of its --to form,
// how to make its configuration, and the delivery settings that suit it.
//
// Each sink package declares its Types (in its type.go) and registers them
// with Register from an init function; sinks/all imports every sink package,
// so adding a sink is one new package plus one line there.
type Type struct {
	// Name is the value of type = "..." in a [[sink]] table.
	Name string
	// Schemes are the URL schemes (before the ':') of the sink's URL form,
	// lower case; usually just Name.
	Schemes []string
	// NewConfig returns a new, empty configuration of this type: a pointer
	// to a struct whose toml tags are the keys of the [[sink]] table.
	NewConfig func() Config
	// FromURL parses the URL form ("radius://10.0.0.2?secret_file=...").
	// Its errors never quote the URL: it may hold a password.
	FromURL func(raw string) (Config, error)
	// RedactURL returns the URL form fit for a log or a printed
	// configuration, every secret it carries replaced by "xxxxx". Nil: the
	// URL form carries no secret.
	RedactURL func(raw string) string
	// Window and Batch are the default max_outstanding (records in flight
	// to the sink) and batch_size (records per Send) of the tailer for this
	// type; 0 means the tailer's defaults.
	Window, Batch int
}

// URLParser makes a Type's FromURL of a sink package's ConfigFromURL, which
// returns the package's Config struct: the Config it returns is a pointer
// to that struct.
func URLParser[C any, P interface {
	*C
	Config
}](parse func(raw string) (C, error)) func(raw string) (Config, error) {
	return func(raw string) (Config, error) {
		c, err := parse(raw)
		if err != nil {
			return nil, err
		}
		return P(&c), nil
	}
}

// Config is the configuration of one sink of some Type, decoded from a
// [[sink]] table or a URL. It is a pointer to the sink package's Config.
type Config interface {
	// Validate checks the configuration by itself, without looking at
	// anything outside it, and returns every problem, each a *FieldError
	// naming the key (joined with errors.Join).
	Validate() error
	// Effective returns a copy with every unset key at the value the sink
	// uses (for "radrelay validate --print").
	Effective() Config
	// Redacted returns a copy with every secret it holds replaced by
	// "xxxxx"; names of files and variables holding secrets are kept.
	Redacted() Config
	// Open opens the sink. It is called only after Validate returned nil.
	Open(ctx context.Context, env Env) (Sink, error)
}

// EnvironmentChecker is implemented by a Config that refers to things on
// this machine: secret files that must be readable, environment variables
// that must be set, dictionaries that must load. CheckEnvironment reads
// them (never into a message) but connects to nothing and opens no output.
// Like Validate, it returns every problem as a *FieldError.
type EnvironmentChecker interface {
	CheckEnvironment() error
}

// Warner is implemented by a Config that can note what is allowed but
// unwise, e.g. a password written in the configuration file or in a URL
// (visible in ps). Each warning is a *FieldError.
type Warner interface {
	Warnings() []error
}

// Outputs is implemented by a Config that writes local files: it returns
// the file name templates it writes, so that a configuration whose sink
// writes into its own input can be refused.
type Outputs interface {
	OutputPaths() []string
}

// Env is what a sink may need when it opens besides its own configuration.
type Env struct {
	Logger *slog.Logger
	// Dictionary is the path of an extra FreeRADIUS dictionary that extends
	// the built-in one ("" for none).
	Dictionary string
}

// FieldError is one problem of a sink's configuration, at a key. Field is
// the key's path in the [[sink]] table: "policy", "servers[1].address".
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Err.Error()
	}
	return e.Field + ": " + e.Err.Error()
}

func (e *FieldError) Unwrap() error { return e.Err }

// Errorf returns a *FieldError for field.
func Errorf(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// FieldErrors returns the *FieldErrors err holds (joined with errors.Join
// or wrapped), in order; an error that is none becomes one without a field.
func FieldErrors(err error) []*FieldError {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*FieldError
		for _, e := range j.Unwrap() {
			out = append(out, FieldErrors(e)...)
		}
		return out
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return []*FieldError{fe}
	}
	return []*FieldError{{Err: err}}
}

// Prefix returns err (a joined set of *FieldErrors or a single error) with
// every field prefixed by prefix ("servers[0]"), for a Config made of parts.
func Prefix(prefix string, err error) error {
	if err == nil {
		return nil
	}
	var out []error
	for _, fe := range FieldErrors(err) {
		f := prefix
		if fe.Field != "" {
			f += "." + fe.Field
		}
		out = append(out, &FieldError{Field: f, Err: fe.Err})
	}
	return errors.Join(out...)
}

var registry = struct {
	sync.RWMutex
	byName, byScheme map[string]*Type
}{byName: map[string]*Type{}, byScheme: map[string]*Type{}}

// Register makes a sink type known. It panics when the name or a scheme is
// taken: two packages claiming one name is a programming error.
func Register(t *Type) {
	registry.Lock()
	defer registry.Unlock()
	if t.Name == "" || t.NewConfig == nil {
		panic("sinks: Register: a type needs a Name and NewConfig")
	}
	if _, dup := registry.byName[t.Name]; dup {
		panic("sinks: Register: type " + t.Name + " registered twice")
	}
	for _, s := range t.Schemes {
		if _, dup := registry.byScheme[s]; dup {
			panic("sinks: Register: URL scheme " + s + " registered twice")
		}
	}
	registry.byName[t.Name] = t
	for _, s := range t.Schemes {
		registry.byScheme[s] = t
	}
}

// Unregister forgets a type (for tests that register their own).
func Unregister(name string) {
	registry.Lock()
	defer registry.Unlock()
	t := registry.byName[name]
	if t == nil {
		return
	}
	delete(registry.byName, name)
	for _, s := range t.Schemes {
		delete(registry.byScheme, s)
	}
}

// Lookup returns the type named name.
func Lookup(name string) (*Type, bool) {
	registry.RLock()
	defer registry.RUnlock()
	t, ok := registry.byName[name]
	return t, ok
}

// LookupScheme returns the type whose URL form has scheme (any case).
func LookupScheme(scheme string) (*Type, bool) {
	registry.RLock()
	defer registry.RUnlock()
	t, ok := registry.byScheme[strings.ToLower(scheme)]
	return t, ok
}

// TypeNames returns the names of every registered type, sorted.
func TypeNames() []string {
	registry.RLock()
	defer registry.RUnlock()
	names := make([]string, 0, len(registry.byName))
	for n := range registry.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Concurrency is how many Send calls the sink s takes at once: its
// ConcurrentSends when it is a ConcurrentSender, else 1. It is read from the
// sink a package returns, before any wrapper, and declared to the tailer in
// its SinkSpec, so that no wrapper can hide it.
func Concurrency(s Sink) int {
	if c, ok := s.(ConcurrentSender); ok {
		return max(c.ConcurrentSends(), 1)
	}
	return 1
}
