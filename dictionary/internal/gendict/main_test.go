package main

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/radrelay/radrelay/dictionary"
)

// TestGenerateTakesFactsOnly: the generated source names its source,
// version and licence, holds the definitions, is valid Go, and carries no
// comment or other text of the dictionary it was made from.
func TestGenerateTakesFactsOnly(t *testing.T) {
	dir := t.TempDir()
	tree := filepath.Join(dir, "dictionary")
	os.WriteFile(tree, []byte(`# PROSE-IN-A-HEADER: must not be copied
$INCLUDE dictionary.example
ATTRIBUTE	User-Name	1	string	# PROSE-AFTER-A-LINE
ATTRIBUTE	Acct-Status-Type	40	integer
VALUE	Acct-Status-Type	Start	1
VALUE	Acct-Status-Type	Alive	3
VALUE	Acct-Status-Type	Interim-Update	3
`), 0o644)
	os.WriteFile(filepath.Join(dir, "dictionary.example"), []byte(`# PROSE-IN-A-VENDOR-FILE
VENDOR	Example	99999	format=2,1
BEGIN-VENDOR	Example
ATTRIBUTE	Example-Quota	300	integer64
ATTRIBUTE	Example-Tunnel	2	string	has_tag,encrypt=2
END-VENDOR	Example
`), 0o644)
	d, err := dictionary.Load(tree)
	if err != nil {
		t.Fatal(err)
	}
	src, err := generate(d, tree, "9.9.9", "9.9.9+dfsg-1")
	if err != nil {
		t.Fatal(err)
	}
	out := string(src)
	if strings.Contains(out, "PROSE") {
		t.Errorf("a comment of the source reached the output:\n%s", out)
	}
	for _, want := range []string{
		"Code generated", "//go:build !gendict", "FreeRADIUS 9.9.9", "freeradius-common 9.9.9+dfsg-1", "CC BY 4.0",
		`const FreeRADIUSVersion = "9.9.9"`,
		`{"Example", 99999, 0x22, `, // format 2,1
		`"Example-Quota", "example-quota", 0, 99999, 300, TypeInteger64,`,
		`"Example-Tunnel", "example-tunnel", 0, 99999, 2, TypeString, 0xc1, 2, 0,`, // has_tag, encrypt=2, printed, bound
		`"FreeRADIUS 9.9.9 dictionary.example"`,
		`"Alive", 3, false}`, `"Interim-Update", 3, true}`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := parser.ParseFile(token.NewFileSet(), "gen.go", src, parser.AllErrors); err != nil {
		t.Errorf("not valid Go: %v", err)
	}
}
