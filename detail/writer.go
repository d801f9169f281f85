package detail

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// headerLayout is C's ctime() in the C locale: the day of the month is padded
// with a space ("Mon Nov  2 09:05:01 2026").
const headerLayout = "Mon Jan _2 15:04:05 2006"

// FormatHeader returns the header line FreeRADIUS writes for a request
// received at t: ctime() in the C locale, in the local time zone.
func FormatHeader(t time.Time) string {
	return t.Local().Format(headerLayout)
}

// AppendRecord appends rec in the format FreeRADIUS 3.2's rlm_detail writes,
// byte for byte:
//
//   - the header: rec.Header, or FormatHeader of rec.Timestamp when Header is empty;
//   - "\tName = value\n" per attribute, in order: "Name:tag" when HasTag,
//     "::" before an Enum value, and a Quoted value quoted and escaped by
//     AppendQuoted; any other Value is written as it is;
//   - "\tTimestamp = N\n" ("\tDonestamp = N\n" when Done) when HasTimestamp;
//   - an empty line.
//
// Lines end in LF, or CR LF when rec.CRLF.
//
// Long lines: FreeRADIUS 3 cuts an attribute line at 1022 characters, losing
// the rest of a long escaped value and its closing quote (and sometimes the
// line end, gluing the next line on). AppendRecord does not: it always writes
// the whole value, so nothing is lost. A line is then at most about 1,100
// characters (a 253-byte value of bytes escaped as \ooo), which FreeRADIUS's
// own detail reader (2,048-byte lines) and radrelay's Reader read back in
// full. Only an attribute the Reader marked Truncated (read from such a cut
// line) is written as it was read (the Record's Cut), so that re-emitting a file
// FreeRADIUS wrote reproduces it byte for byte.
//
// Names and unquoted values are written as they are; the caller must not put
// line ends in them.
func AppendRecord(dst []byte, rec *Record) []byte {
	eol := "\n"
	if rec.CRLF {
		eol = "\r\n"
	}
	if rec.Header != "" {
		dst = append(dst, rec.Header...)
	} else {
		dst = time.Unix(rec.Timestamp, 0).Local().AppendFormat(dst, headerLayout)
	}
	dst = append(dst, eol...)
	cut := 0 // Truncated attributes before a
	for i := range rec.Attrs {
		a := &rec.Attrs[i]
		dst = append(dst, '\t')
		dst = append(dst, a.Name...)
		if a.HasTag {
			dst = append(dst, ':')
			dst = strconv.AppendUint(dst, uint64(a.Tag), 10)
		}
		dst = append(dst, " = "...)
		switch {
		case a.Truncated:
			raw, ok := rec.CutRaw(a, cut)
			cut++
			if ok {
				dst = append(dst, raw...)
			} else {
				dst = AppendQuoted(dst, a.Value)
				dst = dst[:len(dst)-1] // no closing quote
			}
		case a.Quoted:
			dst = AppendQuoted(dst, a.Value)
		case a.Enum:
			dst = append(dst, "::"...)
			dst = append(dst, a.Value...)
		default:
			dst = append(dst, a.Value...)
		}
		if !a.LineEndLost {
			dst = append(dst, eol...)
		}
	}
	if rec.HasTimestamp {
		if rec.Done {
			dst = append(dst, "\tDonestamp = "...)
		} else {
			dst = append(dst, "\tTimestamp = "...)
		}
		dst = strconv.AppendInt(dst, rec.Timestamp, 10)
		dst = append(dst, eol...)
	}
	return append(dst, eol...)
}

// AppendQuoted appends s as a double-quoted string escaped as FreeRADIUS 3.2
// does: '"' and '\' are preceded by a backslash; TAB, CR and LF are written
// \t, \r and \n; other bytes below 0x20, 0x7F, and every byte that is not part
// of a valid UTF-8 sequence (overlong forms, surrogates, code points above
// U+10FFFF, a sequence cut off) are written as a backslash and three octal
// digits; valid multi-byte UTF-8 is written as it is.
func AppendQuoted(dst []byte, s string) []byte {
	dst = append(dst, '"')
	i := 0
	for i < len(s) {
		// Copy the run of bytes that need no escaping in one go.
		j := i
		for j < len(s) {
			c := s[j]
			if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
				break
			}
			j++
		}
		dst = append(dst, s[i:j]...)
		if j == len(s) {
			break
		}
		i = j
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
			i++
		case c == '\t':
			dst = append(dst, '\\', 't')
			i++
		case c == '\r':
			dst = append(dst, '\\', 'r')
			i++
		case c == '\n':
			dst = append(dst, '\\', 'n')
			i++
		case c < 0x80:
			dst = appendOctal(dst, c)
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size <= 1 {
				dst = appendOctal(dst, c)
				i++
			} else {
				dst = append(dst, s[i:i+size]...)
				i += size
			}
		}
	}
	return append(dst, '"')
}

func appendOctal(dst []byte, c byte) []byte {
	return append(dst, '\\', '0'+c>>6, '0'+(c>>3)&7, '0'+c&7)
}
