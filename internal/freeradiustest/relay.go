package freeradiustest

import (
	"fmt"
	"net"
	"path/filepath"
	"testing"
)

// RelayOptions configures FreeRADIUS's own detail-file relay.
type RelayOptions struct {
	// SpoolDir holds the detail files to relay; the reader takes every file
	// matching "detail-*" in it (renaming each to detail.work while it
	// works on it, and deleting it when done). A new temp dir when empty.
	SpoolDir string
	// Home is the home server's accounting address and Secret its secret.
	Home   string
	Secret string
}

// Relay is a FreeRADIUS 3.2 server whose detail reader ("listen { type =
// detail }") proxies every record of its spool to one home server, as
// `radiusd -n radrelay` with copy-acct-to-home-server does: one record in
// flight, load_factor 100 (as fast as it goes).
type Relay struct {
	Dir      string
	SpoolDir string
	proc     *process
}

// StartRelay starts the relay; t.Cleanup stops it.
func StartRelay(tb testing.TB, opt RelayOptions) *Relay {
	tb.Helper()
	Binary(tb)
	if opt.Secret == "" {
		opt.Secret = DefaultSecret
	}
	if opt.SpoolDir == "" {
		opt.SpoolDir = tb.TempDir()
	}
	host, port, err := net.SplitHostPort(opt.Home)
	if err != nil {
		tb.Fatalf("freeradiustest: relay home %q: %v", opt.Home, err)
	}
	dir := tb.TempDir()
	conf := fmt.Sprintf(mainConfig, dir, "yes") + fmt.Sprintf(relaySite, host, port, opt.Secret, filepath.Join(opt.SpoolDir, "detail-*"))
	writeConfig(tb, dir, conf, nil)
	r := &Relay{Dir: dir, SpoolDir: opt.SpoolDir}
	if r.proc, err = startProcess(tb, dir); err != nil {
		tb.Fatalf("freeradiustest: relay: %v", err)
	}
	tb.Cleanup(r.Stop)
	return r
}

// Stop stops the relay.
func (r *Relay) Stop() {
	if r.proc != nil {
		r.proc.stop()
		r.proc = nil
	}
}

// Idle reports whether the spool is empty: every file was relayed and
// deleted.
func (r *Relay) Idle() bool {
	m, _ := filepath.Glob(filepath.Join(r.SpoolDir, "detail*"))
	return len(m) == 0
}

// relaySite: %[1]s host, %[2]s port, %[3]s secret, %[4]s spool glob.
const relaySite = `
proxy server {
	default_fallback = no
}
home_server home {
	type = acct
	ipaddr = %[1]s
	port = %[2]s
	secret = %[3]q
	response_window = 20
	zombie_period = 40
	revive_interval = 10
	status_check = none
	max_outstanding = 65536
}
home_server_pool home_pool {
	type = fail-over
	home_server = home
}
realm relayed {
	acct_pool = home_pool
	nostrip
}
server relay {
	listen {
		type = detail
		filename = %[4]q
		load_factor = 100
		poll_interval = 1
		retry_interval = 30
		track = no
	}
	preacct {
		# Home-Server-Name alone does not proxy in v3; a realm does.
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
