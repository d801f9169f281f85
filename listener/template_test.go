package listener

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/radrelay/radrelay/detail/spool"
)

func TestFileTemplate(t *testing.T) {
	for _, tc := range []struct {
		template, glob, problem string
	}{
		{"detail-%Y%m%d", "detail-*", ""},
		{"detail-%Y%m%d:%H", "detail-*:*", ""},
		{"%Y%m%d.acct", "*.acct", ""},
		{"detail", "detail", ""},
		{"100%%-%j", "100%-*", ""},
		{"", "", "empty"},
		{" detail", "", "spaces"},
		{"a/detail-%Y", "", "without '/'"},
		{"%{NAS-IP-Address}-%Y", "", "%{Attribute}"},
		{"detail-%q", "", "unknown field %q"},
		{"detail-%", "", "ends with"},
		{"detail-[%Y]", "", "glob"},
		{"detail.work", "", "uses itself"},
		{"..", "", "uses itself"},
	} {
		err := checkFileTemplate(tc.template)
		if tc.problem != "" {
			if err == nil || !strings.Contains(err.Error(), tc.problem) || !strings.HasPrefix(err.Error(), "file_template") {
				t.Errorf("%q: error %v, want file_template ... %s", tc.template, err, tc.problem)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.template, err)
			continue
		}
		if g := templateGlob(tc.template); g != tc.glob {
			t.Errorf("%q: glob %q, want %q", tc.template, g, tc.glob)
		}
		// The glob matches the names the writer makes, and not the work file.
		w, err := spool.New(spool.Options{Template: tc.template, Location: time.UTC})
		if err != nil {
			t.Fatal(err)
		}
		name := w.Path(recordOf("User-Name", "x"))
		w.Close()
		if ok, _ := filepath.Match(tc.glob, name); !ok {
			t.Errorf("%q: glob %q does not match the file name %q", tc.template, tc.glob, name)
		}
		if ok, _ := filepath.Match(tc.glob, workFileName); ok {
			t.Errorf("%q: glob %q matches %s", tc.template, tc.glob, workFileName)
		}
	}
}
