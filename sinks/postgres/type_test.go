package postgres

import (
	"errors"
	"strings"
	"testing"

	"github.com/radrelay/radrelay/sinks/sinktest"
)

// TestRedactEveryPassword: every password-bearing parameter of both DSN
// forms is redacted, and a URL that does not parse is not shown at all.
func TestRedactEveryPassword(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:S3cret@h/db?sslpassword=K3y&sslmode=verify-full": "postgres://u:xxxxx@h/db?sslmode=verify-full&sslpassword=xxxxx",
		"host=h password=S3cret sslpassword=K3y dbname=x":              "host=h password=xxxxx sslpassword=xxxxx dbname=x",
		"host=h sslpassword='K3y S3cret'":                              "host=h sslpassword=xxxxx",
		"postgres://radrelay:Pa%S3cret!@127.0.0.1:1/radius":            "postgres://(a URL that does not parse, not shown)",
		"postgres://u:S3cret@[::1/db":                                  "postgres://(a URL that does not parse, not shown)",
	} {
		got := RedactDSN(in)
		if got != want || strings.Contains(got, "S3cret") || strings.Contains(got, "K3y") {
			t.Errorf("RedactDSN(%q) = %q, want %q", in, got, want)
		}
		if !hasInlinePassword(in) {
			t.Errorf("hasInlinePassword(%q) = false", in)
		}
		c := Config{DSN: in}
		if r := c.Redacted().(*Config).DSN; r != want {
			t.Errorf("Redacted DSN %q, want %q", r, want)
		}
	}
	if hasInlinePassword("postgres://u@h/db") || hasInlinePassword("host=/run/postgresql dbname=radius") {
		t.Error("a DSN without a password has one")
	}
	msg := redactError(errors.New(`failed: password=S3cret rejected for "host=h password=S3cret"`), "host=h password=S3cret")
	if strings.Contains(msg, "S3cret") {
		t.Errorf("redactError left the password: %s", msg)
	}
}

// TestNeverEchoUnparsable: a DSN or URL that does not parse is never
// quoted, by the URL parser, the sink's checks or ParseDSN.
func TestNeverEchoUnparsable(t *testing.T) {
	for _, bad := range []string{"postgres://radrelay:Pa%S3cret!@127.0.0.1:1/radius", "postgres://u:S3cret@[::1/db"} {
		_, err := ConfigFromURL(bad)
		if err == nil || strings.Contains(err.Error(), "S3cret") || strings.Contains(err.Error(), "%S3") {
			t.Errorf("ConfigFromURL: %v", err)
		}
		c := &Config{DSN: bad}
		err = c.CheckEnvironment()
		if err == nil || strings.Contains(err.Error(), "S3cret") || strings.Contains(err.Error(), "%S3") {
			t.Errorf("CheckEnvironment: %v", err)
		}
		if _, err := ParseDSN(bad); err == nil || strings.Contains(err.Error(), "S3cret") {
			t.Errorf("ParseDSN: %v", err)
		}
	}
	c := &Config{DSN: "postgres://u:S3cret@h/db"}
	ws := c.Warnings()
	if len(ws) != 1 || !strings.Contains(ws[0].Error(), "dsn_file") || !strings.Contains(ws[0].Error(), "PGPASSFILE") || strings.Contains(ws[0].Error(), "S3cret") {
		t.Errorf("warnings: %v", ws)
	}
}

// TestValidateFieldPaths: every problem is reported, each at its key.
func TestValidateFieldPaths(t *testing.T) {
	f := false
	c := &Config{LiveSessions: &f, History: &f, HistoryTable: strings.Repeat("h", 60), TransactionSize: -1}
	if got := strings.Join(sinktest.ErrorFields(c.Validate()), ","); got != "history,history_table,dsn,transaction_size" {
		t.Errorf("fields %s", got)
	}
}
