package stream

import (
	"errors"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	form := URLForm{Sink: "x", Example: "x://host/NAME", Schemes: []string{"x", "xs"}, Host: "host", Path: "name", NoSecret: "use a file"}
	u, err := ParseURL(form, "XS://h1:1,h2:2/a%2Fb?b=2&a=1&a=3&secret=s")
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "xs" || strings.Join(u.Hosts, " ") != "h1:1 h2:2" || u.Name != "a/b" {
		t.Errorf("parsed %+v", u)
	}
	var seen []string
	err = u.EachOption(func(k, v string) error {
		seen = append(seen, k+"="+v)
		if k == "secret" {
			return &RefusedOption{Reason: "use secret_file"}
		}
		return nil
	})
	if got := strings.Join(seen, " "); got != "a=3 b=2 secret=s" { // key order, last value
		t.Errorf("options %s", got)
	}
	if err == nil || err.Error() != "x sink URL: secret is not accepted in a URL (it shows in ps): use secret_file" {
		t.Errorf("refused option: %v", err)
	}
	for _, tc := range []struct{ raw, want string }{
		{"y://h/n", "x sink URL: want x://host/NAME"},
		{"h/n", "x sink URL: want x://host/NAME"},
		{"x://u:pw@h/n", "x sink URL: use a file"},
		{"x:///n", "x sink URL: no host: want x://host/NAME"},
		{"x://h/%zz", "x sink URL: name: "},
		{"x://h/n?a=%zz", "x sink URL: options: "},
		{"x://u:p?w@h/n", "x sink URL: use a file"},
	} {
		_, err := ParseURL(form, tc.raw)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "pw") {
			t.Errorf("%s: %v, want %q...", tc.raw, err, tc.want)
		}
	}
	// A query right after the hosts, without a path, is still the query.
	u, err = ParseURL(form, "x://h:1?a=1")
	if err != nil || strings.Join(u.Hosts, " ") != "h:1" || u.Name != "" || u.options.Get("a") != "1" {
		t.Errorf("x://h:1?a=1: %+v, %v", u, err)
	}
	u, _ = ParseURL(form, "x://h/n?bogus=1&n=x")
	for _, tc := range []struct {
		fail error
		want string
	}{
		{ErrUnknownOption, `x sink URL: unknown option "bogus"`},
		{errors.New("strconv: secret detail"), `x sink URL: bogus="1": not a valid value`},
	} {
		if err := u.EachOption(func(string, string) error { return tc.fail }); err == nil || err.Error() != tc.want {
			t.Errorf("%v: %v, want %s", tc.fail, err, tc.want)
		}
	}
}
