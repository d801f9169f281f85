// Package pgtest starts a throwaway PostgreSQL server for integration tests.
//
// A test package starts one server for all its tests in TestMain and gives
// each test a fresh database, which is cheap (CREATE DATABASE from template0
// takes milliseconds) while initdb takes a second or two:
//
//	var pg *pgtest.Server
//
//	func TestMain(m *testing.M) { pgtest.Main(m, &pg) }
//
//	func TestSomething(t *testing.T) {
//		dsn := pg.NewDatabase(t) // skips (or fails) when no server is available
//		...
//	}
//
// The server is built with initdb from /usr/lib/postgresql/15/bin (or the
// directory in RADRELAY_PG_BIN) into a temporary directory, listens on a
// random free loopback port and on a unix socket in that directory, and is
// stopped and removed when the tests finish. When run as root, initdb and
// postgres run as the "postgres" OS user, as PostgreSQL refuses to run as root.
//
// When RADRELAY_TEST_PG_DSN is set, no server is started: databases are
// created on the server that DSN points to (its user needs CREATEDB).
//
// When the server binaries are missing, tests using NewDatabase skip with a
// loud message, unless RADRELAY_REQUIRE_SERVERS=1, when they fail.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Environment variables the harness reads.
const (
	EnvDSN     = "RADRELAY_TEST_PG_DSN"
	EnvBin     = "RADRELAY_PG_BIN"
	EnvRequire = "RADRELAY_REQUIRE_SERVERS"
	defaultBin = "/usr/lib/postgresql/15/bin"
)

// Options tune a throwaway server.
type Options struct {
	// Durable keeps fsync and synchronous_commit on, as on a production
	// server; benchmarks want it, functional tests do not need it and run
	// faster without.
	Durable bool
	// Settings are extra "name=value" server settings (postgres -c).
	Settings []string
}

// Server is a running PostgreSQL server (throwaway or external).
type Server struct {
	// AdminDSN connects to the server's "postgres" database as a superuser
	// (or as the RADRELAY_TEST_PG_DSN user).
	AdminDSN string
	// Host and Port are where the server listens (Host is 127.0.0.1 for a
	// throwaway server).
	Host string
	Port int
	// Dir is the throwaway server's directory (data in Dir/data, socket and
	// log in Dir), empty for an external server.
	Dir string

	opts    Options
	bin     string
	cred    *syscall.Credential
	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	logPath string
}

// unavailable is why Main could not provide a server ("" when it could).
var unavailable string

// Main starts a throwaway server (or uses RADRELAY_TEST_PG_DSN), stores it
// in *srv, runs the tests, stops the server and exits. When no server can be
// started, *srv stays nil and every NewDatabase call skips or fails with the
// reason.
func Main(m *testing.M, srv **Server) {
	s, err := StartServer(Options{})
	if err != nil {
		unavailable = err.Error()
		fmt.Fprintf(os.Stderr, "pgtest: NO POSTGRESQL: %v; PostgreSQL tests will skip (set %s=1 to fail instead)\n", err, EnvRequire)
	}
	*srv = s
	code := m.Run()
	if s != nil {
		if err := s.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: stopping the server: %v\n", err)
		}
	}
	os.Exit(code)
}

// Unavailable skips t, or fails it when RADRELAY_REQUIRE_SERVERS=1, with reason.
func Unavailable(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv(EnvRequire) == "1" {
		t.Fatalf("PostgreSQL required (%s=1) but not available: %s", EnvRequire, reason)
	}
	t.Skipf("SKIPPING: no PostgreSQL for this test: %s", reason)
}

// Start starts a throwaway server of its own for t (for tests that stop and
// restart the server), stopped in t.Cleanup. It skips or fails t when that
// is impossible, also when RADRELAY_TEST_PG_DSN points to an external
// server, which a test must not restart.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if os.Getenv(EnvDSN) != "" {
		t.Skipf("SKIPPING: %s is set and this test needs a server of its own to restart", EnvDSN)
	}
	s, err := startThrowaway(opts)
	if err != nil {
		Unavailable(t, err.Error())
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("stopping PostgreSQL: %v", err)
		}
	})
	return s
}

// StartServer returns the server named by RADRELAY_TEST_PG_DSN, or starts a
// throwaway one. The caller must Close it.
func StartServer(opts Options) (*Server, error) {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvDSN, err)
		}
		return &Server{AdminDSN: dsn, Host: cfg.Host, Port: int(cfg.Port)}, nil
	}
	return startThrowaway(opts)
}

