package listener

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Client is a NAS (or proxy) allowed to send: its address or network and
// its shared secret.
type Client struct {
	// Prefix is the client's address (a /32 or /128) or network.
	Prefix netip.Prefix
	// Secret is the shared secret; never logged.
	Secret string
	// Name is a short name for logs (FreeRADIUS's shortname); the prefix
	// when empty.
	Name string
}

// clientTable finds the client of a source address: the longest prefix
// that contains it.
type clientTable struct {
	clients []Client // longest prefix first
}

func newClientTable(cs []Client) *clientTable {
	t := &clientTable{clients: append([]Client(nil), cs...)}
	for i := range t.clients {
		t.clients[i].Prefix = t.clients[i].Prefix.Masked()
		if t.clients[i].Name == "" {
			t.clients[i].Name = t.clients[i].Prefix.String()
		}
	}
	sort.SliceStable(t.clients, func(i, j int) bool { return t.clients[i].Prefix.Bits() > t.clients[j].Prefix.Bits() })
	return t
}

func (t *clientTable) find(a netip.Addr) (*Client, bool) {
	// A link-local source has a zone (fe80::1%eth0), and a prefix never
	// contains a zoned address.
	a = a.Unmap().WithZone("")
	for i := range t.clients {
		if t.clients[i].Prefix.Contains(a) {
			return &t.clients[i], true
		}
	}
	return nil, false
}

// ParsePrefix parses a client address ("10.0.0.1", "2001:db8::1") or
// network ("10.0.0.0/8", "2001:db8::/32"). An IPv6 address may be in
// brackets, as in a host:port ("[2001:db8::1]", "[2001:db8::]/32").
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.HasPrefix(s, "[") {
		if i := strings.IndexByte(s, ']'); i > 0 && strings.Contains(s[:i], ":") {
			s = s[1:i] + s[i+1:]
		}
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("client %q: not an address or network (want e.g. 10.0.0.0/8 or 2001:db8::/32)", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("client %q: not an address or network (want e.g. 10.0.0.1 or 10.0.0.0/8)", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ReadSecretFile reads a shared secret from a file: its first line, without
// the line end. An empty secret is an error.
func ReadSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("secret_file: %w", err)
	}
	s, _, _ := strings.Cut(string(b), "\n")
	s = strings.TrimSuffix(s, "\r")
	if s == "" {
		return "", fmt.Errorf("secret_file %s: empty", path)
	}
	return s, nil
}

// ReadClientsConf reads the client blocks of a FreeRADIUS clients.conf:
//
//	client NAME {
//		ipaddr = 10.0.0.0/8     (or ipv4addr, ipv6addr, or ipaddr = 10.0.0.0 with netmask = 8)
//		secret = "testing123"
//		shortname = nas1
//	}
//
// Other keys are ignored. $INCLUDE and $-INCLUDE (a file, or a directory
// when the path ends in '/') are followed as FreeRADIUS follows them: a
// relative path is relative to the directory of the file that includes it.
// Blocks nested in a server section are read too. Each problem names the
// file and line; a client address given twice is an error (FreeRADIUS
// refuses it too).
func ReadClientsConf(path string) ([]Client, error) {
	r := &clientsConfReader{open: openRegular, readDir: os.ReadDir}
	return r.read(path)
}

// parseClientsConf reads the client blocks of the clients.conf text r
// (path names it in errors), following no include.
func parseClientsConf(r io.Reader, path string) ([]Client, error) {
	cr := &clientsConfReader{
		open:    func(string) (io.ReadCloser, error) { return nil, fs.ErrNotExist },
		readDir: func(string) ([]fs.DirEntry, error) { return nil, fs.ErrNotExist },
	}
	var errs []error
	out := cr.parse(r, path, 0, &errs)
	return out, errors.Join(errs...)
}

// maxIncludeDepth bounds nested $INCLUDEs (a file including itself).
const maxIncludeDepth = 16

// clientsConfReader reads a clients.conf and the files it includes.
type clientsConfReader struct {
	open    func(path string) (io.ReadCloser, error)
	readDir func(path string) ([]fs.DirEntry, error)
	// at is where each client read was, "file:line", for the errors
	// about two clients.
	at []string
}

// openRegular opens a file to include; a device or pipe is refused (it
// could block or never end).
func openRegular(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = errors.New("not a regular file")
		}
		return nil, err
	}
	return f, nil
}

