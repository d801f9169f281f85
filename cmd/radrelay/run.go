package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/radrelay/radrelay/config"
	"github.com/radrelay/radrelay/tailer"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ", ") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// daemonFlags are the flags run and replay share.
type daemonFlags struct {
	config         string
	to             stringList
	maxOutstanding int
	batchSize      int
	state          string
	quarantine     string
	metrics        string
	logFormat      string
	logLevel       string
	logFile        string
	dictionary     string
}

func (f *daemonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "c", "", "read the configuration from `FILE` (see docs/configuration.md)")
	fs.StringVar(&f.config, "config", "", "same as -c `FILE`")
	fs.Var(&f.to, "to", "deliver to the sink `URL` ([NAME=]TYPE:WHERE; repeat for several sinks)")
	fs.IntVar(&f.maxOutstanding, "max-outstanding", 0, "records in flight per sink (default by sink type, max-outstanding/batch-size: "+config.DefaultWindows()+")")
	fs.IntVar(&f.batchSize, "batch-size", 0, "most records per delivery call (default by sink type, at most max-outstanding)")
	fs.StringVar(&f.quarantine, "quarantine", "", "write malformed and rejected records under `DIR` (default STATE/quarantine)")
	fs.StringVar(&f.metrics, "metrics", "", "serve Prometheus metrics, the status page and health checks on `ADDR` (e.g. 127.0.0.1:9813; key metrics_listen)")
	fs.StringVar(&f.metrics, "metrics-listen", "", "same as --metrics `ADDR` (named as the key metrics_listen)")
	fs.StringVar(&f.logFormat, "log-format", "", "log format: text or json (default text)")
	fs.StringVar(&f.logLevel, "log-level", "", "log level: debug, info, warn, error (default info; replay: warn)")
	fs.StringVar(&f.logFile, "log-file", "", "write logs to `FILE` instead of stderr (SIGHUP reopens it)")
	addDictionaryFlag(fs, &f.dictionary)
}

var runFlags struct {
	daemonFlags
	inputs          stringList
	mode            string
	startAt         string
	listen          stringList
	clients         stringList
	clientsConf     string
	spool           string
	shutdownTimeout time.Duration
}

