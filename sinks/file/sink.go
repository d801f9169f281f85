package file

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"sync"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/detail/spool"
	"github.com/radrelay/radrelay/dictionary"
	"github.com/radrelay/radrelay/sinks"
)

// Config configures a file sink.
type Config struct {
	// Format is detail, jsonl or csv.
	Format string `toml:"format"`
	// Path is the file to append to, or "-" for standard output. It is a
	// spool.Options.Template: time fields (%Y %m %d %H ...) rotate
	// files and %{Attribute} fields choose them per record, e.g.
	// /var/log/radrelay/%{Client-IP-Address}/detail-%Y%m%d.
	Path string `toml:"path"`
	// Fsync is when records are forced to disk: "none" (default), "each"
	// record before it is acknowledged, or an interval such as "1s".
	Fsync string `toml:"fsync"`
	// Lock takes FreeRADIUS's whole-file fcntl write lock around each
	// record (set it when FreeRADIUS or radrelay consumes the files).
	Lock bool `toml:"lock"`
	// Columns are the CSV columns (default DefaultColumns).
	Columns []string `toml:"columns"`
	// FileMode and DirMode are the permissions of new files and
	// directories, as octal strings (default "0600" and "0700").
	FileMode string `toml:"file_mode"`
	DirMode  string `toml:"dir_mode"`
	// Values types the attribute values of jsonl output (e.g. a
	// dictionary's JSONValue), as "radrelay cat --format json" does; nil
	// writes every value as a string. Set by the program, not the file.
	Values ValueFunc `toml:"-"`
	// Dictionary, when set, types the values of jsonl output as Values
	// set to its JSONValue would, without an allocation per value (see
	// EncoderOptions.Dictionary); Values is then not used. Set by the
	// program, not the file.
	Dictionary *dictionary.Dictionary `toml:"-"`
}

// WithDefaults returns c with every unset key at the value the sink uses,
// for showing an effective configuration ("radrelay validate --print").
func (c Config) WithDefaults() Config {
	if c.Fsync == "" {
		c.Fsync = "none"
	}
	if c.FileMode == "" {
		c.FileMode = "0600"
	}
	if c.DirMode == "" {
		c.DirMode = "0700"
	}
	if strings.EqualFold(c.Format, FormatCSV) && len(c.Columns) == 0 {
		c.Columns = append([]string(nil), DefaultColumns...)
	}
	return c
}

// ConfigFromURL parses the URL form of a file sink: FORMAT:PATH, where FORMAT
// is detail, jsonl or csv and PATH is a file name template or "-":
//
//	detail:/var/spool/radrelay/copy/detail-%Y%m%d
//	jsonl:-
//	csv:/var/log/radrelay/accounting-%Y%m%d.csv?fsync=each
//
// Options may follow a '?': fsync=none|each|DURATION, lock=yes|no,
// columns=A,B,C (csv), file_mode=0640, dir_mode=0750.
func ConfigFromURL(raw string) (Config, error) {
	var c Config
	i := strings.IndexByte(raw, ':')
	if i <= 0 {
		return c, fmt.Errorf("file sink URL: want FORMAT:PATH, e.g. detail:/var/spool/copy/detail-%%Y%%m%%d or jsonl:-")
	}
	c.Format, c.Path = strings.ToLower(raw[:i]), raw[i+1:]
	if strings.HasPrefix(c.Path, "//") {
		c.Path = c.Path[2:] // detail:///var/... as a URL would be written
	}
	if q := strings.LastIndexByte(c.Path, '?'); q >= 0 {
		vals, err := url.ParseQuery(c.Path[q+1:])
		if err != nil {
			return c, fmt.Errorf("file sink URL: options: %w", err)
		}
		c.Path = c.Path[:q]
		for k, v := range vals {
			val := v[len(v)-1]
			switch k {
			case "fsync":
				c.Fsync = val
			case "lock":
				switch strings.ToLower(val) {
				case "yes", "true", "1", "on":
					c.Lock = true
				case "no", "false", "0", "off":
					c.Lock = false
				default:
					return c, fmt.Errorf("file sink URL: lock=%q: want yes or no", val)
				}
			case "columns":
				c.Columns = strings.Split(val, ",")
			case "file_mode":
				c.FileMode = val
			case "dir_mode":
				c.DirMode = val
			default:
				return c, fmt.Errorf("file sink URL: unknown option %q (want fsync, lock, columns, file_mode, dir_mode)", k)
			}
		}
	}
	return c, c.validate()
}

