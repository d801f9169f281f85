package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/radrelay/radrelay/config"
	"github.com/radrelay/radrelay/listener"
)

// listenFromFlags is the [[listen]] of --listen, --client, --clients-conf
// and --spool.
func listenFromFlags() (config.Listen, error) {
	f := &runFlags
	if len(f.listen) == 0 {
		return config.Listen{}, errors.New("--client, --clients-conf and --spool need --listen ADDR (e.g. --listen 0.0.0.0:1813)")
	}
	if f.spool == "" {
		return config.Listen{}, errors.New("--listen needs --spool DIR: received records are written there before they are acknowledged")
	}
	l := config.Listen{UDP: f.listen, SpoolDir: f.spool, ClientsConf: f.clientsConf}
	for _, c := range f.clients {
		i := strings.LastIndexByte(c, ':')
		if i <= 0 || i == len(c)-1 {
			return l, fmt.Errorf("--client %q is not PREFIX:SECRET_FILE (e.g. 10.0.0.0/8:/etc/radrelay/nas.secret)", c)
		}
		l.Clients = append(l.Clients, config.ListenClient{Address: c[:i], SecretFile: c[i+1:]})
	}
	return l, nil
}

// listeners are the running [[listen]] servers of a run.
type listeners struct {
	all  []*listener.Listener
	done chan error
}

// startListeners opens every [[listen]] and serves them until ctx ends;
// wait returns when they have written and answered what they received.
func startListeners(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*listeners, error) {
	ls := &listeners{done: make(chan error, len(cfg.Listen))}
	for i := range cfg.Listen {
		lc, err := cfg.ListenerConfig(i, logger)
		if err != nil {
			return nil, err
		}
		l, err := listener.New(lc)
		if err != nil {
			return nil, err
		}
		ls.all = append(ls.all, l)
	}
	for _, l := range ls.all {
		go func() { ls.done <- l.Run(ctx) }()
	}
	return ls, nil
}

func (ls *listeners) wait() error {
	var errs []error
	for range ls.all {
		errs = append(errs, <-ls.done)
	}
	return errors.Join(errs...)
}

// runSpoolOnly serves the [[listen]] servers of cfg, which has no sink,
// until SIGTERM or SIGINT: another reader takes the spool's files. SIGHUP
// reopens the log file, as in a run with sinks.
func runSpoolOnly(cfg *config.Config, logger *slog.Logger, out *logOutput) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Signals first: a SIGHUP (logrotate) or SIGTERM that arrives once the
	// listeners say they listen must be handled, not kill the process.
	signalsDone := make(chan struct{})
	handle := watchSignals(signalsDone,
		func(sig os.Signal) {
			logger.Info("stopping: answering what was received", "signal", sig.String())
			cancel()
		},
		func() { reopenLog(logger, out, cfg.LogFile) },
		func(sig os.Signal) { exitNow(signalExitStatus(sig)) })
	stopped := make(chan struct{})
	go func() { defer close(stopped); handle() }()
	defer func() {
		close(signalsDone)
		<-stopped
	}()
	ls, err := startListeners(ctx, cfg, logger)
	if err != nil {
		return err
	}
	logger.Info("radrelay run starting (spool only: no sink)", "version", versionString())
	if cfg.StateDir != "" {
		// A newcomer who gave --state expects "radrelay status --state" to
		// work; say where the counters are instead.
		logger.Warn("spool only: the state directory is not used (no sink keeps progress), so radrelay status has nothing to read there; the listener's counters are on /metrics (--metrics ADDR, metrics_listen)", "state_dir", cfg.StateDir)
	}
	if cfg.MetricsListen != "" {
		// Only /metrics: the status page and health checks are about sinks.
		mon := newMonitor(time.Now())
		mon.listeners = ls.stats
		ln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			cancel()
			ls.wait()
			return fmt.Errorf("metrics endpoint: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", mon.metricsHandler())
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		logger.Info("serving metrics", "addr", ln.Addr().String(), "paths", "/metrics")
	}
	err = ls.wait()
	logger.Info("radrelay run stopped")
	return err
}

// stats are the counters of every listener, by its first address.
func (ls *listeners) stats() map[string]listener.Stats {
	m := map[string]listener.Stats{}
	for _, l := range ls.all {
		m[strings.Join(l.Addrs(), ",")] = l.Stats()
	}
	return m
}