func init() {
	register(&command{
		name:    "run",
		summary: "follow detail files and deliver every record to the sinks",
		usage: `Usage:
  radrelay run -c FILE
  radrelay run --input GLOB --mode consume|follow --to SINK-URL [--to SINK-URL]... --state DIR [options]
  radrelay run --listen ADDR --client PREFIX:SECRET_FILE --spool DIR [--to SINK-URL --state DIR] [options]

Run reads RADIUS accounting detail files as FreeRADIUS writes them and
delivers every record to every sink, at least once, until it is stopped.

Files matching each input glob are taken oldest first. --mode is required
with --input, and refused without it (a listener's spool is always consumed).
In consume mode (like FreeRADIUS's radrelay) a file is renamed to a work
file, read, and deleted once every sink has acknowledged every record in it.
In follow mode files are never renamed, deleted or written: radrelay
follows them as they grow and rotate and keeps its position in the state
directory.

Up to --max-outstanding records are in flight to each sink; a sink's
progress is saved only up to the last record it and every record before it
acknowledged, so a crash or kill -9 loses nothing (records in flight may be
sent again). Retryable failures are retried with backoff, forever by
default; malformed records and records a sink rejects go to the quarantine
directory, are logged and counted, and the stream goes on.

With --listen, radrelay is also the accounting server: it receives
Accounting-Requests on UDP from the --client networks (secrets in files),
writes each to a detail file under --spool (one directory per client,
detail-YYYYMMDD, as FreeRADIUS) and fsyncs it before it sends the
Accounting-Response; the sinks then get the spool like any input. Without
--to it only spools (and keeps no state: its counters are on --metrics).
--clients-conf FILE also accepts the clients of a FreeRADIUS clients.conf;
RadSec needs the file's [[listen]] table (docs/listener.md).

Without -c, the flags describe a whole setup (one line in a systemd unit).
With -c, the file describes it, and only the logging, metrics and
--dictionary flags may be added to override the file.

The built-in dictionary knows every vendor, attribute and VALUE of
FreeRADIUS 3.2's stock dictionaries; --dictionary PATH (or dictionary = in
the file) adds others, e.g. a FreeRADIUS server's local ones in
/etc/freeradius/3.0/dictionary. A record with an attribute no dictionary
knows cannot be proxied and is quarantined with its name; "radrelay
dictionary show NAME" says what radrelay knows.

Sink URLs:
  detail:/var/log/radrelay/detail   append to a detail file
  jsonl:/var/log/radrelay/acct.jsonl one JSON object per line; jsonl:- is stdout
  csv:/var/log/radrelay/acct.csv    comma-separated accounting log
  radius://10.0.0.2:1813?secret_file=/etc/radrelay/backup.secret
                                    proxy to a RADIUS accounting server
  postgres:///radius?host=/run/postgresql
                                    upsert into a FreeRADIUS radacct table
  nats://127.0.0.1:4222/radius.accounting?stream=RADIUS_ACCT
                                    publish to a NATS JetStream stream (tls://
                                    for TLS; docs/streams.md)
  kafka://kafka1:9092,kafka2:9092/radius-accounting
                                    produce to a Kafka topic (docs/streams.md)
  Prefix a URL with NAME= to name the sink (the name keys its progress in
  the state directory; by default it is made from the URL).
  Secrets are never written on the command line: use secret_file= or
  secret_env= (radius), credentials_file=, nkey_file=, token_file= or
  token_env= (nats), sasl_password_file= or sasl_password_env= (kafka),
  or a file named by the sink's configuration.

Signals:
  SIGTERM, SIGINT  stop reading, drain records in flight for up to
                   --shutdown-timeout, save progress, exit 0; a second
                   signal exits at once (status 143 or 130)
  SIGHUP           reopen the log file (after logrotate moved it); it does
                   NOT reload the configuration: restart for that (a
                   restart loses nothing)

Exit status: 0 after a clean shutdown, 1 when radrelay could not run
(a sink could not be opened, a directory is not writable), 2 for a usage or
configuration error, or when another radrelay holds the state directory
(the message names its pid).

Examples:
  Relay every FreeRADIUS detail file to a backup RADIUS server, consuming
  the files as radiusd -n radrelay would:
    radrelay run --input '/var/log/freeradius/radacct/*/detail-*' --mode consume \
      --to 'backup=radius://10.0.0.2:1813?secret_file=/etc/radrelay/backup.secret' \
      --state /var/lib/radrelay

  Follow the files read-only and copy them to JSON lines, with metrics:
    radrelay run --input '/var/log/freeradius/radacct/*/detail-*' --mode follow \
      --to jsonl:/var/log/radrelay/acct.jsonl --state /var/lib/radrelay \
      --metrics 127.0.0.1:9813

  Be the accounting server for 10.0.0.0/8 and relay to a backup server:
    radrelay run --listen 0.0.0.0:1813 --client 10.0.0.0/8:/etc/radrelay/nas.secret \
      --spool /var/spool/radrelay --state /var/lib/radrelay \
      --to 'backup=radius://10.0.0.2:1813?secret_file=/etc/radrelay/backup.secret'

  Run from a configuration file with debug logs:
    radrelay run -c /etc/radrelay/radrelay.toml --log-level debug

  Check a configuration first:
    radrelay validate -c /etc/radrelay/radrelay.toml`,
		flags: func(fs *flag.FlagSet) {
			runFlags.daemonFlags = daemonFlags{}
			runFlags.inputs, runFlags.mode, runFlags.startAt, runFlags.shutdownTimeout = nil, "", "", 0
			runFlags.listen, runFlags.clients, runFlags.clientsConf, runFlags.spool = nil, nil, "", ""
			fs.Var(&runFlags.listen, "listen", "receive accounting on UDP `ADDR` (e.g. 0.0.0.0:1813, [::]:1813; repeat for several) and spool it")
			fs.Var(&runFlags.clients, "client", "accept requests from `PREFIX:SECRET_FILE` (e.g. 10.0.0.0/8:/etc/radrelay/nas.secret; repeatable)")
			fs.StringVar(&runFlags.clientsConf, "clients-conf", "", "also accept the clients of a FreeRADIUS clients.conf `FILE`")
			fs.StringVar(&runFlags.spool, "spool", "", "write received records under `DIR` (one directory per client) before acknowledging them")
			runFlags.daemonFlags.register(fs)
			fs.Var(&runFlags.inputs, "input", "read the detail files matching `GLOB` (repeat for several)")
			fs.StringVar(&runFlags.mode, "mode", "", "how inputs are read (required with --input): consume (rename, read, delete) or follow (read-only)")
			fs.StringVar(&runFlags.startAt, "start-at", "", "follow mode, first start: `where` to read the files found: beginning, or end (only what is written from now on) (default beginning)")
			fs.StringVar(&runFlags.state, "state", "", "keep each sink's progress in `DIR` (required with --to)")
			fs.DurationVar(&runFlags.shutdownTimeout, "shutdown-timeout", 0, "on SIGTERM, wait this long for records in flight (default "+tailer.DefaultShutdownTimeout.String()+")")
		},
		run: runRun,
	})
}

