package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/radrelay/radrelay/internal/pgtest"
	"github.com/radrelay/radrelay/sinks/sinktest"
)

// BenchmarkReplayToFileSink measures the whole path of "radrelay replay"
// with its default window: a detail file of 100,000 realistic records read,
// parsed and delivered to a file sink of each format, with progress saved.
// Issue 4's target for file to file sink is 100k records/s on 2 cores.
func BenchmarkReplayToFileSink(b *testing.B) {
	const n = 100_000
	dir := b.TempDir()
	src := writeDetail(b, filepath.Join(dir, "detail-20261123"), sinktest.Records(n))
	size := fileSize(b, src)
	for _, format := range []string{"detail", "jsonl", "csv"} {
		b.Run(format, func(b *testing.B) {
			b.SetBytes(size)
			for i := 0; i < b.N; i++ {
				out := filepath.Join(dir, "out."+format)
				os.Remove(out)
				code, _, stderr := runCLI(b, "replay", "--to", format+":"+out, "--state", filepath.Join(dir, "state"), src)
				if code != 0 {
					b.Fatalf("status %d: %s", code, stderr)
				}
				os.RemoveAll(filepath.Join(dir, "state"))
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkReplayToPostgres measures "radrelay replay --to postgres://..."
// end to end with the default window of a postgres sink: 100,000 records of
// 33,000 sessions read, parsed and loaded into live sessions (radacct) and
// the history of a durable PostgreSQL 15 (fsync and synchronous_commit on)
// that the benchmark starts. Issue 6's target is 30k records/s.
func BenchmarkReplayToPostgres(b *testing.B) {
	const n = 99_999
	srv := pgtest.Start(b, pgtest.Options{Durable: true})
	dir := b.TempDir()
	src := writeDetail(b, filepath.Join(dir, "detail-20261123"), sinktest.Records(n))
	size := fileSize(b, src)
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dsn := srv.NewDatabase(b)
		b.StartTimer()
		code, _, stderr := runCLI(b, "replay", "--to", dsn, src)
		if code != 0 {
			b.Fatalf("status %d: %s", code, stderr)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkReplayToNATS measures "radrelay replay --to nats://..." in
// process, into a nats-server with file storage that the benchmark starts
// in the same process (so the two share the CPU): 100,000 records. The
// figure of record is the built binary's against a separate nats-server
// (docs/benchmarks.md); this one is for profiling.
func BenchmarkReplayToNATS(b *testing.B) {
	const n = 100_000
	srv, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: b.TempDir(), NoSigs: true, NoLog: true})
	if err != nil {
		b.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		b.Fatal("nats-server did not start")
	}
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	dir := b.TempDir()
	src := writeDetail(b, filepath.Join(dir, "detail-20261123"), sinktest.Records(n))
	size := fileSize(b, src)
	b.SetBytes(size)
	for i := 0; i < b.N; i++ {
		url := fmt.Sprintf("%s/radius.b%d?stream=B%d&create_stream=yes", srv.ClientURL(), i, i)
		code, _, stderr := runCLI(b, "replay", "--to", url, "--state", filepath.Join(dir, fmt.Sprintf("state%d", i)), src)
		if code != 0 {
			b.Fatalf("status %d: %s", code, stderr)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "records/s")
}

func fileSize(b *testing.B, path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return fi.Size()
}