func (cr *clientsConfReader) read(path string) ([]Client, error) {
	f, err := cr.open(path)
	if err != nil {
		return nil, fmt.Errorf("clients_conf: %w", err)
	}
	defer f.Close()
	var errs []error
	out := cr.parse(f, path, 0, &errs)
	return out, errors.Join(append(errs, duplicateClients(out, cr.at))...)
}

// clientsConfLine matches what a line of a clients.conf can start with.
var (
	sectionRE = regexp.MustCompile(`^([A-Za-z0-9_.-]+)(?:\s+([^\s{}=]+))?\s*\{`)
	keyRE     = regexp.MustCompile(`^([A-Za-z0-9_.-]+)\s*=\s*`)
	includeRE = regexp.MustCompile(`^\$(-?)INCLUDE\s+(.+)$`)
	clientRE  = regexp.MustCompile(`^client\s+[^\s{}=]+$`)
)

// parse reads the clients.conf text r and appends its problems to errs.
// FreeRADIUS's syntax is line-oriented: "key = value" ends at the line's
// end, and a section opens with "name [title] {" on one line; a line may
// also close a section after a value ("secret = x }") or hold a whole
// section ("client a { ipaddr = 10.0.0.1 }").
func (cr *clientsConfReader) parse(r io.Reader, path string, depthOfInclude int, errs *[]error) []Client {
	var (
		out     []Client
		in      bool // inside a client block
		depth   int  // sections open inside the client block (1: its own level)
		start   int
		name    string
		kv      map[string]string
		lineNum int
	)
	fail := func(line int, format string, args ...any) {
		*errs = append(*errs, fmt.Errorf("%s:%d: "+format, append([]any{path, line}, args...)...))
	}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		lineNum++
		rest := stripComment(sc.Text())
		if m := includeRE.FindStringSubmatch(rest); m != nil {
			if in {
				fail(lineNum, "$INCLUDE inside client %s: not supported here", name)
				continue
			}
			out = append(out, cr.include(path, lineNum, strings.TrimSpace(m[2]), m[1] == "-", depthOfInclude, errs)...)
			continue
		}
		if !in && clientRE.MatchString(rest) {
			fail(lineNum, "expecting '{' after %q on the same line (as FreeRADIUS does)", rest)
			continue
		}
		for rest != "" {
			switch {
			case rest[0] == '}':
				rest = strings.TrimSpace(rest[1:])
				if !in {
					continue // the end of a section that is not a client
				}
				depth--
				if depth == 0 {
					in = false
					c, err := clientFromBlock(name, kv)
					if err != nil {
						fail(start, "client %s: %v", name, err)
					} else {
						out = append(out, c)
						cr.at = append(cr.at, fmt.Sprintf("%s:%d", path, start))
					}
				}
			case sectionRE.MatchString(rest):
				m := sectionRE.FindStringSubmatch(rest)
				rest = strings.TrimSpace(rest[len(m[0]):])
				switch {
				case in:
					depth++
				case m[1] == "client" && m[2] != "":
					in, depth, start, kv, name = true, 1, lineNum, map[string]string{}, m[2]
				}
			case keyRE.MatchString(rest):
				m := keyRE.FindStringSubmatch(rest)
				var v string
				v, rest = clientsConfValue(rest[len(m[0]):])
				if in && depth == 1 {
					if strings.Contains(v, "${") {
						fail(lineNum, "client %s: %s: ${...} is not expanded: write the value itself", name, m[1])
					}
					kv[m[1]] = v
				}
			default:
				rest = "" // something else (an unknown form): the rest of the line is skipped
			}
		}
	}
	if err := sc.Err(); err != nil {
		*errs = append(*errs, fmt.Errorf("%s: %w", path, err))
	}
	if in {
		fail(start, "client %s: no closing }", name)
	}
	return out
}

// clientsConfValue splits s, which starts with a value, into the value
// (unquoted) and what follows it on the line.
func clientsConfValue(s string) (value, rest string) {
	if s != "" && (s[0] == '"' || s[0] == '\'') {
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
			case s[0]:
				return unquote(s[1:i]), strings.TrimSpace(s[i+1:])
			}
		}
		return unquote(s[1:]), "" // no closing quote: the rest of the line
	}
	i := strings.IndexAny(s, " \t}")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimSpace(s[i:])
}

