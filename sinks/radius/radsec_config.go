package radius

import (
	"errors"
	"net"
	"strconv"
	"strings"

	"github.com/radrelay/radrelay/radsec"
	"github.com/radrelay/radrelay/sinks"
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
	case radsec.KeyPasswordFile:
		s.PrivateKeyPasswordFile = v
	case radsec.KeyPasswordEnv:
		s.PrivateKeyPasswordEnv = v
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
		PrivateKeyPassword: s.PrivateKeyPassword, PrivateKeyPasswordFile: s.PrivateKeyPasswordFile, PrivateKeyPasswordEnv: s.PrivateKeyPasswordEnv,
		ServerName: s.ServerName, MinVersion: s.TLSMinVersion,
	}
}

// checkTransport reports, as field errors, a transport that is neither udp
// nor radsec, TLS keys on a UDP server (they would be ignored), and missing
// or malformed TLS keys on a RadSec server.
func (s ServerConfig) checkTransport() error {
	var errs []error
	switch s.Transport {
	case "", TransportUDP:
		for _, kv := range [][2]string{{"certificate_file", s.CertificateFile}, {"private_key_file", s.PrivateKeyFile}, {radsec.KeyPassword, s.PrivateKeyPassword}, {radsec.KeyPasswordFile, s.PrivateKeyPasswordFile}, {radsec.KeyPasswordEnv, s.PrivateKeyPasswordEnv}, {"ca_file", s.CAFile}, {"server_name", s.ServerName}, {"tls_min_version", s.TLSMinVersion}} {
			if kv[1] != "" {
				errs = append(errs, sinks.Errorf(kv[0], "a TLS setting on a UDP server; set transport = \"radsec\" (or use a radsec:// URL)"))
			}
		}
	case TransportRadSec:
		for _, err := range s.tls().Validate() {
			key, msg, _ := strings.Cut(err.Error(), ": ")
			errs = append(errs, sinks.Errorf(key, "%s", msg))
		}
	default:
		errs = append(errs, sinks.Errorf("transport", "%q: want udp or radsec", s.Transport))
	}
	return errors.Join(errs...)
}

// transportDefaults gives a RadSec server without a port RFC 6614's 2083
// (the secret "radsec" is secret's default).
func (s *ServerConfig) transportDefaults() {
	if !s.radsec() || s.Address == "" {
		return
	}
	if _, _, err := net.SplitHostPort(s.Address); err != nil {
		s.Address = net.JoinHostPort(strings.Trim(s.Address, "[]"), strconv.Itoa(radsec.DefaultPort))
	}
}

// checkTLSFiles loads the certificate, key and CA files of a RadSec server,
// as opening the sink will, and reports a problem at the key to fix.
func (s ServerConfig) checkTLSFiles() error {
	if !s.radsec() || s.checkTransport() != nil {
		return nil
	}
	host, _, err := net.SplitHostPort(s.Address)
	if err != nil {
		host = s.Address
	}
	if _, err := s.tls().ClientConfig(host); err != nil {
		key := "certificate_file"
		for _, k := range []string{"ca_file", "private_key_file", radsec.KeyPassword, radsec.KeyPasswordFile, radsec.KeyPasswordEnv} {
			if strings.HasPrefix(err.Error(), k+":") || strings.HasPrefix(err.Error(), k+" ") {
				key = k
			}
		}
		return sinks.Errorf(key, "%s", strings.TrimPrefix(err.Error(), key+": "))
	}
	return nil
}
