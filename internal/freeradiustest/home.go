package freeradiustest

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/radrelay/radrelay/detail"
)

// HomeOptions configures a home server.
type HomeOptions struct {
	// Secret is the shared secret of every client (DefaultSecret when empty).
	Secret string
	// Clients are the addresses or networks (CIDR) allowed to send;
	// 127.0.0.0/8 when empty.
	Clients []string
	// DefaultSitePreacct runs what the preacct section of FreeRADIUS's
	// stock default site runs before detail: the preprocess module and the
	// acct_unique policy, from the installed configuration
	// (/etc/freeradius/3.0), so that the detail file holds what a stock
	// server writes.
	DefaultSitePreacct bool
	// TLS, when set, makes the server a RadSec (RFC 6614) accounting server
	// on TCP instead of UDP: its listener requires a client certificate
	// signed by TLS.CAFile. FreeRADIUS runs threaded (-f, not -X), as TLS
	// listeners need.
	TLS *TLSFiles
}

// TLSFiles are the PEM files of a TLS listener.
type TLSFiles struct {
	CertFile, KeyFile, CAFile string
	// MaxVersion is the highest TLS version the server accepts, "1.2" or
	// "1.3" ("1.3" when empty). Under TLS 1.2 FreeRADIUS refuses a client
	// certificate by closing the connection inside the client's handshake;
	// under TLS 1.3 the client's handshake ends first and the refusal comes
	// later, on the client's first read or write.
	MaxVersion string
}

// HomeServer is a FreeRADIUS 3.2 accounting server that answers every
// Accounting-Request (and Status-Server) and writes each request to its
// detail file.
type HomeServer struct {
	// Addr is the accounting address, "127.0.0.1:PORT".
	Addr string
	// Secret is the shared secret.
	Secret string
	// Dir is the configuration directory.
	Dir string
	// DetailFile is the detail file the server writes.
	DetailFile string

	mu      sync.Mutex
	proc    *process
	counted int
	offset  int64
}

// stockConfig is the installed FreeRADIUS configuration directory.
const stockConfig = "/etc/freeradius/3.0"

// StartHomeServer starts a home server; t.Cleanup stops it.
func StartHomeServer(tb testing.TB, opt HomeOptions) *HomeServer {
	tb.Helper()
	Binary(tb)
	if opt.Secret == "" {
		opt.Secret = DefaultSecret
	}
	if len(opt.Clients) == 0 {
		opt.Clients = []string{"127.0.0.0/8"}
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		dir := tb.TempDir()
		port := freePort(tb)
		h := &HomeServer{
			Addr:       fmt.Sprintf("127.0.0.1:%d", port),
			Secret:     opt.Secret,
			Dir:        dir,
			DetailFile: filepath.Join(dir, "radacct", "detail"),
		}
		conf := fmt.Sprintf(mainConfig, dir, "no") + homeSite(port, opt)
		if opt.DefaultSitePreacct {
			conf = strings.Replace(conf, "modules {\n", fmt.Sprintf("modules {\n\texpr {\n\t}\n\tpreprocess {\n\t\thuntgroups = %[1]s/mods-config/preprocess/huntgroups\n\t\thints = %[1]s/mods-config/preprocess/hints\n\t}\n", stockConfig), 1)
			conf += fmt.Sprintf("policy {\n$INCLUDE %s/policy.d/accounting\n}\n", stockConfig)
			conf = strings.Replace(conf, "\tpreacct {\n\t}", "\tpreacct {\n\t\tpreprocess\n\t\tacct_unique\n\t}", 1)
		}
		writeConfig(tb, dir, conf, nil)
		if h.proc, err = startProcess(tb, dir); err == nil {
			tb.Cleanup(h.Stop)
			return h
		}
	}
	tb.Fatalf("freeradiustest: home server: %v", err)
	return nil
}

func homeSite(port int, opt HomeOptions) string {
	if opt.TLS != nil {
		return radsecHomeSite(port, opt)
	}
	var b strings.Builder
	for i, c := range opt.Clients {
		key := "ipaddr"
		if strings.Contains(c, ":") {
			key = "ipv6addr"
		}
		fmt.Fprintf(&b, "client c%d {\n\t%s = %s\n\tsecret = %q\n\trequire_message_authenticator = no\n}\n", i, key, c, opt.Secret)
	}
	fmt.Fprintf(&b, `server home {
	listen {
		type = acct
		ipaddr = 127.0.0.1
		port = %d
	}
	authorize {
		# Status-Server (RFC 5997) arrives here; answering it lets clients probe us.
		Autz-Type Status-Server {
			ok
		}
	}
	preacct {
	}
	accounting {
		detail
		ok
	}
}
`, port)
	return b.String()
}

