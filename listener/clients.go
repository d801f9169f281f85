package listener

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
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
	a = a.Unmap()
	for i := range t.clients {
		if t.clients[i].Prefix.Contains(a) {
			return &t.clients[i], true
		}
	}
	return nil, false
}

// ParsePrefix parses a client address ("10.0.0.1", "2001:db8::1") or
// network ("10.0.0.0/8", "2001:db8::/32").
func ParsePrefix(s string) (netip.Prefix, error) {
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
//		ipaddr = 10.0.0.0/8     (or ipv6addr, or ipaddr = 10.0.0.0 with netmask = 8)
//		secret = "testing123"
//		shortname = nas1
//	}
//
// Other keys are ignored; $INCLUDE is not followed (it is reported).
// Blocks nested in a server section are read too. Each problem names the
// file and line.
func ReadClientsConf(path string) ([]Client, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("clients_conf: %w", err)
	}
	defer f.Close()
	return parseClientsConf(f, path)
}

// parseClientsConf reads the client blocks of the clients.conf text r
// (path names it in errors).
func parseClientsConf(r io.Reader, path string) ([]Client, error) {
	var (
		out     []Client
		errs    []error
		in      bool
		depth   int
		start   int
		name    string
		kv      map[string]string
		lineNum int
	)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		lineNum++
		line := stripComment(sc.Text())
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "$INCLUDE") {
			errs = append(errs, fmt.Errorf("%s:%d: $INCLUDE is not followed: list the included file's clients in its own clients_conf", path, lineNum))
			continue
		}
		if !in {
			fields := strings.Fields(line)
			if len(fields) >= 2 && fields[0] == "client" && strings.HasSuffix(line, "{") {
				in, depth, start, kv = true, 1, lineNum, map[string]string{}
				name = strings.TrimSuffix(fields[1], "{")
				continue
			}
			continue
		}
		if strings.HasSuffix(line, "{") {
			depth++
			continue
		}
		if line == "}" {
			depth--
			if depth == 0 {
				in = false
				c, err := clientFromBlock(name, kv)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s:%d: client %s: %w", path, start, name, err))
				} else {
					out = append(out, c)
				}
			}
			continue
		}
		if depth != 1 {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = unquote(v[1 : len(v)-1])
		}
		kv[strings.TrimSpace(k)] = v
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", path, err))
	}
	if in {
		errs = append(errs, fmt.Errorf("%s:%d: client %s: no closing }", path, start, name))
	}
	return out, errors.Join(errs...)
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
		return Client{}, errors.New("no usable ipaddr/ipv6addr (" + err.Error() + ")")
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
