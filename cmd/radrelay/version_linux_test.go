//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestVersionFromTag: in a clone of this repository tagged v0.1.0,
// packaging/version.sh (which make build, make deb and the Dockerfile use)
// says v0.1.0 on the tag, v0.1.0-1-gHASH a commit later and -dirty with
// changes; make build passes it to the binary; and a plain go build (as go
// install ...@v0.1.0 does) of the tag prints v0.1.0 from the module's build
// information.
func TestVersionFromTag(t *testing.T) {
	gitTool := skipWithout(t, "git", "git")
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("SKIP: no go tool to build the binary with")
	}
	if err := exec.Command(gitTool, "-C", "../..", "rev-parse", "HEAD").Run(); err != nil {
		t.Skip("SKIP: not a git checkout: no tags to take a version from")
	}
	src := filepath.Join(t.TempDir(), "radrelay")
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(gitTool, append([]string{"-c", "user.name=test", "-c", "user.email=test@example.net", "-c", "safe.directory=*"}, args...)...)
		cmd.Dir = src
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if out, err := exec.Command(gitTool, "-c", "safe.directory=*", "clone", "--quiet", "../..", src).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	// The clone's own tags (the releases) are replaced by one, v0.1.0, here.
	if tags := git("tag", "-l"); tags != "" {
		git(append([]string{"tag", "-d"}, strings.Fields(tags)...)...)
	}
	git("tag", "v0.1.0")
	versionSh := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(filepath.Join(src, "packaging/version.sh"), args...).Output()
		if err != nil {
			t.Fatalf("version.sh %s: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	if v, d := versionSh(), versionSh("--deb"); v != "v0.1.0" || d != "0.1.0" {
		t.Errorf("on the tag: version.sh says %q, --deb %q; want v0.1.0, 0.1.0", v, d)
	}

	// go install ...@v0.1.0 and go build of the tag: the version comes from
	// the module's build information.
	bin := filepath.Join(t.TempDir(), "radrelay")
	// -trimpath: the compiled packages are the build cache's, whatever the
	// clone's directory (the link is all that is left to do).
	build := exec.Command(goTool, "build", "-trimpath", "-buildvcs=true", "-o", bin, "./cmd/radrelay")
	build.Dir = src
	build.Env = append(os.Environ(), "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=safe.directory", "GIT_CONFIG_VALUE_0=*")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if out, _ := exec.Command(bin, "version").Output(); !strings.HasPrefix(string(out), "radrelay v0.1.0 (commit ") {
		t.Errorf("go build of the tag: radrelay version says %q, want v0.1.0 and its commit", out)
	}

	// A commit after the tag, then a change not committed.
	git("commit", "--quiet", "--allow-empty", "-m", "after the tag")
	hash := git("rev-parse", "--short", "HEAD")
	if v, d := versionSh(), versionSh("--deb"); v != "v0.1.0-1-g"+hash || d != "0.1.0+1.g"+hash {
		t.Errorf("a commit after the tag: version.sh says %q, --deb %q", v, d)
	}
	os.WriteFile(filepath.Join(src, "README.md"), []byte("changed\n"), 0o644)
	if v := versionSh(); v != "v0.1.0-1-g"+hash+"-dirty" {
		t.Errorf("with a change: version.sh says %q", v)
	}
	make := exec.Command("make", "-n", "build")
	make.Dir = src
	out, err := make.Output()
	if err != nil {
		t.Fatalf("make -n build: %v", err)
	}
	if !regexp.MustCompile(`-X main\.version=v0\.1\.0-1-g` + hash + `-dirty\b`).Match(out) {
		t.Errorf("make build does not pass the version to the binary:\n%s", out)
	}
}
