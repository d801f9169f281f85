package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/radrelay/radrelay/config"
)

// TestExamplesParse keeps examples/*.toml valid: each parses and passes the
// configuration checks (the files they name need not exist here).
func TestExamplesParse(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*.toml")
	if len(files) == 0 {
		t.Fatal("no examples/*.toml found: they are committed with the repository")
	}
	for _, f := range files {
		replay := strings.Contains(filepath.Base(f), "replay")
		if _, err := config.Load(f, config.Options{Replay: replay, Offline: true}); err != nil {
			t.Errorf("%v", err)
		}
	}
}
