package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks/sinktest"
)

// BenchmarkReplayToJSONL measures the whole path of "radrelay replay": a
// detail file of 100,000 realistic records read, parsed, delivered through
// the window to a jsonl file sink, with progress saved.
func BenchmarkReplayToJSONL(b *testing.B) {
	const n = 100_000
	dir := b.TempDir()
	src := filepath.Join(dir, "detail-20261123")
	var buf []byte
	for _, r := range sinktest.Records(n) {
		buf = detail.AppendRecord(buf, r)
	}
	if err := os.WriteFile(src, buf, 0o600); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out := filepath.Join(dir, "out.jsonl")
		os.Remove(out)
		code, _, stderr := runCLI(b, "replay", "--to", "jsonl:"+out, "--max-outstanding", "4096", "--batch-size", "512", src)
		if code != 0 {
			b.Fatalf("status %d: %s", code, stderr)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "records/s")
}
