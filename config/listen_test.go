package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestListenTable(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "nas.secret")
	os.WriteFile(secret, []byte("s3cret\n"), 0o600)
	tests := []struct {
		name    string
		src     string
		wantErr string // "" = valid
	}{
		{"spool only", `
[[listen]]
udp = ["127.0.0.1:1813", "[::1]:1813"]
spool_dir = "` + dir + `/spool"
  [[listen.client]]
  address = "10.0.0.0/8"
  secret_file = "` + secret + `"
`, ""},
		{"with a sink: state_dir needed", `
[[listen]]
udp = ["127.0.0.1:1813"]
spool_dir = "` + dir + `/spool"
  [[listen.client]]
  address = "10.0.0.1"
  secret_file = "` + secret + `"
[[sink]]
name = "copy"
type = "detail"
path = "` + dir + `/out"
`, "state_dir is required"},
		{"client without a secret", `
[[listen]]
udp = ["127.0.0.1:1813"]
spool_dir = "/tmp/x"
  [[listen.client]]
  address = "10.0.0.1"
`, "no secret_file or secret_env"},
		{"bad address", `
[[listen]]
udp = ["127.0.0.1"]
spool_dir = "/tmp/x"
  [[listen.client]]
  address = "10.0.0.300"
  secret_file = "` + secret + `"
`, `client "10.0.0.300": not an address`},
		{"unknown key", `
[[listen]]
udp = ["127.0.0.1:1813"]
spool = "/tmp/x"
`, `radrelay.toml:4: listen: unknown key "spool"`},
		{"radsec without certificates", `
[[listen]]
radsec = ["127.0.0.1:2083"]
spool_dir = "/tmp/x"
`, "certificate_file: required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("radrelay.toml", tt.src, Options{})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(cfg.Listen) != 1 {
					t.Fatalf("%d listen tables", len(cfg.Listen))
				}
				lc, err := cfg.ListenerConfig(0, nil)
				if err != nil || len(lc.Clients) != 1 || lc.Clients[0].Secret != "s3cret" {
					t.Fatalf("listener config %+v, %v", lc, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
			}
		})
	}
}

// TestPrintListenRadSecDefaults: validate --print shows the RadSec
// server's defaults (256 connections, 5m idle, TLS 1.2), not the zeros
// that stand for them, and what was set as it was set.
func TestPrintListenRadSecDefaults(t *testing.T) {
	tests := []struct {
		name, keys string
		want       []string
	}{
		{"defaults", "", []string{`max_connections = 256`, `idle_timeout = "5m0s"`, `tls_min_version = "1.2"`}},
		{"set", "max_connections = 8\nidle_timeout = \"30s\"\ntls_min_version = \"1.3\"\n",
			[]string{`max_connections = 8`, `idle_timeout = "30s"`, `tls_min_version = "1.3"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := `
[[listen]]
radsec = ["127.0.0.1:2083"]
spool_dir = "/tmp/x"
certificate_file = "/etc/radrelay/tls/server.pem"
private_key_file = "/etc/radrelay/tls/server.key"
ca_file = "/etc/radrelay/tls/ca.pem"
` + tt.keys
			cfg, err := Parse("radrelay.toml", src, Options{Offline: true})
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			if err := cfg.Print(&b); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("printed configuration has no %s:\n%s", w, b.String())
				}
			}
		})
	}
}
