package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/radrelay/radrelay/dictionary"
)

// dictionaryFlagUsage is the help of the --dictionary flag of check and cat.
const dictionaryFlagUsage = "a FreeRADIUS-format dictionary `PATH` (with its $INCLUDEs) that extends or overrides the built-in one, e.g. /etc/freeradius/3.0/dictionary"

// addDictionaryFlag declares --dictionary on fs, storing the path in *path.
func addDictionaryFlag(fs *flag.FlagSet, path *string) {
	*path = ""
	fs.StringVar(path, "dictionary", "", dictionaryFlagUsage)
}

// loadDictionary returns the built-in dictionary extended by the file at
// path, if any; the error names the file and line of a bad definition.
func loadDictionary(path string) (*dictionary.Dictionary, error) {
	d := dictionary.Builtin()
	if path == "" {
		return d, nil
	}
	if err := d.LoadFile(path); err != nil {
		return nil, fmt.Errorf("--dictionary: %w", err)
	}
	return d, nil
}

var dictionaryFlags struct {
	dictionary string
}

func init() {
	register(&command{
		name:    "dictionary",
		summary: "show the attributes and vendors radrelay knows, and where each was defined",
		usage: `Usage:
  radrelay dictionary [--dictionary PATH] vendors
  radrelay dictionary [--dictionary PATH] show NAME|VENDOR|NUMBER...

Dictionary shows what radrelay's dictionary knows: the built-in one
(every vendor, attribute and VALUE of FreeRADIUS's dictionaries, over the
attributes radrelay's own files write from the RFCs and vendor documents),
extended by --dictionary PATH as run, replay, check and cat extend it. Each
definition is shown with its source: "built-in FreeRADIUS 3.2.1
dictionary.cisco" (generated from FreeRADIUS's file of that name),
"built-in builtin/rfc2866.dict:12" (radrelay's primary-source file and
line) or the path and line of your own file.

  vendors   every vendor: number, name, format=, attribute count, source.
  show      an attribute (by name, any case, or by number: 40, 26.9.1,
            Attr-241.1): its number, type and flags, source, the other names
            and earlier definitions it is read by, and its VALUE names (the
            printed one first); or a vendor (by name, or by number: 26.9,
            or 9 when no attribute has the number): its format, source and
            all its attributes.

Exit status: 0 when everything asked for is known, 1 when a NAME is not,
2 for a usage error or a dictionary that does not load.

Examples:
  Where does radrelay get Cisco-AVPair from, and what is it?
    radrelay dictionary show Cisco-AVPair

  Everything radrelay knows of one vendor, with your own file on top:
    radrelay dictionary --dictionary /etc/radrelay/dictionary.local show Example

  Which vendors use a non-standard VSA format:
    radrelay dictionary vendors | awk '$3 != "1,1"'`,
		flags: func(fs *flag.FlagSet) {
			addDictionaryFlag(fs, &dictionaryFlags.dictionary)
		},
		run: runDictionary,
	})
}

