package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/radrelay/radrelay/sinks"
)

// Warnings notes what may be a mistake but may also be fine: directories
// made later (by a package or by radrelay itself), two inputs matching one
// file, secrets written where others can read them. Each is an Error (its
// file and line); none stops radrelay.
func (cfg *Config) Warnings() Errors {
	c := &collector{file: cfg.File}
	for _, in := range cfg.Inputs {
		if dirs, _ := filepath.Glob(filepath.Dir(in.Glob)); len(dirs) == 0 {
			c.errorf(0, "warning: input %q: no directory matches %s yet", in.Glob, filepath.Dir(in.Glob))
		}
	}
	// Two inputs taking the same file would deliver it twice (and, in
	// consume mode, fight over its work file).
	owner := map[string]string{}
	for _, in := range cfg.Inputs {
		matches, _ := filepath.Glob(in.Glob)
		for _, m := range matches {
			if prev, ok := owner[m]; ok && prev != in.Glob {
				c.errorf(0, "warning: inputs %q and %q both match %s: its records would be read twice", prev, in.Glob, m)
				break
			}
			owner[m] = in.Glob
		}
	}
	for _, d := range []struct{ key, dir string }{{"state_dir", cfg.StateDir}, {"quarantine_dir", cfg.QuarantineDir}} {
		if d.dir == "" || (cfg.Replay && d.key == "state_dir") {
			continue // replay ignores state_dir (it takes --state)
		}
		st, err := os.Stat(d.dir)
		switch {
		case err == nil && !st.IsDir():
			c.errorf(0, "warning: %s %s is not a directory", d.key, d.dir)
		case err == nil && syscall.Access(d.dir, 2 /* W_OK */) != nil:
			c.errorf(0, "warning: %s %s is not writable by this user", d.key, d.dir)
		case errors.Is(err, fs.ErrNotExist):
			c.errorf(0, "warning: %s %s does not exist yet (radrelay creates it)", d.key, d.dir)
		}
	}
	return append(c.errs, cfg.SinkWarnings()...)
}

// SinkWarnings are the warnings of the sinks themselves (a secret written
// where others can read it), which "radrelay run" logs too.
func (cfg *Config) SinkWarnings() Errors {
	c := &collector{file: cfg.File}
	for i := range cfg.Sinks {
		s := &cfg.Sinks[i]
		w, ok := s.Options.(sinks.Warner)
		if !ok {
			continue
		}
		for _, err := range w.Warnings() {
			for _, fe := range sinks.FieldErrors(err) {
				line := cfg.fieldLine(s, fe.Field)
				if s.elem >= 0 && s.URL == "" {
					line = s.Line
				}
				c.errorf(line, "warning: sink %q: %s", s.Name, fe.Error())
			}
		}
	}
	return c.errs
}