func startThrowaway(opts Options) (*Server, error) {
	bin := os.Getenv(EnvBin)
	if bin == "" {
		bin = defaultBin
	}
	for _, prog := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(bin, prog)); err != nil {
			return nil, fmt.Errorf("PostgreSQL server binaries not found in %s (install postgresql-15 or set %s or %s): %w", bin, EnvBin, EnvDSN, err)
		}
	}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, Host: "127.0.0.1", opts: opts, bin: bin, logPath: filepath.Join(dir, "postgres.log")}
	if os.Geteuid() == 0 {
		cred, err := postgresUser()
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		s.cred = cred
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"),
		"-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.Port = port
	s.AdminDSN = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	if err := s.StartPostgres(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// postgresUser is the credential of the "postgres" OS user.
func postgresUser() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root and there is no \"postgres\" OS user to run PostgreSQL as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StartPostgres starts the throwaway server's postgres process (again, after
// StopPostgres) on the same port and waits until it accepts connections.
func (s *Server) StartPostgres() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Dir == "" {
		return errors.New("pgtest: cannot start an external server")
	}
	if s.cmd != nil {
		return errors.New("pgtest: postgres is already running")
	}
	args := []string{"-D", filepath.Join(s.Dir, "data"), "-p", strconv.Itoa(s.Port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=" + s.Dir,
		"-c", "max_connections=200", "-c", "shared_buffers=256MB"}
	if !s.opts.Durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	for _, set := range s.opts.Settings {
		args = append(args, "-c", set)
	}
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Pdeathsig: if the test binary dies (a crash, a SIGKILL), postgres gets
	// SIGQUIT (immediate shutdown) instead of living on.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Setpgid: true, Pdeathsig: syscall.SIGQUIT}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("starting postgres: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(exited)
	}()
	s.cmd, s.exited = cmd, exited
	// Poll until the server accepts connections: an external process, so
	// polling with a deadline is the only way to know.
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, s.AdminDSN)
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		select {
		case <-exited:
			s.cmd = nil
			return fmt.Errorf("postgres exited during start-up; log:\n%s", s.logTail())
		default:
		}
		if time.Now().After(deadline) {
			s.stopLocked()
			return fmt.Errorf("postgres did not accept connections within 60s: %v; log:\n%s", err, s.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// StopPostgres stops the throwaway server's postgres process (fast shutdown:
// open transactions are rolled back and connections dropped) and waits for it.
func (s *Server) StopPostgres() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked()
}

func (s *Server) stopLocked() error {
	if s.cmd == nil {
		return nil
	}
	s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
	return nil
}

// Close stops a throwaway server and removes its directory. It does nothing
// to an external server.
func (s *Server) Close() error {
	if s == nil || s.Dir == "" {
		return nil
	}
	err := s.StopPostgres()
	if rmErr := os.RemoveAll(s.Dir); err == nil {
		err = rmErr
	}
	return err
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Log returns the end of the throwaway server's log, for failure messages.
func (s *Server) Log() string { return s.logTail() }

// NewDatabase creates an empty database for t, dropped in t.Cleanup, and
// returns a DSN for it. On a nil server (none available) it skips t, or
// fails it when RADRELAY_REQUIRE_SERVERS=1.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	if s == nil {
		reason := unavailable
		if reason == "" {
			reason = "pgtest.Main was not called in TestMain"
		}
		Unavailable(t, reason)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.AdminDSN)
	if err != nil {
		t.Fatalf("pgtest: connecting to the server: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE template0 ENCODING 'UTF8'"); err != nil {
		t.Fatalf("pgtest: creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, s.AdminDSN)
		if err != nil {
			return // the server is gone (a test stopped it); nothing to drop
		}
		defer conn.Close(context.Background())
		conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return s.DSN(name)
}

// DSN returns a DSN for database name on the server, with the admin DSN's
// user and options.
func (s *Server) DSN(name string) string {
	u, err := url.Parse(s.AdminDSN)
	if err != nil || u.Scheme == "" {
		// A keyword=value DSN: append the database.
		return strings.TrimSpace(s.AdminDSN) + " dbname=" + name
	}
	u.Path = "/" + name
	return u.String()
}

// PID is the throwaway server's postmaster process id (0 when it is not
// running or the server is external), so that a benchmark can account the
// CPU time the server used (its backends' time is added to the
// postmaster's children time when they exit).
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// LogPath is the throwaway server's log file ("" for an external server).
func (s *Server) LogPath() string { return s.logPath }
