package main

import (
	"flag"
	"fmt"

	"github.com/radrelay/radrelay/config"
)

var validateFlags struct {
	config string
	print  bool
	replay bool
}

func init() {
	register(&command{
		name:    "validate",
		summary: "check a configuration file and exit",
		usage: `Usage:
  radrelay validate [--print] [--replay] -c FILE

Validate reads a configuration file, makes exactly the checks "radrelay
run -c FILE" makes before it opens a connection or a file (the same code),
and exits. Every problem is reported on a line of its own, as
FILE:LINE: message, so an editor can jump to it: syntax errors, unknown keys
(with the closest known key), values of the wrong type, and contradictions
such as two sinks with one name, a batch_size larger than max_outstanding,
consume/follow inputs without a state_dir, or a file sink writing into its
own input.

It also checks what the file refers to on this machine: that secret and DSN
files are readable and that named environment variables are set (without
printing them), and that the dictionaries load. It does not connect to any
server. Warnings (a secret written in the file, a directory not made yet)
do not make the file invalid.

With --print, the effective configuration (defaults filled in, secrets
replaced by "xxxxx") is written to stdout as TOML. With --replay, the file
is checked as "radrelay replay -c FILE" reads it: inputs and state_dir are
not required.

Exit status: 0 when the configuration is valid, 2 when it is not (as
"radrelay run" exits for it) or for a usage error.

Examples:
  radrelay validate -c /etc/radrelay/radrelay.toml
  radrelay validate --print -c examples/minimal.toml
  ExecStartPre=/usr/bin/radrelay validate -c /etc/radrelay/radrelay.toml   (systemd)`,
		flags: func(fs *flag.FlagSet) {
			validateFlags.config, validateFlags.print, validateFlags.replay = "", false, false
			fs.StringVar(&validateFlags.config, "c", "", "the configuration `FILE` to check")
			fs.StringVar(&validateFlags.config, "config", "", "same as -c `FILE`")
			fs.BoolVar(&validateFlags.print, "print", false, "print the effective configuration, secrets redacted")
			fs.BoolVar(&validateFlags.replay, "replay", false, "check the file as radrelay replay -c reads it")
		},
		run: runValidate,
	})
}

func runValidate(e *env, args []string) int {
	f := &validateFlags
	if f.config == "" && len(args) == 1 {
		f.config, args = args[0], nil
	}
	if f.config == "" || len(args) > 0 {
		fmt.Fprintln(e.stderr, "radrelay validate: give one configuration file: radrelay validate -c FILE")
		return 2
	}
	cfg, err := config.Load(f.config, config.Options{Replay: f.replay})
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		return 2
	}
	for _, w := range cfg.Warnings() {
		fmt.Fprintln(e.stderr, w)
	}
	if f.print {
		if err := cfg.Print(e.stdout); err != nil {
			fmt.Fprintf(e.stderr, "radrelay validate: %v\n", err)
			return 1
		}
	}
	if f.replay {
		fmt.Fprintf(e.stderr, "%s: valid for replay (%s; [[input]] and state_dir are not used by replay)\n", f.config, plural(int64(len(cfg.Sinks)), "sink"))
		return 0
	}
	listeners := ""
	if len(cfg.Listen) > 0 {
		// Say that the [[listen]] tables were seen: a listener-only file
		// otherwise reads "0 inputs".
		listeners = plural(int64(len(cfg.Listen)), "listener") + ", "
		if len(cfg.Sinks) == 0 {
			listeners += "spool only, "
		}
	}
	fmt.Fprintf(e.stderr, "%s: valid (%s%s, %s)\n", f.config, listeners, plural(int64(len(cfg.Inputs)), "input"), plural(int64(len(cfg.Sinks)), "sink"))
	return 0
}
