//go:build linux

package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/radrelay/radrelay/sinks/sinktest"
)

// TestProcessKill9Kafka: radrelay producing to Kafka (kfake, in the test
// process) with several producers sharing the records by key is killed
// with SIGKILL mid-stream and started again. The topic then holds every
// record at least once; what the restart sent again is at most the window;
// each session's records are on one partition, written by one producer,
// and read in order (a record sent again after the kill may repeat earlier
// ones, never come before them).
func TestProcessKill9Kafka(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 12000 records through kfake")
	}
	const topic, partitions = "radius-acct", 12
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topic))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dir := t.TempDir()
	spool := filepath.Join(dir, "radacct")
	os.Mkdir(spool, 0o700)
	const n, window = 12000, 1000
	recs := sinktest.Records(n)
	writeDetail(t, filepath.Join(spool, "detail-20261123"), recs)
	args := []string{"run", "--input", filepath.Join(spool, "detail-*"), "--mode", "follow",
		"--to", "acct=kafka://" + c.ListenAddrs()[0] + "/" + topic + "?compression=lz4&producers=4",
		"--max-outstanding", "1000", "--batch-size", "500",
		"--state", filepath.Join(dir, "state"), "--log-format", "json"}

	// A deadlock bound only: the test binary's own deadline less a minute.
	ctx, cancel := context.WithCancel(context.Background())
	if d, ok := t.Deadline(); ok {
		ctx, cancel = context.WithDeadline(context.Background(), d.Add(-time.Minute))
	}
	defer cancel()
	consumer, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	type ident struct {
		session string
		time    int64
	}
	type read struct {
		ident
		partition int32
		producer  int64
	}
	var got []read
	distinct := map[ident]bool{}
	// consume reads the topic as it fills until cond holds.
	consume := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			fs := consumer.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("%s: read %d records (%d distinct), then nothing", what, len(got), len(distinct))
			}
			fs.EachRecord(func(r *kgo.Record) {
				var v struct {
					Timestamp  int64
					Attributes map[string]any
				}
				if err := json.Unmarshal(r.Value, &v); err != nil {
					t.Fatal(err)
				}
				sid, _ := v.Attributes["Acct-Session-Id"].(string)
				id := ident{sid, v.Timestamp}
				got = append(got, read{id, r.Partition, r.ProducerID})
				distinct[id] = true
			})
		}
	}

	cmd, stderr := startRadrelay(t, args...)
	go io.Copy(io.Discard, stdoutOf(stderr))
	consume("before the kill", func() bool { return len(got) >= 3000 })
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	t.Logf("killed radrelay with SIGKILL after %d records were read back", len(got))

	cmd, stderr = startRadrelay(t, args...)
	consume("after the restart", func() bool { return len(distinct) >= n })
	cmd.Process.Signal(syscall.SIGTERM)
	go io.Copy(io.Discard, stdoutOf(stderr))
	if code := exitStatus(t, cmd); code != 0 {
		t.Errorf("exit status %d after SIGTERM", code)
	}

	for _, r := range recs {
		if !distinct[ident{sinktest.SessionID(r), r.Timestamp}] {
			t.Fatalf("record %s at %d is not in the topic", sinktest.SessionID(r), r.Timestamp)
		}
	}
	t.Logf("the topic holds %d records: %d sent again after the kill", len(got), len(got)-n)
	if extra := len(got) - n; extra > window {
		t.Errorf("%d records read twice, more than the window (%d)", extra, window)
	}
	partOf := map[string]int32{}
	producersOf := map[int32]map[int64]bool{}
	seen := map[ident]bool{}
	last := map[string]int64{}
	for _, r := range got {
		if p, ok := partOf[r.session]; ok && p != r.partition {
			t.Errorf("session %s on partitions %d and %d", r.session, p, r.partition)
		}
		partOf[r.session] = r.partition
		if producersOf[r.partition] == nil {
			producersOf[r.partition] = map[int64]bool{}
		}
		producersOf[r.partition][r.producer] = true
		if seen[r.ident] {
			continue // sent again after the kill
		}
		seen[r.ident] = true
		if r.time < last[r.session] {
			t.Errorf("session %s: the record at %d came after the one at %d", r.session, r.time, last[r.session])
		}
		last[r.session] = r.time
	}
	// Each run has its 4 producers (4 divides 12): a partition is written
	// by one producer of each run, so by at most two producer ids.
	for p, ids := range producersOf {
		if len(ids) > 2 {
			t.Errorf("partition %d written by %d producers, want one per run", p, len(ids))
		}
	}
}
