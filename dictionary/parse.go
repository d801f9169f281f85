package dictionary

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// ParseError is an error in a dictionary file; it names the file and line.
type ParseError struct {
	File string
	Line int
	Err  error
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// maxIncludeDepth bounds $INCLUDE nesting so that a file including itself
// is an error, not a stack overflow.
const maxIncludeDepth = 32

// Load reads a FreeRADIUS-format dictionary file (and everything it
// $INCLUDEs) into a new, otherwise empty dictionary.
func Load(path string) (*Dictionary, error) {
	d := New()
	if err := d.LoadFile(path); err != nil {
		return nil, err
	}
	return d, nil
}

// LoadFile reads a FreeRADIUS-format dictionary file into d, adding to and
// overriding what d already holds: a later definition of a name or number
// wins, as in FreeRADIUS. $INCLUDE paths are relative to the including file.
func (d *Dictionary) LoadFile(name string) error {
	d.own()
	l := &loader{d: d, open: func(p string) (io.ReadCloser, error) { return os.Open(p) }, join: func(dir, p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(filepath.Dir(dir), p)
	}}
	if err := l.file(name, 0); err != nil {
		return err
	}
	return d.resolvePending()
}

// LoadFS reads a FreeRADIUS-format dictionary file from fsys; $INCLUDE paths
// are relative to the including file within fsys.
func (d *Dictionary) LoadFS(fsys fs.FS, name string) error {
	return d.loadFS(fsys, name, false)
}

// loadFS is LoadFS; builtin marks the definitions as the built-in dictionary's.
func (d *Dictionary) loadFS(fsys fs.FS, name string, builtin bool) error {
	d.own()
	l := &loader{d: d, builtin: builtin, open: func(p string) (io.ReadCloser, error) { return fsys.Open(p) }, join: func(dir, p string) string {
		return path.Join(path.Dir(dir), p)
	}}
	if err := l.file(name, 0); err != nil {
		return err
	}
	return d.resolvePending()
}

// Parse reads dictionary text from r; name is used in messages and $INCLUDE
// is resolved relative to it on the local file system.
func (d *Dictionary) Parse(r io.Reader, name string) error {
	d.own()
	l := &loader{d: d, open: func(p string) (io.ReadCloser, error) { return os.Open(p) }, join: func(dir, p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(filepath.Dir(dir), p)
	}}
	if err := l.parse(r, name, 0); err != nil {
		return err
	}
	return d.resolvePending()
}

type loader struct {
	d    *Dictionary
	open func(string) (io.ReadCloser, error)
	join func(including, included string) string
	// builtin marks what is read as part of the built-in dictionary.
	builtin bool
	// source is the file and line being read, recorded in each definition.
	source Source
}

// fileState is what BEGIN-VENDOR and BEGIN-TLV set; like FreeRADIUS, it does
// not carry into or out of included files.
type fileState struct {
	vendor    *Vendor
	evsParent *Attribute   // BEGIN-VENDOR ... format=Extended-Vendor-Specific-N
	tlvs      []*Attribute // BEGIN-TLV stack
}

func (l *loader) file(name string, depth int) error {
	if depth > maxIncludeDepth {
		return &ParseError{File: name, Err: errors.New("$INCLUDE nested too deeply (an include loop?)")}
	}
	f, err := l.open(name)
	if err != nil {
		return &ParseError{File: name, Err: err}
	}
	defer f.Close()
	return l.parse(f, name, depth)
}

func (l *loader) parse(r io.Reader, name string, depth int) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	var st fileState
	lineNo := 0
	var fields []string
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields = appendFields(fields[:0], line)
		if len(fields) == 0 {
			continue
		}
		l.source = Source{File: name, Line: lineNo, Builtin: l.builtin}
		perr := func(err error) error {
			var pe *ParseError
			if errors.As(err, &pe) {
				return err
			}
			return &ParseError{File: name, Line: lineNo, Err: err}
		}
		var err error
		switch kw := fields[0]; {
		case kw == "$INCLUDE" || kw == "$INCLUDE-":
			if len(fields) != 2 {
				err = fmt.Errorf("%s needs one file name", kw)
				break
			}
			inc := l.join(name, fields[1])
			err = l.file(inc, depth+1)
			if err != nil && kw == "$INCLUDE-" && errors.Is(err, fs.ErrNotExist) {
				err = nil
			}
			var pe *ParseError
			if errors.As(err, &pe) && pe.Line == 0 {
				// The included file could not be opened: say where it
				// was included.
				err = &ParseError{File: name, Line: lineNo, Err: fmt.Errorf("$INCLUDE %s: %w", fields[1], pe.Err)}
			}
		case strings.EqualFold(kw, "ATTRIBUTE"):
			err = l.attribute(&st, fields)
		case strings.EqualFold(kw, "VALUE"):
			err = l.value(fields, name, lineNo)
		case strings.EqualFold(kw, "VENDOR"):
			err = l.vendor(fields)
		case strings.EqualFold(kw, "BEGIN-VENDOR"):
			err = l.beginVendor(&st, fields)
		case strings.EqualFold(kw, "END-VENDOR"):
			if len(fields) != 2 {
				err = errors.New("END-VENDOR needs a vendor name")
			} else if st.vendor == nil || !strings.EqualFold(st.vendor.Name, fields[1]) {
				err = fmt.Errorf("END-VENDOR %s without matching BEGIN-VENDOR", fields[1])
			} else if len(st.tlvs) > 0 {
				err = fmt.Errorf("END-VENDOR %s inside BEGIN-TLV %s", fields[1], st.tlvs[len(st.tlvs)-1].Name)
			} else {
				st.vendor, st.evsParent = nil, nil
			}
		case strings.EqualFold(kw, "BEGIN-TLV"):
			if len(fields) != 2 {
				err = errors.New("BEGIN-TLV needs an attribute name")
				break
			}
			a, ok := l.d.Attribute(fields[1])
			if !ok {
				err = fmt.Errorf("BEGIN-TLV of unknown attribute %q", fields[1])
			} else if a.Type != TypeTLV {
				err = fmt.Errorf("BEGIN-TLV of %s, which is of type %s, not tlv", a.Name, a.Type)
			} else {
				st.tlvs = append(st.tlvs, a)
			}
		case strings.EqualFold(kw, "END-TLV"):
			if len(fields) != 2 {
				err = errors.New("END-TLV needs an attribute name")
			} else if len(st.tlvs) == 0 || !strings.EqualFold(st.tlvs[len(st.tlvs)-1].Name, fields[1]) {
				err = fmt.Errorf("END-TLV %s without matching BEGIN-TLV", fields[1])
			} else {
				st.tlvs = st.tlvs[:len(st.tlvs)-1]
			}
		case strings.EqualFold(kw, "ALIAS"):
			err = l.alias(&st, fields)
		case strings.EqualFold(kw, "PROTOCOL"):
			// FreeRADIUS 4 protocol declarations: nothing to do for RADIUS.
		default:
			err = fmt.Errorf("unknown keyword %q", kw)
		}
		if err != nil {
			return perr(err)
		}
	}
	if err := sc.Err(); err != nil {
		return &ParseError{File: name, Line: lineNo + 1, Err: err}
	}
	if st.vendor != nil {
		return &ParseError{File: name, Line: lineNo, Err: fmt.Errorf("BEGIN-VENDOR %s without END-VENDOR", st.vendor.Name)}
	}
	if len(st.tlvs) > 0 {
		return &ParseError{File: name, Line: lineNo, Err: fmt.Errorf("BEGIN-TLV %s without END-TLV", st.tlvs[len(st.tlvs)-1].Name)}
	}
	return nil
}

