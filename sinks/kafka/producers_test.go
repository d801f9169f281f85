package kafka

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/radrelay/radrelay/sinks/sinktest"
	"github.com/radrelay/radrelay/sinks/stream"
)

// TestProducerOfFollowsPartition: the producer of a key is its partition
// (franz-go's default partitioner, which the producers use) modulo the
// number of producers, whenever that number divides the partitions; so
// each partition is written by one producer.
func TestProducerOfFollowsPartition(t *testing.T) {
	enc, err := stream.NewEncoder(stream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var keys [][]byte
	for _, rec := range sinktest.Records(3000) {
		keys = append(keys, []byte(enc.Key(rec)))
	}
	for i := range 2000 { // lengths 0 to 3 past every multiple of 4
		keys = append(keys, []byte(fmt.Sprintf("%0*d", i%23, i)))
	}
	// The default partitioner (kgo's defaultCfg) places a keyed record
	// by its key alone, through its "backup" method.
	part := kgo.UniformBytesPartitioner(64<<10, true, true, nil).ForTopic("t").(kgo.TopicBackupPartitioner)
	for _, tc := range []struct{ partitions, producers int }{{12, 1}, {12, 2}, {12, 3}, {12, 4}, {3, 3}, {6, 2}, {64, 16}} {
		for _, k := range keys {
			p := part.PartitionByBackup(&kgo.Record{Key: k}, tc.partitions, nil)
			if got, want := producerOf(k, tc.producers), p%tc.producers; got != want {
				t.Fatalf("%d partitions, %d producers: key %q is on partition %d, producerOf says %d, want %d", tc.partitions, tc.producers, k, p, got, want)
			}
		}
	}
}

// TestProducersKeepSessionOrder: with several producers, every record is
// delivered once, a session's records share a partition and a producer and
// keep their order, across Sends of several pieces each; when the
// producers divide the partitions (3 of 3), a partition has one producer.
func TestProducersKeepSessionOrder(t *testing.T) {
	c := startCluster(t) // topics of 3 partitions
	for _, n := range []int{1, 2, 3} {
		t.Run(fmt.Sprint(n, " producers"), func(t *testing.T) {
			topic := newTopic()
			s := openSink(t, Config{Brokers: c.ListenAddrs(), Topic: topic, Compression: "lz4", Producers: n})
			if len(s.producers) != n {
				t.Fatalf("%d producers, want %d", len(s.producers), n)
			}
			recs := sinktest.Records(3*encodePiece + 3*91)
			for _, batch := range [][2]int{{0, 100}, {100, 101}, {101, 3*encodePiece + 2}, {3*encodePiece + 2, len(recs)}} {
				part := recs[batch[0]:batch[1]]
				results := make([]error, len(part))
				s.Send(context.Background(), part, results)
				for i, err := range results {
					if err != nil {
						t.Fatalf("record %d: %v", batch[0]+i, err)
					}
				}
			}
			s.Close()
			got := readTopic(t, c.ListenAddrs(), topic)
			if len(got) != len(recs) {
				t.Fatalf("the topic holds %d records, want %d", len(got), len(recs))
			}
			partOf, producerOfKey := map[string]int32{}, map[string]int64{}
			producersOf := map[int32]map[int64]bool{}
			ids := map[int64]bool{}
			last := map[string]int64{}
			for _, r := range got {
				if p, ok := partOf[r.Key]; ok && p != r.Partition {
					t.Errorf("key %s on partitions %d and %d", r.Key, p, r.Partition)
				}
				partOf[r.Key] = r.Partition
				if id, ok := producerOfKey[r.Key]; ok && id != r.ProducerID {
					t.Errorf("key %s produced by producers %d and %d", r.Key, id, r.ProducerID)
				}
				producerOfKey[r.Key] = r.ProducerID
				if producersOf[r.Partition] == nil {
					producersOf[r.Partition] = map[int64]bool{}
				}
				producersOf[r.Partition][r.ProducerID] = true
				ids[r.ProducerID] = true
				if r.Time < last[r.Session] {
					t.Errorf("session %s out of order", r.Session)
				}
				last[r.Session] = r.Time
			}
			if len(ids) != n {
				t.Errorf("%d producer ids wrote the topic, want %d", len(ids), n)
			}
			if 3%n == 0 {
				for p, ids := range producersOf {
					if len(ids) != 1 {
						t.Errorf("partition %d written by %d producers, want 1", p, len(ids))
					}
				}
			}
		})
	}
}

// TestProducerDefaults: by default the producers do not linger (franz-go's
// own default is 10ms, which every Send paid at its end) and there are
// DefaultProducers of them; a configured linger still delivers each Send
// (its end flushes what lingers).
func TestProducerDefaults(t *testing.T) {
	c := startCluster(t)
	s := openSink(t, Config{Brokers: c.ListenAddrs(), Topic: newTopic()})
	if len(s.producers) != DefaultProducers() {
		t.Errorf("%d producers, want %d", len(s.producers), DefaultProducers())
	}
	for _, p := range s.producers {
		if v := p.OptValue(kgo.ProducerLinger); v != time.Duration(0) {
			t.Errorf("linger %v, want 0", v)
		}
	}
	s.Close()

	topic := newTopic()
	s = openSink(t, Config{Brokers: c.ListenAddrs(), Topic: topic, Linger: time.Minute, Producers: 2})
	recs := sinktest.Records(30)
	for _, part := range [][]int{{0, 1}, {1, 30}} {
		results := make([]error, part[1]-part[0])
		s.Send(context.Background(), recs[part[0]:part[1]], results)
		for i, err := range results {
			if err != nil {
				t.Fatalf("record %d: %v", part[0]+i, err)
			}
		}
	}
	s.Close()
	if got := len(readTopic(t, c.ListenAddrs(), topic)); got != len(recs) {
		t.Errorf("the topic holds %d records, want %d", got, len(recs))
	}
}