func runDictionary(e *env, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, "radrelay dictionary: say vendors or show NAME\nrun \"radrelay dictionary --help\" for usage")
		return 2
	}
	sub := args[0]
	// --dictionary may also follow the subcommand.
	fs := flag.NewFlagSet("radrelay dictionary "+sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&dictionaryFlags.dictionary, "dictionary", dictionaryFlags.dictionary, dictionaryFlagUsage)
	if err := fs.Parse(args[1:]); err != nil {
		fmt.Fprintf(e.stderr, "radrelay dictionary %s: %v\nrun \"radrelay dictionary --help\" for usage\n", sub, err)
		return 2
	}
	rest := fs.Args()
	switch sub {
	case "vendors":
		if len(rest) != 0 {
			fmt.Fprintf(e.stderr, "radrelay dictionary vendors: takes no arguments (got %q)\n", rest)
			return 2
		}
	case "show":
		if len(rest) == 0 {
			fmt.Fprintln(e.stderr, "radrelay dictionary show: give an attribute or vendor NAME or NUMBER")
			return 2
		}
		for _, name := range rest {
			if strings.TrimSpace(name) == "" {
				// A usage error (an empty shell variable), not an unknown name.
				fmt.Fprintln(e.stderr, "radrelay dictionary show: an empty NAME: give an attribute or vendor NAME or NUMBER")
				return 2
			}
		}
	default:
		fmt.Fprintf(e.stderr, "radrelay dictionary: unknown subcommand %q (vendors or show)\n", sub)
		return 2
	}
	d, err := loadDictionary(dictionaryFlags.dictionary)
	if err != nil {
		fmt.Fprintf(e.stderr, "radrelay dictionary: %v\n", err)
		return 2
	}
	out := bufio.NewWriter(e.stdout)
	defer out.Flush()
	if sub == "vendors" {
		printVendors(out, d)
		return 0
	}
	code := 0
	for i, name := range rest {
		if i > 0 {
			fmt.Fprintln(out)
		}
		if !showName(out, d, name) {
			out.Flush()
			fmt.Fprintf(e.stderr, "radrelay dictionary show: no attribute or vendor %q\n", name)
			code = 1
		}
	}
	return code
}

func printVendors(w io.Writer, d *dictionary.Dictionary) {
	// Count each vendor's printed attributes, members of its TLVs included,
	// in one pass.
	count := map[uint32]int{}
	for _, a := range d.Attributes() {
		if a.Vendor != nil && d.Printed(a) {
			count[a.Vendor.ID]++
		}
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NUMBER\tNAME\tFORMAT\tATTRIBUTES\tSOURCE")
	for _, v := range d.Vendors() {
		name := strings.Join(d.VendorNames(v), ", ")
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\n", v.ID, name, v.Format(), count[v.ID], v.Source)
	}
	tw.Flush()
}

// showName prints the attribute and/or vendor called name (or numbered
// name) and reports whether there was one.
func showName(w io.Writer, d *dictionary.Dictionary, name string) bool {
	found := false
	if a, ok := lookupAttribute(d, name); ok {
		showAttribute(w, d, a)
		found = true
	}
	v, ok := d.VendorByName(name)
	if !ok {
		// A vendor by number: 26.N (or Attr-26.N), or N when no attribute
		// has that number.
		num, vsa := strings.CutPrefix(strings.TrimPrefix(name, "Attr-"), "26.")
		if n, err := strconv.ParseUint(num, 10, 32); err == nil && (vsa || !found) {
			v, ok = d.Vendor(uint32(n))
		}
	}
	if ok {
		if found {
			fmt.Fprintln(w)
		}
		showVendor(w, d, v)
		found = true
	}
	return found
}

// lookupAttribute finds an attribute by name or by number path (40,
// 26.9.1, Attr-241.1). A bare number above 255 that is a vendor's is left
// to the vendor lookup.
func lookupAttribute(d *dictionary.Dictionary, name string) (*dictionary.Attribute, bool) {
	if a, ok := d.Attribute(name); ok {
		return a, true
	}
	oid, ok := dictionary.ParseOID(name)
	if !ok {
		return nil, false
	}
	if _, isVendor := d.Vendor(oid[0]); len(oid) == 1 && oid[0] > 255 && isVendor && !strings.HasPrefix(name, "Attr-") {
		return nil, false
	}
	return d.AttributeByOID(oid)
}

func showAttribute(w io.Writer, d *dictionary.Dictionary, a *dictionary.Attribute) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "attribute\t%s\n", a.Name)
	fmt.Fprintf(tw, "number\t%s (Attr-%s)\n", a.OID(), a.OID())
	if a.Vendor != nil {
		fmt.Fprintf(tw, "vendor\t%s (%d), format=%s\n", a.Vendor.Name, a.Vendor.ID, a.Vendor.Format())
	}
	if a.Parent != nil {
		fmt.Fprintf(tw, "inside\t%s (%s)\n", a.Parent.Name, a.Parent.OID())
	}
	fmt.Fprintf(tw, "type\t%s\n", a.TypeAndFlags())
	fmt.Fprintf(tw, "source\t%s\n", a.Source)
	if !d.Printed(a) {
		if p, ok := d.PrintedFor(a); ok {
			fmt.Fprintf(tw, "printed as\t%s (%s), a later definition of the number\n", p.Name, p.Source)
		} else {
			fmt.Fprintf(tw, "printed as\tAttr-%s\n", a.OID())
		}
	}
	// Other definitions of the same number, and other names.
	var others []string
	for _, o := range d.Attributes() {
		if o != a && o.OID() == a.OID() {
			others = append(others, fmt.Sprintf("%s\t%s\t%s", o.Name, o.TypeAndFlags(), o.Source))
		}
	}
	for _, n := range d.Names() {
		if x, _ := d.Attribute(n); x == a && n != a.Name {
			others = append(others, fmt.Sprintf("%s\t(another name for %s)\t", n, a.Name))
		}
	}
	if len(others) > 0 {
		fmt.Fprintf(tw, "also read\t%s\n", others[0])
		for _, o := range others[1:] {
			fmt.Fprintf(tw, "\t%s\n", o)
		}
	}
	tw.Flush()
	if members := d.Members(a); len(members) > 0 {
		fmt.Fprintf(w, "members (%d):\n", len(members))
		printAttrTable(w, d, members)
	}
	if vals := a.Values(); len(vals) > 0 {
		fmt.Fprintf(w, "values (%d):\n", len(vals))
		vw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		for _, v := range vals {
			note := ""
			if !v.Printed {
				note = "\t(read only; printed as " + printedValue(a, v.Number) + ")"
			}
			fmt.Fprintf(vw, "  %d\t%s%s\n", v.Number, v.Name, note)
		}
		vw.Flush()
	}
}