// Stop stops the server (SIGTERM). Stopping a stopped server does nothing.
func (h *HomeServer) Stop() {
	h.mu.Lock()
	p := h.proc
	h.proc = nil
	h.mu.Unlock()
	if p != nil {
		p.stop()
	}
}

// Pid is the server's process id (0 when it is stopped): benchmarks read
// its CPU time from /proc.
func (h *HomeServer) Pid() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.proc == nil {
		return 0
	}
	return h.proc.cmd.Process.Pid
}

// Kill kills the server with SIGKILL, as a crash would.
func (h *HomeServer) Kill() {
	h.mu.Lock()
	p := h.proc
	h.proc = nil
	h.mu.Unlock()
	if p != nil {
		p.kill()
	}
}

// Start starts a stopped or killed server again on the same address; the
// detail file is kept and appended to.
func (h *HomeServer) Start(tb testing.TB) {
	tb.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.proc != nil {
		return
	}
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		if h.proc, err = startProcess(tb, h.Dir); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond) // the port may linger; retry
	}
	tb.Fatalf("freeradiustest: restarting home server: %v", err)
}

// Count returns the number of records in the detail file so far.
func (h *HomeServer) Count(tb testing.TB) int {
	tb.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	n, off, err := countRecords(h.DetailFile, h.offset)
	if err != nil {
		tb.Fatalf("freeradiustest: %v", err)
	}
	h.counted += n
	h.offset = off
	return h.counted
}

// WaitRecords waits until the detail file holds at least n records, polling;
// it fails the test after timeout.
func (h *HomeServer) WaitRecords(tb testing.TB, n int, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := h.Count(tb)
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("freeradiustest: home server holds %d records after %s, want %d", got, timeout, n)
		}
		time.Sleep(20 * time.Millisecond) // polling an external server with a deadline
	}
}

// Records reads the detail file the server wrote.
func (h *HomeServer) Records(tb testing.TB) []*detail.Record {
	tb.Helper()
	return ReadDetail(tb, h.DetailFile)
}

// ReadDetail reads every record of a detail file.
func ReadDetail(tb testing.TB, path string) []*detail.Record {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatalf("freeradiustest: %v", err)
	}
	defer f.Close()
	rd := detail.NewReader(f, path)
	var recs []*detail.Record
	for {
		r, err := rd.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return recs
			}
			tb.Fatalf("freeradiustest: reading %s: %v", path, err)
		}
		recs = append(recs, r)
	}
}

// radsecHomeSite is the site of a RadSec home server: the listener of
// FreeRADIUS's sites-available/tls reduced to accounting.
func radsecHomeSite(port int, opt HomeOptions) string {
	var b strings.Builder
	b.WriteString("clients radsec {\n")
	for i, c := range opt.Clients {
		key := "ipaddr"
		if strings.Contains(c, ":") {
			key = "ipv6addr"
		}
		fmt.Fprintf(&b, "\tclient c%d {\n\t\t%s = %s\n\t\tproto = tls\n\t\tsecret = %q\n\t}\n", i, key, c, opt.Secret)
	}
	b.WriteString("}\n")
	fmt.Fprintf(&b, `server home {
	listen {
		type = acct
		ipaddr = 127.0.0.1
		port = %d
		proto = tcp
		clients = radsec
		limit {
			max_connections = 64
			lifetime = 0
			idle_timeout = 0
		}
		tls {
			private_key_file = %q
			certificate_file = %q
			ca_file = %q
			require_client_cert = yes
			fragment_size = 8192
			tls_min_version = "1.2"
			tls_max_version = %q
		}
	}
	authorize {
		Autz-Type Status-Server {
			ok
		}
	}
	preacct {
	}
	accounting {
		detail
		ok
	}
}
`, port, opt.TLS.KeyFile, opt.TLS.CertFile, opt.TLS.CAFile, cmp.Or(opt.TLS.MaxVersion, "1.3"))
	return b.String()
}