func runRun(e *env, args []string) int {
	f := &runFlags
	if len(args) > 0 {
		fmt.Fprintf(e.stderr, "radrelay run: unexpected argument %q (inputs are given with --input or in the configuration)\n", args[0])
		return 2
	}
	var cfg *config.Config
	if f.config != "" {
		if len(f.inputs) > 0 || len(f.to) > 0 || f.mode != "" || f.startAt != "" || f.state != "" || f.quarantine != "" ||
			len(f.listen) > 0 || len(f.clients) > 0 || f.clientsConf != "" || f.spool != "" ||
			f.maxOutstanding != 0 || f.batchSize != 0 || f.shutdownTimeout != 0 {
			fmt.Fprintln(e.stderr, "radrelay run: with -c, the configuration file describes inputs, sinks and directories; only --log-format, --log-level, --log-file, --metrics (--metrics-listen) and --dictionary may be added")
			return 2
		}
		c, err := config.Load(f.config, config.Options{})
		if err != nil {
			fmt.Fprintln(e.stderr, err)
			return 2
		}
		cfg = c
	} else {
		c, err := configFromRunFlags()
		if err != nil {
			fmt.Fprintf(e.stderr, "radrelay run: %v\nrun \"radrelay run --help\" for usage\n", err)
			return 2
		}
		cfg = c
	}
	if err := f.daemonFlags.override(cfg); err != nil {
		fmt.Fprintf(e.stderr, "radrelay run: %v\n", err)
		return 2
	}
	res := runTailer(e, cfg, cfg.TailerConfig(), false)
	return res.status
}

// override applies the logging, metrics and dictionary flags to cfg and
// checks the result as a configuration file is checked.
func (f *daemonFlags) override(cfg *config.Config) error {
	if f.dictionary != "" {
		cfg.Dictionary = f.dictionary
	}
	if f.logFormat != "" {
		if f.logFormat != "text" && f.logFormat != "json" {
			return fmt.Errorf("--log-format %q is not text or json", f.logFormat)
		}
		cfg.LogFormat = f.logFormat
	}
	if f.logLevel != "" {
		if _, err := config.ParseLogLevel(f.logLevel); err != nil {
			return fmt.Errorf("--log-level: %v", err)
		}
		cfg.LogLevel = f.logLevel
	}
	if f.logFile != "" {
		cfg.LogFile = f.logFile
	}
	if f.metrics != "" {
		if _, _, err := net.SplitHostPort(f.metrics); err != nil {
			return fmt.Errorf("--metrics %q is not HOST:PORT (e.g. 127.0.0.1:9813 or :9813)", f.metrics)
		}
		cfg.MetricsListen = f.metrics
	}
	return cfg.Check()
}

