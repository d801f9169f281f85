package freeradiustest

import (
	"fmt"
	"net"
	"testing"
)

// ProxyOptions configures a FreeRADIUS accounting proxy.
type ProxyOptions struct {
	// Home is the home server's address and Secret its secret.
	Home   string
	Secret string
	// TLS, when set, makes the home server a RadSec server (proto = tcp
	// with a tls block): FreeRADIUS connects as a RadSec client with this
	// certificate.
	TLS *ProxyTLS
}

// ProxyTLS are the PEM files of FreeRADIUS's RadSec client side.
type ProxyTLS struct {
	CertificateFile, PrivateKeyFile, CAFile string
}

// Proxy is a FreeRADIUS 3.2 server that proxies every Accounting-Request
// it receives (from 127.0.0.0/8 with DefaultSecret) to one home server.
type Proxy struct {
	// Addr is its accounting address, "127.0.0.1:PORT".
	Addr string
	Dir  string
	proc *process
}

// StartProxy starts the proxy; t.Cleanup stops it.
func StartProxy(tb testing.TB, opt ProxyOptions) *Proxy {
	tb.Helper()
	Binary(tb)
	host, port, err := net.SplitHostPort(opt.Home)
	if err != nil {
		tb.Fatalf("freeradiustest: proxy home %q: %v", opt.Home, err)
	}
	transport := ""
	if opt.TLS != nil {
		transport = fmt.Sprintf(`proto = tcp
	tls {
		private_key_file = %q
		certificate_file = %q
		ca_file = %q
		fragment_size = 8192
		include_length = yes
		check_crl = no
		cipher_list = "DEFAULT"
	}`, opt.TLS.PrivateKeyFile, opt.TLS.CertificateFile, opt.TLS.CAFile)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		dir := tb.TempDir()
		p := &Proxy{Dir: dir, Addr: fmt.Sprintf("127.0.0.1:%d", freePort(tb))}
		_, lport, _ := net.SplitHostPort(p.Addr)
		conf := fmt.Sprintf(mainConfig, dir, "yes") + fmt.Sprintf(proxySite, host, port, opt.Secret, transport, lport, DefaultSecret)
		writeConfig(tb, dir, conf, nil)
		if p.proc, lastErr = startProcess(tb, dir); lastErr == nil {
			tb.Cleanup(p.Stop)
			return p
		}
	}
	tb.Fatalf("freeradiustest: proxy: %v", lastErr)
	return nil
}

// Stop stops the proxy.
func (p *Proxy) Stop() {
	if p.proc != nil {
		p.proc.stop()
		p.proc = nil
	}
}

// Log is the end of the proxy's output, for a failing test.
func (p *Proxy) Log() string {
	if p.proc == nil {
		return ""
	}
	return p.proc.log()
}

// proxySite: %[1]s home host, %[2]s home port, %[3]s home secret, %[4]s
// transport keys, %[5]s listen port, %[6]s client secret.
const proxySite = `
proxy server {
	default_fallback = no
}
home_server home {
	type = acct
	ipaddr = %[1]s
	port = %[2]s
	secret = %[3]q
	%[4]s
	response_window = 20
	zombie_period = 40
	revive_interval = 10
	status_check = none
}
home_server_pool home_pool {
	type = fail-over
	home_server = home
}
realm relayed {
	acct_pool = home_pool
	nostrip
}
client localnet {
	ipaddr = 127.0.0.0/8
	secret = %[6]q
	require_message_authenticator = no
}
server proxy {
	listen {
		type = acct
		ipaddr = 127.0.0.1
		port = %[5]s
	}
	preacct {
		update control {
			&Proxy-To-Realm := "relayed"
		}
	}
	accounting {
		ok
	}
	pre-proxy {
	}
	post-proxy {
	}
}
`
