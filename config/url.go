package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/radrelay/radrelay/sinks"
	"github.com/radrelay/radrelay/tailer"
)

// typeOfURL returns the sink type of a sink URL ("detail:/path", "jsonl:-",
// "radius://host:port?secret_file=...", "postgres://..."). Its errors never
// quote the URL: it may hold a password.
func typeOfURL(raw string) (*sinks.Type, string, error) {
	i := strings.IndexByte(raw, ':')
	if i <= 0 || !schemeRE.MatchString(raw[:i]) {
		return nil, "", fmt.Errorf("not a sink URL (want TYPE:WHERE, e.g. jsonl:-, detail:/var/log/copy/detail, radius://10.0.0.2:1813?secret_file=/etc/radrelay/secret; the value is not shown, as it may hold a password)")
	}
	scheme := strings.ToLower(raw[:i])
	kind, ok := sinks.LookupScheme(scheme)
	if !ok {
		return nil, "", fmt.Errorf("unknown sink type %q (known: %s)", scheme, strings.Join(sinks.TypeNames(), ", "))
	}
	return kind, kind.Name, nil
}

var schemeRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`)

var nameEqualsRE = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9._-]*)=`)

// SinkFromArg makes a sink from a --to argument: a sink URL, optionally
// preceded by "NAME=" to name the sink (otherwise a name is made from the
// URL), with the sink type's default window. The error never quotes the
// argument: it may hold a password.
func SinkFromArg(arg string) (Sink, error) {
	name, raw := "", arg
	if m := nameEqualsRE.FindStringSubmatch(arg); m != nil && !strings.Contains(m[1], ":") {
		name, raw = m[1], arg[len(m[0]):]
	}
	kind, typ, err := typeOfURL(raw)
	if err != nil {
		return Sink{}, fmt.Errorf("--to: %w", err)
	}
	if name == "" {
		name = NameFromURL(typ, raw)
	}
	window := defaultWindow(kind)
	sc := Sink{
		Name: name, Type: typ, URL: raw, Kind: kind, elem: -1,
		MaxOutstanding: window,
		BatchSize:      defaultBatch(kind, window),
		Retry:          tailer.RetryPolicy{Initial: tailer.DefaultRetryInitial, Max: tailer.DefaultRetryMax},
	}
	if kind.FromURL == nil {
		return sc, fmt.Errorf("--to %s: a %s sink has no URL form", name, typ)
	}
	opts, err := kind.FromURL(raw)
	if err != nil {
		var msgs []string
		for _, fe := range sinks.FieldErrors(err) {
			msgs = append(msgs, fe.Error())
		}
		return sc, fmt.Errorf("--to %s: %s", name, strings.Join(msgs, "; "))
	}
	sc.Options = opts
	return sc, nil
}

var unsafeNameRE = regexp.MustCompile(`[^A-Za-z0-9._]+`)

// NameFromURL makes a stable sink name from a URL: its type and where it
// goes, without user, password or query ("radius-10.0.0.2-1813",
// "detail-var-log-copy-detail", "jsonl-stdout").
func NameFromURL(typ, raw string) string {
	where := raw[strings.IndexByte(raw, ':')+1:]
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		where = u.Host + u.Path
	} else if i := strings.IndexAny(where, "?#"); i >= 0 {
		where = where[:i]
	}
	if i := strings.LastIndexByte(where, '@'); i >= 0 {
		where = where[i+1:] // never a user or a password
	}
	if where == "-" {
		where = "stdout"
	}
	where = strings.Trim(unsafeNameRE.ReplaceAllString(where, "-"), "-.")
	name := typ
	if where != "" {
		name += "-" + where
	}
	if len(name) > 100 {
		name = name[len(name)-100:]
	}
	return strings.TrimLeft(name, "-.")
}
