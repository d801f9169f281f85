package config

import (
	"regexp"
	"strconv"
	"strings"
)

// ---- where keys are in the source ----

// keyLine is one key or table header of the source: its dotted path (array
// elements not numbered), the index of the element of the top-level array of
// tables it is in (-1 outside one), and its line.
type keyLine struct {
	path string
	elem int
	line int
}

type keyLines []*keyLine

// find returns the line of key path in element elem (any element when elem
// is -1); failing that, the line of its closest enclosing table; 0 if none.
func (kl keyLines) find(path string, elem int) int {
	for p := path; p != ""; {
		for _, k := range kl {
			if k.path == p && (elem < 0 || k.elem == elem) {
				return k.line
			}
		}
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			break
		}
		p = p[:i]
	}
	if elem >= 0 {
		return kl.table(strings.SplitN(path, ".", 2)[0], elem)
	}
	return 0
}

// table returns the line of the elem-th [[name]] header.
func (kl keyLines) table(name string, elem int) int {
	for _, k := range kl {
		if k.path == name && k.elem == elem {
			return k.line
		}
	}
	return 0
}

var tableHeaderRE = regexp.MustCompile(`^\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(#.*)?$`)

// locateKeys scans TOML source for table headers and "key = value" lines. It
// is deliberately simple (the decoder has already checked the syntax): it
// skips multi-line strings, and keys inside inline tables are found at the
// line of the inline table.
func locateKeys(src string) keyLines {
	var out keyLines
	table := "" // current table path
	elem := -1  // element index within the current top-level array
	count := map[string]int{}
	inMulti := "" // the delimiter of an open multi-line string
	for n, line := range strings.Split(src, "\n") {
		lineNo := n + 1
		if inMulti != "" {
			if strings.Count(line, inMulti)%2 == 1 {
				inMulti = ""
			}
			continue
		}
		trim := strings.TrimSpace(line)
		if trim == "" || trim[0] == '#' {
			continue
		}
		if m := tableHeaderRE.FindStringSubmatch(line); m != nil && trim[0] == '[' {
			table = strings.Join(splitKey(m[2]), ".")
			top := strings.SplitN(table, ".", 2)[0]
			if m[1] == "[[" && !strings.Contains(table, ".") {
				elem = count[table]
				count[table]++
			} else if _, isArray := count[top]; !isArray {
				elem = -1
			}
			out = append(out, &keyLine{path: table, elem: elem, line: lineNo})
			continue
		}
		eq := keyEnd(trim)
		if eq < 0 {
			continue
		}
		key := strings.Join(splitKey(trim[:eq]), ".")
		if table != "" {
			key = table + "." + key
		}
		out = append(out, &keyLine{path: key, elem: elem, line: lineNo})
		value := trim[eq+1:]
		for _, d := range []string{`"""`, `'''`} {
			if strings.Count(value, d)%2 == 1 {
				inMulti = d
			}
		}
	}
	return out
}

// keyEnd returns the index of the '=' that ends the key of a key/value line,
// or -1.
func keyEnd(s string) int {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else if c == '\\' && quote == '"' {
				i++
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '=':
			return i
		case c == '[' || c == '{' || c == ',' || c == ']':
			return -1
		}
	}
	return -1
}

// splitKey splits a dotted TOML key, removing quotes.
func splitKey(s string) []string {
	var parts []string
	var b strings.Builder
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				b.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '.':
			parts = append(parts, strings.TrimSpace(b.String()))
			b.Reset()
		case c == ' ' || c == '\t':
		default:
			b.WriteByte(c)
		}
	}
	return append(parts, strings.TrimSpace(b.String()))
}

// field returns the line of a key of a sink's own configuration in the
// elem-th [[table]]: field is a path such as "servers[1].secret_file",
// where [1] is the second element of an array of tables. It falls back to
// the closest enclosing table or key it finds.
func (kl keyLines) field(table string, elem int, field string) int {
	if !strings.Contains(field, "[") {
		return kl.find(table+"."+field, elem)
	}
	path, after, before, best := table, 0, int(^uint(0)>>1), 0
	for _, seg := range strings.Split(field, ".") {
		name, idx := seg, -1
		if i := strings.IndexByte(seg, '['); i >= 0 && strings.HasSuffix(seg, "]") {
			if n, err := strconv.Atoi(seg[i+1 : len(seg)-1]); err == nil {
				name, idx = seg[:i], n
			}
		}
		path += "." + name
		var occ []int
		for _, k := range kl {
			if k.path == path && k.elem == elem && k.line > after && k.line < before {
				occ = append(occ, k.line)
			}
		}
		if len(occ) == 0 {
			break
		}
		if idx >= 0 && idx < len(occ) {
			best = occ[idx]
			if idx+1 < len(occ) {
				before = occ[idx+1] // the next element's header ends this one
			}
		} else {
			best = occ[0]
		}
		after = best
		if idx >= len(occ) {
			break // an inline array: its elements share its line
		}
	}
	if best == 0 {
		return kl.table(table, elem)
	}
	return best
}
