package nats

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/radrelay/radrelay/internal/testpki"
	"github.com/radrelay/radrelay/sinks/sinktest"
)

// TestAuthentication: a token from a file or a variable, an NKey seed, a
// credentials file (a user JWT signed by an account of a trusted operator,
// with its NKey seed), and mutual TLS each get records into a server that
// requires them; the wrong token, or credentials of an account the server
// does not know, is a retryable failure, never a delivery. (A user and
// password is not offered: a secret in the URL would show in ps.)
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
	op := newOperator(t)
	goodCreds := write("good.creds", op.userCreds(t, op.account))
	stranger, _ := nkeys.CreateAccount() // an account no server trusts
	badCreds := write("bad.creds", op.userCreds(t, stranger))

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
		{"credentials_file", op.configure, func(c *Config) { c.CredentialsFile = goodCreds }, false},
		{"credentials of an unknown account", op.configure, func(c *Config) { c.CredentialsFile = badCreds }, true},
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

// testOperator is a NATS operator (decentralised JWT authentication) with
// one account that may use JetStream, and the system account JetStream
// needs.
type testOperator struct {
	claims         *jwt.OperatorClaims
	account        nkeys.KeyPair
	accJWT         string
	sysPub, sysJWT string
}

func newOperator(t *testing.T) *testOperator {
	t.Helper()
	op, err := nkeys.CreateOperator()
	if err != nil {
		t.Fatal(err)
	}
	opPub, _ := op.PublicKey()
	oc := jwt.NewOperatorClaims(opPub)
	if _, err := oc.Encode(op); err != nil { // signs the claims
		t.Fatal(err)
	}
	acc, _ := nkeys.CreateAccount()
	accPub, _ := acc.PublicKey()
	ac := jwt.NewAccountClaims(accPub)
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	accJWT, err := ac.Encode(op)
	if err != nil {
		t.Fatal(err)
	}
	sys, _ := nkeys.CreateAccount()
	sysPub, _ := sys.PublicKey()
	sysJWT, err := jwt.NewAccountClaims(sysPub).Encode(op)
	if err != nil {
		t.Fatal(err)
	}
	return &testOperator{claims: oc, account: acc, accJWT: accJWT, sysPub: sysPub, sysJWT: sysJWT}
}

// configure makes a server trust the operator and know its account.
func (o *testOperator) configure(opts *server.Options) {
	accPub, _ := o.account.PublicKey()
	r := &server.MemAccResolver{}
	r.Store(accPub, o.accJWT)
	r.Store(o.sysPub, o.sysJWT)
	opts.SystemAccount = o.sysPub
	opts.TrustedOperators = []*jwt.OperatorClaims{o.claims}
	opts.AccountResolver = r
}

// userCreds returns a credentials file (user JWT and seed) of a new user
// of account acc.
func (o *testOperator) userCreds(t *testing.T, acc nkeys.KeyPair) string {
	t.Helper()
	user, _ := nkeys.CreateUser()
	pub, _ := user.PublicKey()
	ujwt, err := jwt.NewUserClaims(pub).Encode(acc)
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := user.Seed()
	creds, err := jwt.FormatUserConfig(ujwt, seed)
	if err != nil {
		t.Fatal(err)
	}
	return string(creds)
}
