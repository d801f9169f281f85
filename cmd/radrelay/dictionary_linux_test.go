//go:build linux

package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestDictionaryVendors(t *testing.T) {
	code, out, errs := runBinary(t, nil, "dictionary", "vendors")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.HasPrefix(lines[0], "NUMBER") {
		t.Errorf("no header: %q", lines[0])
	}
	// FreeRADIUS 3.2.1's tree has 183 vendors; every VSA format is there.
	if n := len(lines) - 1; n < 183 {
		t.Errorf("%d vendors, want at least FreeRADIUS's 183", n)
	}
	for _, want := range []string{
		`(?m)^9 +Cisco +1,1 +\d+ +built-in FreeRADIUS 3\.2\.1 dictionary\.cisco$`,
		`(?m)^429 +USR +4,0 +414 +built-in FreeRADIUS 3\.2\.1 dictionary\.usr$`,
		`(?m)^4846 +Lucent +2,1 +\d+ +built-in FreeRADIUS 3\.2\.1 dictionary\.lucent$`,
		`(?m)^8164 +Starent +2,2 +\d+ `,
		`(?m)^24757 +WiMAX +1,1,c +\d+ `,
		`(?m)^2352 +Ericsson-AB, Redback +1,1 +\d+ `,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("no line matching %s in:\n%s", want, out)
		}
	}
}

func TestDictionaryShow(t *testing.T) {
	dir := t.TempDir()
	user := filepath.Join(dir, "dictionary.local")
	os.WriteFile(user, []byte("VENDOR\tExample\t99999\n\nBEGIN-VENDOR\tExample\nATTRIBUTE\tExample-Quota\t2\tinteger64\nATTRIBUTE\tExample-Class\t3\tinteger\nVALUE\tExample-Class\tGold\t1\nEND-VENDOR\tExample\nVALUE\tAcct-Status-Type\tBegin\t1\n"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string // regular expressions the output must match
	}{
		{"generated attribute", []string{"show", "acct-status-type"}, 0, []string{
			`(?m)^attribute +Acct-Status-Type$`, `(?m)^number +40 \(Attr-40\)$`, `(?m)^type +integer$`,
			`(?m)^source +built-in FreeRADIUS 3\.2\.1 dictionary\.rfc2866$`,
			`(?m)^  1 +Start$`, `(?m)^  3 +Alive +\(read only; printed as Interim-Update\)$`}},
		{"primary-source spelling", []string{"show", "Mikrotik-Wireless-VLANID-type"}, 0, []string{
			`(?m)^source +built-in builtin/vendor-mikrotik\.dict:\d+$`,
			`(?m)^printed as +Mikrotik-Wireless-VLANID-Type \(built-in FreeRADIUS 3\.2\.1 dictionary\.mikrotik\)`}},
		{"by number", []string{"show", "26.429.72"}, 0, []string{`(?m)^attribute +USR-DTE-Data-Idle-Timout$`, `(?m)^vendor +USR \(429\), format=4,0$`}},
		{"vendor", []string{"show", "Lucent"}, 0, []string{`(?m)^vendor +Lucent$`, `(?m)^format +2,1$`,
			`(?m)^  26\.4846\.\d+ +Lucent-\S+ +\S+ +built-in FreeRADIUS 3\.2\.1 dictionary\.lucent$`}},
		{"vendor by number", []string{"show", "26.4846"}, 0, []string{`(?m)^vendor +Lucent$`}},
		{"tlv members", []string{"show", "WiMAX-Capability"}, 0, []string{`(?m)^  26\.24757\.1\.1 +WiMAX-Release +string `}},
		{"user file", []string{"--dictionary", user, "show", "Example-Class", "Example", "Acct-Status-Type"}, 0, []string{
			`(?m)^source +` + regexp.QuoteMeta(user) + `:5$`, `(?m)^  1 +Gold$`,
			`(?m)^vendor +Example$`, `(?m)^source +` + regexp.QuoteMeta(user) + `:1$`,
			`(?m)^  26\.99999\.2 +Example-Quota +integer64 +` + regexp.QuoteMeta(user) + `:4$`,
			`(?m)^  1 +Begin$`, `(?m)^  1 +Start +\(read only; printed as Begin\)$`}},
		{"flag after the subcommand", []string{"show", "--dictionary", user, "Example-Quota"}, 0, []string{`(?m)^source +` + regexp.QuoteMeta(user) + `:4$`}},
		{"unknown name", []string{"show", "Not-An-Attribute-Anywhere"}, 1, nil},
		{"no name", []string{"show"}, 2, nil},
		{"empty name", []string{"show", ""}, 2, nil},
		{"no subcommand", nil, 2, nil},
		{"unknown subcommand", []string{"list"}, 2, nil},
		{"missing dictionary", []string{"--dictionary", filepath.Join(dir, "missing"), "vendors"}, 2, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runBinary(t, nil, append([]string{"dictionary"}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stdout:\n%s\nstderr:\n%s", code, tc.code, out, errs)
			}
			if code != 0 && errs == "" {
				t.Error("no message on stderr")
			}
			for _, w := range tc.want {
				if !regexp.MustCompile(w).MatchString(out) {
					t.Errorf("no match for %s in:\n%s", w, out)
				}
			}
		})
	}
}
