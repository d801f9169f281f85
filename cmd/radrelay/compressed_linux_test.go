//go:build linux

package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// compressedFixtures compresses the FreeRADIUS-written sample day with the
// command-line tools logrotate uses (gzip, bzip2, xz, zstd) and returns the
// files by format. A missing tool is skipped with a loud message.
func compressedFixtures(t *testing.T, plain string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{}
	for _, tool := range []struct{ format, cmd string }{
		{"gzip", "gzip"}, {"bzip2", "bzip2"}, {"xz", "xz"}, {"zstd", "zstd"},
	} {
		path, err := exec.LookPath(tool.cmd)
		if err != nil {
			t.Logf("SKIPPED %s: the %s command is not installed", tool.format, tool.cmd)
			continue
		}
		c := exec.Command(path, "-c", plain)
		out, err := c.Output()
		if err != nil {
			t.Fatalf("%s: %v", tool.cmd, err)
		}
		// No compression suffix: content, not the name, tells the format
		// (logrotate's compressext may be anything).
		name := filepath.Join(dir, "detail-20261123-"+tool.format)
		if err := os.WriteFile(name, out, 0o600); err != nil {
			t.Fatal(err)
		}
		files[tool.format] = name
	}
	// Two gzip members, as "cat a.gz b.gz" makes: both are read.
	gz, err := exec.Command("gzip", "-c", plain).Output()
	if err == nil {
		name := filepath.Join(dir, "detail-twice.gz")
		os.WriteFile(name, append(append([]byte(nil), gz...), gz...), 0o600)
		files["gzip, two members"] = name
	}
	return files
}

const sampleDay = "../../examples/radacct/127.0.0.1/detail-20261123"

// TestCheckAndCatReadCompressedFiles: check and cat read gzip, bzip2, xz and
// zstd files as they lie on disk, with the same result as the plain file.
func TestCheckAndCatReadCompressedFiles(t *testing.T) {
	plain, err := os.ReadFile(sampleDay)
	if err != nil {
		t.Fatal(err)
	}
	files := compressedFixtures(t, sampleDay)
	if len(files) == 0 {
		t.Skip("SKIPPED: no compression tool installed")
	}
	for format, name := range files {
		t.Run(format, func(t *testing.T) {
			want, copies := string(plain), 1
			if strings.Contains(format, "two members") {
				want, copies = want+want, 2
			}
			code, out, errs := runBinary(t, nil, "cat", name)
			if code != 0 || out != want {
				t.Errorf("cat: exit %d, output equals the plain file: %v\n%s", code, out == want, errs)
			}
			code, out, errs = runBinary(t, nil, "check", "--json", name)
			var rep struct {
				Records, Errors int
				Files           []struct{ Format string }
			}
			if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || rep.Records != 414*copies || rep.Errors != 0 ||
				len(rep.Files) != 1 || rep.Files[0].Format != strings.TrimSuffix(strings.Fields(format)[0], ",") {
				t.Errorf("check: exit %d, %v, %+v\n%s", code, err, rep, errs)
			}
		})
	}
}

// TestCheckAndCatUnreadableFiles: a file that cannot be opened, binary data
// and a damaged compressed file are "cannot be opened/read", never counted as
// malformed records, and exit with status 3 (documented in --help), while the
// other files are still checked.
func TestCheckAndCatUnreadableFiles(t *testing.T) {
	dir := t.TempDir()
	binary := filepath.Join(dir, "binary")
	os.WriteFile(binary, []byte("\x7fELF\x02\x01\x01\x00\x00\x00"), 0o600)
	damaged := filepath.Join(dir, "damaged.gz")
	gz, err := exec.Command("gzip", "-c", sampleDay).Output()
	if err != nil {
		t.Skipf("SKIPPED: gzip: %v", err)
	}
	gz[len(gz)/2] ^= 0xff // a flipped byte in the deflate stream
	gz[len(gz)/2+1] ^= 0xff
	os.WriteFile(damaged, gz, 0o600)
	missing := filepath.Join(dir, "nonexist")

	for _, tc := range []struct {
		name, file, says string
	}{
		{"missing", missing, missing + ": cannot be opened: open " + missing + ": no such file or directory"},
		{"binary", binary, binary + ": cannot be read: binary data, not a detail file"},
		{"damaged gzip", damaged, damaged + ": cannot be read after "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, _ := runBinary(t, nil, "check", tc.file, sampleDay)
			if code != exitUnreadable || !strings.Contains(out, tc.says) || strings.Contains(out, tc.file+": NOT OK: 0 records, 1 malformed") ||
				!strings.Contains(out, sampleDay+": ok: 414 records") {
				t.Errorf("check: exit %d, want %d and %q\n%s", code, exitUnreadable, tc.says, out)
			}
			code, out, errs := runBinary(t, nil, "cat", tc.file, sampleDay)
			if code != exitUnreadable || !strings.Contains(errs, "radrelay cat: "+tc.says) || !strings.HasSuffix(out, "Timestamp = 1795470320\n\n") {
				t.Errorf("cat: exit %d, want %d and %q\n%s", code, exitUnreadable, tc.says, errs)
			}
		})
	}
	code, out, _ := runBinary(t, nil, "check", "--help")
	if code != 0 || !strings.Contains(out, "3  a FILE cannot be opened or read") {
		t.Errorf("check --help does not document exit status 3:\n%s", out)
	}
	code, out, _ = runBinary(t, nil, "cat", "--help")
	if code != 0 || !strings.Contains(out, "3  a FILE cannot be opened or read") {
		t.Errorf("cat --help does not document exit status 3:\n%s", out)
	}
}
