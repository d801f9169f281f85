package route

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks"
	"github.com/radrelay/radrelay/sinks/sinktest"
)

func record(attrs ...string) *detail.Record {
	r := &detail.Record{File: "test", Line: 1}
	for i := 0; i+1 < len(attrs); i += 2 {
		r.Attrs = append(r.Attrs, detail.Attribute{Name: attrs[i], Value: attrs[i+1]})
	}
	return r
}

func TestRealm(t *testing.T) {
	for _, tc := range []struct{ user, realm string }{
		{"carl@example.net", "example.net"},
		{"carl@sub@example.net", "example.net"},
		{`EXAMPLE\carl`, "EXAMPLE"},
		{"example/carl", "example"},
		{`example\carl@other.org`, "other.org"},
		{"carl", ""},
		{"", ""},
		{"carl@", ""},
	} {
		if got := Realm(tc.user); got != tc.realm {
			t.Errorf("Realm(%q) = %q, want %q", tc.user, got, tc.realm)
		}
	}
}

func TestMatches(t *testing.T) {
	start := record("User-Name", "carl@Example.NET", "Acct-Status-Type", "Start", "NAS-IP-Address", "10.1.2.3",
		"NAS-Identifier", "bras-1", "Calling-Station-Id", "02-00-00-00-00-01")
	stop := record("User-Name", `ISP\dora`, "Acct-Status-Type", "Stop", "NAS-IPv6-Address", "2001:db8::5",
		"NAS-Identifier", "bras-2")
	fr4 := record("User-Name", "eve", "Acct-Status-Type", "::Interim-Update", "NAS-IP-Address", "192.0.2.9")
	numeric := record("Acct-Status-Type", "7", "Client-Id", "10.9.9.9")
	bare := record("User-Name", "nobody")
	all := []*detail.Record{start, stop, fr4, numeric, bare}

	for _, tc := range []struct {
		name string
		cfg  Config
		want []bool // per record of all
	}{
		{"empty", Config{}, []bool{true, true, true, true, true}},
		{"status names", Config{StatusType: []string{"start", "Interim-Update"}}, []bool{true, false, true, false, false}},
		{"status number", Config{StatusType: []string{"Accounting-On"}}, []bool{false, false, false, true, false}},
		{"status by number in config", Config{StatusType: []string{"2"}}, []bool{false, true, false, false, false}},
		{"nas v4 cidr", Config{NAS: []string{"10.0.0.0/8"}}, []bool{true, false, false, true, false}},
		{"nas exact", Config{NAS: []string{"192.0.2.9"}}, []bool{false, false, true, false, false}},
		{"nas v6 cidr", Config{NAS: []string{"2001:db8::/32"}}, []bool{false, true, false, false, false}},
		{"nas identifier", Config{NASIdentifier: []string{"bras-2"}}, []bool{false, true, false, false, false}},
		{"realm suffix case-insensitive", Config{Realm: []string{"example.net"}}, []bool{true, false, false, false, false}},
		{"realm prefix", Config{Realm: []string{"isp"}}, []bool{false, true, false, false, false}},
		{"NULL realm", Config{Realm: []string{"NULL"}}, []bool{false, false, true, false, true}},
		{"regexp", Config{Match: map[string]string{"Calling-Station-Id": "^02-00"}}, []bool{true, false, false, false, false}},
		{"regexp on missing attribute", Config{Match: map[string]string{"Class": "."}}, []bool{false, false, false, false, false}},
		{"AND of criteria", Config{StatusType: []string{"Start", "Stop"}, Realm: []string{"isp"}}, []bool{false, true, false, false, false}},
		{"two regexps", Config{Match: map[string]string{"User-Name": "@", "NAS-Identifier": "1$"}}, []bool{true, false, false, false, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := New(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range all {
				if got := f.Matches(r); got != tc.want[i] {
					u, _ := r.Get("User-Name")
					t.Errorf("record %d (%s): Matches = %v, want %v", i, u.Value, got, tc.want[i])
				}
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{StatusType: []string{"Begin"}}, `status_type: unknown Acct-Status-Type "Begin"`},
		{Config{NAS: []string{"10.0.0.0/33"}}, `nas: "10.0.0.0/33" is not an IP address or CIDR prefix`},
		{Config{NAS: []string{"bras-1"}}, `nas: "bras-1" is not an IP address`},
		{Config{Match: map[string]string{"User-Name": "("}}, "match.User-Name: bad regular expression"},
		{Config{KeepAttributes: []string{"User-Name"}, DropAttributes: []string{"Class"}}, "cannot both be set"},
		{Config{DropAttributes: []string{"Tmp-["}}, `drop_attributes: bad attribute name or pattern "Tmp-["`},
	} {
		_, err := New(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want an error containing %q", tc.cfg, err, tc.want)
		}
	}
}

func names(r *detail.Record) string {
	var n []string
	for _, a := range r.Attrs {
		n = append(n, a.Name)
	}
	return strings.Join(n, ",")
}

func TestRewrite(t *testing.T) {
	r := record("User-Name", "a", "Tmp-String-9", "ai:", "NAS-IP-Address", "10.0.0.1", "Packet-Src-Port", "1", "Acct-Status-Type", "Start")
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"none", Config{}, "User-Name,Tmp-String-9,NAS-IP-Address,Packet-Src-Port,Acct-Status-Type"},
		{"drop patterns", Config{DropAttributes: []string{"tmp-*", "Packet-*"}}, "User-Name,NAS-IP-Address,Acct-Status-Type"},
		{"keep", Config{KeepAttributes: []string{"user-name", "Acct-Status-Type"}}, "User-Name,Acct-Status-Type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := New(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := f.Rewrite(r)
			if names(got) != tc.want {
				t.Errorf("rewritten to %s, want %s", names(got), tc.want)
			}
			if len(r.Attrs) != 5 {
				t.Errorf("the original record was modified: %s", names(r))
			}
		})
	}
}