func appendFields(dst []string, s string) []string {
	i := 0
	for i < len(s) {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r') {
			i++
		}
		j := i
		for j < len(s) && s[j] != ' ' && s[j] != '\t' && s[j] != '\r' {
			j++
		}
		if j > i {
			dst = append(dst, s[i:j])
		}
		i = j
	}
	return dst
}

// parseNumber reads a decimal, 0x hexadecimal or 0-prefixed octal number.
func parseNumber(s string, bits int) (uint64, error) {
	n, err := strconv.ParseUint(s, 0, bits)
	if err != nil {
		return 0, fmt.Errorf("bad number %q", s)
	}
	return n, nil
}

func (l *loader) vendor(f []string) error {
	if len(f) < 3 || len(f) > 4 {
		return errors.New("VENDOR needs: VENDOR name number [format=t,l[,c]]")
	}
	id, err := parseNumber(f[2], 32)
	if err != nil {
		return fmt.Errorf("VENDOR %s: %w", f[1], err)
	}
	v := &Vendor{Name: f[1], ID: uint32(id), TypeLen: 1, LenLen: 1, Source: l.source}
	if len(f) == 4 {
		spec, ok := strings.CutPrefix(f[3], "format=")
		if !ok {
			return fmt.Errorf("VENDOR %s: unknown option %q", f[1], f[3])
		}
		parts := strings.Split(spec, ",")
		if len(parts) < 2 || len(parts) > 3 {
			return fmt.Errorf("VENDOR %s: bad format %q (want format=t,l or format=t,l,c)", f[1], spec)
		}
		t, err1 := strconv.Atoi(parts[0])
		ln, err2 := strconv.Atoi(parts[1])
		if err1 != nil || err2 != nil || (t != 1 && t != 2 && t != 4) || (ln != 0 && ln != 1 && ln != 2) {
			return fmt.Errorf("VENDOR %s: bad format %q (type width 1, 2 or 4; length width 0, 1 or 2)", f[1], spec)
		}
		v.TypeLen, v.LenLen = t, ln
		if len(parts) == 3 {
			if parts[2] != "c" || t != 1 || ln != 1 {
				return fmt.Errorf("VENDOR %s: bad format %q (continuation needs format=1,1,c)", f[1], spec)
			}
			v.Continuation = true
		}
	}
	if old, ok := l.d.vendors[v.ID]; ok && old.frozen {
		// Redefinition of a shared vendor: the new definition replaces it,
		// under its old names too.
		for name, w := range l.d.vendorByName {
			if w == old {
				l.d.vendorByName[name] = v
				l.d.vendorByLower[strings.ToLower(name)] = v
			}
		}
	} else if ok {
		// Redefinition: keep the object (attributes point to it), update it.
		old.Name, old.TypeLen, old.LenLen, old.Continuation, old.Source = v.Name, v.TypeLen, v.LenLen, v.Continuation, v.Source
		v = old
	}
	l.d.vendors[v.ID] = v
	l.d.vendorByName[v.Name] = v
	l.d.vendorByLower[strings.ToLower(v.Name)] = v
	return nil
}

