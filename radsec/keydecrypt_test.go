package radsec

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/radrelay/radrelay/internal/testpki"
)

const testPassphrase = "correct horse battery staple"

// keyDER is the PKCS #8 DER of a decrypted key PEM, whatever its form.
func keyDER(t *testing.T, keyPEM []byte) []byte {
	t.Helper()
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		t.Fatal("no PEM block")
	}
	key, err := parseAnyKey(block.Type, block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestDecryptOpenSSLKeys decrypts keys the openssl command encrypted in
// every form it writes, and gets the original key back; a wrong or missing
// passphrase gives the error that names the fix.
func TestDecryptOpenSSLKeys(t *testing.T) {
	testpki.OpenSSL(t)
	p := newPKI(t)
	orig, err := os.ReadFile(p.client.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	want := keyDER(t, orig)
	keys := map[string]string{}
	for _, enc := range testpki.KeyEncryptions {
		keys[enc.Name] = testpki.EncryptKey(t, p.client.KeyFile, enc, testPassphrase)
	}
	// An RSA key in OpenSSL's traditional form (openssl rsa -traditional).
	rsaKey := filepath.Join(t.TempDir(), "rsa.pem")
	if b, err := exec.Command(testpki.OpenSSL(t), "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", rsaKey).CombinedOutput(); err != nil {
		t.Fatalf("openssl genpkey: %v\n%s", err, b)
	}
	rsaEnc := testpki.EncryptKey(t, rsaKey, testpki.KeyEncryption{Name: "legacy rsa -aes256", Args: []string{"rsa", "-traditional", "-aes256"}}, testPassphrase)

	tests := []struct {
		name, file, header string
		want               []byte
	}{
		{"rsa -traditional -aes256", rsaEnc, "Proc-Type: 4,ENCRYPTED", nil},
	}
	for _, enc := range testpki.KeyEncryptions {
		header := "ENCRYPTED PRIVATE KEY"
		if strings.HasPrefix(enc.Name, "legacy") {
			header = "Proc-Type: 4,ENCRYPTED"
		}
		tests = append(tests, struct {
			name, file, header string
			want               []byte
		}{enc.Name, keys[enc.Name], header, want})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := os.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(enc, []byte(tt.header)) {
				t.Fatalf("openssl did not write the form under test (%q):\n%s", tt.header, enc)
			}
			plain, err := DecryptPrivateKeyPEM(enc, []byte(testPassphrase))
			if err != nil {
				t.Fatal(err)
			}
			got := keyDER(t, plain)
			if tt.want != nil && !bytes.Equal(got, tt.want) {
				t.Fatal("the decrypted key differs from the original")
			}
			if _, err := DecryptPrivateKeyPEM(enc, []byte("wrong passphrase")); !errors.Is(err, ErrWrongPassphrase) {
				t.Fatalf("wrong passphrase: got %v, want ErrWrongPassphrase", err)
			}
			if _, err := DecryptPrivateKeyPEM(enc, nil); !errors.Is(err, ErrKeyEncrypted) {
				t.Fatalf("no passphrase: got %v, want ErrKeyEncrypted", err)
			}
		})
	}
}

// TestEncryptedKeyTLS runs a mutual TLS exchange with both ends' keys
// encrypted, the passphrase given each way, and checks the operator's
// errors: they name the key to fix and never contain the passphrase.
func TestEncryptedKeyTLS(t *testing.T) {
	testpki.OpenSSL(t)
	p := newPKI(t)
	pkcs8, legacy := testpki.KeyEncryptions[0], testpki.KeyEncryptions[4]
	serverKey := testpki.EncryptKey(t, p.server.KeyFile, legacy, testPassphrase)
	clientKey := testpki.EncryptKey(t, p.client.KeyFile, pkcs8, testPassphrase)
	passFile := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(passFile, []byte(testPassphrase+"\nignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrongFile := filepath.Join(t.TempDir(), "wrong")
	if err := os.WriteFile(wrongFile, []byte("not it\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RADRELAY_TEST_KEY_PASS", testPassphrase)

	server := p.serverTLS(t, "")
	server.PrivateKeyFile, server.PrivateKeyPasswordFile = serverKey, passFile
	addr := echoServer(t, server)
	for _, set := range []func(*TLS){
		func(c *TLS) { c.PrivateKeyPassword = testPassphrase },
		func(c *TLS) { c.PrivateKeyPasswordFile = passFile },
		func(c *TLS) { c.PrivateKeyPasswordEnv = "RADRELAY_TEST_KEY_PASS" },
	} {
		client := p.clientTLS(t)
		client.PrivateKeyFile = clientKey
		set(&client)
		c, err := dial(t, addr, client)
		if err != nil {
			t.Fatalf("%v: %v", client, err)
		}
		if err := roundTrip(c); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}

	bad := []struct {
		name    string
		set     func(*TLS)
		wantKey string
	}{
		{"wrong passphrase in a file", func(c *TLS) { c.PrivateKeyPasswordFile = wrongFile }, "private_key_password_file: does not decrypt"},
		{"wrong inline passphrase", func(c *TLS) { c.PrivateKeyPassword = "nope" }, "private_key_password: does not decrypt"},
		{"no passphrase", func(c *TLS) {}, "private_key_password_file: private_key_file " + clientKey + " is encrypted"},
		{"unset variable", func(c *TLS) { c.PrivateKeyPasswordEnv = "RADRELAY_TEST_KEY_PASS_UNSET" }, "private_key_password_env: environment variable"},
		{"two sources", func(c *TLS) { c.PrivateKeyPassword, c.PrivateKeyPasswordEnv = testPassphrase, "RADRELAY_TEST_KEY_PASS" }, "private_key_password_env: set only one"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			client := p.clientTLS(t)
			client.PrivateKeyFile = clientKey
			tt.set(&client)
			_, err := client.ClientConfig("127.0.0.1")
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantKey) {
				t.Fatalf("got %v, want an error starting %q", err, tt.wantKey)
			}
			if strings.Contains(err.Error(), testPassphrase) {
				t.Fatalf("the error contains the passphrase: %v", err)
			}
			for _, s := range []string{client.String(), client.GoString()} {
				if strings.Contains(s, testPassphrase) {
					t.Fatalf("the description contains the passphrase: %s", s)
				}
			}
		})
	}
	// An unencrypted key with a passphrase set is used as it is (as
	// FreeRADIUS does).
	plain := p.clientTLS(t)
	plain.PrivateKeyPassword = testPassphrase
	if _, err := plain.ClientConfig("127.0.0.1"); err != nil {
		t.Fatal(err)
	}
}

// FuzzDecryptPrivateKeyPEM: whatever a key file holds, decrypting it
// returns a key or an error, never panics, and never asks for unbounded
// work.
func FuzzDecryptPrivateKeyPEM(f *testing.F) {
	for _, s := range []string{
		"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAgAAAAAAAAAAAICCAAwDAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEAAAAAAAAAAAAAAAAAAAAAAEgZAAAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
		"-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00000000000000000000000000000000\n\nAAAAAAAAAAAAAAAAAAAAAA==\n-----END EC PRIVATE KEY-----\n",
		"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
		"",
	} {
		f.Add([]byte(s), []byte("pass"))
	}
	f.Fuzz(func(t *testing.T, keyPEM, pass []byte) {
		plain, err := DecryptPrivateKeyPEM(keyPEM, pass)
		if err == nil && len(plain) == 0 {
			t.Fatal("no error and no key")
		}
		if err != nil && len(pass) >= 8 && strings.Contains(err.Error(), string(pass)) {
			t.Fatalf("the error contains the passphrase: %v", err)
		}
	})
}
