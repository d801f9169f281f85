//go:build linux

package main

import (
	"strings"
	"testing"
)

// TestHelpTextsWrapped: what "radrelay CMD --help" prints reads in an
// 80-column terminal: its paragraphs are wrapped below 80 columns (the
// indented synopses and examples are commands, left as they are), and the
// status options fit too.
func TestHelpTextsWrapped(t *testing.T) {
	for _, name := range commandNames() {
		code, out, errOut := radrelayOutput(t, name, "--help")
		if code != 0 {
			t.Errorf("%s --help: exit %d, %s", name, code, errOut)
			continue
		}
		out = out + errOut
		text, options, _ := strings.Cut(out, "\nOptions:\n")
		for i, line := range strings.Split(text, "\n") {
			if !strings.HasPrefix(line, " ") && len([]rune(line)) >= 80 {
				t.Errorf("%s --help, line %d has %d columns: %q", name, i+1, len([]rune(line)), line)
			}
		}
		if name != "status" {
			continue
		}
		for _, line := range strings.Split(options, "\n") {
			if w := len(strings.ReplaceAll(line, "    \t", "        ")); w > 82 {
				t.Errorf("status --help, option line of %d columns: %q", w, line)
			}
		}
		if !strings.Contains(text, `"unknown" when the status file cannot be read.`) {
			t.Errorf("status --help does not say what the state \"unknown\" means:\n%s", text)
		}
	}
}