// configFromRunFlags builds the configuration of "radrelay run" without -c.
func configFromRunFlags() (*config.Config, error) {
	f := &runFlags
	cfg := config.New()
	cfg.StateDir, cfg.QuarantineDir = f.state, f.quarantine
	if f.shutdownTimeout > 0 {
		cfg.ShutdownTimeout = f.shutdownTimeout
	}
	if len(f.listen) > 0 || len(f.clients) > 0 || f.clientsConf != "" || f.spool != "" {
		l, err := listenFromFlags()
		if err != nil {
			return nil, err
		}
		cfg.Listen = append(cfg.Listen, l)
	}
	if len(f.inputs) == 0 && len(cfg.Listen) == 0 {
		return nil, errors.New("no input: give --input GLOB (e.g. --input '/var/log/freeradius/radacct/*/detail-*'), --listen ADDR, or -c FILE")
	}
	if len(f.inputs) == 0 {
		// A listener's spool is always consumed: --mode and --start-at
		// say how --input files are read, and were silently ignored.
		if f.mode != "" {
			return nil, fmt.Errorf("--mode %s applies to --input files, and there is none: the listener's spool is always consumed (each file is deleted once every sink has passed it); drop --mode, or add --input GLOB", f.mode)
		}
		if f.startAt != "" {
			return nil, fmt.Errorf("--start-at %s applies to --input files, and there is none: the listener's spool is read whole; drop --start-at, or add --input GLOB", f.startAt)
		}
	}
	mode := tailer.Consume
	switch f.mode {
	case "consume":
	case "follow":
		mode = tailer.Follow
	case "":
		if len(f.inputs) > 0 {
			return nil, fmt.Errorf("--mode is required, say how the files are read:\n%s", config.ModeChoices)
		}
	default:
		return nil, fmt.Errorf("--mode %q is not consume or follow:\n%s", f.mode, config.ModeChoices)
	}
	atEnd := false
	switch f.startAt {
	case "", "beginning":
	case "end":
		if mode != tailer.Follow {
			return nil, errors.New("--start-at end needs --mode follow (consume reads every file whole)")
		}
		atEnd = true
	default:
		return nil, fmt.Errorf("--start-at %q is not beginning or end", f.startAt)
	}
	for _, g := range f.inputs {
		cfg.Inputs = append(cfg.Inputs, config.Input{Glob: g, Mode: mode, StartAtEnd: atEnd})
	}
	if len(cfg.Listen) > 0 && len(f.to) == 0 {
		return cfg, nil // spool only: another reader takes the files
	}
	if cfg.StateDir == "" {
		return nil, errors.New("no --state DIR: radrelay keeps each sink's progress there (e.g. --state /var/lib/radrelay)")
	}
	sinks, err := sinksFromFlags(&f.daemonFlags)
	if err != nil {
		return nil, err
	}
	cfg.Sinks = sinks
	return cfg, nil
}

// sinksFromFlags makes the sinks of --to, --max-outstanding and --batch-size.
func sinksFromFlags(f *daemonFlags) ([]config.Sink, error) {
	if len(f.to) == 0 {
		return nil, errors.New("no sink: give --to SINK-URL (e.g. --to jsonl:- or --to detail:/var/log/radrelay/detail)")
	}
	var out []config.Sink
	for _, arg := range f.to {
		sc, err := config.SinkFromArg(arg)
		if err != nil {
			return nil, err
		}
		sc.SetWindow(f.maxOutstanding, f.batchSize)
		out = append(out, sc)
	}
	return out, nil
}

// metricsListening, when set (by tests), is told the metrics endpoint's address.
var metricsListening func(addr string)

