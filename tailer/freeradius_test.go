package tailer

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/radrelay/radrelay/internal/freeradiustest"
)

// A real FreeRADIUS 3.2 writes the detail file (radclient sends it
// Accounting-Requests in several rounds) while the tailer follows or
// consumes it: every request arrives exactly once, attributes intact. In
// consume mode FreeRADIUS must move to a fresh file each time radrelay
// claims the current one: with locking = yes it is refused the lock and
// opens the name again; with locking = no (its default) it opens the name
// for every record anyway. Either way radrelay sees that FreeRADIUS no
// longer holds the claimed file open and takes its end as final at once:
// settle_time is set far beyond the test, so a claimed file waiting for it
// would hold up the next one and the test.
func TestRealFreeRADIUSWriter(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mode    Mode
		locking bool
	}{
		{"consume", Consume, true},
		{"consume-nolocking", Consume, false},
		{"follow", Follow, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := freeradiustest.StartHomeServer(t, freeradiustest.HomeOptions{})
			if tc.locking {
				h.Stop()
				conf := filepath.Join(h.Dir, "radiusd.conf")
				b, err := os.ReadFile(conf)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(b), "locking = no") {
					t.Fatal("freeradiustest config changed: no 'locking = no' to turn on")
				}
				os.WriteFile(conf, []byte(strings.Replace(string(b), "locking = no", "locking = yes", 1)), 0o600)
				h.Start(t)
			}
			const rounds, per = 4, 300
			sink := newMemSink(rounds * per)
			cfg := liveConfig(t, filepath.Dir(h.DetailFile), t.TempDir(), tc.mode,
				SinkSpec{Name: "mem", Sink: sink, MaxOutstanding: 32})
			cfg.Inputs[0].Glob = filepath.Join(filepath.Dir(h.DetailFile), "detail*")
			if tc.mode == Consume {
				cfg.SettleTime = time.Hour
			}
			_, stop := runTailer(t, cfg)
			for r := 0; r < rounds; r++ {
				var packets strings.Builder
				for i := r * per; i < (r+1)*per; i++ {
					fmt.Fprintf(&packets, "User-Name = \"user%d@example.net\"\nAcct-Status-Type = Interim-Update\n"+
						"Acct-Session-Id = \"%s\"\nNAS-IP-Address = 10.0.0.1\nAcct-Input-Octets = %d\n\n", i, sessionID(i), i)
				}
				freeradiustest.SendAccounting(t, h.Addr, h.Secret, packets.String(), 20)
			}
			waitClosed(t, sink.full, "every request written by FreeRADIUS")
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			checkExactlyOnce(t, "mem", sink, rounds*per)
		})
	}
}
