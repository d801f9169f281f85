package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=..."; otherwise
// it comes from the module's build information.
var version = ""

func init() {
	register(&command{
		name:    "version",
		summary: "print the version of radrelay",
		usage: `Usage: radrelay version

Prints radrelay's version, the Go version it was built with, and its platform.`,
		run: func(e *env, args []string) int {
			v := version
			if v == "" {
				v = "(devel)"
				if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
					v = bi.Main.Version
				}
			}
			fmt.Fprintf(e.stdout, "radrelay %s %s %s/%s\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return 0
		},
	})
}
