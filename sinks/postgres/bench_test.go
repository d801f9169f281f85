package postgres

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/internal/freeradiustest"
	"github.com/radrelay/radrelay/internal/pgtest"
	"github.com/radrelay/radrelay/sinks/sinktest"
)

// benchRecords is the size of the benchmarks' stream: sessions of Start,
// Interim-Update and Stop as sinktest.Records makes them (22 attributes a
// record, as a BRAS sends).
const benchRecords = 60000

// benchServer is a PostgreSQL server with fsync and synchronous_commit on,
// as in production (the test server runs without them).
func benchServer(b *testing.B) *pgtest.Server {
	return pgtest.Start(b, pgtest.Options{Durable: true})
}

func newBenchDB(b *testing.B, srv *pgtest.Server, i int) string {
	b.Helper()
	name := "bench_" + strconv.Itoa(i)
	conn := connect(b, srv.AdminDSN)
	if _, err := conn.Exec(context.Background(), "CREATE DATABASE "+name); err != nil {
		b.Fatal(err)
	}
	return srv.DSN(name)
}

// benchSink sends benchRecords records in Send calls of batch records each
// (what the tailer hands over with max_outstanding = batch) into a fresh
// database per iteration, and reports records/s.
func benchSink(b *testing.B, cfg Config, batch int) {
	srv := benchServer(b)
	recs := sinktest.Records(benchRecords)
	b.ResetTimer()
	var elapsed time.Duration
	var dsn string
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dsn = newBenchDB(b, srv, i)
		s := openSink(b, dsn, cfg)
		b.StartTimer()
		start := time.Now()
		for lo := 0; lo < len(recs); lo += batch {
			part := recs[lo:min(lo+batch, len(recs))]
			for j, err := range sendAll(s, part) {
				if err != nil {
					b.Fatalf("record %d: %v", lo+j, err)
				}
			}
		}
		elapsed += time.Since(start)
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N*len(recs))/elapsed.Seconds(), "records/s")
	if cfg.historyEnabled() {
		var size int64
		err := connect(b, dsn).QueryRow(context.Background(), `SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0)::bigint
			FROM pg_inherits WHERE inhparent = 'radrelay_history'::regclass`).Scan(&size)
		if err == nil {
			b.ReportMetric(float64(size)/float64(len(recs)), "history-bytes/record")
		}
	}
}

func BenchmarkSinkLiveAndHistory(b *testing.B) { benchSink(b, Config{}, 5000) }

func BenchmarkSinkLiveOnly(b *testing.B) {
	off := false
	benchSink(b, Config{History: &off}, 5000)
}

func BenchmarkSinkHistoryOnly(b *testing.B) {
	off := false
	benchSink(b, Config{LiveSessions: &off}, 5000)
}

func BenchmarkSinkLiveAndHistorySmallBatches(b *testing.B) { benchSink(b, Config{}, 500) }

// rrRuns is how many times BenchmarkVersusFreeRADIUS loads the file with radrelay.
const rrRuns = 5

// BenchmarkVersusFreeRADIUS loads one detail file into two databases of
// one durable PostgreSQL server: with FreeRADIUS 3.2's detail reader and
// the stock sql module and queries (buffered-sql), and with radrelay
// (reading and parsing the file included). Both run in this one benchmark,
// one after the other, on the same machine. RADRELAY_BENCH_FR_RECORDS sets
// the file's size (default 6000 records: FreeRADIUS needs about 10 s for it).
func BenchmarkVersusFreeRADIUS(b *testing.B) {
	n := 6000
	if v, err := strconv.Atoi(os.Getenv("RADRELAY_BENCH_FR_RECORDS")); err == nil && v > 0 {
		n = v
	}
	srv := benchServer(b)
	path := filepath.Join(b.TempDir(), "detail-bench")
	var buf []byte
	for _, r := range sinktest.Records(n) {
		buf = detail.AppendRecord(buf, r)
	}
	if err := os.WriteFile(path, buf, 0o600); err != nil {
		b.Fatal(err)
	}
	var frTime, rrTime time.Duration
	for i := 0; i < b.N; i++ {
		frDSN := newBenchDB(b, srv, 2*i)
		createStockSchema(b, frDSN)
		fr := freeradiustest.StartBufferedSQL(b, srv.Host, srv.Port, dbName(b, frDSN), false)
		frTime += fr.Load(b, path, 30*time.Minute)
		fr.Stop()

		// radrelay's side takes about a second; it runs rrRuns times
		// (each into a fresh database) so that a moment of load from
		// elsewhere on the machine does not decide the result.
		for j := 0; j < rrRuns; j++ {
			rrDSN := newBenchDB(b, srv, 1000+i*rrRuns+j)
			s := openSink(b, rrDSN, Config{})
			start := time.Now()
			recs := readDetail(b, path)
			for lo := 0; lo < len(recs); lo += 5000 {
				part := recs[lo:min(lo+5000, len(recs))]
				for k, err := range sendAll(s, part) {
					if err != nil {
						b.Fatalf("record %d: %v", lo+k, err)
					}
				}
			}
			rrTime += time.Since(start)
			s.Close()
		}
	}
	fr := float64(b.N*n) / frTime.Seconds()
	rr := float64(b.N*rrRuns*n) / rrTime.Seconds()
	b.ReportMetric(fr, "freeradius-records/s")
	b.ReportMetric(rr, "radrelay-records/s")
	b.ReportMetric(rr/fr, "speedup")
}
