// Package route gives each sink only the records meant for it ("directed
// accounting"): a Filter selects records by Acct-Status-Type, NAS address or
// identifier, realm of User-Name, or any attribute by regular expression, and
// can keep or drop attributes of the records it lets through. Wrap puts a
// Filter in front of a sink.
package route

import (
	"errors"
	"fmt"
	"net/netip"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/radrelay/radrelay/detail"
)

// Config is a sink's filter as written in the configuration file (the
// [sink.filter] table). Every criterion that is set must match (AND); a list
// matches when any of its entries does (OR). An empty Config lets everything
// through unchanged.
type Config struct {
	// StatusType lists Acct-Status-Type values: names (Start, Stop,
	// Interim-Update, Accounting-On, Accounting-Off, ...) or numbers.
	StatusType []string `toml:"status_type"`
	// NAS lists NAS addresses (IPv4 or IPv6) or CIDR prefixes, matched
	// against NAS-IP-Address and NAS-IPv6-Address.
	NAS []string `toml:"nas"`
	// NASIdentifier lists NAS-Identifier values (exact, case-sensitive).
	NASIdentifier []string `toml:"nas_identifier"`
	// Realm lists realms of User-Name (user@realm, realm\user, realm/user),
	// compared case-insensitively; "NULL" matches a User-Name without a realm.
	Realm []string `toml:"realm"`
	// Match maps attribute names to regular expressions (Go RE2 syntax) the
	// attribute's value must match; a record without the attribute does not match.
	Match map[string]string `toml:"match"`
	// KeepAttributes, when set, keeps only the named attributes of a
	// delivered record; DropAttributes removes the named ones. Names are
	// case-insensitive and may use shell patterns ("Tmp-*"). At most one of
	// the two may be set.
	KeepAttributes []string `toml:"keep_attributes"`
	DropAttributes []string `toml:"drop_attributes"`
}

// IsZero reports whether c selects and rewrites nothing.
func (c Config) IsZero() bool {
	return len(c.StatusType) == 0 && len(c.NAS) == 0 && len(c.NASIdentifier) == 0 &&
		len(c.Realm) == 0 && len(c.Match) == 0 && len(c.KeepAttributes) == 0 && len(c.DropAttributes) == 0
}

// statusTypes maps the RFC 2866 / RFC 3580 Acct-Status-Type names, in lower
// case, to their numbers.
var statusTypes = map[string]int{
	"start": 1, "stop": 2, "interim-update": 3, "alive": 3,
	"accounting-on": 7, "accounting-off": 8, "failed": 15,
}

// Filter decides which records a sink takes and how they are rewritten.
// A nil *Filter takes every record unchanged.
type Filter struct {
	statusTypes map[int]bool
	nas         []netip.Prefix
	nasIDs      map[string]bool
	realms      map[string]bool
	match       []attributeMatch
	keep, drop  []string // lower-case shell patterns

	// Decisions by exact spelling: a stream has few distinct attribute
	// names and status values, and matching them case-insensitively
	// against patterns each time would cost more than the delivery.
	keepCache   sync.Map // attribute name → bool
	statusCache sync.Map // Acct-Status-Type value → int (-1: unknown)
	cached      atomic.Int64
}

// maxCached bounds the decision caches, should a stream carry endless
// distinct names or values.
const maxCached = 10000

type attributeMatch struct {
	name string
	re   *regexp.Regexp
}

