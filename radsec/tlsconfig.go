package radsec

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// TLS holds the TLS settings of one end, under FreeRADIUS's key names.
type TLS struct {
	// CertificateFile and PrivateKeyFile are this end's certificate (with
	// any intermediates after it) and its key, in PEM. They are read again
	// when they change, so a rotated certificate is used from the next
	// handshake on without a restart.
	CertificateFile string
	PrivateKeyFile  string
	// The passphrase of an encrypted PrivateKeyFile (PKCS #8 "ENCRYPTED
	// PRIVATE KEY" with PBES2, or OpenSSL's legacy "Proc-Type: 4,ENCRYPTED"):
	// at most one of PrivateKeyPassword, PrivateKeyPasswordFile (first
	// line of the file, read with the key) and PrivateKeyPasswordEnv (name
	// of an environment variable). See keypass.go.
	PrivateKeyPassword     string
	PrivateKeyPasswordFile string
	PrivateKeyPasswordEnv  string
	// CAFile holds the CA certificates (PEM) the peer's certificate must
	// chain to.
	CAFile string
	// ServerName is the name the server's certificate must carry (client
	// side); the host of the server's address when empty.
	ServerName string
	// MinVersion is "1.2" (the default) or "1.3".
	MinVersion string
	// OnReload, when set, is told of each new reading of CertificateFile
	// and PrivateKeyFile after they changed: nil when the new pair is in
	// use, the error when it cannot be loaded and the previous pair stays
	// (once per change of the files, not at every handshake). Without it
	// a broken renewal goes unnoticed until the old certificate expires.
	OnReload func(err error)
}

// Validate reports every missing or malformed setting at once, each
// prefixed with its key, without reading the files.
func (c TLS) Validate() []error {
	var errs []error
	if c.CertificateFile == "" {
		errs = append(errs, errors.New("certificate_file: required (the certificate this end presents: RadSec is mutually authenticated)"))
	}
	if c.PrivateKeyFile == "" {
		errs = append(errs, errors.New("private_key_file: required (the key of certificate_file)"))
	}
	errs = append(errs, c.validatePassword()...)
	if c.CAFile == "" {
		errs = append(errs, errors.New("ca_file: required (the CA the peer's certificate must be signed by)"))
	}
	if _, err := ParseVersion(c.MinVersion); err != nil {
		errs = append(errs, fmt.Errorf("tls_min_version: %w", err))
	}
	return errs
}

// ParseVersion maps "1.2" and "1.3" (and "" = 1.2) to crypto/tls versions;
// RFC 6614 and RFC 8996 rule out older ones.
func ParseVersion(s string) (uint16, error) {
	switch s {
	case "", "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("%q: want \"1.2\" or \"1.3\" (older versions are not allowed for RadSec)", s)
}

// ClientConfig is the configuration of a RadSec client connecting to host
// (the host part of the server's address, used when ServerName is empty).
func (c TLS) ClientConfig(host string) (*tls.Config, error) {
	base, kp, err := c.common()
	if err != nil {
		return nil, err
	}
	base.RootCAs = base.ClientCAs
	base.ClientCAs = nil
	base.ServerName = c.ServerName
	if base.ServerName == "" {
		base.ServerName = host
	}
	base.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return kp.get() }
	return base, nil
}

// ServerConfig is the configuration of a RadSec server: it requires a
// client certificate signed by CAFile. Session tickets are off: FreeRADIUS
// 3.2 as a TLS 1.3 client can stall on one (see docs/radius.md).
func (c TLS) ServerConfig() (*tls.Config, error) {
	base, kp, err := c.common()
	if err != nil {
		return nil, err
	}
	base.ClientAuth = tls.RequireAndVerifyClientCert
	base.SessionTicketsDisabled = true
	base.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return kp.get() }
	return base, nil
}

// common loads what both ends need: the CA pool (in ClientCAs) and the
// key pair, which it reads once now so that a bad file fails at start.
func (c TLS) common() (*tls.Config, *keyPair, error) {
	if errs := c.Validate(); len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	version, _ := ParseVersion(c.MinVersion)
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, nil, fmt.Errorf("ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, nil, fmt.Errorf("ca_file %s: no PEM certificate in it", c.CAFile)
	}
	kp := &keyPair{certFile: c.CertificateFile, keyFile: c.PrivateKeyFile, password: c.password, onReload: c.OnReload}
	if _, err := kp.get(); err != nil {
		return nil, nil, err
	}
	return &tls.Config{MinVersion: version, ClientCAs: pool}, kp, nil
}

// keyPair is a certificate and key read from files, read again when either
// file's modification time or size changes.
type keyPair struct {
	certFile, keyFile string
	password          func() ([]byte, string, error)

	onReload func(error)

	mu       sync.Mutex
	cert     *tls.Certificate
	certStat fileStamp
	keyStat  fileStamp
	// failedCert and failedKey are the files last found unloadable: they
	// are not read again (at every handshake) until they change.
	failedCert, failedKey fileStamp
}

type fileStamp struct {
	mod  time.Time
	size int64
}

func stamp(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{fi.ModTime(), fi.Size()}, nil
}

// get returns the current pair. When the files changed but cannot be
// loaded (half-written by a rotation), the previous pair is kept.
func (k *keyPair) get() (*tls.Certificate, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	cs, err1 := stamp(k.certFile)
	ks, err2 := stamp(k.keyFile)
	if k.cert != nil && (err1 != nil || err2 != nil || (cs == k.certStat && ks == k.keyStat) || (cs == k.failedCert && ks == k.failedKey)) {
		return k.cert, nil
	}
	cert, err := k.load()
	if err != nil {
		if k.cert != nil {
			k.failedCert, k.failedKey = cs, ks
			if k.onReload != nil {
				k.onReload(err)
			}
			return k.cert, nil
		}
		return nil, err
	}
	reload := k.cert != nil
	k.cert, k.certStat, k.keyStat = cert, cs, ks
	if reload && k.onReload != nil {
		k.onReload(nil)
	}
	return k.cert, nil
}

// load reads the pair, decrypting the key when it is encrypted. Errors
// start with the key to fix and never contain the passphrase.
func (k *keyPair) load() (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(k.certFile)
	if err != nil {
		return nil, fmt.Errorf("certificate_file: %w", err)
	}
	keyPEM, err := os.ReadFile(k.keyFile)
	if err != nil {
		return nil, fmt.Errorf("private_key_file: %w", err)
	}
	pass, passKey, err := k.password()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", passKey, err)
	}
	plain, err := DecryptPrivateKeyPEM(keyPEM, pass)
	clear(pass)
	switch {
	case errors.Is(err, ErrKeyEncrypted):
		return nil, fmt.Errorf("private_key_password_file: private_key_file %s is encrypted: set private_key_password_file or private_key_password_env to its passphrase", k.keyFile)
	case errors.Is(err, ErrWrongPassphrase):
		return nil, fmt.Errorf("%s: does not decrypt private_key_file %s: %w", passKey, k.keyFile, err)
	case err != nil:
		return nil, fmt.Errorf("private_key_file %s: %w", k.keyFile, err)
	}
	cert, err := tls.X509KeyPair(certPEM, plain)
	clear(plain)
	if err != nil {
		return nil, fmt.Errorf("certificate_file %s / private_key_file %s: %w", k.certFile, k.keyFile, err)
	}
	return &cert, nil
}
