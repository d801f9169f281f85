// Package freeradiustest starts throwaway FreeRADIUS 3.2 servers for tests
// and benchmarks: a home server that acknowledges Accounting-Requests and
// writes them to a detail file, and a relay whose detail reader proxies a
// spool of detail files to a home server (FreeRADIUS's own radrelay, the
// peer radrelay is measured against).
//
// Each server runs from its own minimal configuration in a temp directory
// and listens on a random loopback port; t.Cleanup stops it. When FreeRADIUS
// is not installed the test is skipped with a loud message, or fails when
// RADRELAY_REQUIRE_SERVERS=1 (CI sets it).
//
//	home := freeradiustest.StartHomeServer(t, freeradiustest.HomeOptions{})
//	// send to home.Addr with home.Secret ...
//	home.WaitRecords(t, 100, time.Minute)
//	recs := home.Records(t)
package freeradiustest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// DefaultSecret is the shared secret used when the options name none.
const DefaultSecret = "testing123"

// RequireEnv is the environment variable that turns a missing FreeRADIUS
// from a skip into a failure.
const RequireEnv = "RADRELAY_REQUIRE_SERVERS"

// Binary returns the path of the freeradius (or radiusd) binary. It skips
// the test when there is none, or fails it when RADRELAY_REQUIRE_SERVERS=1.
func Binary(tb testing.TB) string {
	tb.Helper()
	for _, name := range []string{"freeradius", "radiusd"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		if p := "/usr/sbin/" + name; fileExists(p) {
			return p
		}
	}
	missing(tb, "freeradius")
	return ""
}

// Radclient returns the path of radclient, skipping or failing like Binary.
func Radclient(tb testing.TB) string {
	tb.Helper()
	if p, err := exec.LookPath("radclient"); err == nil {
		return p
	}
	missing(tb, "radclient")
	return ""
}

func missing(tb testing.TB, what string) {
	tb.Helper()
	msg := fmt.Sprintf("%s is not installed (apt-get install freeradius freeradius-utils): the FreeRADIUS interop test does not run", what)
	if os.Getenv(RequireEnv) == "1" {
		tb.Fatalf("%s, and %s=1", msg, RequireEnv)
	}
	tb.Skipf("SKIPPING: %s", msg)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// freePort returns a UDP port on 127.0.0.1 that was free a moment ago.
func freePort(tb testing.TB) int {
	tb.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// process is one running freeradius.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	tail []string // last lines of its log, for failure messages
}

// startProcess runs freeradius -d dir in the foreground and waits until it
// says it is ready.
func startProcess(tb testing.TB, dir string) (*process, error) {
	tb.Helper()
	cmd := exec.Command(Binary(tb), "-d", dir, "-n", "radiusd", "-f", "-l", "stdout")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting freeradius: %w", err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.tail = append(p.tail, line)
			if len(p.tail) > 40 {
				p.tail = p.tail[1:]
			}
			p.mu.Unlock()
			if !signalled && strings.Contains(line, "Ready to process requests") {
				signalled = true
				close(ready)
			}
		}
		io.Copy(io.Discard, out)
		cmd.Wait()
		close(p.done)
	}()
	select {
	case <-ready:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("freeradius -d %s exited before it was ready:\n%s", dir, p.log())
	case <-time.After(30 * time.Second):
		p.kill()
		return nil, fmt.Errorf("freeradius -d %s not ready after 30s:\n%s", dir, p.log())
	}
}

func (p *process) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.tail, "\n")
}

// stop sends SIGTERM and waits; after 10 s it kills.
func (p *process) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.kill()
	}
}

func (p *process) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// mainConfig is the part of radiusd.conf every server shares; %[1]s is the
// directory, %[2]s "yes" when the server proxies.
const mainConfig = `# Written by internal/freeradiustest.
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
logdir = %[1]s/log
raddbdir = %[1]s
radacctdir = %[1]s/radacct
name = radiusd
confdir = ${raddbdir}
modconfdir = ${confdir}/mods-config
run_dir = %[1]s/run
db_dir = ${raddbdir}
libdir = /usr/lib/freeradius
pidfile = ${run_dir}/${name}.pid
max_request_time = 30
cleanup_delay = 2
max_requests = 1048576
hostname_lookups = no
log {
	destination = stdout
	colourise = no
	auth = no
}
security {
	allow_core_dumps = no
	max_attributes = 0
	reject_delay = 0
	status_server = yes
}
proxy_requests = %[2]s
thread pool {
	start_servers = 4
	max_servers = 16
	min_spare_servers = 2
	max_spare_servers = 8
	max_requests_per_server = 0
	auto_limit_acct = no
}
modules {
	always ok {
		rcode = ok
	}
	detail {
		filename = ${radacctdir}/detail
		escape_filenames = no
		permissions = 0600
		header = "%%t"
		locking = no
	}
}
`

func writeConfig(tb testing.TB, dir, radiusd string, extra map[string]string) {
	tb.Helper()
	for _, sub := range []string{"log", "run", "radacct"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			tb.Fatal(err)
		}
	}
	files := map[string]string{"radiusd.conf": radiusd, "dictionary": "# local additions: none\n"}
	for k, v := range extra {
		files[k] = v
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
}

// countRecords counts the records in a detail file from offset on: the
// header lines (a line that is neither empty nor starts with a TAB). It
// returns the count and the offset after the last complete line.
func countRecords(path string, offset int64) (int, int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, offset, nil
	}
	if err != nil {
		return 0, offset, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return 0, offset, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return 0, offset, err
	}
	end := bytes.LastIndexByte(data, '\n') + 1
	n := 0
	for _, line := range bytes.Split(data[:end], []byte("\n")) {
		if len(line) > 0 && line[0] != '\t' {
			n++
		}
	}
	return n, offset + int64(end), nil
}