func (c Config) validate() error {
	if _, err := NewEncoder(c.Format, EncoderOptions{Columns: c.Columns}); err != nil {
		return fmt.Errorf("file sink: %w", err)
	}
	if c.Path == "" {
		return errors.New("file sink: empty path (want a file name or - for standard output)")
	}
	if _, _, err := spool.ParseDurability(c.Fsync); err != nil {
		return fmt.Errorf("file sink: %w", err)
	}
	for _, m := range []string{c.FileMode, c.DirMode} {
		if _, err := parseMode(m); err != nil {
			return err
		}
	}
	return nil
}

func parseMode(s string) (os.FileMode, error) {
	if s == "" {
		return 0, nil
	}
	var m uint32
	if _, err := fmt.Sscanf(s, "%o", &m); err != nil || m == 0 || m > 0o777 {
		return 0, fmt.Errorf("file sink: mode %q: want octal permissions such as 0600", s)
	}
	return os.FileMode(m), nil
}

// Sink writes records to a file (or standard output). Each record is written
// in one write(2) and, with fsync=each, is on disk before Send acknowledges
// it. Writing errors (a full disk) are retryable.
type Sink struct {
	enc *Encoder
	fw  *spool.Writer // nil when writing to standard output

	mu     sync.Mutex // for stdout
	out    *bufio.Writer
	header bool // stdout: header row written
	buf    []byte
}

var _ sinks.Sink = (*Sink)(nil)

// New opens a file sink. Files are created on the first record.
func New(cfg Config) (*Sink, error) {
	return open(cfg, os.Stdout)
}

func open(cfg Config, stdout io.Writer) (*Sink, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	enc, err := NewEncoder(cfg.Format, EncoderOptions{Columns: cfg.Columns, Values: cfg.Values, Dictionary: cfg.Dictionary})
	if err != nil {
		return nil, err
	}
	s := &Sink{enc: enc}
	if cfg.Path == "-" {
		s.out = bufio.NewWriterSize(stdout, 64<<10)
		return s, nil
	}
	dur, interval, _ := spool.ParseDurability(cfg.Fsync)
	fileMode, _ := parseMode(cfg.FileMode)
	dirMode, _ := parseMode(cfg.DirMode)
	s.fw, err = spool.New(spool.Options{
		Template:     cfg.Path,
		Lock:         cfg.Lock,
		Durability:   dur,
		SyncInterval: interval,
		FileMode:     fileMode,
		DirMode:      dirMode,
		Encode:       enc.Append,
		Header:       enc.Header(),
	})
	if err != nil {
		return nil, fmt.Errorf("file sink: %w", err)
	}
	return s, nil
}

// Send writes recs in order; see sinks.Sink.
func (s *Sink) Send(ctx context.Context, recs []*detail.Record, results []error) {
	if s.fw != nil {
		if err := ctx.Err(); err != nil {
			for i := range results {
				results[i] = err
			}
			return
		}
		s.fw.WriteBatch(recs, results)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, rec := range recs {
		if err := ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		s.buf = s.buf[:0]
		if !s.header {
			s.buf = append(s.buf, s.enc.Header()...)
			s.header = true
		}
		s.buf = s.enc.Append(s.buf, rec)
		_, results[i] = s.out.Write(s.buf)
	}
	// Acknowledged records must have left the process.
	if err := s.out.Flush(); err != nil {
		for i := range results {
			if results[i] == nil {
				results[i] = fmt.Errorf("file sink: writing to standard output: %w", err)
			}
		}
	}
}

// Close flushes and closes the files.
func (s *Sink) Close() error {
	if s.fw != nil {
		return s.fw.Close()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.Flush()
}
