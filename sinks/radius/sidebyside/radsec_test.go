package sidebyside

import (
	"os/exec"
	"testing"
	"time"

	"github.com/radrelay/radrelay/internal/freeradiustest"
	"github.com/radrelay/radrelay/internal/testpki"
)

// BenchmarkBinaryRadSec relays one FreeRADIUS-written detail file through
// the BUILT radrelay (`radrelay replay`) to FreeRADIUS 3.2 twice in one
// run: over UDP, and over RadSec to the same kind of server with a TLS
// listener (issue 14 item 5: RadSec ≥ 70% of UDP).
//
//	RADRELAY_BENCH_RECORDS=60000 go test -run '^$' -bench BinaryRadSec -benchtime 1x ./sinks/radius/sidebyside/
func BenchmarkBinaryRadSec(b *testing.B) {
	freeradiustest.Binary(b)
	bin := buildRadrelay(b)
	n := benchRecords()
	file := freeradiusWrittenFile(b, n)
	dir := b.TempDir()
	ca := testpki.NewCA(b, dir, "bench-ca")
	server := ca.Issue(b, "server.radsec.test", testpki.Options{})
	client := ca.Issue(b, "client.radsec.test", testpki.Options{Client: true})
	b.ResetTimer()
	for range b.N {
		replay := func(home *freeradiustest.HomeServer, extra string) time.Duration {
			start := time.Now()
			out, err := exec.Command(bin, "replay", "--to", radiusURL(b, home, extra), file).CombinedOutput()
			if err != nil {
				b.Fatalf("radrelay replay: %v\n%s", err, out)
			}
			d := time.Since(start)
			home.WaitRecords(b, n, time.Minute)
			home.Stop()
			return d
		}
		udp := replay(freeradiustest.StartHomeServer(b, freeradiustest.HomeOptions{}), "")
		tlsHome := freeradiustest.StartHomeServer(b, freeradiustest.HomeOptions{
			Secret: "radsec",
			TLS:    &freeradiustest.TLSFiles{CertFile: server.CertFile, KeyFile: server.KeyFile, CAFile: ca.File},
		})
		radsec := replay(tlsHome, "&transport=radsec&certificate_file="+client.CertFile+"&private_key_file="+client.KeyFile+"&ca_file="+ca.File)
		rate := func(d time.Duration) float64 { return float64(n) / d.Seconds() }
		b.ReportMetric(rate(udp), "udp-rec/s")
		b.ReportMetric(rate(radsec), "radsec-rec/s")
		b.Logf("%d records through radrelay replay: UDP %.0f/s, RadSec %.0f/s = %.0f%% of UDP",
			n, rate(udp), rate(radsec), 100*rate(radsec)/rate(udp))
	}
}
