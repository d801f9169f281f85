package stream

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// URLForm describes the URL form of a stream sink, for ParseURL and its
// errors.
type URLForm struct {
	Sink    string   // "nats": errors start "nats sink URL: "
	Example string   // the form, as errors show it: "nats://host:4222/SUBJECT?stream=NAME"
	Schemes []string // the schemes accepted (any case); none: any scheme
	Host    string   // what a host is called: "server", "broker"
	Path    string   // what the path names: "subject", "topic"
	// NoSecret is what an error says to use instead of a user or password
	// in the URL.
	NoSecret string
}

// A URL is a stream sink's URL: SCHEME://HOST[,HOST...]/NAME?OPTIONS.
type URL struct {
	form    URLForm
	Scheme  string     // in lower case
	Hosts   []string   // at least one
	Name    string     // the path, unescaped: the subject or topic
	options url.Values // the query
}

// ParseURL splits raw by the form; the options are read by EachOption.
// A user or password in the URL is refused (it would show in ps), without
// quoting it.
func ParseURL(form URLForm, raw string) (URL, error) {
	u := URL{form: form}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok || len(form.Schemes) > 0 && !slices.Contains(form.Schemes, strings.ToLower(scheme)) {
		return u, u.errorf("want %s", form.Example)
	}
	u.Scheme = strings.ToLower(scheme)
	// A user or password is refused wherever it ends, even in a query
	// that follows the hosts directly (a password holding a '?').
	if authority, _, _ := strings.Cut(rest, "/"); strings.Contains(authority, "@") {
		return u, u.errorf("%s", form.NoSecret)
	}
	// The query starts at the first '?', with or without a path before it:
	// "nats://h:4222?stream=S" has no subject, not a port "4222?stream=S".
	beforeQuery, query, _ := strings.Cut(rest, "?")
	hosts, path, _ := strings.Cut(beforeQuery, "/")
	if hosts == "" {
		return u, u.errorf("no %s: want %s", form.Host, form.Example)
	}
	u.Hosts = strings.Split(hosts, ",")
	name, err := url.PathUnescape(path)
	if err != nil {
		return u, u.errorf("%s: %w", form.Path, err)
	}
	u.Name = name
	if u.options, err = url.ParseQuery(query); err != nil {
		return u, u.errorf("options: %w", err)
	}
	return u, nil
}

func (u URL) errorf(format string, args ...any) error {
	return fmt.Errorf(u.form.Sink+" sink URL: "+format, args...)
}

// ErrUnknownOption is what an EachOption function returns for a key it
// does not know.
var ErrUnknownOption = errors.New("unknown option")

// A RefusedOption is what an EachOption function returns for a key that
// is never accepted in a URL (a secret): Reason says what to use instead.
type RefusedOption struct{ Reason string }

func (r *RefusedOption) Error() string { return r.Reason }

// EachOption calls fn with every option (the last value of a repeated
// one), in key order, and stops at the first error: ErrUnknownOption, a
// *RefusedOption, or any other error, which reports the value as not
// valid (without the error's own text, which might quote more).
func (u URL) EachOption(fn func(key, value string) error) error {
	keys := make([]string, 0, len(u.options))
	for k := range u.options {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := u.options[k]
		val := v[len(v)-1]
		err := fn(k, val)
		var refused *RefusedOption
		switch {
		case err == nil:
		case errors.Is(err, ErrUnknownOption):
			return u.errorf("unknown option %q", k)
		case errors.As(err, &refused):
			return u.errorf("%s is not accepted in a URL (it shows in ps): %s", k, refused.Reason)
		default:
			return u.errorf("%s=%q: not a valid value", k, val)
		}
	}
	return nil
}

// ParseBool reads a yes/no option: yes, true, 1, on; no, false, 0, off.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "yes", "true", "1", "on":
		return true, nil
	case "no", "false", "0", "off":
		return false, nil
	}
	return false, fmt.Errorf("want yes or no")
}
