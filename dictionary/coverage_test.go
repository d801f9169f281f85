package dictionary

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// intendedDifferences are the ways the built-in dictionary may differ from
// FreeRADIUS's tree, each with its reason (also in docs/dictionary.md).
// Any other difference fails TestBuiltinCoversFreeRADIUS, and so does an
// intended one that no longer occurs.
var intendedDifferences = map[string]string{}

// TestBuiltinCoversFreeRADIUS compares the built-in dictionary with the
// installed FreeRADIUS tree, loaded as FreeRADIUS loads it, entry by entry:
// every VENDOR (number, name, every name it is found by, format), every
// attribute number (the name printed, type and flags), every name and its
// lower-case form (the number it reads as, and that definition's type and
// flags), and every VALUE (the name printed for each number, the number
// each name reads as).
func TestBuiltinCoversFreeRADIUS(t *testing.T) {
	needFreeRADIUSTree(t)
	fr, err := Load(freeradiusTree)
	if err != nil {
		t.Fatal(err)
	}
	diffs, counts := coverageDifferences(Builtin(), fr)
	t.Logf("compared %s", counts)
	seen := map[string]bool{}
	for _, d := range diffs {
		if _, ok := intendedDifferences[d]; ok {
			seen[d] = true
			continue
		}
		t.Error(d)
	}
	for d := range intendedDifferences {
		if !seen[d] {
			t.Errorf("intended difference no longer occurs (remove it): %s", d)
		}
	}
}

func coverageDifferences(b, fr *Dictionary) (diffs []string, counts string) {
	add := func(format string, args ...any) { diffs = append(diffs, fmt.Sprintf(format, args...)) }
	nv, na, nn, nval := 0, 0, 0, 0
	for _, v := range fr.Vendors() {
		nv++
		bv, ok := b.Vendor(v.ID)
		if !ok {
			add("VENDOR %s %d: missing", v.Name, v.ID)
			continue
		}
		if bv.Name != v.Name || bv.Format() != v.Format() {
			add("VENDOR %d: built-in %s format=%s, FreeRADIUS %s format=%s", v.ID, bv.Name, bv.Format(), v.Name, v.Format())
		}
		for _, name := range fr.VendorNames(v) {
			if x, ok := b.VendorByName(name); !ok || x.ID != v.ID {
				add("VENDOR name %s: does not find vendor %d", name, v.ID)
			}
		}
	}
	for _, a := range fr.Attributes() {
		if !fr.Printed(a) {
			continue
		}
		na++
		oid, _ := parseAttrOID("Attr-" + a.OID())
		ba, ok := b.AttributeByOID(oid)
		if !ok {
			add("%s (%s): number unknown", a.Name, a.OID())
			continue
		}
		if ba.Name != a.Name {
			add("%s: prints as %s", a.OID(), ba.Name)
		}
		if ba.TypeAndFlags() != a.TypeAndFlags() {
			add("%s (%s): built-in %q, FreeRADIUS %q", a.Name, a.OID(), ba.TypeAndFlags(), a.TypeAndFlags())
		}
		for _, v := range a.Values() {
			nval++
			if n, ok := ba.ValueNumber(v.Name); !ok || n != v.Number {
				add("%s VALUE %s: reads as %d (%v), FreeRADIUS %d", a.Name, v.Name, n, ok, v.Number)
			}
			if v.Printed {
				if s, _ := ba.ValueName(v.Number); s != v.Name {
					add("%s VALUE %d: prints as %q, FreeRADIUS %s", a.Name, v.Number, s, v.Name)
				}
			}
		}
	}
	for _, name := range fr.Names() {
		nn++
		for _, n := range []string{name, strings.ToLower(name)} {
			fa, _ := fr.Attribute(n)
			ba, ok := b.Attribute(n)
			if !ok {
				add("name %s: unknown", n)
				continue
			}
			if ba.OID() != fa.OID() || ba.TypeAndFlags() != fa.TypeAndFlags() {
				add("name %s: built-in %s %s, FreeRADIUS %s %s", n, ba.OID(), ba.TypeAndFlags(), fa.OID(), fa.TypeAndFlags())
			}
		}
	}
	sort.Strings(diffs)
	return diffs, fmt.Sprintf("%d vendors, %d attribute numbers, %d names, %d VALUEs", nv, na, nn, nval)
}

