package tailer

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	ossignal "os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/radrelay/radrelay/detail"
)

// lineSink appends the Acct-Session-Id of every record it acknowledges to a
// file, one write per Send: what a crashed process acknowledged is on disk
// (the page cache survives kill -9).
type lineSink struct {
	mu  sync.Mutex
	f   *os.File
	buf []byte
}

func (s *lineSink) Send(ctx context.Context, recs []*detail.Record, results []error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = s.buf[:0]
	for _, r := range recs {
		a, _ := r.Get("Acct-Session-Id")
		s.buf = append(s.buf, a.Value...)
		s.buf = append(s.buf, '\n')
	}
	if _, err := s.f.Write(s.buf); err != nil {
		for i := range results {
			results[i] = err
		}
		return
	}
	clear(results)
}

func (s *lineSink) Close() error { return s.f.Close() }

// crashChildMain runs a tailer (MODE consume|follow) over DIR/detail-* into
// a lineSink writing OUT, until SIGTERM (or SIGKILL from the test).
func crashChildMain() int {
	out, err := os.OpenFile(os.Getenv("OUT"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mode := Consume
	if os.Getenv("MODE") == "follow" {
		mode = Follow
	}
	ctx, stop := ossignal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	tl, err := New(Config{
		Inputs:        []Input{{Glob: filepath.Join(os.Getenv("DIR"), "detail-*"), Mode: mode}},
		Sinks:         []SinkSpec{{Name: "lines", Sink: &lineSink{f: out}, MaxOutstanding: envInt("MAXOUT"), BatchSize: 8}},
		StateDir:      os.Getenv("STATE"),
		QuarantineDir: filepath.Join(os.Getenv("STATE"), "quarantine"),
		PollInterval:  20 * time.Millisecond,
		SettleTime:    20 * time.Millisecond,
		Logger:        slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if os.Getenv("PARALLEL") != "" {
		// Every resumed backlog (and every large batch of appends) is
		// parsed in parallel, in small chunks.
		tl.parallelMin, tl.parallelChunk = 64<<10, 8<<10
	}
	fmt.Println("ready") // the handler for SIGTERM is installed
	if err := tl.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// countLines returns how often each id appears in the sink's output.
func countLines(path string) map[string]int {
	b, _ := os.ReadFile(path)
	m := map[string]int{}
	for _, l := range bytes.Split(b, []byte{'\n'}) {
		if len(l) > 0 {
			m[string(l)]++
		}
	}
	return m
}

func testCrash(t *testing.T, mode string, parallel bool) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	dir, state := t.TempDir(), t.TempDir()
	out := filepath.Join(state, "delivered")
	const n, perFile, maxOut, kills = 20000, 4000, 40, 6
	for f := 0; f < n/perFile; f++ {
		writeRecords(t, filepath.Join(dir, fmt.Sprintf("detail-%04d", f)), f*perFile, (f+1)*perFile)
		// Distinct modification times: oldest first is file order.
		mt := time.Now().Add(time.Duration(f-10) * time.Second)
		os.Chtimes(filepath.Join(dir, fmt.Sprintf("detail-%04d", f)), mt, mt)
	}
	var ready chan struct{}
	start := func() (*exec.Cmd, <-chan error) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=tailer", "DIR="+dir, "STATE="+state, "OUT="+out,
			"MODE="+mode, "MAXOUT="+strconv.Itoa(maxOut))
		if parallel {
			cmd.Env = append(cmd.Env, "PARALLEL=1")
		}
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ready = make(chan struct{})
		go func(ready chan struct{}) {
			line, _ := bufio.NewReader(stdout).ReadString('\n')
			if line == "ready\n" {
				close(ready)
			}
			io.Copy(io.Discard, stdout)
		}(ready)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		return cmd, done
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for k := 0; k < kills; k++ {
		cmd, done := start()
		// Kill at a random instant: the delay is the randomness, not a
		// synchronisation.
		d := time.Duration(200+rng.IntN(800)) * time.Millisecond
		kill := time.AfterFunc(d, func() { cmd.Process.Signal(syscall.SIGKILL) })
		err := <-done
		kill.Stop()
		if err == nil {
			t.Fatalf("child %d exited by itself", k)
		}
		t.Logf("kill %d after %v: %d ids delivered so far", k+1, d, len(countLines(out)))
	}
	// Final run: until everything is delivered (and, consuming, every file
	// deleted), then a clean SIGTERM.
	cmd, done := start()
	deadline := time.Now().Add(40 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond) // polling an external process
	defer tick.Stop()
	for range tick.C {
		complete := len(countLines(out)) >= n
		if complete && mode == "consume" {
			complete = len(listDir(t, dir)) == 0
		}
		if complete {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-done
			t.Fatalf("final run: %d of %d ids delivered, dir %v", len(countLines(out)), n, listDir(t, dir))
		}
	}
	waitClosed(t, ready, "the final tailer to start")
	cmd.Process.Signal(syscall.SIGTERM)
	if err := <-done; err != nil {
		t.Fatalf("clean shutdown: %v", err)
	}
	got := countLines(out)
	dups := 0
	for i := 0; i < n; i++ {
		c := got[sessionID(i)]
		if c == 0 {
			t.Errorf("record %s lost", sessionID(i))
		}
		dups += max(c-1, 0)
	}
	if len(got) != n {
		t.Errorf("%d distinct ids delivered, want %d", len(got), n)
	}
	t.Logf("%s: %d kills, %d duplicates (bound %d)", mode, kills, dups, kills*maxOut)
	if dups > kills*maxOut {
		t.Errorf("%d duplicates after %d kills, more than max_outstanding (%d) per kill", dups, kills, maxOut)
	}
	if mode == "follow" {
		for f := 0; f < n/perFile; f++ {
			if sz := fileSize(t, filepath.Join(dir, fmt.Sprintf("detail-%04d", f))); sz == 0 {
				t.Errorf("follow mode changed a source file")
			}
		}
	}
}

func TestCrashKill9Consume(t *testing.T) { testCrash(t, "consume", false) }
func TestCrashKill9Follow(t *testing.T)  { testCrash(t, "follow", false) }

// The same with the backlog parsed in parallel (backlog.go) after every
// restart: positions committed from a ParallelReader resume exactly.
func TestCrashKill9ConsumeParallel(t *testing.T) { testCrash(t, "consume", true) }
func TestCrashKill9FollowParallel(t *testing.T)  { testCrash(t, "follow", true) }
