package radsec

import (
	"fmt"
	"os"
	"strings"
)

// The keys the passphrase of an encrypted private key is set with
// (FreeRADIUS's private_key_password, and the file and environment forms
// radrelay prefers for every secret).
const (
	KeyPassword     = "private_key_password"
	KeyPasswordFile = "private_key_password_file"
	KeyPasswordEnv  = "private_key_password_env"
)

// validatePassword reports more than one passphrase source.
func (c TLS) validatePassword() []error {
	if n := c.passwordSources(); n > 1 {
		return []error{fmt.Errorf("%s: set only one of %s, %s and %s", c.passwordKey(), KeyPassword, KeyPasswordFile, KeyPasswordEnv)}
	}
	return nil
}

func (c TLS) passwordSources() int {
	n := 0
	for _, v := range []string{c.PrivateKeyPassword, c.PrivateKeyPasswordFile, c.PrivateKeyPasswordEnv} {
		if v != "" {
			n++
		}
	}
	return n
}

// passwordKey is the key a problem with the passphrase is reported at.
func (c TLS) passwordKey() string {
	switch {
	case c.PrivateKeyPasswordFile != "":
		return KeyPasswordFile
	case c.PrivateKeyPasswordEnv != "":
		return KeyPasswordEnv
	case c.PrivateKeyPassword != "":
		return KeyPassword
	}
	return KeyPasswordFile
}

// HasPassword reports whether a passphrase source is set.
func (c TLS) HasPassword() bool { return c.passwordSources() > 0 }

// password resolves the passphrase (nil when none is set) and the key it
// came from. The file is read each time, so that a rotated key and its
// new passphrase file are read together. Errors never contain it.
func (c TLS) password() ([]byte, string, error) {
	key := c.passwordKey()
	switch {
	case c.passwordSources() > 1:
		return nil, key, fmt.Errorf("set only one of %s, %s and %s", KeyPassword, KeyPasswordFile, KeyPasswordEnv)
	case c.PrivateKeyPasswordFile != "":
		b, err := os.ReadFile(c.PrivateKeyPasswordFile)
		if err != nil {
			return nil, key, err
		}
		line, _, _ := strings.Cut(string(b), "\n")
		line = strings.TrimRight(line, "\r")
		clear(b)
		if line == "" {
			return nil, key, fmt.Errorf("%s: the first line is empty", c.PrivateKeyPasswordFile)
		}
		return []byte(line), key, nil
	case c.PrivateKeyPasswordEnv != "":
		v, ok := os.LookupEnv(c.PrivateKeyPasswordEnv)
		if !ok || v == "" {
			return nil, key, fmt.Errorf("environment variable %s is not set or empty", c.PrivateKeyPasswordEnv)
		}
		return []byte(v), key, nil
	case c.PrivateKeyPassword != "":
		return []byte(c.PrivateKeyPassword), key, nil
	}
	return nil, key, nil
}

// String describes the settings without the passphrase.
func (c TLS) String() string {
	pass := "none"
	switch {
	case c.PrivateKeyPasswordFile != "":
		pass = "file:" + c.PrivateKeyPasswordFile
	case c.PrivateKeyPasswordEnv != "":
		pass = "env:" + c.PrivateKeyPasswordEnv
	case c.PrivateKeyPassword != "":
		pass = "<inline, redacted>"
	}
	return fmt.Sprintf("certificate_file=%s private_key_file=%s private_key_password=%s ca_file=%s server_name=%s tls_min_version=%s",
		c.CertificateFile, c.PrivateKeyFile, pass, c.CAFile, c.ServerName, c.MinVersion)
}

// GoString keeps %#v from printing the passphrase.
func (c TLS) GoString() string { return "radsec.TLS{" + c.String() + "}" }
