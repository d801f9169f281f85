// Command radrelay writes, checks, follows and replays RADIUS accounting detail
// files, delivering every record to RADIUS servers, PostgreSQL or other files
// without losing any.
//
// Each subcommand lives in its own file and registers itself with register.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"sort"
	"strings"

	_ "github.com/radrelay/radrelay/sinks/all" // every sink type
)

// command is one subcommand of radrelay.
type command struct {
	name    string
	summary string // one line for the command list
	// usage is the man-page-quality help printed by "radrelay help NAME" and
	// "radrelay NAME --help": synopsis, description, examples. The flag
	// defaults are printed after it.
	usage string
	// actions are the words the command takes as its first argument
	// (quarantine list|show|unpack), offered by shell completion.
	actions []string
	// flags declares the command's flags on fs; it may be nil.
	flags func(fs *flag.FlagSet)
	// run executes the command with the arguments left after the flags and
	// returns the process exit status.
	run func(env *env, args []string) int
}

// env is what a command sees of the process, so tests can run commands in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// isTerminal reports whether stderr is a terminal (progress bars).
	isTerminal bool
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("radrelay: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

func main() {
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, isTerminal: isTerminal(os.Stderr)}
	stop := cpuProfile(os.Getenv("RADRELAY_CPUPROFILE"))
	stopTrace := executionTrace(os.Getenv("RADRELAY_TRACE"))
	stopAllocs := allocProfile(os.Getenv("RADRELAY_ALLOCPROFILE"))
	code := runMain(e, os.Args[1:])
	stopAllocs()
	stopTrace()
	stop()
	os.Exit(code)
}

// cpuProfile writes a CPU profile of the whole process to path when it is
// set (the hidden RADRELAY_CPUPROFILE variable): how the performance figures
// of docs/benchmarks.md are explained, on the binary a user runs. It returns
// what stops the profile.
func cpuProfile(path string) (stop func()) {
	return record("RADRELAY_CPUPROFILE", path, pprof.StartCPUProfile, pprof.StopCPUProfile)
}

// executionTrace writes a runtime execution trace of the whole process to
// path when it is set (the hidden RADRELAY_TRACE variable): where a stage of
// the pipeline waits, which a CPU profile cannot show (`go tool trace`). It
// returns what stops the trace.
func executionTrace(path string) (stop func()) {
	return record("RADRELAY_TRACE", path, trace.Start, trace.Stop)
}

// allocProfile writes a profile of what the whole process allocated
// (pprof's "allocs", sampled every 64 KiB) to path when it is set (the
// hidden RADRELAY_ALLOCPROFILE variable): where the collector's work
// comes from, which a CPU profile shows only as time in the collector.
// It returns what writes the profile.
func allocProfile(path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "radrelay: RADRELAY_ALLOCPROFILE: %v\n", err)
		return func() {}
	}
	runtime.MemProfileRate = 64 << 10
	return func() {
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			fmt.Fprintf(os.Stderr, "radrelay: RADRELAY_ALLOCPROFILE: %v\n", err)
		}
		f.Close()
	}
}

// record starts a recording of the process (start, stop) into the file
// path names, when it is set; a failure is said on stderr under the
// variable's name and the command runs unrecorded. It returns what stops
// the recording and closes the file.
func record(variable, path string, start func(io.Writer) error, stop func()) func() {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "radrelay: %s: %v\n", variable, err)
		return func() {}
	}
	if err := start(f); err != nil {
		fmt.Fprintf(os.Stderr, "radrelay: %s: %v\n", variable, err)
		f.Close()
		return func() {}
	}
	return func() {
		stop()
		f.Close()
	}
}

// runMain dispatches args to a subcommand and returns the exit status:
// 0 success, 1 the command found a problem (bad records, lost server), 2 usage error.
func runMain(e *env, args []string) int {
	if len(args) == 0 {
		printOverview(e.stderr)
		return 2
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				printUsage(e.stdout, c)
				return 0
			}
			fmt.Fprintf(e.stderr, "radrelay: unknown command %q\n", args[1])
			return 2
		}
		printOverview(e.stdout)
		return 0
	case "-version", "--version":
		name = "version"
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(e.stderr, "radrelay: unknown command %q; run \"radrelay help\" for the list\n", name)
		return 2
	}
	fs := flag.NewFlagSet("radrelay "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if c.flags != nil {
		c.flags(fs)
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(e.stdout, c)
			return 0
		}
		fmt.Fprintf(e.stderr, "radrelay %s: %v\nrun \"radrelay %s --help\" for usage\n", c.name, err, c.name)
		return 2
	}
	return c.run(e, fs.Args())
}

func printOverview(w io.Writer) {
	fmt.Fprint(w, `radrelay moves RADIUS accounting detail files to where they are needed,
without losing a record.

Usage:
  radrelay COMMAND [options] [arguments]

Commands:
`)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprint(w, `
Run "radrelay help COMMAND" or "radrelay COMMAND --help" for a command's options and examples.
`)
}

func printUsage(w io.Writer, c *command) {
	fmt.Fprintln(w, strings.TrimSpace(c.usage))
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	if c.flags != nil {
		c.flags(fs)
	}
	hasFlags := false
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprintln(w, "\nOptions:")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
