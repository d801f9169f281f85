package spool

import (
	"strings"
	"testing"

	"github.com/radrelay/radrelay/detail"
)

// FuzzTemplate: no template panics New or Path, and an
// expanded attribute never adds a path separator.
func FuzzTemplate(f *testing.F) {
	f.Add("radacct/%{Client-IP-Address}/detail-%Y%m%d:%H", "10.0.0.1")
	f.Add("%{User-Name}%%%e%j", "../../x")
	f.Fuzz(func(t *testing.T, template, value string) {
		w, err := New(Options{Template: template})
		if err != nil {
			return
		}
		defer w.Close()
		rec := &detail.Record{Attrs: []detail.Attribute{{Name: "User-Name", Value: value}, {Name: "NAS-IP-Address", Value: value}}, Timestamp: 1795435059, HasTimestamp: true}
		p := w.Path(rec)
		if !strings.Contains(template, "%{") && strings.Count(p, "/") != strings.Count(template, "/") {
			t.Fatalf("time fields changed the directories: path %q from template %q", p, template)
		}
		if strings.Contains(template, "%{User-Name}") && value != "" && strings.Contains(attrForPath(rec, "User-Name"), "/") {
			t.Fatalf("attribute value %q put a / into the path", value)
		}
	})
}
