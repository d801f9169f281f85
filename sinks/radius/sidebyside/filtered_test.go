package sidebyside

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/radrelay/radrelay/internal/freeradiustest"
)

// BenchmarkBinaryRADIUSFiltered relays one FreeRADIUS-written detail file
// through the BUILT radrelay binary to a fresh FreeRADIUS 3.2 home server,
// twice: "radrelay replay --to radius://…" and "radrelay replay -c FILE"
// whose radius sink has a filter. Both must get the sink's concurrent
// batches (issue 10 item 5: a filter once hid them, at 1.4x FreeRADIUS's
// reader instead of 7.7x).
//
// Run it with -benchtime 1x; RADRELAY_BENCH_RECORDS sets the size (60,000).
func BenchmarkBinaryRADIUSFiltered(b *testing.B) {
	freeradiustest.Binary(b)
	bin := buildRadrelay(b)
	n := benchRecords()
	file := freeradiusWrittenFile(b, n)
	b.ResetTimer()
	for range b.N {
		replay := func(filtered bool) time.Duration {
			home := freeradiustest.StartHomeServer(b, freeradiustest.HomeOptions{})
			defer home.Stop()
			url := radiusURL(b, home, "")
			args := []string{"replay", "--to", url, file}
			if filtered {
				cfg := filepath.Join(b.TempDir(), "filtered.toml")
				os.WriteFile(cfg, []byte(fmt.Sprintf("[[sink]]\nname = \"home\"\nurl = %q\n[sink.filter]\nstatus_type = [\"Start\", \"Stop\", \"Interim-Update\", \"Accounting-On\", \"Accounting-Off\"]\n", url)), 0o600)
				args = []string{"replay", "-c", cfg, file}
			}
			start := time.Now()
			if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
				b.Fatalf("radrelay %v: %v\n%s", args, err, out)
			}
			d := time.Since(start)
			home.WaitRecords(b, n, time.Minute)
			return d
		}
		plain, filtered := replay(false), replay(true)
		rate := func(d time.Duration) float64 { return float64(n) / d.Seconds() }
		b.ReportMetric(rate(plain), "replay-rec/s")
		b.ReportMetric(rate(filtered), "filtered-rec/s")
		b.Logf("%d records: radrelay replay --to %.0f/s; with a filter (-c) %.0f/s", n, rate(plain), rate(filtered))
	}
}
