package radsec

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"
)

// Dial connects to a RadSec server and completes the TLS handshake. Its
// errors are *DialError, which say what an operator should fix.
func Dial(ctx context.Context, addr string, cfg *tls.Config) (*Conn, error) {
	d := net.Dialer{Timeout: HandshakeTimeout, KeepAlive: 30 * time.Second}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, &DialError{Addr: addr, Stage: "connect", Err: err}
	}
	c := Client(raw, cfg)
	hctx, cancel := context.WithTimeout(ctx, HandshakeTimeout)
	defer cancel()
	if err := c.HandshakeContext(hctx); err != nil {
		raw.Close()
		return nil, &DialError{Addr: addr, Stage: "handshake", Err: err, serverName: cfg.ServerName}
	}
	return c, nil
}

// DialError is a failed connection or handshake to a RadSec server.
type DialError struct {
	Addr  string
	Stage string // "connect" or "handshake"
	Err   error

	serverName string
}

func (e *DialError) Error() string {
	return fmt.Sprintf("radsec %s: %s: %v (%s)", e.Addr, e.Stage, e.Err, e.Hint())
}

func (e *DialError) Unwrap() error { return e.Err }

// Hint says what to fix, in a few words an operator can act on.
func (e *DialError) Hint() string { return explain(e.Err, e.serverName) }

// Refused reports whether err is a refusal that retrying cannot fix: a
// certificate that does not verify, or an alert the peer sent about ours
// or about the TLS versions. A connection reset or closed during the
// handshake is not one (a server restarting does that too).
func Refused(err error) bool {
	var (
		unknownCA x509.UnknownAuthorityError
		invalid   x509.CertificateInvalidError
		host      x509.HostnameError
		alert     tls.AlertError
		verify    *tls.CertificateVerificationError
	)
	switch {
	case errors.As(err, &unknownCA), errors.As(err, &invalid), errors.As(err, &host), errors.As(err, &verify):
		return true
	case errors.As(err, &alert) || remoteAlert(err, &alert):
		return alert != 0 // close_notify is an orderly end, not a refusal
	}
	return false
}

// Explain says what to fix for an error of a RadSec connection: a failed
// handshake, or a connection the server closed right after it (which is how
// TLS 1.3 reports a refused client certificate).
func Explain(err error) string { return explain(err, "") }

func explain(err error, serverName string) string {
	var (
		unknownCA x509.UnknownAuthorityError
		invalid   x509.CertificateInvalidError
		host      x509.HostnameError
		alert     tls.AlertError
		verify    *tls.CertificateVerificationError
	)
	switch {
	case errors.As(err, &unknownCA):
		subject := ""
		if unknownCA.Cert != nil {
			subject = fmt.Sprintf(" (%q, issued by %q)", unknownCA.Cert.Subject.CommonName, unknownCA.Cert.Issuer.CommonName)
		}
		return "the server's certificate" + subject + " is not signed by a CA in ca_file: set ca_file to the CA that issued it"
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return "the server's certificate has expired or is not yet valid: renew it on the server (or check this host's clock)"
	case errors.As(err, &invalid):
		return "the server's certificate is not valid for a RadSec server (" + invalid.Error() + "): it needs the serverAuth key usage and a CA that may sign it"
	case errors.As(err, &host):
		return hostnameHint(host)
	case errors.As(err, &verify):
		return "the server's certificate could not be verified against ca_file"
	case errors.As(err, &alert) || remoteAlert(err, &alert):
		switch alert {
		case 42, 43, 44, 46, 48, 116: // bad, unsupported, revoked, unknown certificate, unknown CA, certificate required
			return "the server refused our certificate: it must trust the CA that signed certificate_file, and the certificate must be valid (clientAuth usage, not expired)"
		case 45:
			return "the server says our certificate has expired: renew certificate_file"
		case 70:
			return "no TLS version in common: check tls_min_version against the server's settings"
		case 40:
			return "the server refused the handshake (no common cipher or version, or our certificate)"
		}
		return "the server refused the handshake with alert " + alert.Error()
	case errors.Is(err, syscall.ECONNREFUSED):
		return "nothing listens there: is the RadSec server running on that port?"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		// EPIPE: under TLS 1.3 the server checks our certificate after our
		// side of the handshake ended, and may close before our first write.
		return "the server closed the connection: it probably refused our certificate (its CA must trust certificate_file's issuer) or does not know this client"
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return "no answer in time: check the address, port and firewall, and that the server speaks TLS there"
	}
	return "check the server's address and TLS settings"
}

// hostnameHint says which names the server's certificate is for. A name
// only in the subject's common name does not count (TLS clients have
// ignored it since SANs became required), so such a certificate is for no
// name at all and must be reissued: no server_name helps.
func hostnameHint(host x509.HostnameError) string {
	var names []string
	cn := ""
	if c := host.Certificate; c != nil {
		names = append(names, c.DNSNames...)
		for _, ip := range c.IPAddresses {
			names = append(names, ip.String())
		}
		cn = c.Subject.CommonName
	}
	if len(names) == 0 {
		if cn == "" {
			return fmt.Sprintf("the server's certificate names no host (no subject alternative name, no common name), so it is not valid for %q: reissue it with a DNS or IP subject alternative name", host.Host)
		}
		return fmt.Sprintf("the server's certificate names %q only as its common name, which is not checked (a subject alternative name is required), so it is not valid for %q: reissue it with a DNS or IP subject alternative name (e.g. DNS:%s)", cn, host.Host, cn)
	}
	return fmt.Sprintf("the server's certificate is for %s, not %q: set server_name to one of those names", strings.Join(names, ", "), host.Host)
}

// remoteAlert finds the alert a peer sent: crypto/tls reports it over TCP
// as a *net.OpError "remote error" around an unexported type, whose text is
// the alert's, so it is matched by that text.
func remoteAlert(err error, a *tls.AlertError) bool {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "remote error" || op.Err == nil {
		return false
	}
	text := op.Err.Error()
	for code := 0; code < 256; code++ {
		if tls.AlertError(code).Error() == text {
			*a = tls.AlertError(code)
			return true
		}
	}
	return false
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
