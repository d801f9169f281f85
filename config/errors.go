package config

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem of a configuration, at a line of its file.
type Error struct {
	File string
	Line int // 0 when the problem has no single line
	Msg  string
}

func (e Error) Error() string {
	switch {
	case e.File != "" && e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	case e.File != "":
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return e.Msg
}

// Errors is every problem found in a configuration, sorted by file and line.
type Errors []Error

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// sorted returns es sorted by file and line, in the order found within a
// line, without repeats.
func (es Errors) sorted() Errors {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].File != es[j].File {
			return es[i].File < es[j].File
		}
		return es[i].Line < es[j].Line
	})
	out := es[:0]
	for _, e := range es {
		if len(out) > 0 && e == out[len(out)-1] {
			continue
		}
		out = append(out, e)
	}
	return out
}

// collector gathers the problems of one configuration.
type collector struct {
	file string
	errs Errors
}

func (c *collector) errorf(line int, format string, args ...any) {
	c.errs = append(c.errs, Error{File: c.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}
