package spool

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/radrelay/radrelay/detail"
)

// A template is a parsed Options.Template: literal text, time fields and
// attribute fields.
type template []templatePart

type templatePart struct {
	literal string
	field   byte   // time field letter, or 0
	attr    string // attribute name for %{...}
}

func parseTemplate(t string) (template, error) {
	var parts template
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, templatePart{literal: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c != '%' {
			lit.WriteByte(c)
			continue
		}
		if i+1 >= len(t) {
			return nil, fmt.Errorf("spool: file name template %q ends with '%%'", t)
		}
		i++
		switch f := t[i]; f {
		case '%':
			lit.WriteByte('%')
		case 'Y', 'y', 'm', 'd', 'e', 'H', 'M', 'S', 'j':
			flush()
			parts = append(parts, templatePart{field: f})
		case '{':
			end := strings.IndexByte(t[i:], '}')
			if end < 2 {
				return nil, fmt.Errorf("spool: file name template %q: unterminated or empty %%{...}", t)
			}
			flush()
			parts = append(parts, templatePart{attr: t[i+1 : i+end]})
			i += end
		default:
			return nil, fmt.Errorf("spool: file name template %q: unknown field %%%c (want %%Y %%y %%m %%d %%e %%H %%M %%S %%j %%%% or %%{Attribute})", t, f)
		}
	}
	flush()
	return parts, nil
}

// literalPrefix is the template's text before its first field.
func (tp template) literalPrefix() string {
	if len(tp) > 0 && tp[0].field == 0 && tp[0].attr == "" {
		return tp[0].literal
	}
	return ""
}

// timeOnly reports whether the names depend on the time alone (no
// attribute fields).
func (tp template) timeOnly() bool {
	for _, p := range tp {
		if p.attr != "" {
			return false
		}
	}
	return true
}

// expand returns the file name for rec, whose time fields are taken from t.
func (tp template) expand(rec *detail.Record, t time.Time) string {
	var b []byte
	for _, p := range tp {
		switch {
		case p.field != 0:
			b = appendTimeField(b, t, p.field)
		case p.attr != "":
			b = append(b, attrForPath(rec, p.attr)...)
		default:
			b = append(b, p.literal...)
		}
	}
	return string(b)
}

func appendTimeField(b []byte, t time.Time, f byte) []byte {
	pad := func(b []byte, n, width int, padc byte) []byte {
		s := strconv.Itoa(n)
		for i := len(s); i < width; i++ {
			b = append(b, padc)
		}
		return append(b, s...)
	}
	switch f {
	case 'Y':
		return pad(b, t.Year(), 4, '0')
	case 'y':
		return pad(b, t.Year()%100, 2, '0')
	case 'm':
		return pad(b, int(t.Month()), 2, '0')
	case 'd':
		return pad(b, t.Day(), 2, '0')
	case 'e':
		return pad(b, t.Day(), 2, ' ')
	case 'H':
		return pad(b, t.Hour(), 2, '0')
	case 'M':
		return pad(b, t.Minute(), 2, '0')
	case 'S':
		return pad(b, t.Second(), 2, '0')
	case 'j':
		return pad(b, t.YearDay(), 3, '0')
	}
	return b
}

// attrForPath returns the value of attribute name of rec, made safe for a
// path component.
func attrForPath(rec *detail.Record, name string) string {
	names := []string{name}
	if strings.EqualFold(name, "Client-IP-Address") {
		names = []string{"Client-IP-Address", "Packet-Src-IP-Address", "Packet-Src-IPv6-Address", "NAS-IP-Address", "NAS-IPv6-Address"}
	}
	v := ""
	for _, n := range names {
		if a, ok := rec.Get(n); ok && a.Value != "" {
			v = a.Value
			break
		}
	}
	if v == "" {
		return "unknown"
	}
	b := []byte(v)
	for i, c := range b {
		if c == '/' || c == '\\' || c < ' ' || c == 0x7f {
			b[i] = '_'
		}
	}
	if b[0] == '.' {
		b[0] = '_'
	}
	return string(b)
}

// CheckTemplate reports why t is not a valid Options.Template (an unknown
// field, an unterminated %{...}), as New would.
func CheckTemplate(t string) error {
	if t == "" {
		return fmt.Errorf("spool: empty file name template")
	}
	_, err := parseTemplate(t)
	return err
}
