package kafka

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/radrelay/radrelay/sinks/sinktest"
)

// TestTopicRecreated: the topic is deleted and created again (an operator
// purging it, or a broker cluster rebuilt empty, as a restarted kfake is)
// while radrelay runs. franz-go keeps the old topic's id and fails every
// record with UNKNOWN_TOPIC_ID until the topic is purged from the client:
// the sink was stuck for ever, retrying. It must deliver again once the
// records are retried.
func TestTopicRecreated(t *testing.T) {
	c := startCluster(t)
	cfg := Config{Brokers: c.ListenAddrs(), Topic: newTopic(), DeliveryTimeout: 2 * time.Second}
	s := openSink(t, cfg)
	defer s.Close()
	recs := sinktest.Records(20)
	results := make([]error, 10)
	s.Send(context.Background(), recs[:10], results)
	for _, err := range results {
		if err != nil {
			t.Fatal(err)
		}
	}

	admin, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	del := kmsg.NewPtrDeleteTopicsRequest()
	dt := kmsg.NewDeleteTopicsRequestTopic()
	dt.Topic = kmsg.StringPtr(cfg.Topic)
	del.Topics = append(del.Topics, dt)
	del.TopicNames = []string{cfg.Topic}
	if resp, err := del.RequestWith(context.Background(), admin); err != nil || kerr.ErrorForCode(resp.Topics[0].ErrorCode) != nil {
		t.Fatalf("deleting the topic: %v %+v", err, resp)
	}
	create := kmsg.NewPtrCreateTopicsRequest()
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = cfg.Topic, 3, 1
	create.Topics = append(create.Topics, ct)
	if resp, err := create.RequestWith(context.Background(), admin); err != nil || kerr.ErrorForCode(resp.Topics[0].ErrorCode) != nil {
		t.Fatalf("creating the topic again: %v %+v", err, resp)
	}

	// The tailer retries a failed record; a few retries must get it
	// through (each attempt is bounded by the delivery timeout).
	var last error
	for attempt := 0; attempt < 5; attempt++ {
		results := make([]error, 10)
		s.Send(context.Background(), recs[10:], results)
		last = nil
		for _, err := range results {
			if err != nil {
				last = err
			}
		}
		if last == nil {
			break
		}
	}
	if last != nil {
		t.Fatalf("after the topic was recreated, records still fail: %v", last)
	}
	if got := readTopic(t, c.ListenAddrs(), cfg.Topic); len(got) != 10 {
		t.Errorf("the recreated topic holds %d records, want 10", len(got))
	}
}
