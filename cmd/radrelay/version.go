package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=..." (make
// build, make deb and the Dockerfile set it from `git describe`); otherwise
// it comes from the module's build information (go install ...@vX.Y.Z).
//
// Versions follow the release tags: vMAJOR.MINOR.PATCH (semantic
// versioning, as Go modules want), e.g. v0.1.0; a build between tags is
// vX.Y.Z-N-gHASH (N commits after the tag), and -dirty is appended when the
// working tree had changes. docs/operations.md explains the scheme.
var version = ""

func init() {
	register(&command{
		name:    "version",
		summary: "print the version of radrelay",
		usage: `Usage: radrelay version

Prints radrelay's version (the release tag it was built from, e.g. v0.1.0,
or vX.Y.Z-N-gHASH for a build N commits after a tag), the commit and its
time when known, the Go version it was built with, and its platform.`,
		run: func(e *env, args []string) int {
			fmt.Fprintf(e.stdout, "radrelay %s", versionString())
			if rev, at := buildCommit(); rev != "" {
				fmt.Fprintf(e.stdout, " (commit %s", rev)
				if at != "" {
					fmt.Fprintf(e.stdout, ", %s", at)
				}
				fmt.Fprint(e.stdout, ")")
			}
			fmt.Fprintf(e.stdout, " %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return 0
		},
	})
}

// buildCommit returns the VCS revision (12 digits) and commit time that Go
// stamped into the binary, when it was built from a checkout.
func buildCommit() (rev, at string) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "", ""
	}
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" && dirty {
		rev += "-dirty"
	}
	return rev, at
}
