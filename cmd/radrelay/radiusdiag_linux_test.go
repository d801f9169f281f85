package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRadiusSilenceExplained: when a RADIUS server does not answer, the
// reason says what came back instead: "connection refused" from a closed
// port, or replies failing the authenticator check (a wrong secret), which
// are also warned about.
func TestRadiusSilenceExplained(t *testing.T) {
	for _, tc := range []struct {
		name   string
		server func(t *testing.T) string
		want   []string
	}{
		{"closed port", func(t *testing.T) string {
			c, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := c.LocalAddr().String()
			c.Close() // nothing listens there any more: the kernel answers ICMP port unreachable
			return addr
		}, []string{`the host answers \"connection refused\"`}},
		{"wrong secret", func(t *testing.T) string {
			c, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			go func() {
				buf := make([]byte, 4096)
				for {
					n, from, err := c.ReadFrom(buf)
					if err != nil {
						return
					}
					if n < 20 {
						continue
					}
					// An Accounting-Response to the request's Identifier,
					// signed with another secret (here: none).
					reply := make([]byte, 20)
					reply[0], reply[1], reply[3] = 5, buf[1], 20
					c.WriteTo(reply, from)
				}
			}()
			return c.LocalAddr().String()
		}, []string{"replies fail the authenticator check and are dropped", "failed the authenticator check: the shared secret differs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "detail-20261123")
			hWrite(t, file, hRecords(0, 1), 0o600, time.Hour)
			secret := filepath.Join(dir, "secret")
			os.WriteFile(secret, []byte("s3cret\n"), 0o600)
			conf := filepath.Join(dir, "r.toml")
			os.WriteFile(conf, []byte(fmt.Sprintf(`[[sink]]
name = "backup"
type = "radius"
initial_rtx = "300ms"
max_rtx = "600ms"
max_rtx_count = 2
[[sink.servers]]
address = %q
secret_file = %q
[sink.retry]
max_attempts = 1
`, tc.server(t), secret)), 0o600)
			// Retransmission timers long enough for the bad reply to arrive
			// on a loaded machine (20 ms failed under make test at load 10).
			code, _, stderr := runBin(t, os.Args[0], nil, "replay", "-c", conf, "--quarantine", filepath.Join(dir, "q"), file)
			if code != 1 {
				t.Errorf("exit %d, want 1 (quarantined)", code)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, stderr)
				}
			}
		})
	}
}