func (l *loader) beginVendor(st *fileState, f []string) error {
	if len(f) < 2 || len(f) > 3 {
		return errors.New("BEGIN-VENDOR needs: BEGIN-VENDOR name [format=Extended-Vendor-Specific-N]")
	}
	if st.vendor != nil {
		return fmt.Errorf("BEGIN-VENDOR %s inside BEGIN-VENDOR %s", f[1], st.vendor.Name)
	}
	v, ok := l.d.VendorByName(f[1])
	if !ok {
		return fmt.Errorf("BEGIN-VENDOR of unknown vendor %q", f[1])
	}
	st.vendor, st.evsParent = v, nil
	if len(f) == 3 {
		pname, ok := strings.CutPrefix(f[2], "format=")
		if !ok {
			return fmt.Errorf("BEGIN-VENDOR %s: unknown option %q", f[1], f[2])
		}
		p, ok := l.d.Attribute(pname)
		if !ok || p.Type != TypeEVS {
			return fmt.Errorf("BEGIN-VENDOR %s: format=%s is not an attribute of type evs", f[1], pname)
		}
		st.evsParent = p
	}
	return nil
}

// attribute handles "ATTRIBUTE name number type [flags|vendor]".
func (l *loader) attribute(st *fileState, f []string) error {
	if len(f) < 4 || len(f) > 5 {
		return errors.New("ATTRIBUTE needs: ATTRIBUTE name number type [flags]")
	}
	a := &Attribute{Name: f[1], Source: l.source}
	typ := f[3]
	if i := strings.IndexByte(typ, '['); i >= 0 && strings.HasSuffix(typ, "]") {
		n, err := strconv.Atoi(typ[i+1 : len(typ)-1])
		if err != nil || n <= 0 || n > 253 {
			return fmt.Errorf("ATTRIBUTE %s: bad size in type %q", a.Name, typ)
		}
		a.Size, typ = n, typ[:i]
	}
	t, ok := parseType(typ)
	if !ok {
		return fmt.Errorf("ATTRIBUTE %s: unknown type %q", a.Name, f[3])
	}
	a.Type = t
	if a.Size > 0 && t != TypeOctets {
		return fmt.Errorf("ATTRIBUTE %s: only octets may have a [size]", a.Name)
	}

	vendor, evs := st.vendor, st.evsParent
	if len(f) == 5 {
		if v, ok := l.d.VendorByName(f[4]); ok && !strings.ContainsAny(f[4], "=,") && !isFlagName(f[4]) {
			// Old form: the vendor name as the fifth field.
			vendor, evs = v, nil
		} else if err := parseFlags(a, f[4]); err != nil {
			return fmt.Errorf("ATTRIBUTE %s: %w", a.Name, err)
		}
	}

	// The number: dotted components after the first are children of the
	// attribute the preceding components name.
	var parent *Attribute
	if len(st.tlvs) > 0 {
		parent = st.tlvs[len(st.tlvs)-1]
	}
	parts := strings.Split(f[2], ".")
	nums := make([]uint32, len(parts))
	for i, p := range parts {
		n, err := parseNumber(p, 32)
		if err != nil {
			return fmt.Errorf("ATTRIBUTE %s: %w", a.Name, err)
		}
		nums[i] = uint32(n)
	}
	key := func(n uint32) numKey {
		switch {
		case parent != nil:
			return numKey{parent, 0, n}
		case evs != nil:
			return numKey{evs, vendor.ID, n}
		case vendor != nil:
			return numKey{nil, vendor.ID, n}
		}
		return numKey{nil, 0, n}
	}
	for _, n := range nums[:len(nums)-1] {
		p, ok := l.d.byNum[key(n)]
		if !ok {
			return fmt.Errorf("ATTRIBUTE %s: number %s: no attribute %d to be a parent", a.Name, f[2], n)
		}
		if !p.Type.isContainer() {
			return fmt.Errorf("ATTRIBUTE %s: number %s: parent %s is of type %s, which has no members", a.Name, f[2], p.Name, p.Type)
		}
		parent = p
	}
	a.Number = nums[len(nums)-1]
	a.Vendor = vendor
	k := key(a.Number)
	switch {
	case parent != nil:
		a.Parent = parent
		if parent.Type == TypeEVS {
			// "241.26" style dotted numbers cannot name a vendor; attributes
			// of an evs come from BEGIN-VENDOR ... format=.
			return fmt.Errorf("ATTRIBUTE %s: attributes of %s are defined in BEGIN-VENDOR ... format=%s", a.Name, parent.Name, parent.Name)
		}
		if parent.Vendor != nil && a.Vendor == nil {
			a.Vendor = parent.Vendor
		}
	case evs != nil:
		a.Parent = evs
	}
	if a.Parent == nil && a.Vendor == nil {
		if a.Number > 255 {
			a.Internal = true
		}
	} else if a.Parent == nil && a.Vendor != nil {
		if max := uint64(1)<<(8*a.Vendor.TypeLen) - 1; uint64(a.Number) > max {
			return fmt.Errorf("ATTRIBUTE %s: number %d does not fit vendor %s's %d-octet type field", a.Name, a.Number, a.Vendor.Name, a.Vendor.TypeLen)
		}
		if a.Vendor.ID == 11344 && a.Number == 1 {
			// FreeRADIUS-Proxied-To: added by the proxying server itself.
			a.Internal = true
		}
	} else if a.Number > 255 {
		return fmt.Errorf("ATTRIBUTE %s: number %d does not fit in one octet", a.Name, a.Number)
	}
	if a.Parent == nil && a.Vendor == nil && (t == TypeExtended || t == TypeLongExtended) && (a.Number < 241 || a.Number > 246) {
		return fmt.Errorf("ATTRIBUTE %s: %s attributes are numbered 241 to 246", a.Name, t)
	}
	if t == TypeEVS && (a.Parent == nil || (a.Parent.Type != TypeExtended && a.Parent.Type != TypeLongExtended)) {
		return fmt.Errorf("ATTRIBUTE %s: evs must be a child of an extended attribute (241.26)", a.Name)
	}
	l.d.define(a, k)
	return nil
}

