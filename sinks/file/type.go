package file

import (
	"context"
	"errors"
	"os"
	"strings"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/detail/spool"
	"github.com/radrelay/radrelay/dictionary"
	"github.com/radrelay/radrelay/sinks"
)

// The file sink's types: one per format, so that type = "detail" (or a
// detail:PATH URL) says what is written.
var (
	DetailType = newType(FormatDetail)
	JSONLType  = newType(FormatJSONL)
	CSVType    = newType(FormatCSV)
)

func init() {
	sinks.Register(DetailType)
	sinks.Register(JSONLType)
	sinks.Register(CSVType)
}

func newType(format string) *sinks.Type {
	return &sinks.Type{
		Name:      format,
		Schemes:   []string{format},
		NewConfig: func() sinks.Config { return &typedConfig{format: format} },
		FromURL: func(raw string) (sinks.Config, error) {
			c, err := ConfigFromURL(raw)
			if err != nil {
				return nil, err
			}
			return &typedConfig{Config: c, format: format}, nil
		},
	}
}

// typedConfig is a Config of one of the file types: the type names the
// format, so a format key, if given, must agree with it.
type typedConfig struct {
	Config
	format string
}

// resolved returns the Config with its format set by the type.
func (c *typedConfig) resolved() Config {
	r := c.Config
	r.Format = c.format
	return r
}

// Validate implements sinks.Config: every problem, with its key.
func (c *typedConfig) Validate() error {
	var errs []error
	if c.Format != "" && !strings.EqualFold(c.Format, c.format) {
		errs = append(errs, sinks.Errorf("format", "%q contradicts type %q (leave format out: the type names it)", c.Format, c.format))
	}
	r := c.resolved()
	if _, err := NewEncoder(r.Format, EncoderOptions{Columns: r.Columns}); err != nil {
		errs = append(errs, sinks.Errorf("columns", "%v", err))
	}
	switch r.Path {
	case "":
		errs = append(errs, sinks.Errorf("path", "a %s sink needs path (a file name, a template such as /var/log/radrelay/detail-%%Y%%m%%d, or - for standard output)", r.Format))
	case "-":
	default:
		// The writer checks its template; it opens nothing until a write.
		w, err := spool.New(spool.Options{Template: r.Path})
		if err != nil {
			errs = append(errs, sinks.Errorf("path", "%s", strings.TrimPrefix(err.Error(), "spool: ")))
		} else {
			w.Close()
		}
	}
	if _, _, err := spool.ParseDurability(r.Fsync); err != nil {
		errs = append(errs, sinks.Errorf("fsync", "%v", err))
	}
	for _, m := range []struct{ key, v string }{{"file_mode", r.FileMode}, {"dir_mode", r.DirMode}} {
		if _, err := parseMode(m.v); err != nil {
			errs = append(errs, sinks.Errorf(m.key, "%s", strings.TrimPrefix(err.Error(), "file sink: ")))
		}
	}
	return errors.Join(errs...)
}

// CheckEnvironment implements sinks.EnvironmentChecker: an output path that
// is a directory is a configuration mistake, refused at start (writing
// into it would otherwise fail, and be retried, for ever).
func (c *typedConfig) CheckEnvironment() error {
	for _, p := range c.OutputPaths() {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			return sinks.Errorf("path", "%s is a directory: give the name of a file to write (or a template such as %s/detail-%%Y%%m%%d)", p, strings.TrimSuffix(p, "/"))
		}
	}
	return nil
}

// Effective implements sinks.Config.
func (c *typedConfig) Effective() sinks.Config {
	return &typedConfig{Config: c.resolved().WithDefaults(), format: c.format}
}

// Redacted implements sinks.Config: a file sink holds no secret.
func (c *typedConfig) Redacted() sinks.Config { r := *c; return &r }

// OutputPaths implements sinks.Outputs: the file a record received now
// would go to (attribute fields of the template read "unknown").
func (c *typedConfig) OutputPaths() []string {
	if c.Path == "-" || c.Path == "" {
		return nil
	}
	w, err := spool.New(spool.Options{Template: c.Path})
	if err != nil {
		return nil
	}
	defer w.Close()
	return []string{w.Path(&detail.Record{})}
}

// Open implements sinks.Config. JSON lines carry typed values, as "radrelay
// cat --format json" writes them, from the configuration's dictionary.
func (c *typedConfig) Open(_ context.Context, env sinks.Env) (sinks.Sink, error) {
	r := c.resolved()
	if r.Format == FormatJSONL && r.Values == nil && r.Dictionary == nil {
		d := dictionary.Builtin()
		if env.Dictionary != "" {
			if err := d.LoadFile(env.Dictionary); err != nil {
				return nil, err
			}
		}
		r.Dictionary = d // types values as d.JSONValue would, faster
	}
	s, err := New(r)
	if err != nil {
		return nil, err // not a nil *Sink in a non-nil interface
	}
	return s, nil
}