// include reads the clients of an $INCLUDE (optional for $-INCLUDE): a file,
// or every file of a directory when target ends in '/' (skipping names that
// start with '.', and names with characters other than letters, digits,
// '-', '_' and '.', as FreeRADIUS does).
func (cr *clientsConfReader) include(from string, line int, target string, optional bool, depth int, errs *[]error) []Client {
	fail := func(format string, args ...any) {
		*errs = append(*errs, fmt.Errorf("%s:%d: "+format, append([]any{from, line}, args...)...))
	}
	if strings.Contains(target, "$") {
		fail("$INCLUDE %s: variables are not expanded: give the path itself", target)
		return nil
	}
	if depth >= maxIncludeDepth {
		fail("$INCLUDE %s: more than %d levels of includes (does a file include itself?)", target, maxIncludeDepth)
		return nil
	}
	dir := strings.HasSuffix(target, "/")
	if !filepath.IsAbs(target) {
		target = filepath.Join(filepath.Dir(from), target)
	}
	var files []string
	if dir {
		ents, err := cr.readDir(target)
		if err != nil {
			if !(optional && errors.Is(err, fs.ErrNotExist)) {
				fail("$INCLUDE %s: %v", target, err)
			}
			return nil
		}
		for _, e := range ents {
			if !e.IsDir() && includableName(e.Name()) {
				files = append(files, filepath.Join(target, e.Name()))
			}
		}
	} else {
		files = []string{target}
	}
	var out []Client
	for _, f := range files {
		r, err := cr.open(f)
		if err != nil {
			if !(optional && errors.Is(err, fs.ErrNotExist)) {
				fail("$INCLUDE %s: %v", f, err)
			}
			continue
		}
		out = append(out, cr.parse(r, f, depth+1, errs)...)
		r.Close()
	}
	return out
}

func includableName(n string) bool {
	if n == "" || n[0] == '.' {
		return false
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// duplicateClients reports addresses given to two clients: FreeRADIUS
// refuses such a file, and one of the two secrets would silently never be
// used. at[i], when there, says where cs[i] is.
func duplicateClients(cs []Client, at []string) error {
	seen := map[netip.Prefix]string{}
	var errs []error
	for i, c := range cs {
		if !c.Prefix.IsValid() {
			continue
		}
		p := c.Prefix.Masked()
		name := c.Name
		if name == "" {
			name = p.String()
		}
		if i < len(at) {
			name += " (" + at[i] + ")"
		}
		if first, ok := seen[p]; ok {
			errs = append(errs, fmt.Errorf("clients %s and %s both have the address %s: a source address has one client (and one secret); remove one", first, name, p))
			continue
		}
		seen[p] = name
	}
	return errors.Join(errs...)
}

func clientFromBlock(name string, kv map[string]string) (Client, error) {
	addr := kv["ipaddr"]
	if addr == "" {
		addr = kv["ipv4addr"]
	}
	if addr == "" {
		addr = kv["ipv6addr"]
	}
	if addr == "" {
		// FreeRADIUS takes the block's name as the address when it is one.
		addr = name
	}
	if m := kv["netmask"]; m != "" && !strings.Contains(addr, "/") {
		addr += "/" + m
	}
	p, err := ParsePrefix(addr)
	if err != nil {
		hint := ""
		if addr == "*" {
			hint = ": for any address write ipaddr = 0.0.0.0/0 (or ipv6addr = ::/0)"
		} else if addr != "" && strings.Trim(addr, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == "" && strings.ContainsAny(addr, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
			hint = ": host names are not looked up, give the address"
		}
		return Client{}, errors.New("no usable ipaddr/ipv6addr (" + err.Error() + ")" + hint)
	}
	if kv["secret"] == "" {
		return Client{}, errors.New("no secret")
	}
	short := kv["shortname"]
	if short == "" {
		short = name
	}
	return Client{Prefix: p, Secret: kv["secret"], Name: short}, nil
}

// stripComment removes a # comment outside quotes and surrounding space.
func stripComment(s string) string {
	var q byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0 && c == '\\':
			i++
		case q != 0 && c == q:
			q = 0
		case q == 0 && (c == '"' || c == '\''):
			q = c
		case q == 0 && c == '#':
			return strings.TrimSpace(s[:i])
		}
	}
	return strings.TrimSpace(s)
}

func unquote(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