func isFlagName(s string) bool {
	switch s {
	case "has_tag", "array", "concat", "virtual", "secret", "internal":
		return true
	}
	return false
}

func parseFlags(a *Attribute, s string) error {
	for _, fl := range strings.Split(s, ",") {
		name, val, hasVal := strings.Cut(fl, "=")
		switch name {
		case "has_tag":
			a.HasTag = true
		case "encrypt":
			n, err := strconv.Atoi(val)
			if !hasVal || err != nil || n < 0 || n > 3 {
				return fmt.Errorf("bad flag %q (encrypt=1, 2 or 3)", fl)
			}
			a.Encrypt = n
		case "array":
			a.Array = true
		case "concat":
			a.Concat = true
		case "virtual":
			a.Virtual = true
		case "secret":
			a.Secret = true
		case "internal":
			a.Internal = true
		case "":
		default:
			return fmt.Errorf("unknown flag %q", fl)
		}
	}
	return nil
}

// define adds a, replacing earlier definitions of the same name and number;
// earlier names of the number stay usable and share its VALUE names.
func (d *Dictionary) define(a *Attribute, k numKey) {
	if old, ok := d.byNum[k]; ok && old.values != nil && old.values.frozen {
		// A shared definition: the new one starts from a copy of its
		// VALUE names (the old names keep reading the shared ones).
		a.values = old.values.copy()
	} else if ok {
		if old.values == nil {
			old.values = &valueTable{}
		}
		a.values = old.values
	} else {
		a.values = &valueTable{}
	}
	d.byNum[k] = a
	d.byName[a.Name] = a
	d.byLower[strings.ToLower(a.Name)] = a
	// VALUEs seen before this ATTRIBUTE apply now, so that VALUEs after it
	// (the usual place) win for printing, as in FreeRADIUS.
	if len(d.pendingValues) > 0 {
		keep := d.pendingValues[:0]
		for _, pv := range d.pendingValues {
			if strings.EqualFold(pv.attr, a.Name) {
				_ = d.addValue(a, pv.name, pv.number)
			} else {
				keep = append(keep, pv)
			}
		}
		d.pendingValues = keep
	}
}

