package tailer

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/radrelay/radrelay/internal/freeradiustest"
)

// The test binary doubles as the helper processes of the tests: a detail
// file writer (a separate process, so its POSIX locks really exclude the
// tailer's, as FreeRADIUS's do) and a tailer that the crash test kills.
const childEnv = "RADRELAY_TAILER_TEST_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "writer":
		os.Exit(writerMain())
	case "tailer":
		os.Exit(crashChildMain())
	case "locker":
		os.Exit(lockerMain())
	case "holder":
		os.Exit(holderMain())
	}
	os.Exit(m.Run())
}

func envInt(name string) int {
	n, err := strconv.Atoi(os.Getenv(name))
	if err != nil {
		panic(fmt.Sprintf("%s: %v", name, err))
	}
	return n
}

// writerMain appends records [FROM, TO) to DIR/detail-NNNN, a new file every
// ROTATE records (dated names, as FreeRADIUS rotates), each record in one
// locked write. With RENAME_EVERY > 0 it also renames the current file out of
// the glob (to DIR/old-NNNN) every RENAME_EVERY records, as a logrotate-style
// rotation would.
func writerMain() int {
	dir := os.Getenv("DIR")
	from, to, rotate := envInt("FROM"), envInt("TO"), envInt("ROTATE")
	renameEvery, _ := strconv.Atoi(os.Getenv("RENAME_EVERY"))
	gate := bufio.NewReader(os.Stdin)
	first := map[string]int{} // the first record appended to each file
	for i := from; i < to; i++ {
		path := filepath.Join(dir, fmt.Sprintf("detail-%04d", i/rotate))
		if renameEvery > 0 && i > from && i%renameEvery == 0 {
			// A file that leaves the glob before any reader saw it cannot
			// be followed by anyone; ask the test to wait until the tailer
			// has the file open (its first record delivered).
			if f, ok := first[path]; ok && os.Getenv("GATE") != "" {
				fmt.Printf("rename %d\n", f)
				if _, err := gate.ReadString('\n'); err != nil {
					return 1
				}
			}
			os.Rename(path, filepath.Join(dir, fmt.Sprintf("old-%06d", i)))
			delete(first, path)
		}
		if _, ok := first[path]; !ok {
			first[path] = i
		}
		write := appendLocked
		if os.Getenv("NOWAIT") != "" {
			write = freeradiustest.AppendDetail
		}
		if k, _ := strconv.Atoi(os.Getenv("CLAIM_EVERY")); k > 0 && i > from && i%k == 0 {
			// Wait until a reader has claimed (renamed away) the file
			// the last k records went to, so that the next ones start a
			// fresh file: one claim per k records.
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) { // polling the directory
				if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
					break
				}
				if time.Now().After(deadline) {
					fmt.Fprintln(os.Stderr, "writer: file not claimed within a minute:", path)
					return 1
				}
			}
		}
		if err := write(path, testRecord(i)); err != nil {
			fmt.Fprintln(os.Stderr, "writer:", err)
			return 1
		}
	}
	return 0
}

// startWriter starts the writer process; the returned channel gets its exit
// error. With renames, beforeRename (if not nil) is called with the first
// record of each file before the writer renames it, and the rename waits
// until it returns.
func startWriter(t *testing.T, dir string, from, to, rotate, renameEvery int, beforeRename func(first int)) <-chan error {
	t.Helper()
	return startWriterWith(t, dir, from, to, rotate, renameEvery, beforeRename, nil)
}

// startWriterEnv starts the writer without renames, with extra environment
// (NOWAIT=1: it locks as FreeRADIUS does, see freeradiustest.AppendDetail).
func startWriterEnv(t *testing.T, dir string, from, to, rotate int, env []string) <-chan error {
	t.Helper()
	return startWriterWith(t, dir, from, to, rotate, 0, nil, env)
}

func startWriterWith(t *testing.T, dir string, from, to, rotate, renameEvery int, beforeRename func(first int), env []string) <-chan error {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=writer", "DIR="+dir,
		"FROM="+strconv.Itoa(from), "TO="+strconv.Itoa(to), "ROTATE="+strconv.Itoa(rotate),
		"RENAME_EVERY="+strconv.Itoa(renameEvery))
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	var gateOut io.ReadCloser
	var gateIn io.WriteCloser
	if beforeRename != nil {
		cmd.Env = append(cmd.Env, "GATE=1")
		gateOut, _ = cmd.StdoutPipe()
		gateIn, _ = cmd.StdinPipe()
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		if gateOut != nil {
			lines := bufio.NewScanner(gateOut)
			for lines.Scan() {
				var first int
				if _, err := fmt.Sscanf(lines.Text(), "rename %d", &first); err == nil {
					beforeRename(first)
				}
				io.WriteString(gateIn, "\n")
			}
		}
		done <- cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	return done
}

// lockerMain takes the POSIX write lock on FILE, says "locked", and holds it
// until its stdin is closed (another detail reader working on a file).
func lockerMain() int {
	f, err := os.OpenFile(os.Getenv("FILE"), os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if ok, err := lockFile(f); !ok || err != nil {
		fmt.Fprintln(os.Stderr, "lock:", ok, err)
		return 1
	}
	fmt.Println("locked")
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// startLockHolder starts lockerMain on path and returns once the lock is
// held; closing the returned channel (or the test ending) releases it.
func startLockHolder(t *testing.T, path string) chan struct{} {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=locker", "FILE="+path)
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if line != "locked\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("lock holder: %q", line)
	}
	release := make(chan struct{})
	var once sync.Once
	stop := func() { once.Do(func() { stdin.Close(); cmd.Wait() }) }
	go func() { <-release; stop() }()
	t.Cleanup(stop)
	return release
}

// holderMain is a writer without locking caught between open and write, as
// FreeRADIUS's detail module with locking = no can be (it opens the file
// name for every record, writes, closes): it opens FILE for appending,
// says "open", and when a line arrives on stdin appends records [FROM, TO)
// in one write, closes the file and says "closed".
func holderMain() int {
	f, err := os.OpenFile(os.Getenv("FILE"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("open")
	in := bufio.NewReader(os.Stdin)
	if _, err := in.ReadString('\n'); err != nil {
		return 1
	}
	var b []byte
	for i := envInt("FROM"); i < envInt("TO"); i++ {
		b = append(b, testRecord(i)...)
	}
	if _, err := f.Write(b); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("closed")
	io.Copy(io.Discard, in)
	return 0
}

// startHolder starts holderMain on path and returns once it holds the file
// open; calling the returned function makes it append records [from, to)
// and close the file, and returns once it has.
func startHolder(t *testing.T, path string, from, to int) (write func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=holder", "FILE="+path,
		"FROM="+strconv.Itoa(from), "TO="+strconv.Itoa(to))
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	out := bufio.NewReader(stdout)
	if line, _ := out.ReadString('\n'); line != "open\n" {
		t.Fatalf("holder: %q", line)
	}
	return func() {
		t.Helper()
		io.WriteString(stdin, "go\n")
		if line, _ := out.ReadString('\n'); line != "closed\n" {
			t.Fatalf("holder: %q", line)
		}
	}
}
