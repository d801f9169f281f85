package radius

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/radrelay/radrelay/radsec"
)

// Transports of a server.
const (
	TransportUDP    = "udp"
	TransportRadSec = "radsec"
)

// setTLSKey sets one of the TLS keys (and transport) from a URL query; it
// reports whether key is one.
func (s *ServerConfig) setTLSKey(key, v string) bool {
	switch key {
	case "transport":
		s.Transport = v
	case "certificate_file":
		s.CertificateFile = v
	case "private_key_file":
		s.PrivateKeyFile = v
	case "ca_file":
		s.CAFile = v
	case "server_name":
		s.ServerName = v
	case "tls_min_version":
		s.TLSMinVersion = v
	default:
		return false
	}
	return true
}

func (s ServerConfig) radsec() bool { return s.Transport == TransportRadSec }

// tls is the radsec.TLS of the server.
func (s ServerConfig) tls() radsec.TLS {
	return radsec.TLS{
		CertificateFile: s.CertificateFile, PrivateKeyFile: s.PrivateKeyFile, CAFile: s.CAFile,
		ServerName: s.ServerName, MinVersion: s.TLSMinVersion,
	}
}

// radsecDefaults checks the transport and, for radsec, fills in port 2083
// and the secret "radsec" (RFC 6614 §2.3) and checks the TLS keys. A UDP
// server with TLS keys is an error: they would be silently ignored.
func (s *ServerConfig) radsecDefaults() error {
	switch s.Transport {
	case "", TransportUDP:
		var set []string
		for _, kv := range [][2]string{{"certificate_file", s.CertificateFile}, {"private_key_file", s.PrivateKeyFile}, {"ca_file", s.CAFile}, {"server_name", s.ServerName}, {"tls_min_version", s.TLSMinVersion}} {
			if kv[1] != "" {
				set = append(set, kv[0])
			}
		}
		if len(set) > 0 {
			return fmt.Errorf("%s: TLS settings for a UDP server; set transport = \"radsec\" (or use a radsec:// URL)", strings.Join(set, ", "))
		}
		return nil
	case TransportRadSec:
	default:
		return fmt.Errorf("transport %q: want udp or radsec", s.Transport)
	}
	if _, _, err := net.SplitHostPort(s.Address); err != nil && s.Address != "" {
		s.Address = net.JoinHostPort(strings.Trim(s.Address, "[]"), strconv.Itoa(radsec.DefaultPort))
	}
	if s.Secret == "" && s.SecretFile == "" && s.SecretEnv == "" {
		s.Secret = radsec.DefaultSecret
	}
	if errs := s.tls().Validate(); len(errs) > 0 {
		return errors.Join(errs...)
	}
	return nil
}
