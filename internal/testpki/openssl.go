package testpki

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// KeyEncryption is one way the openssl command encrypts a private key: the
// arguments after "openssl" that read -in and write -out, with the
// passphrase given by -passout.
type KeyEncryption struct {
	Name string
	Args []string
}

// KeyEncryptions are the forms OpenSSL writes an encrypted key in: PKCS #8
// with PBES2 (PBKDF2 with HMAC-SHA1 or HMAC-SHA256, AES-CBC) and the
// legacy "Proc-Type: 4,ENCRYPTED" PEM of the ec command.
var KeyEncryptions = []KeyEncryption{
	{"pkcs8 aes-256-cbc hmacWithSHA256", []string{"pkcs8", "-topk8", "-v2", "aes-256-cbc", "-v2prf", "hmacWithSHA256"}},
	{"pkcs8 aes-256-cbc hmacWithSHA1", []string{"pkcs8", "-topk8", "-v2", "aes-256-cbc", "-v2prf", "hmacWithSHA1"}},
	{"pkcs8 aes-192-cbc", []string{"pkcs8", "-topk8", "-v2", "aes-192-cbc"}},
	{"pkcs8 aes-128-cbc hmacWithSHA1", []string{"pkcs8", "-topk8", "-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA1"}},
	{"legacy ec -aes256", []string{"ec", "-aes256"}},
	{"legacy ec -aes128", []string{"ec", "-aes128"}},
}

// OpenSSL returns the path of the openssl command, skipping tb loudly when
// it is missing, or failing it when RADRELAY_REQUIRE_SERVERS=1 (as CI sets).
func OpenSSL(tb testing.TB) string {
	tb.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("RADRELAY_REQUIRE_SERVERS") == "1" {
			tb.Fatalf("openssl command not found and RADRELAY_REQUIRE_SERVERS=1: %v", err)
		}
		tb.Skipf("SKIP: openssl command not found (%v): encrypted-key tests need it to write the keys", err)
	}
	return path
}

// EncryptKey writes keyFile encrypted with passphrase by the openssl
// command in form enc, next to it, and returns the new file's path.
func EncryptKey(tb testing.TB, keyFile string, enc KeyEncryption, passphrase string) string {
	tb.Helper()
	out := filepath.Join(filepath.Dir(keyFile), fileName(filepath.Base(keyFile)+"-"+enc.Name)+".enc.pem")
	args := append(append([]string(nil), enc.Args...), "-in", keyFile, "-out", out, "-passout", "pass:"+passphrase)
	if b, err := exec.Command(OpenSSL(tb), args...).CombinedOutput(); err != nil {
		tb.Fatalf("openssl %v: %v\n%s", enc.Args, err, b)
	}
	return out
}