// New builds a Filter from c. Errors name the offending key and value.
func New(c Config) (*Filter, error) {
	f := &Filter{}
	var errs []error
	if len(c.StatusType) > 0 {
		f.statusTypes = map[int]bool{}
		for _, s := range c.StatusType {
			n, ok := statusNumber(s)
			if !ok {
				errs = append(errs, fmt.Errorf("status_type: unknown Acct-Status-Type %q (use a name such as Start, Stop, Interim-Update, Accounting-On, Accounting-Off, or a number)", s))
				continue
			}
			f.statusTypes[n] = true
		}
	}
	for _, s := range c.NAS {
		p, err := parsePrefix(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("nas: %q is not an IP address or CIDR prefix", s))
			continue
		}
		f.nas = append(f.nas, p)
	}
	if len(c.NASIdentifier) > 0 {
		f.nasIDs = map[string]bool{}
		for _, s := range c.NASIdentifier {
			f.nasIDs[s] = true
		}
	}
	if len(c.Realm) > 0 {
		f.realms = map[string]bool{}
		for _, s := range c.Realm {
			if s == "NULL" {
				s = ""
			}
			f.realms[strings.ToLower(s)] = true
		}
	}
	names := make([]string, 0, len(c.Match))
	for name := range c.Match {
		names = append(names, name)
	}
	sort.Strings(names) // stable error order
	for _, name := range names {
		re, err := regexp.Compile(c.Match[name])
		if err != nil {
			errs = append(errs, fmt.Errorf("match.%s: bad regular expression: %w", name, err))
			continue
		}
		f.match = append(f.match, attributeMatch{name, re})
	}
	if len(c.KeepAttributes) > 0 && len(c.DropAttributes) > 0 {
		errs = append(errs, errors.New("keep_attributes and drop_attributes cannot both be set"))
	}
	for _, list := range []struct {
		key   string
		names []string
		dst   *[]string
	}{{"keep_attributes", c.KeepAttributes, &f.keep}, {"drop_attributes", c.DropAttributes, &f.drop}} {
		for _, n := range list.names {
			p := strings.ToLower(n)
			if _, err := path.Match(p, ""); err != nil || p == "" {
				errs = append(errs, fmt.Errorf("%s: bad attribute name or pattern %q", list.key, n))
				continue
			}
			*list.dst = append(*list.dst, p)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return f, nil
}

func statusNumber(s string) (int, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "::") // FreeRADIUS 4 prints enums as ::Name
	if n, ok := statusTypes[strings.ToLower(s)]; ok {
		return n, true
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return n, true
	}
	return 0, false
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Matches reports whether r is one of the records the sink takes.
func (f *Filter) Matches(r *detail.Record) bool {
	if f == nil {
		return true
	}
	if f.statusTypes != nil {
		a, ok := r.Get("Acct-Status-Type")
		if !ok {
			return false
		}
		if n := f.statusOf(a.Value); n < 0 || !f.statusTypes[n] {
			return false
		}
	}
	if len(f.nas) > 0 && !f.matchesNAS(r) {
		return false
	}
	if f.nasIDs != nil {
		a, ok := r.Get("NAS-Identifier")
		if !ok || !f.nasIDs[a.Value] {
			return false
		}
	}
	if f.realms != nil {
		a, ok := r.Get("User-Name")
		if !ok || !f.realms[strings.ToLower(Realm(a.Value))] {
			return false
		}
	}
	for _, m := range f.match {
		a, ok := r.Get(m.name)
		if !ok || !m.re.MatchString(a.Value) {
			return false
		}
	}
	return true
}

// nasAttributes are the attributes that carry a NAS's address; Client-Id is
// Livingston's name for NAS-IP-Address.
var nasAttributes = []string{"NAS-IP-Address", "NAS-IPv6-Address", "Client-Id"}

func (f *Filter) matchesNAS(r *detail.Record) bool {
	for _, a := range r.Attrs {
		if !isNASAttribute(a.Name) {
			continue
		}
		addr, err := netip.ParseAddr(strings.TrimSpace(a.Value))
		if err != nil {
			continue
		}
		addr = addr.Unmap()
		for _, p := range f.nas {
			if p.Contains(addr) {
				return true
			}
		}
	}
	return false
}

func isNASAttribute(name string) bool {
	for _, n := range nasAttributes {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// Realm returns the realm of a User-Name: what follows the last '@'
// ("user@realm"), else what precedes the first '\' or '/' ("realm\user",
// "realm/user"), else "".
func Realm(userName string) string {
	if i := strings.LastIndexByte(userName, '@'); i >= 0 {
		return userName[i+1:]
	}
	if i := strings.IndexAny(userName, `\/`); i >= 0 {
		return userName[:i]
	}
	return ""
}

// Rewrite returns r as the sink should receive it: r itself when the filter
// keeps and drops nothing, else a copy with its own attribute slice (r is
// never modified).
func (f *Filter) Rewrite(r *detail.Record) *detail.Record {
	if f == nil || (len(f.keep) == 0 && len(f.drop) == 0) {
		return r
	}
	c := *r
	c.Attrs = make([]detail.Attribute, 0, len(r.Attrs))
	for _, a := range r.Attrs {
		if f.keeps(a.Name) {
			c.Attrs = append(c.Attrs, a)
		}
	}
	return &c
}

// keeps reports whether the rewrite keeps attributes named name.
func (f *Filter) keeps(name string) bool {
	if v, ok := f.keepCache.Load(name); ok {
		return v.(bool)
	}
	lower := strings.ToLower(name)
	keep := (len(f.keep) == 0 || matchAny(f.keep, lower)) && !matchAny(f.drop, lower)
	if f.cached.Add(1) <= maxCached {
		f.keepCache.Store(name, keep)
	}
	return keep
}

// statusOf returns the number of an Acct-Status-Type value, -1 if unknown.
func (f *Filter) statusOf(value string) int {
	if v, ok := f.statusCache.Load(value); ok {
		return v.(int)
	}
	n, ok := statusNumber(value)
	if !ok {
		n = -1
	}
	if f.cached.Add(1) <= maxCached {
		f.statusCache.Store(value, n)
	}
	return n
}

func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}
