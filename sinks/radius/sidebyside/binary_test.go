package sidebyside

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	layeh "layeh.com/radius"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/dictionary"
	"github.com/radrelay/radrelay/internal/freeradiustest"
	"github.com/radrelay/radrelay/internal/radiusload"
)

// buildRadrelay builds the radrelay binary as a user would and returns its path.
func buildRadrelay(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "radrelay")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/radrelay/radrelay/cmd/radrelay")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// radiusURL is the --to URL of a sink to home, its secret in a file.
func radiusURL(tb testing.TB, home *freeradiustest.HomeServer, extra string) string {
	secretFile := filepath.Join(tb.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(home.Secret+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	return "radius://" + home.Addr + "?secret_file=" + secretFile + extra
}

// ceilingRequests signs the records as the load generator sends them.
func ceilingRequests(tb testing.TB, recs []*detail.Record, secret []byte) [][]byte {
	d := dictionary.Builtin()
	attrs := make([][]byte, len(recs))
	for i, r := range recs {
		p := layeh.Packet{Code: layeh.CodeAccountingRequest, Secret: secret}
		if err := d.Encode(&p, r.Attrs); err != nil {
			tb.Fatal(err)
		}
		b, err := p.MarshalBinary()
		if err != nil {
			tb.Fatal(err)
		}
		attrs[i] = b[20:]
	}
	return radiusload.Sign(attrs, secret)
}

// BenchmarkBinaryRADIUS relays one FreeRADIUS-written detail file, in one
// run, to a fresh FreeRADIUS 3.2 home server each time, through the BUILT
// radrelay binary (issue 12 item 3):
//
//   - ceiling: internal/radiusload, 64 requests in flight (the home
//     server's own limit on this machine);
//   - replay: `radrelay replay --to radius://… FILE`, from process start
//     to exit;
//   - run: `radrelay run --mode consume --input DIR/detail-* --to radius://… --state …`
//     (consume mode), from process start until the home server has every
//     record;
//   - freeradius: FreeRADIUS 3.2's own detail reader proxying the file.
//
// Run it with -benchtime 1x; RADRELAY_BENCH_RECORDS sets the size (60,000).
func BenchmarkBinaryRADIUS(b *testing.B) {
	freeradiustest.Binary(b)
	bin := buildRadrelay(b)
	n := benchRecords()
	file := freeradiusWrittenFile(b, n)
	recs := freeradiustest.ReadDetail(b, file)
	if len(recs) != n {
		b.Fatalf("generated file holds %d records, want %d", len(recs), n)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		// Ceiling.
		home := freeradiustest.StartHomeServer(b, freeradiustest.HomeOptions{})
		secret := []byte(home.Secret)
		requests := ceilingRequests(b, recs, secret)
		res, err := radiusload.Run(context.Background(), radiusload.Options{Addr: home.Addr, Secret: secret, InFlight: 64}, requests)
		if err != nil {
			b.Fatal(err)
		}
		home.WaitRecords(b, n, time.Minute)
		home.Stop()
		ceiling := res.Elapsed

		// radrelay replay.
		home = freeradiustest.StartHomeServer(b, freeradiustest.HomeOptions{})
		start := time.Now()
		out, err := exec.Command(bin, "replay", "--to", radiusURL(b, home, ""), file).CombinedOutput()
		if err != nil {
			b.Fatalf("radrelay replay: %v\n%s", err, out)
		}
		replay := time.Since(start)
		home.WaitRecords(b, n, time.Minute)
		home.Stop()

		// radrelay run, consume mode.
		home = freeradiustest.StartHomeServer(b, freeradiustest.HomeOptions{})
		spool := b.TempDir()
		if err := os.WriteFile(filepath.Join(spool, "detail-1"), data, 0o600); err != nil {
			b.Fatal(err)
		}
		run := exec.Command(bin, "run", "--mode", "consume", "--input", filepath.Join(spool, "detail-*"),
			"--to", "home="+radiusURL(b, home, ""), "--state", b.TempDir(), "--log-level", "warn")
		var runLog strings.Builder
		run.Stderr = &runLog
		start = time.Now()
		if err := run.Start(); err != nil {
			b.Fatal(err)
		}
		home.WaitRecords(b, n, 5*time.Minute)
		runTime := time.Since(start)
		run.Process.Signal(syscall.SIGTERM)
		if err := run.Wait(); err != nil {
			b.Fatalf("radrelay run: %v\n%s", err, runLog.String())
		}
		home.Stop()

		// FreeRADIUS 3.2's detail reader.
		relayTime := freeradiusRelayTime(b, data, n)

		rate := func(d time.Duration) float64 { return float64(n) / d.Seconds() }
		b.ReportMetric(rate(ceiling), "ceiling-rec/s")
		b.ReportMetric(rate(replay), "replay-rec/s")
		b.ReportMetric(rate(runTime), "run-rec/s")
		b.ReportMetric(rate(relayTime), "freeradius-rec/s")
		b.Logf("%d records: ceiling %.0f/s (%d retransmits); radrelay replay %.0f/s = %.0f%% of ceiling, %.1fx FreeRADIUS; "+
			"radrelay run %.0f/s = %.0f%% of ceiling, %.1fx FreeRADIUS; FreeRADIUS detail reader %.0f/s",
			n, rate(ceiling), res.Retransmits,
			rate(replay), 100*rate(replay)/rate(ceiling), rate(replay)/rate(relayTime),
			rate(runTime), 100*rate(runTime)/rate(ceiling), rate(runTime)/rate(relayTime),
			rate(relayTime))
	}
}
