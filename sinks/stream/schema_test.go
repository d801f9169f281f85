package stream

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A schemaChecker validates JSON documents against a JSON Schema (draft
// 2020-12), for the keywords docs/stream-record.schema.json uses. It is
// small and hand-written because a validator is not an allowed
// dependency; a keyword it does not implement makes the test fail (the
// schema would say something nobody checks), so that the schema and this
// checker change together.
type schemaChecker struct {
	root map[string]any
}

// schemaAnnotations are the keywords that say nothing to check.
var schemaAnnotations = map[string]bool{"$schema": true, "$id": true, "title": true, "description": true, "$defs": true}

// loadSchema reads the schema file, numbers as json.Number.
func loadSchema(t testing.TB, path string) *schemaChecker {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := decodeJSON(raw)
	if err != nil {
		t.Fatalf("%s is not JSON: %v", path, err)
	}
	root, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s is not a JSON object", path)
	}
	return &schemaChecker{root: root}
}

func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("more than one JSON value")
	}
	return v, nil
}

// validate returns every way doc breaks the schema, each with its JSON
// pointer; an error (not a violation) for a keyword not implemented.
func (c *schemaChecker) validate(doc []byte) ([]string, error) {
	v, err := decodeJSON(doc)
	if err != nil {
		return []string{"not JSON: " + err.Error()}, nil
	}
	var out []string
	err = c.check(c.root, v, "", &out)
	return out, err
}

func (c *schemaChecker) check(schema map[string]any, v any, at string, out *[]string) error {
	fail := func(format string, args ...any) {
		*out = append(*out, fmt.Sprintf("%s: %s", cmpOr(at, "/"), fmt.Sprintf(format, args...)))
	}
	for kw, arg := range schema {
		switch kw {
		case "type":
			var types []string
			switch a := arg.(type) {
			case string:
				types = []string{a}
			case []any:
				for _, x := range a {
					types = append(types, x.(string))
				}
			}
			if !slices.ContainsFunc(types, func(ty string) bool { return hasType(v, ty) }) {
				fail("%s is not of type %s", short(v), strings.Join(types, " or "))
			}
		case "const":
			if !jsonEqual(v, arg) {
				fail("%s is not the constant %s", short(v), short(arg))
			}
		case "enum":
			if !slices.ContainsFunc(arg.([]any), func(e any) bool { return jsonEqual(v, e) }) {
				fail("%s is not one of %s", short(v), short(arg))
			}
		case "required":
			if obj, ok := v.(map[string]any); ok {
				for _, r := range arg.([]any) {
					if _, ok := obj[r.(string)]; !ok {
						fail("required %q missing", r)
					}
				}
			}
		case "properties":
			if obj, ok := v.(map[string]any); ok {
				for name, ps := range arg.(map[string]any) {
					if pv, ok := obj[name]; ok {
						if err := c.check(ps.(map[string]any), pv, at+"/"+name, out); err != nil {
							return err
						}
					}
				}
			}
		case "additionalProperties":
			obj, ok := v.(map[string]any)
			if !ok {
				break
			}
			props, _ := schema["properties"].(map[string]any)
			for name, pv := range obj {
				if _, declared := props[name]; declared {
					continue
				}
				switch a := arg.(type) {
				case bool:
					if !a {
						fail("%q is not allowed", name)
					}
				case map[string]any:
					if err := c.check(a, pv, at+"/"+name, out); err != nil {
						return err
					}
				}
			}
		case "items":
			if arr, ok := v.([]any); ok {
				for i, item := range arr {
					if err := c.check(arg.(map[string]any), item, at+"/"+strconv.Itoa(i), out); err != nil {
						return err
					}
				}
			}
		case "minItems":
			if arr, ok := v.([]any); ok && float64(len(arr)) < number(arg) {
				fail("%d items, fewer than %s", len(arr), arg)
			}
		case "uniqueItems":
			if arr, ok := v.([]any); ok && arg == true {
				for i := range arr {
					for j := i + 1; j < len(arr); j++ {
						if jsonEqual(arr[i], arr[j]) {
							fail("items %d and %d are both %s", i, j, short(arr[i]))
						}
					}
				}
			}
		case "minimum":
			if n, ok := v.(json.Number); ok && number(n) < number(arg) {
				fail("%s is less than the minimum %s", n, arg)
			}
		case "format":
			s, ok := v.(string)
			if !ok {
				break
			}
			if arg != "date-time" {
				return fmt.Errorf("format %q: not implemented by the schema checker", arg)
			}
			if !rfc3339.MatchString(s) {
				fail("%q is not an RFC 3339 date-time", s)
			} else if _, err := time.Parse(time.RFC3339, s); err != nil {
				fail("%q is not a date-time: %v", s, err)
			}
		case "oneOf":
			matched := 0
			for _, sub := range arg.([]any) {
				var sout []string
				if err := c.check(sub.(map[string]any), v, at, &sout); err != nil {
					return err
				}
				if len(sout) == 0 {
					matched++
				}
			}
			if matched != 1 {
				fail("%s matches %d of oneOf's schemas, not exactly one", short(v), matched)
			}
		case "$ref":
			ref, _ := arg.(string)
			name, ok := strings.CutPrefix(ref, "#/$defs/")
			defs, _ := c.root["$defs"].(map[string]any)
			def, found := defs[name].(map[string]any)
			if !ok || !found {
				return fmt.Errorf("$ref %q: only #/$defs/NAME, of a definition that exists", ref)
			}
			if err := c.check(def, v, at, out); err != nil {
				return err
			}
		default:
			if !schemaAnnotations[kw] {
				return fmt.Errorf("keyword %q (at %s): not implemented by the schema checker: implement it, or the schema says something no test checks", kw, cmpOr(at, "/"))
			}
		}
	}
	return nil
}

