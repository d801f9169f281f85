package main

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// allowedImports is ARCHITECTURE.md's table: the radrelay packages each
// package's non-test code may import. A pattern ending in "/*" stands for
// the packages below it.
var allowedImports = map[string][]string{
	"detail":          {},
	"detail/spool":    {"detail"},
	"archive":         {},
	"dictionary":      {"detail"},
	"radsec":          {},
	"sinks":           {"detail"},
	"sinks/*":         {"detail", "detail/spool", "dictionary", "sinks", "radsec"},
	"sinks/route":     {"detail", "sinks"},
	"sinks/stream":    {"detail", "dictionary", "sinks", "sinks/file"},
	"sinks/nats":      {"detail", "dictionary", "sinks", "sinks/stream"},
	"sinks/kafka":     {"detail", "dictionary", "sinks", "sinks/stream"},
	"sinks/all":       {"sinks/*"},
	"tailer":          {"detail", "archive", "sinks"},
	"config":          {"detail", "dictionary", "sinks", "sinks/route", "tailer", "listener", "radsec"},
	"listener":        {"detail", "detail/spool", "dictionary", "radsec"},
	"bench":           {"detail"},
	"bench/bngcorpus": {},
}

// TestImportRules keeps the package graph as ARCHITECTURE.md draws it.
func TestImportRules(t *testing.T) {
	const module = "github.com/radrelay/radrelay/"
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	match := func(pattern, pkg string) bool {
		if p, ok := strings.CutSuffix(pattern, "/*"); ok {
			return strings.HasPrefix(pkg, p+"/")
		}
		return pattern == pkg
	}
	for {
		var p struct {
			ImportPath string
			GoFiles    []string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkg := strings.TrimPrefix(p.ImportPath, module)
		if strings.HasPrefix(pkg, "cmd/") || strings.HasPrefix(pkg, "internal/") || strings.Contains(pkg, "/internal/") || len(p.GoFiles) == 0 {
			continue // commands, test helpers, packages of tests only
		}
		rule, ok := allowedImports[pkg]
		if !ok {
			for pattern, r := range allowedImports {
				if strings.HasSuffix(pattern, "/*") && match(pattern, pkg) {
					rule, ok = r, true
				}
			}
		}
		if !ok {
			t.Errorf("package %s is not in ARCHITECTURE.md's import table", pkg)
			continue
		}
		for _, imp := range p.Imports {
			dep, ours := strings.CutPrefix(imp, module)
			if !ours {
				continue
			}
			allowed := false
			for _, a := range rule {
				allowed = allowed || match(a, dep)
			}
			if !allowed {
				t.Errorf("%s imports %s, which ARCHITECTURE.md does not allow", pkg, dep)
			}
		}
	}
}
