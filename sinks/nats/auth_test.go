package nats

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/radrelay/radrelay/internal/testpki"
	"github.com/radrelay/radrelay/sinks/sinktest"
)

// TestAuthentication: a token from a file or a variable, an NKey seed, and
// mutual TLS each get records into a server that requires them; the wrong
// token is a retryable failure, never a delivery.
func TestAuthentication(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := user.Seed()
	pub, _ := user.PublicKey()
	ca := testpki.NewCA(t, dir, "nats-ca")
	srvPair := ca.Issue(t, "nats-server", testpki.Options{})
	cliPair := ca.Issue(t, "radrelay", testpki.Options{Client: true})
	t.Setenv("RADRELAY_TEST_NATS_TOKEN", "t0ken")

	for _, tc := range []struct {
		name   string
		server func(*server.Options)
		config func(*Config)
		fails  bool
	}{
		{"token_file", func(o *server.Options) { o.Authorization = "t0ken" }, func(c *Config) { c.TokenFile = write("token", "t0ken\n") }, false},
		{"token_env", func(o *server.Options) { o.Authorization = "t0ken" }, func(c *Config) { c.TokenEnv = "RADRELAY_TEST_NATS_TOKEN" }, false},
		{"wrong token", func(o *server.Options) { o.Authorization = "t0ken" }, func(c *Config) { c.TokenFile = write("bad", "nope\n") }, true},
		{"nkey_file", func(o *server.Options) { o.Nkeys = []*server.NkeyUser{{Nkey: pub}} }, func(c *Config) { c.NKeyFile = write("user.nk", string(seed)) }, false},
		{"mutual TLS", func(o *server.Options) {
			tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: srvPair.CertFile, KeyFile: srvPair.KeyFile, CaFile: ca.File, Verify: true})
			if err != nil {
				t.Fatal(err)
			}
			o.TLSConfig, o.TLS, o.TLSVerify = tc, true, true
		}, func(c *Config) {
			c.TLSCAFile, c.TLSCertFile, c.TLSKeyFile = ca.File, cliPair.CertFile, cliPair.KeyFile
			for i, s := range c.Servers {
				_, hostport, _ := strings.Cut(s, "://") // ClientURL says tls:// already
				c.Servers[i] = "tls://" + hostport
			}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, tc.server)
			cfg := newStream(srv)
			cfg.PublishTimeout = 2e9
			tc.config(&cfg)
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			if err := cfg.CheckEnvironment(); err != nil {
				t.Fatal(err)
			}
			s := openSink(t, cfg)
			defer s.Close()
			results := make([]error, 3)
			s.Send(context.Background(), sinktest.Records(3), results)
			for _, err := range results {
				if tc.fails && err == nil {
					t.Fatal("delivered without the right token")
				}
				if !tc.fails && err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
