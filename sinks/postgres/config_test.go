package postgres

import (
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

func TestConfigFromURL(t *testing.T) {
	c, err := ConfigFromURL("postgresql://rr:pw@db.example.net:5433/radius?sslmode=verify-full&history=false&live_table=acct.live&transaction_size=200&statement_timeout=5s&store_class=1&detect_reboots=true&reboot_cause=Lost-NAS")
	if err != nil {
		t.Fatal(err)
	}
	if c.historyEnabled() || !c.liveEnabled() || c.LiveTable != "acct.live" || c.TransactionSize != 200 ||
		c.StatementTimeout != 5*time.Second || !c.StoreClass || !c.DetectReboots || c.RebootCause != "Lost-NAS" {
		t.Errorf("settings not taken: %+v", c)
	}
	if c.historyAttributesType() != "json" {
		t.Errorf("history_attributes_type %q by default, want json", c.historyAttributesType())
	}
	if c, err := ConfigFromURL("postgres://x/y?history_attributes_type=JSONB"); err != nil || c.historyAttributesType() != "jsonb" {
		t.Errorf("history_attributes_type=JSONB: %q, %v", c.historyAttributesType(), err)
	}
	if c.DSN != "postgresql://rr:pw@db.example.net:5433/radius?sslmode=verify-full" {
		t.Errorf("DSN %q: radrelay's parameters should be gone, the driver's kept", c.DSN)
	}
	for _, bad := range []string{
		"mysql://x/y",
		"postgres://x/y?transaction_size=many",
		"postgres://x/y?history=false&live_sessions=false",
		"postgres://x/y?live_table=bad-name",
		"postgres://x/y?detect_reboots=maybe",
		"postgres://x/y?detect_reboots=1&live_sessions=false",
		"postgres://x/y?history_attributes_type=text",
	} {
		if _, err := ConfigFromURL(bad); err == nil {
			t.Errorf("ConfigFromURL(%q) succeeded", bad)
		}
	}
}

func TestConfigTOML(t *testing.T) {
	var c Config
	md, err := toml.Decode(`
dsn_env = "PGDSN"
history = false
transaction_size = 1000
statement_timeout = "30s"
`, &c)
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Undecoded()) != 0 {
		t.Errorf("undecoded keys: %v", md.Undecoded())
	}
	if c.historyEnabled() || !c.liveEnabled() || !c.createSchema() || c.TransactionSize != 1000 || c.StatementTimeout != 30*time.Second {
		t.Errorf("got %+v", c)
	}
	t.Setenv("PGDSN", " postgres://a@b/c \n")
	if dsn, err := c.ResolveDSN(); err != nil || dsn != "postgres://a@b/c" {
		t.Errorf("ResolveDSN = %q, %v", dsn, err)
	}
	if err := (Config{}).validate(); err == nil {
		t.Error("a Config without DSN validated")
	}
	if err := (Config{DSN: "x", DSNEnv: "y"}).validate(); err == nil {
		t.Error("a Config with two DSN sources validated")
	}
}

func TestRedactDSN(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:secret@h/db":                    "postgres://u:xxxxx@h/db",
		"postgres://u@h/db?password=secret&sslmode=a": "postgres://u@h/db?password=xxxxx&sslmode=a",
		"host=h password=secret dbname=x":             "host=h password=xxxxx dbname=x",
		"host=h password='sec ret' dbname=x":          "host=h password=xxxxx dbname=x",
	} {
		got := RedactDSN(in)
		if got != want || strings.Contains(got, "secret") {
			t.Errorf("RedactDSN(%q) = %q, want %q", in, got, want)
		}
	}
}
