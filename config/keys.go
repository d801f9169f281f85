package config

import (
	"reflect"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// ---- the keys a Go type accepts ----

// keyNode is the set of keys a struct type accepts; anyKey marks a map (any
// key goes).
type keyNode struct {
	children map[string]*keyNode
	anyKey   bool
}

func (n *keyNode) child(k string) *keyNode {
	if n == nil {
		return nil
	}
	if n.anyKey {
		return &keyNode{anyKey: true}
	}
	return n.children[strings.ToLower(k)]
}

func (n *keyNode) any() bool { return n != nil && n.anyKey }

func (n *keyNode) names() []string {
	if n == nil {
		return nil
	}
	var s []string
	for k := range n.children {
		s = append(s, k)
	}
	return s
}

var (
	primitiveType = reflect.TypeOf(toml.Primitive{})
	durationType  = reflect.TypeOf(duration{})
	timeDuration  = reflect.TypeOf(time.Duration(0))
)

// keyTree returns the keys t accepts when decoded by BurntSushi/toml: the
// toml tag of each field (or its name), nested structs as sub-tables.
func keyTree(t reflect.Type) *keyNode {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return nil
	}
	switch {
	case t.Kind() == reflect.Map:
		return &keyNode{anyKey: true}
	case t.Kind() != reflect.Struct || t == durationType || t == primitiveType ||
		t.Implements(reflect.TypeOf((*interface{ UnmarshalText([]byte) error })(nil)).Elem()) ||
		reflect.PointerTo(t).Implements(reflect.TypeOf((*interface{ UnmarshalText([]byte) error })(nil)).Elem()):
		return &keyNode{}
	}
	n := &keyNode{children: map[string]*keyNode{}}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("toml")
		if tag == "-" {
			continue
		}
		name := strings.Split(tag, ",")[0]
		if f.Anonymous && name == "" {
			if sub := keyTree(f.Type); sub != nil {
				for k, v := range sub.children {
					n.children[k] = v
				}
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct || ft.Kind() == reflect.Map {
			n.children[strings.ToLower(name)] = keyTree(ft)
		} else {
			n.children[strings.ToLower(name)] = &keyNode{}
		}
	}
	return n
}

// knownKeys lists the top-level keys of the given struct types, for suggestions.
func knownKeys(types ...reflect.Type) []string {
	var s []string
	for _, t := range types {
		s = append(s, keyTree(t).names()...)
	}
	return s
}

// suggest returns the known key closest to key when it is a likely typo.
func suggest(key string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(key), k); d < bestD || (d == bestD && k < best && best != "") {
			best, bestD = k, d
		}
	}
	if bestD > 2 || bestD*2 > len(key) {
		return ""
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
