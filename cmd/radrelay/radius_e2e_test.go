package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"layeh.com/radius"
	"layeh.com/radius/rfc2866"

	"github.com/radrelay/radrelay/sinks/sinktest"
)

// accountingServer is a minimal RADIUS accounting server on a random
// loopback port: it answers every authentic Accounting-Request and records
// the (Acct-Session-Id, Acct-Status-Type) pairs it got.
type accountingServer struct {
	addr string
	mu   sync.Mutex
	got  map[string]int
}

func startAccountingServer(t *testing.T, secret string) *accountingServer {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &accountingServer{addr: conn.LocalAddr().String(), got: map[string]int{}}
	srv := &radius.PacketServer{
		SecretSource: radius.StaticSecretSource([]byte(secret)),
		Handler: radius.HandlerFunc(func(w radius.ResponseWriter, r *radius.Request) {
			if r.Code != radius.CodeAccountingRequest {
				return
			}
			key := fmt.Sprintf("%s/%d", rfc2866.AcctSessionID_GetString(r.Packet), rfc2866.AcctStatusType_Get(r.Packet))
			s.mu.Lock()
			s.got[key]++
			s.mu.Unlock()
			w.Write(r.Response(radius.CodeAccountingResponse))
		}),
	}
	go srv.Serve(conn)
	t.Cleanup(func() { conn.Close() })
	return s
}

func (s *accountingServer) distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

// TestReplayToRADIUSBroadcast replays through a radius sink configured as in
// examples/radius-backup.toml: two servers, policy broadcast, secrets from a
// file and from the environment. Both servers get every record.
func TestReplayToRADIUSBroadcast(t *testing.T) {
	const secret = "s3cr3t-for-test"
	a := startAccountingServer(t, secret)
	b := startAccountingServer(t, secret)
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "backup.secret")
	os.WriteFile(secretFile, []byte(secret+"\n"), 0o600)
	t.Setenv("RADRELAY_TEST_DR_SECRET", secret)
	cfg := filepath.Join(dir, "radius.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
[[sink]]
name = "backup"
type = "radius"
policy = "broadcast"
max_outstanding = 64

[[sink.servers]]
address = %q
secret_file = %q

[[sink.servers]]
address = %q
secret_env = "RADRELAY_TEST_DR_SECRET"
`, a.addr, secretFile, b.addr)), 0o644)
	if code, _, stderr := runCLI(t, "validate", "--replay", "-c", cfg); code != 0 {
		t.Fatalf("validate: status %d\n%s", code, stderr)
	}
	src := writeDetail(t, filepath.Join(dir, "detail-20261123"), sinktest.Records(90))
	code, _, stderr := runCLI(t, "replay", "-c", cfg, "--quarantine", filepath.Join(dir, "q"), src)
	if code != 0 {
		t.Fatalf("replay: status %d\n%s", code, stderr)
	}
	for name, s := range map[string]*accountingServer{"first": a, "second": b} {
		if n := s.distinct(); n != 90 {
			t.Errorf("the %s server got %d distinct records, want 90", name, n)
		}
	}
	if strings.Contains(stderr, secret) {
		t.Error("the secret appears in radrelay's output")
	}
}
