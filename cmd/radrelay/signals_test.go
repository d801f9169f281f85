package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// fakeSignals replaces the process's signals with a channel the test writes.
func fakeSignals(t *testing.T) chan<- os.Signal {
	t.Helper()
	ready := make(chan chan<- os.Signal, 1)
	old := notifySignals
	notifySignals = func(c chan<- os.Signal) func() {
		ready <- c
		return func() {}
	}
	t.Cleanup(func() { notifySignals = old })
	relay := make(chan os.Signal, 4)
	go func() {
		c := <-ready
		for s := range relay {
			c <- s
		}
	}()
	t.Cleanup(func() { close(relay) })
	return relay
}

func TestHandleSignals(t *testing.T) {
	sigs := fakeSignals(t)
	done := make(chan struct{})
	shutdown := make(chan os.Signal, 1)
	reopened := make(chan struct{}, 1)
	immediate := make(chan os.Signal, 1)
	finished := make(chan struct{})
	handle := watchSignals(done,
		func(s os.Signal) { shutdown <- s },
		func() { reopened <- struct{}{} },
		func(s os.Signal) { immediate <- s })
	go func() {
		handle()
		close(finished)
	}()
	sigs <- syscall.SIGHUP
	<-reopened
	sigs <- syscall.SIGTERM
	if s := <-shutdown; s != syscall.SIGTERM {
		t.Errorf("shutdown by %v", s)
	}
	sigs <- syscall.SIGINT
	if s := <-immediate; s != syscall.SIGINT {
		t.Errorf("immediate exit by %v", s)
	}
	<-finished
	close(done)
	if signalExitStatus(syscall.SIGINT) != 130 || signalExitStatus(syscall.SIGTERM) != 143 {
		t.Error("exit statuses of signals")
	}
}

func TestLogReopen(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "radrelay.log")
	out, err := openLogOutput(name, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	logger, err := newLogger(out, "json", "info")
	if err != nil {
		t.Fatal(err)
	}
	logger.Info("before rotation")
	if err := os.Rename(name, name+".1"); err != nil {
		t.Fatal(err)
	}
	logger.Info("still the old file")
	if err := out.Reopen(); err != nil {
		t.Fatal(err)
	}
	logger.Info("after rotation")
	old, _ := os.ReadFile(name + ".1")
	cur, _ := os.ReadFile(name)
	if !strings.Contains(string(old), "before rotation") || !strings.Contains(string(old), "still the old file") {
		t.Errorf("rotated file: %s", old)
	}
	if !strings.Contains(string(cur), `"msg":"after rotation"`) || strings.Contains(string(cur), "before") {
		t.Errorf("new file: %s", cur)
	}
	if _, err := newLogger(out, "xml", "info"); err == nil {
		t.Error("xml log format accepted")
	}
	if _, err := newLogger(out, "text", "loud"); err == nil {
		t.Error("unknown level accepted")
	}
}
