package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/radrelay/radrelay/config"
)

// logOutput is where logs go: stderr, or a file that SIGHUP reopens (so
// logrotate can move it away and signal radrelay, as with most daemons).
type logOutput struct {
	mu   sync.Mutex
	path string
	w    io.Writer
	file *os.File
}

func openLogOutput(path string, stderr io.Writer) (*logOutput, error) {
	o := &logOutput{path: path, w: stderr}
	if path == "" {
		return o, nil
	}
	if err := o.Reopen(); err != nil {
		return nil, err
	}
	return o, nil
}

func (o *logOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.w.Write(p)
}

// Reopen opens the log file again by name; the old file is closed once the
// new one is open, so no line is lost. Without a log file it does nothing.
func (o *logOutput) Reopen() error {
	if o.path == "" {
		return nil
	}
	f, err := os.OpenFile(o.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("opening the log file: %w", err)
	}
	o.mu.Lock()
	old := o.file
	o.file, o.w = f, f
	o.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

func (o *logOutput) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.file == nil {
		return nil
	}
	err := o.file.Close()
	o.file = nil
	o.w = io.Discard
	return err
}

// newLogger makes the structured logger a configuration asks for.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	lv, err := config.ParseLogLevel(level)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: lv, ReplaceAttr: durationText}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q is not text or json", format)
}

// durationText writes a duration as "30s" in every format: JSON would
// otherwise show nanoseconds (30000000000), which an operator cannot read.
func durationText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.String(a.Key, a.Value.Duration().String())
	}
	return a
}

// reopenLog is what SIGHUP does in run and in a spool-only listener: reopen
// log_file after logrotate moved it, or say there is none.
func reopenLog(logger *slog.Logger, out *logOutput, logFile string) {
	if logFile == "" {
		logger.Info("SIGHUP: no log_file to reopen (logging to standard error); the configuration is not reloaded, restart for that")
		return
	}
	if err := out.Reopen(); err != nil {
		logger.Error("reopening the log file", "err", err)
		return
	}
	logger.Info("reopened the log file", "file", logFile)
}