// runResult is what runTailer reports.
type runResult struct {
	status   int
	stats    tailer.Stats
	duration time.Duration
	err      error
	// signal is the signal that stopped the run, nil when it ended by itself.
	signal os.Signal
	// unsettledAtSignal is, per sink, unsettled() when the signal came:
	// the number the stopping line gave.
	unsettledAtSignal map[string]int64
	// filtered counts, per sink, the records its filter passed over.
	filtered map[string]int64
}

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// runTailer opens the sinks of cfg, runs the tailer with tc (whose Sinks it
// fills) until it ends or a signal stops it, and closes everything. replay
// draws a progress bar on a terminal and logs less.
func runTailer(e *env, cfg *config.Config, tc tailer.Config, replay bool) runResult {
	// Relaying allocates per record and keeps little beyond the records in
	// flight: the parsing GC setting saves a fifth of the CPU per record
	// (see docs/benchmarks.md, RADIUS through the built binary).
	inFlight := 0
	for _, sc := range cfg.Sinks {
		inFlight += sc.MaxOutstanding
	}
	defer parsingGC(inFlight)()
	command := "run"
	if replay {
		command = "replay"
	}
	// Logs and the progress bar share stderr; one lock keeps their writes whole.
	stderr := &lockedWriter{w: e.stderr}
	e = &env{stdin: e.stdin, stdout: e.stdout, stderr: stderr, isTerminal: e.isTerminal}
	out, err := openLogOutput(cfg.LogFile, stderr)
	if err != nil {
		fmt.Fprintf(e.stderr, "radrelay %s: %v\n", command, err)
		return runResult{status: 1, err: err}
	}
	defer out.Close()
	logger, err := newLogger(out, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		fmt.Fprintf(e.stderr, "radrelay %s: %v\n", command, err)
		return runResult{status: 2, err: err}
	}
	fail := func(status int, err error) runResult {
		logger.Error("radrelay cannot run", "err", err)
		if cfg.LogFile != "" || cfg.LogFormat == "json" {
			fmt.Fprintf(e.stderr, "radrelay %s: %v\n", command, err)
		}
		return runResult{status: status, err: err}
	}

	if len(cfg.Listen) > 0 && len(cfg.Sinks) == 0 {
		if err := runSpoolOnly(cfg, logger, out); err != nil {
			return fail(1, err)
		}
		return runResult{}
	}
	// The sinks live until they are closed, past the shutdown that ctx
	// starts: they must deliver the records drained after a SIGTERM.
	sinkCtx, sinkCancel := context.WithCancel(context.Background())
	defer sinkCancel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, w := range cfg.SinkWarnings() {
		logger.Warn(w.Msg)
	}
	opened, err := cfg.OpenSinks(sinkCtx, logger)
	if err != nil {
		return fail(1, err)
	}
	// The tailer never closes the sinks: they are closed here, once.
	defer func() {
		for _, o := range opened {
			if err := o.Spec.Sink.Close(); err != nil {
				logger.Error("closing sink", "sink", o.Spec.Name, "err", err)
			}
		}
	}()
	filtered := func() map[string]int64 {
		m := map[string]int64{}
		for _, o := range opened {
			if o.Filter != nil {
				m[o.Spec.Name] = o.Filter.Skipped()
			}
		}
		return m
	}
	started := time.Now()
	mon := newMonitor(started)
	for i, o := range opened {
		spec := o.Spec
		spec.Sink = mon.watch(spec.Name, cfg.Sinks[i].Type, spec.Sink)
		tc.Sinks = append(tc.Sinks, spec)
	}
	tc.Logger = logger
	t, err := tailer.New(tc)
	if err != nil {
		return fail(2, err)
	}
	mon.attach(t.Stats, filtered)
	pub := newStatusPublisher(mon, command, started, tc)

	// Signals are caught before the metrics endpoint answers: whoever sees
	// it (a supervisor, a test) may send SIGTERM at once, and that must
	// drain and exit 0, not kill the process by the default action.
	var stopSignal struct {
		sync.Mutex
		sig       os.Signal
		unsettled map[string]int64
	}
	signalsDone := make(chan struct{})
	immediateExit := exitNow
	handleSignals := watchSignals(signalsDone,
		func(sig os.Signal) {
			// Reading stops first: what is counted below is all the
			// drain can deliver.
			cancel()
			st := t.Stats()
			stopSignal.Lock()
			stopSignal.sig = sig
			stopSignal.unsettled = map[string]int64{}
			for _, s := range st.Sinks {
				stopSignal.unsettled[s.Name] = unsettled(s)
			}
			stopSignal.Unlock()
			// Said at a level the default shows (replay's default is
			// warn): a stuck sink otherwise looks like a hung Ctrl-C.
			level := slog.LevelInfo
			if replay {
				level = slog.LevelWarn
			}
			logger.Log(context.Background(), level, stoppingMessage(st, cfg.ShutdownTimeout), "signal", sig.String())
		},
		func() { reopenLog(logger, out, cfg.LogFile) },
		func(sig os.Signal) {
			logger.Warn("second signal: exiting at once; records in flight will be sent again on the next start", "signal", sig.String())
			immediateExit(signalExitStatus(sig))
		})
	signalsStopped := make(chan struct{})
	go func() {
		defer close(signalsStopped)
		handleSignals()
	}()
	defer func() {
		close(signalsDone)
		<-signalsStopped
	}()

	if cfg.MetricsListen != "" {
		ln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			return fail(1, fmt.Errorf("metrics endpoint: %w", err))
		}
		pub.base.MetricsListen = ln.Addr().String()
		ss := &statusServer{m: mon, pub: pub, readyMaxBacklog: cfg.ReadyMaxBacklog, stateDir: tc.StateDir, quarantineDir: tc.QuarantineDir}
		srv := &http.Server{Handler: ss.handler(), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		logger.Info("serving metrics and status", "addr", ln.Addr().String(), "paths", "/ /metrics /healthz /readyz /status.json")
		if metricsListening != nil {
			metricsListening(ln.Addr().String())
		}
	}
	if tc.StateDir != "" {
		pubCtx, pubStop := context.WithCancel(context.Background())
		pubDone := make(chan struct{})
		go pub.run(pubCtx, t.Started(), pubDone, func(err error) {
			logger.Warn("cannot write the status file; radrelay status will show only positions", "err", err)
		})
		defer func() { pubStop(); <-pubDone }()
	}

	var names []string
	for _, s := range tc.Sinks {
		names = append(names, s.Name)
	}
	var inputs []string
	for _, in := range tc.Inputs {
		if in.Glob != "" {
			inputs = append(inputs, in.Glob)
		}
		inputs = append(inputs, in.Files...)
	}
	qdir := tc.QuarantineDir
	if qdir == "" && tc.StateDir != "" {
		qdir = tailer.DefaultQuarantineDir(tc.StateDir)
	}
	dict := "built-in"
	if cfg.Dictionary != "" {
		dict = "built-in + " + cfg.Dictionary
	}
	logger.Info("radrelay "+command+" starting", "version", versionString(), "inputs", inputs, "sinks", names, "state_dir", tc.StateDir, "quarantine_dir", qdir, "dictionary", dict)

	var progressDone <-chan struct{}
	stopProgress := make(chan struct{})
	if replay && e.isTerminal {
		progressDone = runProgress(e.stderr, t.Stats, stopProgress)
	}
	// The listeners stop with ctx too: they stop receiving, and write and
	// answer what they received, while the tailer drains.
	var ls *listeners
	if len(cfg.Listen) > 0 {
		if ls, err = startListeners(ctx, cfg, logger); err != nil {
			return fail(1, err)
		}
		mon.mu.Lock()
		mon.listeners = ls.stats
		mon.mu.Unlock()
	}
	runErr := t.Run(ctx)
	if ls != nil {
		cancel()
		if err := ls.wait(); err != nil {
			logger.Error("closing the spool", "err", err)
		}
	}
	close(stopProgress)
	if progressDone != nil {
		<-progressDone
	}
	res := runResult{stats: t.Stats(), duration: time.Since(started), filtered: filtered()}
	stopSignal.Lock()
	res.signal, res.unsettledAtSignal = stopSignal.sig, stopSignal.unsettled
	stopSignal.Unlock()
	switch {
	case runErr == nil || (res.signal != nil && errors.Is(runErr, context.Canceled)):
		logger.Info("radrelay "+command+" stopped", "duration", res.duration.Round(time.Millisecond).String())
	default:
		res.err = runErr
		res.status = 1
		if errors.Is(runErr, tailer.ErrStateLocked) {
			res.status = 2 // a second instance: restarting it cannot help
		}
		logger.Error("radrelay "+command+" failed", "err", runErr)
		if cfg.LogFile != "" || cfg.LogFormat == "json" {
			fmt.Fprintf(e.stderr, "radrelay %s: %v\n", command, runErr)
		}
	}
	return res
}
