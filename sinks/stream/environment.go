package stream

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"

	"github.com/radrelay/radrelay/sinks"
)

// CheckEnvironment is the CheckEnvironment of a stream sink: every file
// named in files (pairs of configuration key and path; an empty path is
// unset) must open, and the variable named by envKey (when envName is set)
// must be set. The TLS files must hold what the sink will load from them
// when it opens: "tls_ca_file" a PEM certificate, "tls_cert_file" with
// "tls_key_file" a certificate and its key. Each problem is a
// *sinks.FieldError; nothing read is shown.
func CheckEnvironment(files [][2]string, envKey, envName string) error {
	var errs []error
	paths := map[string]string{}
	for _, f := range files {
		key, path := f[0], f[1]
		if path == "" {
			continue
		}
		if fh, err := os.Open(path); err != nil {
			errs = append(errs, sinks.Errorf(key, "%v", err))
			continue
		} else {
			fh.Close()
		}
		paths[key] = path
	}
	if path, ok := paths["tls_ca_file"]; ok {
		if pem, err := os.ReadFile(path); err != nil {
			errs = append(errs, sinks.Errorf("tls_ca_file", "%v", err))
		} else if !x509.NewCertPool().AppendCertsFromPEM(pem) {
			errs = append(errs, sinks.Errorf("tls_ca_file", "%s holds no PEM certificate", path))
		}
	}
	cert, certOK := paths["tls_cert_file"]
	key, keyOK := paths["tls_key_file"]
	if certOK && keyOK {
		if _, err := tls.LoadX509KeyPair(cert, key); err != nil {
			errs = append(errs, sinks.Errorf("tls_cert_file", "with tls_key_file: %v", err))
		}
	}
	if envName != "" && os.Getenv(envName) == "" {
		errs = append(errs, sinks.Errorf(envKey, "the environment variable %s is not set", envName))
	}
	return errors.Join(errs...)
}
