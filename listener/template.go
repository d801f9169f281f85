package listener

import (
	"fmt"
	"strings"

	"github.com/radrelay/radrelay/detail/spool"
)

// The spool's file names: Config.FileTemplate names the file of a record
// inside its client's directory, with the time fields of FreeRADIUS's detail
// module (%Y %y %m %d %e %H %M %S %j, %% for a %). The tailer (and
// FreeRADIUS's detail reader) find the files by a glob made from it, the
// time fields replaced by "*", so the template must give a glob that matches
// exactly its own files.

// workFileName is the name the tailer (and FreeRADIUS's detail reader) give
// a spool file while they read it.
const workFileName = "detail.work"

// checkFileTemplate reports why t cannot name the spool's files.
func checkFileTemplate(t string) error {
	switch {
	case strings.TrimSpace(t) != t || t == "":
		return fmt.Errorf("file_template %q: empty or with spaces around it", t)
	case strings.ContainsRune(t, '/'):
		return fmt.Errorf("file_template %q: a file name, without '/' (each client has its own directory under spool_dir)", t)
	case strings.Contains(t, "%{"):
		return fmt.Errorf("file_template %q: %%{Attribute} fields are not supported (the client's directory is chosen by its address); use time fields such as %%Y%%m%%d", t)
	case strings.ContainsAny(t, `*?[]\`):
		return fmt.Errorf(`file_template %q: no glob characters (* ? [ ] \): the spool's reader finds the files by a glob made from the template`, t)
	case t == "." || t == ".." || t == workFileName:
		return fmt.Errorf("file_template %q: a name the spool's reader uses itself", t)
	}
	if err := spool.CheckTemplate(t); err != nil {
		return fmt.Errorf("file_template: %s", strings.TrimPrefix(err.Error(), "spool: "))
	}
	return nil
}

// templateGlob is the glob matching the names t gives: its time fields
// replaced by "*".
func templateGlob(t string) string {
	var b strings.Builder
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c == '%' && i+1 < len(t) && t[i+1] == '%':
			b.WriteByte('%')
			i++
		case c == '%':
			if !strings.HasSuffix(b.String(), "*") {
				b.WriteByte('*')
			}
			i++
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