func printedValue(a *dictionary.Attribute, n uint64) string {
	if s, ok := a.ValueName(n); ok {
		return s
	}
	return strconv.FormatUint(n, 10)
}

func showVendor(w io.Writer, d *dictionary.Dictionary, v *dictionary.Vendor) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "vendor\t%s\n", v.Name)
	fmt.Fprintf(tw, "number\t%d (Attr-26.%d.N)\n", v.ID, v.ID)
	fmt.Fprintf(tw, "format\t%s\n", v.Format())
	fmt.Fprintf(tw, "source\t%s\n", v.Source)
	if names := d.VendorNames(v); len(names) > 1 {
		fmt.Fprintf(tw, "also read\t%s\n", strings.Join(names[1:], ", "))
	}
	tw.Flush()
	// Every printed attribute of the vendor, in number order: inside
	// Vendor-Specific, members of its TLVs, and inside extended
	// attributes (evs, 241.26.N...).
	var attrs []*dictionary.Attribute
	for _, a := range d.Attributes() {
		if a.Vendor == v && d.Printed(a) {
			attrs = append(attrs, a)
		}
	}
	fmt.Fprintf(w, "attributes (%d):\n", len(attrs))
	tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, a := range attrs {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", a.OID(), a.Name, a.TypeAndFlags(), a.Source)
	}
	tw.Flush()
}

// printAttrTable lists attrs and their members, one per line: number
// path, name, type and flags, source.
func printAttrTable(w io.Writer, d *dictionary.Dictionary, attrs []*dictionary.Attribute) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	var walk func([]*dictionary.Attribute)
	walk = func(as []*dictionary.Attribute) {
		for _, a := range as {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", a.OID(), a.Name, a.TypeAndFlags(), a.Source)
			walk(d.Members(a))
		}
	}
	walk(attrs)
	tw.Flush()
}