func (l *loader) alias(st *fileState, f []string) error {
	if len(f) != 3 {
		return errors.New("ALIAS needs: ALIAS name target")
	}
	a, ok := l.d.Attribute(f[2])
	if !ok && f[2] != "" && f[2][0] >= '0' && f[2][0] <= '9' {
		// FreeRADIUS 4 style: ALIAS name 26.9.1
		if oid, isOID := parseAttrOID("Attr-" + f[2]); isOID {
			a, ok = l.d.AttributeByOID(oid)
		}
	}
	if !ok {
		return fmt.Errorf("ALIAS %s: unknown attribute %q", f[1], f[2])
	}
	l.d.byName[f[1]] = a
	l.d.byLower[strings.ToLower(f[1])] = a
	return nil
}

func (l *loader) value(f []string, file string, line int) error {
	if len(f) != 4 {
		return errors.New("VALUE needs: VALUE attribute name number")
	}
	var n uint64
	if strings.HasPrefix(f[3], "-") {
		i, err := strconv.ParseInt(f[3], 0, 64)
		if err != nil {
			return fmt.Errorf("VALUE %s %s: bad number %q", f[1], f[2], f[3])
		}
		n = uint64(i)
	} else {
		var err error
		if n, err = parseNumber(f[3], 64); err != nil {
			return fmt.Errorf("VALUE %s %s: %w", f[1], f[2], err)
		}
	}
	a, ok := l.d.Attribute(f[1])
	if !ok {
		// FreeRADIUS allows VALUE before ATTRIBUTE; resolve it at the end.
		l.d.pendingValues = append(l.d.pendingValues, pendingValue{attr: f[1], name: f[2], number: n, file: file, line: line})
		return nil
	}
	return l.d.addValue(a, f[2], n)
}

func (d *Dictionary) addValue(a *Attribute, name string, n uint64) error {
	switch a.Type {
	case TypeInteger, TypeShort, TypeByte, TypeInteger64, TypeSigned:
	default:
		// FreeRADIUS accepts and ignores VALUEs of other types in a few
		// vendor files; so do we.
		return nil
	}
	if a.values.frozen {
		a = d.thaw(a)
	}
	t := a.values.ready()
	if t.byNumber == nil {
		t.byNumber = make(map[uint64]string)
		t.byName = make(map[string]uint64)
		t.byLower = make(map[string]uint64)
	}
	t.byNumber[n] = name
	t.byName[name] = n
	t.byLower[strings.ToLower(name)] = n
	return nil
}

func (d *Dictionary) resolvePending() error {
	p := d.pendingValues
	d.pendingValues = nil
	for _, v := range p {
		a, ok := d.Attribute(v.attr)
		if !ok {
			return &ParseError{File: v.file, Line: v.line, Err: fmt.Errorf("VALUE %s for unknown attribute %q", v.name, v.attr)}
		}
		if err := d.addValue(a, v.name, v.number); err != nil {
			return &ParseError{File: v.file, Line: v.line, Err: err}
		}
	}
	return nil
}

// thaw makes the VALUE table of a, which is shared with other dictionaries,
// d's own before a VALUE is added to it: every attribute of d using the
// table is replaced, in d's maps, by a copy using a copy of the table.
// It returns a's copy. Only integer attributes have VALUEs, and they have
// no members, so no number is keyed by a replaced attribute.
func (d *Dictionary) thaw(a *Attribute) *Attribute {
	old := a.values
	nt := old.copy()
	repl := map[*Attribute]*Attribute{}
	swap := func(x *Attribute) *Attribute {
		if x.values != old {
			return x
		}
		if y, ok := repl[x]; ok {
			return y
		}
		y := *x
		y.values, y.frozen = nt, false
		repl[x] = &y
		return &y
	}
	for k, x := range d.byNum {
		d.byNum[k] = swap(x)
	}
	for k, x := range d.byName {
		d.byName[k] = swap(x)
	}
	for k, x := range d.byLower {
		d.byLower[k] = swap(x)
	}
	return swap(a)
}