// TestBuiltinCopiesAreIndependent: copies of the built-in dictionary share
// its definitions (Clone is copy-on-write); extending one, from several
// goroutines at once, never shows in another, and the VALUE a user adds to
// a built-in attribute is readable under every name of its number.
func TestBuiltinCopiesAreIndependent(t *testing.T) {
	const user = `VENDOR	Cisco	9	format=2,1
ATTRIBUTE	My-Cisco-Thing	300	string	Cisco
VALUE	Acct-Status-Type	Begin	1
VALUE	Client-Port-Id	Zero	0
VALUE	Ascend-Modem-ShelfNo	Shelf-One	1
`
	done := make(chan *Dictionary)
	for range 4 {
		go func() {
			d := Builtin()
			if err := d.Parse(strings.NewReader(user), "user"); err != nil {
				t.Error(err)
			}
			done <- d
		}()
	}
	readers := make(chan bool)
	for range 4 {
		go func() {
			d := Builtin()
			st, _ := d.Attribute("Acct-Status-Type")
			for range 100 {
				if n, _ := st.ValueName(1); n != "Start" {
					t.Errorf("a fresh copy prints Acct-Status-Type 1 as %s", n)
				}
			}
			readers <- true
		}()
	}
	for range 4 {
		d := <-done
		<-readers
		if v, _ := d.Vendor(9); v.Format() != "2,1" {
			t.Errorf("the user's Cisco format is %s", v.Format())
		}
		st, _ := d.Attribute("Acct-Status-Type")
		if n, _ := st.ValueName(1); n != "Begin" {
			t.Errorf("Acct-Status-Type 1 prints as %s, want the user's Begin", n)
		}
		if n, ok := st.ValueNumber("Start"); !ok || n != 1 {
			t.Error("built-in VALUE Start lost")
		}
		// NAS-Port and its old name Client-Port-Id share their VALUEs.
		np, _ := d.Attribute("NAS-Port")
		if n, ok := np.ValueNumber("Zero"); !ok || n != 0 {
			t.Error("a VALUE added under an old name is not readable under the printed name")
		}
		sh, _ := d.Attribute("Ascend-Modem-ShelfNo")
		if n, ok := sh.ValueNumber("Shelf-One"); !ok || n != 1 {
			t.Error("VALUE of a generated attribute not added")
		}
	}
	fresh := Builtin()
	if v, _ := fresh.Vendor(9); v.Format() != "1,1" {
		t.Errorf("a fresh copy's Cisco format is %s", v.Format())
	}
	if _, ok := fresh.Attribute("My-Cisco-Thing"); ok {
		t.Error("a user's attribute leaked into a fresh copy")
	}
	st, _ := fresh.Attribute("Acct-Status-Type")
	if n, _ := st.ValueName(1); n != "Start" {
		t.Errorf("fresh copy prints Acct-Status-Type 1 as %s", n)
	}
	if _, ok := st.ValueNumber("Begin"); ok {
		t.Error("a user's VALUE leaked into a fresh copy")
	}
}

// TestFreeRADIUSFilesNotLoadedAreListed: the built-in dictionary holds the
// tree as FreeRADIUS loads it; every file of the tree FreeRADIUS does not
// $INCLUDE (so neither does the built-in dictionary) must be named in
// docs/dictionary.md, which says why and what to do instead.
func TestFreeRADIUSFilesNotLoadedAreListed(t *testing.T) {
	needFreeRADIUSTree(t)
	dir := filepath.Dir(freeradiusTree)
	included := map[string]bool{}
	var walk func(name string)
	walk = func(name string) {
		if included[name] {
			return
		}
		included[name] = true
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return // $INCLUDE- of a missing file
		}
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) == 2 && (f[0] == "$INCLUDE" || f[0] == "$INCLUDE-") {
				walk(filepath.Base(f[1]))
			}
		}
	}
	walk(filepath.Base(freeradiusTree))
	docs, err := os.ReadFile("../docs/dictionary.md")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "dictionary.*"))
	notLoaded := 0
	for _, f := range files {
		name := filepath.Base(f)
		if included[name] {
			continue
		}
		notLoaded++
		if !strings.Contains(string(docs), "`"+name+"`") {
			t.Errorf("%s is not loaded by FreeRADIUS (nor built in) and docs/dictionary.md does not say so", name)
		}
	}
	t.Logf("%d files of %d loaded; %d not loaded, all listed", len(files)-notLoaded, len(files), notLoaded)
}