// recorder is an in-memory sink that remembers what it got and fails the
// records whose User-Name starts with "fail".
type recorder struct {
	mu     sync.Mutex
	got    []string // session ids
	attrs  []string // attribute names of each record, comma-joined
	closed bool
}

func (s *recorder) Send(ctx context.Context, recs []*detail.Record, results []error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, r := range recs {
		if u, _ := r.Get("User-Name"); strings.HasPrefix(u.Value, "fail") {
			results[i] = sinks.Permanent(errors.New("rejected"))
			continue
		}
		s.got = append(s.got, sinktest.SessionID(r))
		s.attrs = append(s.attrs, names(r))
		results[i] = nil
	}
}

func (s *recorder) Close() error { s.closed = true; return nil }

func TestWrap(t *testing.T) {
	f, err := New(Config{Realm: []string{"example.org"}, DropAttributes: []string{"Acct-Unique-Session-Id"}})
	if err != nil {
		t.Fatal(err)
	}
	next := &recorder{}
	s := Wrap(next, f)
	recs := sinktest.Records(12) // sessions alternate example.net, example.org
	fail := record("User-Name", "fail@example.org", "Acct-Session-Id", "F")
	recs = append(recs, fail)
	results := make([]error, len(recs))
	s.Send(context.Background(), recs, results)
	for i, err := range results[:12] {
		if err != nil {
			t.Errorf("record %d: %v", i, err)
		}
	}
	if !sinks.IsPermanent(results[12]) {
		t.Errorf("a record the sink rejected got %v, want the sink's permanent error", results[12])
	}
	want := []string{"sess-000001", "sess-000001", "sess-000001", "sess-000003", "sess-000003", "sess-000003"}
	if strings.Join(next.got, " ") != strings.Join(want, " ") {
		t.Errorf("delivered %v, want %v", next.got, want)
	}
	for _, a := range next.attrs {
		if strings.Contains(a, "Acct-Unique-Session-Id") {
			t.Errorf("a dropped attribute was delivered: %s", a)
		}
	}
	if _, ok := recs[1].Get("Acct-Unique-Session-Id"); !ok {
		t.Error("Wrap modified the caller's record")
	}
	if got := s.(*Sink).Skipped(); got != 6 {
		t.Errorf("Skipped() = %d, want 6", got)
	}
	// A batch of nothing but skipped records never reaches the sink.
	before := len(next.got)
	s.Send(context.Background(), recs[:3], results[:3])
	if len(next.got) != before {
		t.Error("records the filter rejects reached the sink")
	}
	if err := s.Close(); err != nil || !next.closed {
		t.Errorf("Close = %v, closed %v", err, next.closed)
	}
	if Wrap(next, nil) != sinks.Sink(next) {
		t.Error("Wrap with a nil filter should return the sink itself")
	}
}

// TestConformance runs the shared sink test through a filter that lets every
// record pass and rewrites them all.
func TestConformance(t *testing.T) {
	var next *recorder
	f, err := New(Config{Match: map[string]string{"Acct-Session-Id": "."}, DropAttributes: []string{"Class", "Tunnel-*"}})
	if err != nil {
		t.Fatal(err)
	}
	sinktest.Run(t, sinktest.Harness{
		New: func(t *testing.T) sinks.Sink {
			next = &recorder{}
			return Wrap(next, f)
		},
		Delivered: func(t *testing.T) []string {
			next.mu.Lock()
			defer next.mu.Unlock()
			return append([]string(nil), next.got...)
		},
	})
}

func FuzzRealm(f *testing.F) {
	for _, s := range []string{"a@b", `a\b`, "a/b", "", "@", `\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, user string) {
		realm := Realm(user)
		if !strings.Contains(user, realm) {
			t.Fatalf("Realm(%q) = %q, not part of the name", user, realm)
		}
	})
}
