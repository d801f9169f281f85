package detail

import (
	"bytes"
	"errors"
	"io"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the CPU time (user + system) the process has used: on a
// shared machine, throughput per CPU second is steadier than per wall second.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchFile returns about size bytes of realistic detail records: the
// sessions FreeRADIUS 3.2 wrote in testdata/freeradius, repeated.
func benchFile(b *testing.B, size int) ([]byte, int) {
	b.Helper()
	one, err := os.ReadFile("testdata/freeradius/packets-sessions.detail")
	if err != nil {
		b.Fatal(err)
	}
	n := bytes.Count(one, []byte("\n\n"))
	data := make([]byte, 0, size+len(one))
	recs := 0
	for len(data) < size {
		data = append(data, one...)
		recs += n
	}
	return data, recs
}

// BenchmarkReader parses a 50 MB file of realistic records; one op is one
// pass over the file.
func BenchmarkReader(b *testing.B) {
	data, nrec := benchFile(b, 50<<20)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		r := NewReader(bytes.NewReader(data), "bench")
		got := 0
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil && !errors.Is(err, ErrIncomplete) {
				b.Fatal(err)
			}
			got++
		}
		if got != nrec {
			b.Fatalf("%d records, want %d", got, nrec)
		}
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	runtime.ReadMemStats(&ms1)
	total := float64(nrec) * float64(b.N)
	b.ReportMetric(total/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/total, "allocs/record")
	b.ReportMetric(float64(len(data))/float64(nrec), "bytes/record")
	// Throughput per CPU second (GC included): what one core does when
	// other work does not take it away.
	b.ReportMetric(float64(len(data))*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
}

// BenchmarkAppendRecord formats realistic records (with escapes) into a
// reused buffer.
func BenchmarkAppendRecord(b *testing.B) {
	data, _ := benchFile(b, 1)
	var recs []*Record
	r := NewReader(bytes.NewReader(data), "bench")
	for {
		rec, err := r.Next()
		if err != nil {
			break
		}
		recs = append(recs, rec)
	}
	var buf []byte
	size := 0
	for _, rec := range recs {
		size += len(AppendRecord(nil, rec))
	}
	b.SetBytes(int64(size / len(recs)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		buf = AppendRecord(buf[:0], recs[i%len(recs)])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkParallelReader is BenchmarkReader through a ParallelReader (an
// internal micro-benchmark; "radrelay check" through the binary is measured
// in docs/benchmarks.md).
func BenchmarkParallelReader(b *testing.B) {
	data, nrec := benchFile(b, 50<<20)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		r := NewParallelReader(bytes.NewReader(data), "bench")
		got := 0
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			got++
		}
		r.Close()
		if got != nrec {
			b.Fatalf("%d records, want %d", got, nrec)
		}
	}
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(nrec)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(len(data))*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
}
