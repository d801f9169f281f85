package freeradiustest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// StockRaddb is where Debian's freeradius-postgresql puts FreeRADIUS 3.2's
// configuration, with the stock PostgreSQL schema and queries.
const StockRaddb = "/etc/freeradius/3.0"

// BufferedSQL is a FreeRADIUS 3.2 server whose detail reader loads the
// detail files of its spool into PostgreSQL with the stock sql module and
// the stock PostgreSQL queries (sites-available/buffered-sql).
type BufferedSQL struct {
	dir, spool string
	cmd        *exec.Cmd
	done       chan struct{}

	mu  sync.Mutex
	log strings.Builder // FreeRADIUS's output (the first MiB)
}

// LogText returns what FreeRADIUS printed so far.
func (b *BufferedSQL) LogText() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.log.String()
}

// StartBufferedSQL copies the stock configuration into a temp dir, enables
// only what buffered-sql needs (preprocess, acct_unique, sql against dsn's
// server (host, port) and database dbname), and starts FreeRADIUS. t.Cleanup stops it.
//
// With verbose, FreeRADIUS logs at debug level 2 (-xx), which is the only way
// it says that it gave up on a line of a detail file.
func StartBufferedSQL(t testing.TB, host string, port int, dbname string, verbose bool) *BufferedSQL {
	t.Helper()
	bin := Binary(t)
	if _, err := os.Stat(filepath.Join(StockRaddb, "mods-config/sql/main/postgresql/queries.conf")); err != nil {
		msg := "freeradius-postgresql (the stock PostgreSQL queries) is not installed"
		if os.Getenv(RequireEnv) == "1" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPING: " + msg)
	}
	dir := t.TempDir()
	raddb := filepath.Join(dir, "raddb")
	if out, err := exec.Command("cp", "-a", StockRaddb, raddb).CombinedOutput(); err != nil {
		t.Fatalf("copying %s: %v %s", StockRaddb, err, out)
	}
	conf, err := os.ReadFile(filepath.Join(raddb, "radiusd.conf"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(conf), "\n") {
		trim := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(trim, "user =") || strings.HasPrefix(trim, "group ="):
			l = "#" + l
		case strings.HasPrefix(l, "logdir ="):
			l = "logdir = " + filepath.Join(dir, "log")
		case strings.HasPrefix(l, "run_dir ="):
			l = "run_dir = " + filepath.Join(dir, "run")
		case strings.HasPrefix(l, "raddbdir ="):
			l = "raddbdir = " + raddb
		}
		lines = append(lines, l)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(raddb, "radiusd.conf"), []byte(strings.Join(lines, "\n")), 0o644))
	for _, sub := range []string{"log", "run", "spool"} {
		must(os.MkdirAll(filepath.Join(dir, sub), 0o755))
	}
	for _, d := range []string{"sites-enabled", "mods-enabled"} {
		ents, _ := os.ReadDir(filepath.Join(raddb, d))
		for _, e := range ents {
			must(os.Remove(filepath.Join(raddb, d, e.Name())))
		}
	}
	for _, m := range []string{"always", "expr", "preprocess"} {
		must(os.Symlink("../mods-available/"+m, filepath.Join(raddb, "mods-enabled", m)))
	}
	// The sql module: our own minimal instance, the stock queries.conf.
	sqlConf := fmt.Sprintf(`sql {
	dialect = "postgresql"
	driver = "rlm_sql_postgresql"
	postgresql {
		send_application_name = yes
	}
	radius_db = "host=%s port=%d dbname=%s user=postgres"
	acct_table1 = "radacct"
	acct_table2 = "radacct"
	postauth_table = "radpostauth"
	authcheck_table = "radcheck"
	groupcheck_table = "radgroupcheck"
	authreply_table = "radreply"
	groupreply_table = "radgroupreply"
	usergroup_table = "radusergroup"
	delete_stale_sessions = yes
	client_table = "nas"
	group_attribute = "SQL-Group"
	pool {
		start = 1
		min = 1
		max = 4
		spare = 2
		uses = 0
		retry_delay = 1
		lifetime = 0
		idle_timeout = 60
	}
	$INCLUDE ${modconfdir}/${.:name}/main/${dialect}/queries.conf
}
`, host, port, dbname)
	must(os.WriteFile(filepath.Join(raddb, "mods-enabled", "sql"), []byte(sqlConf), 0o644))
	spool := filepath.Join(dir, "spool")
	site := fmt.Sprintf(`server buffered-sql {
	listen {
		type = detail
		filename = %q
		load_factor = 100
		poll_interval = 1
		retry_interval = 30
	}
	preacct {
		preprocess
		acct_unique
	}
	accounting {
		# The stock buffered-sql has only "sql" here. When the queries
		# change no row (an Accounting-On for a NAS without open sessions,
		# an interim after a stop), sql returns noop, no response is made
		# and the detail reader retries the record every retry_interval,
		# forever. "ok" after it lets the reader go on.
		sql
		ok
	}
}
`, filepath.Join(spool, "detail-*"))
	must(os.WriteFile(filepath.Join(raddb, "sites-enabled", "buffered-sql"), []byte(site), 0o644))

	b := &BufferedSQL{dir: dir, spool: spool, done: make(chan struct{})}
	args := []string{"-d", raddb, "-f", "-l", "stdout"}
	if verbose || os.Getenv("RADRELAY_FREERADIUS_DEBUG") == "1" {
		args = append(args, "-xx")
	}
	b.cmd = exec.Command(bin, args...)
	b.cmd.Env = append(os.Environ(), "TZ=UTC")
	out, err := b.cmd.StdoutPipe()
	must(err)
	b.cmd.Stderr = b.cmd.Stdout
	must(b.cmd.Start())
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		signalled := false
		for sc.Scan() {
			b.mu.Lock()
			if b.log.Len() < 1<<20 {
				b.log.WriteString(sc.Text() + "\n")
			}
			b.mu.Unlock()
			if !signalled && strings.Contains(sc.Text(), "Ready to process requests") {
				signalled = true
				close(ready)
			}
		}
		io.Copy(io.Discard, out)
		b.cmd.Wait()
		close(b.done)
	}()
	select {
	case <-ready:
	case <-b.done:
		t.Fatalf("freeradius (buffered-sql) exited at start:\n%s", b.LogText())
	case <-time.After(30 * time.Second):
		t.Fatal("freeradius (buffered-sql) not ready after 30s")
	}
	t.Cleanup(b.Stop)
	return b
}

