package radius

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/radrelay/radrelay/internal/testpki"
	"github.com/radrelay/radrelay/radsec"
)

const keyPassphrase = "s3cret key passphrase"

// TestRadSecEncryptedKey: a RadSec server whose client key is encrypted
// (PKCS #8 PBES2 by openssl) delivers with the passphrase from a file;
// validation reports a wrong, missing or doubly given passphrase at its
// field path, and neither errors, warnings nor --print show it.
func TestRadSecEncryptedKey(t *testing.T) {
	testpki.OpenSSL(t)
	p := newRadsecPKI(t)
	encKey := testpki.EncryptKey(t, p.client.KeyFile, testpki.KeyEncryptions[0], keyPassphrase)
	dir := t.TempDir()
	passFile, wrongFile := filepath.Join(dir, "pass"), filepath.Join(dir, "wrong")
	if err := os.WriteFile(passFile, []byte(keyPassphrase+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(wrongFile, []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	r := newRadsecReceiver(t, p, radsec.DefaultSecret)
	srv := radsecServer(p, r.addr)
	srv.PrivateKeyFile, srv.PrivateKeyPasswordFile = encKey, passFile
	cfg := Config{Servers: []ServerConfig{srv}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := cfg.CheckEnvironment(); err != nil {
		t.Fatal(err)
	}
	patient := patientConfig() // the records must be delivered however loaded the machine is
	patient.Servers = []ServerConfig{srv}
	s := openSink(t, patient)
	recs := testRecords("enc", 20)
	mustAllSucceed(t, send(t, s, recs))
	checkHolds(t, r.Delivered(), ids(recs))

	for _, tt := range []struct {
		name  string
		set   func(*ServerConfig)
		field string
		check func(Config) error
	}{
		{"wrong passphrase", func(s *ServerConfig) { s.PrivateKeyPasswordFile = wrongFile }, "servers[0].private_key_password_file: does not decrypt private_key_file " + encKey, checkEnv},
		{"wrong inline passphrase", func(s *ServerConfig) { s.PrivateKeyPasswordFile, s.PrivateKeyPassword = "", "nope" }, "servers[0].private_key_password: does not decrypt", checkEnv},
		{"no passphrase", func(s *ServerConfig) { s.PrivateKeyPasswordFile = "" }, "servers[0].private_key_password_file: private_key_file " + encKey + " is encrypted", checkEnv},
		{"two sources", func(s *ServerConfig) { s.PrivateKeyPassword = keyPassphrase }, "servers[0].private_key_password_file: set only one of", checkValid},
		{"on a UDP server", func(s *ServerConfig) { s.Transport = TransportUDP; s.Secret = "x" }, "servers[0].private_key_password_file: a TLS setting on a UDP server", checkValid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bad := srv
			tt.set(&bad)
			err := tt.check(Config{Servers: []ServerConfig{bad}})
			if err == nil || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("got %v, want %q", err, tt.field)
			}
			if strings.Contains(err.Error(), keyPassphrase) || strings.Contains(err.Error(), "nope") {
				t.Fatalf("the error shows the passphrase: %v", err)
			}
		})
	}

	inline := Config{Servers: []ServerConfig{srv}}
	inline.Servers[0].PrivateKeyPasswordFile, inline.Servers[0].PrivateKeyPassword = "", keyPassphrase
	if err := inline.CheckEnvironment(); err != nil {
		t.Fatal(err)
	}
	if got := inline.Redacted().(*Config).Servers[0].PrivateKeyPassword; got != "xxxxx" {
		t.Fatalf("redacted private_key_password = %q", got)
	}
	if inline.Servers[0].PrivateKeyPassword != keyPassphrase {
		t.Fatal("Redacted changed the configuration")
	}
	ws := inline.Warnings()
	if len(ws) != 1 || !strings.Contains(ws[0].Error(), "servers[0].private_key_password:") {
		t.Fatalf("warnings %v, want one at servers[0].private_key_password", ws)
	}
}

// checkEnv and checkValid are what validate runs with and without
// reading files.
func checkEnv(c Config) error   { return c.CheckEnvironment() }
func checkValid(c Config) error { return c.Validate() }

// TestRadSecKeyPasswordURL: the URL takes the file and environment forms,
// never the passphrase itself (a command line is visible in ps).
func TestRadSecKeyPasswordURL(t *testing.T) {
	c, err := ConfigFromURL("radsec://10.0.0.2?certificate_file=/c&private_key_file=/k&ca_file=/ca&private_key_password_file=/p")
	if err != nil || c.Servers[0].PrivateKeyPasswordFile != "/p" {
		t.Fatalf("%+v, %v", c, err)
	}
	c, err = ConfigFromURL("radsec://10.0.0.2?certificate_file=/c&private_key_file=/k&ca_file=/ca&private_key_password_env=P")
	if err != nil || c.Servers[0].PrivateKeyPasswordEnv != "P" {
		t.Fatalf("%+v, %v", c, err)
	}
	_, err = ConfigFromURL("radsec://10.0.0.2?certificate_file=/c&private_key_file=/k&ca_file=/ca&private_key_password=" + keyPassphrase)
	if err == nil || !strings.Contains(err.Error(), "private_key_password_file=") || strings.Contains(err.Error(), keyPassphrase) {
		t.Fatalf("inline passphrase in a URL: %v", err)
	}
}
