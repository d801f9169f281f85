// Package testpki makes throwaway certificate authorities and certificates
// for tests of TLS transports (RadSec): EC P-256 keys, written as PEM files
// the way an operator's openssl would leave them, so that radrelay and real
// peers (FreeRADIUS, radsecproxy) can load the same files.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// CA is a certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	// File is the CA certificate in PEM (what ca_file names).
	File string
	dir  string
}

// Pair is a certificate with its key, as PEM files.
type Pair struct {
	CertFile, KeyFile string
	Cert              *x509.Certificate
}

// NewCA makes a CA named name whose files go to dir.
func NewCA(tb testing.TB, dir, name string) *CA {
	tb.Helper()
	key := newKey(tb)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(tb),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(48 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &CA{Cert: cert, Key: key, dir: dir, File: filepath.Join(dir, fileName(name)+".ca.pem")}
	writePEM(tb, ca.File, "CERTIFICATE", der)
	return ca
}

// Options shape an issued certificate.
type Options struct {
	// Client makes a client certificate (extended key usage clientAuth);
	// otherwise serverAuth.
	Client bool
	// NotAfter is the end of validity (48 hours from now when zero); a time
	// in the past makes an expired certificate.
	NotAfter time.Time
	// CommonNameOnly leaves out the subject alternative names: the name is
	// only in the subject's common name, which TLS clients no longer check.
	CommonNameOnly bool
}

// Issue makes a certificate for cn (also a DNS SAN, with localhost and
// 127.0.0.1, unless opt.CommonNameOnly) signed by the CA.
func (ca *CA) Issue(tb testing.TB, cn string, opt Options) Pair {
	tb.Helper()
	key := newKey(tb)
	eku := x509.ExtKeyUsageServerAuth
	if opt.Client {
		eku = x509.ExtKeyUsageClientAuth
	}
	notAfter := opt.NotAfter
	if notAfter.IsZero() {
		notAfter = time.Now().Add(48 * time.Hour)
	}
	notBefore := time.Now().Add(-time.Hour)
	if notAfter.Before(notBefore) {
		notBefore = notAfter.Add(-time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(tb),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{eku},
		DNSNames:     []string{cn, "localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	if opt.CommonNameOnly {
		tmpl.DNSNames, tmpl.IPAddresses = nil, nil
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	base := filepath.Join(ca.dir, fileName(cn))
	p := Pair{CertFile: base + ".pem", KeyFile: base + ".key", Cert: cert}
	writePEM(tb, p.CertFile, "CERTIFICATE", der)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	writePEM(tb, p.KeyFile, "PRIVATE KEY", kder)
	return p
}

// fileName makes a name safe in the configuration files of peers (no
// spaces or quotes).
func fileName(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '-'
	}, name)
}

func newKey(tb testing.TB) *ecdsa.PrivateKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return key
}

func serial(tb testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

func writePEM(tb testing.TB, path, typ string, der []byte) {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
}