func (b *BufferedSQL) Stop() {
	select {
	case <-b.done:
		return
	default:
	}
	b.cmd.Process.Signal(os.Interrupt)
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		b.cmd.Process.Kill()
		<-b.done
	}
}

// Load puts the detail file at path into the spool and waits until
// FreeRADIUS has processed and deleted it (polling: it is an external
// process that says nothing else when it is done).
func (b *BufferedSQL) Load(t testing.TB, path string, timeout time.Duration) time.Duration {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(b.dir, "incoming")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := os.Rename(tmp, filepath.Join(b.spool, "detail-1")); err != nil {
		t.Fatal(err)
	}
	deadline := start.Add(timeout)
	for {
		m, _ := filepath.Glob(filepath.Join(b.spool, "detail*"))
		if len(m) == 0 {
			return time.Since(start)
		}
		select {
		case <-b.done:
			t.Fatalf("freeradius exited while loading:\n%s", b.LogText())
		default:
		}
		if time.Now().After(deadline) {
			l := b.LogText()
			if len(l) > 6000 {
				l = l[len(l)-6000:]
			}
			t.Fatalf("freeradius did not finish %s within %v; log:\n%s", path, timeout, l)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// StockSchema is FreeRADIUS 3.2's own PostgreSQL schema.sql (radacct and the
// other tables of the stock sql module), read from StockRaddb.
func StockSchema(tb testing.TB) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(StockRaddb, "mods-config/sql/main/postgresql/schema.sql"))
	if err != nil {
		tb.Fatalf("freeradiustest: FreeRADIUS's PostgreSQL schema: %v", err)
	}
	return string(b)
}