func cmpOr(a, b string) string {
	if a == "" {
		return b
	}
	return a
}

// hasType reports whether v is of the JSON Schema type ty: an integer is
// a number with no fractional part (1.0 is one).
func hasType(v any, ty string) bool {
	switch x := v.(type) {
	case string:
		return ty == "string"
	case bool:
		return ty == "boolean"
	case nil:
		return ty == "null"
	case []any:
		return ty == "array"
	case map[string]any:
		return ty == "object"
	case json.Number:
		if ty == "number" {
			return true
		}
		f := number(x)
		return ty == "integer" && f == math.Trunc(f) && !math.IsInf(f, 0)
	}
	return false
}

func number(v any) float64 {
	n, _ := v.(json.Number)
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		return math.NaN()
	}
	return f
}

// jsonEqual is JSON Schema's equality: numbers by value.
func jsonEqual(a, b any) bool {
	if na, ok := a.(json.Number); ok {
		nb, ok := b.(json.Number)
		return ok && number(na) == number(nb)
	}
	return reflect.DeepEqual(a, b)
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}

const schemaPath = "../../docs/stream-record.schema.json"

// TestSchemaCheckerRejects: the checker finds what the schema forbids,
// each rule of it: a checker that accepted everything would pass every
// other test. Each document breaks one rule of a valid one.
func TestSchemaCheckerRejects(t *testing.T) {
	c := loadSchema(t, schemaPath)
	const valid = `{"schema_version":1,"time":"2026-11-23T11:57:39Z","timestamp":1795435059,"header":"Mon Nov 23 11:57:39 2026","file":"d","line":1,"offset":0,"attributes":{"User-Name":"caf\\351","NAS-Port":1,"Cisco-AVPair":["a","b"]},"escaped":["User-Name"],"escaped_fields":["file"]}`
	if bad, err := c.validate([]byte(valid)); err != nil || len(bad) > 0 {
		t.Fatalf("the valid document: %v %q", err, bad)
	}
	for _, tc := range []struct{ name, from, to, want string }{
		{"escaped not unique", `"escaped":["User-Name"]`, `"escaped":["User-Name","User-Name"]`, "/escaped: items 0 and 1"},
		{"escaped empty", `"escaped":["User-Name"]`, `"escaped":[]`, "/escaped: 0 items"},
		{"escaped not strings", `"escaped":["User-Name"]`, `"escaped":[1]`, "/escaped/0: 1 is not of type string"},
		{"line 0", `"line":1`, `"line":0`, "/line: 0 is less than the minimum 1"},
		{"line not an integer", `"line":1`, `"line":1.5`, "/line: 1.5 is not of type integer"},
		{"offset negative", `"offset":0`, `"offset":-1`, "/offset: -1 is less than the minimum 0"},
		{"schema_version 2", `"schema_version":1`, `"schema_version":2`, "/schema_version: 2 is not the constant 1"},
		{"header missing", `"header":"Mon Nov 23 11:57:39 2026",`, ``, `/: required "header" missing`},
		{"time not a date-time", `"time":"2026-11-23T11:57:39Z"`, `"time":"10000-01-01T00:00:00Z"`, "/time: \"10000-01-01T00:00:00Z\" is not an RFC 3339 date-time"},
		{"done false", `"file":"d"`, `"done":false,"file":"d"`, "/done: false is not the constant true"},
		{"escaped_fields other", `"escaped_fields":["file"]`, `"escaped_fields":["line"]`, `/escaped_fields/0: "line" is not one of`},
		{"escaped_fields not unique", `"escaped_fields":["file"]`, `"escaped_fields":["file","file"]`, "/escaped_fields: items 0 and 1"},
		{"an array of one value", `["a","b"]`, `["a"]`, "/attributes/Cisco-AVPair: [\"a\"] matches 0 of oneOf's schemas"},
		{"an object value", `"NAS-Port":1`, `"NAS-Port":{"a":1}`, "/attributes/NAS-Port: {\"a\":1} matches 0"},
		{"a null value", `"NAS-Port":1`, `"NAS-Port":null`, "/attributes/NAS-Port: null matches 0"},
		{"attributes not an object", `"attributes":{"User-Name":"caf\\351","NAS-Port":1,"Cisco-AVPair":["a","b"]}`, `"attributes":[]`, "/attributes: [] is not of type object"},
	} {
		doc := strings.Replace(valid, tc.from, tc.to, 1)
		if doc == valid {
			t.Fatalf("%s: %s is not in the document", tc.name, tc.from)
		}
		bad, err := c.validate([]byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !slices.ContainsFunc(bad, func(s string) bool { return strings.HasPrefix(s, tc.want) }) {
			t.Errorf("%s: %s\nwant a violation starting %q, got %q", tc.name, doc, tc.want, bad)
		}
	}
}

// TestGoldenValuesMatchSchema: every value of testdata/messages.golden
// (hostile and FreeRADIUS-written records, three encoders) is valid.
func TestGoldenValuesMatchSchema(t *testing.T) {
	c := loadSchema(t, schemaPath)
	raw, err := os.ReadFile("testdata/messages.golden")
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(raw, []byte("\n")), []byte("\n"))
	n := 0
	for i := 1; i < len(lines); i += 2 { // a line of key and headers, then the value
		bad, err := c.validate(lines[i])
		if err != nil {
			t.Fatal(err)
		}
		if len(bad) > 0 {
			t.Errorf("messages.golden line %d: %q\n%s", i+1, bad, lines[i])
		}
		n++
	}
	if n < 100 {
		t.Fatalf("only %d values in messages.golden", n)
	}
}
