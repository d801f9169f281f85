// Command jsload measures what a nats-server can store into a JetStream
// stream, with radrelay's client cost taken out: it reads a detail file,
// turns every record into the nats sink's message (sinks/stream: the same
// JSON value, headers and Nats-Msg-Id) before it starts the clock, then
// publishes them all into a stream configured as the sink creates it
// (file storage, one replica, de-duplication window) and waits for every
// acknowledgement. It prints the rate and the CPU seconds of itself and,
// with -server-pid, of the nats-server process (from /proc), so that the
// server's CPU per message can be compared between publishing modes:
//
//	async: nats.go's jetstream.PublishMsgAsync, one PubAck future per message
//	       (what the sink did before fast batches);
//	core:  core publishes with a reply subject each, every PubAck counted
//	       by one wildcard subscription (no futures: the cheapest client
//	       that still gets a PubAck per message);
//	fast:  JetStream fast batches (nats-server 2.12+, "allow_batched"):
//	       one PubAck per batch of -batch messages, flow acknowledgements
//	       in between, de-duplication still by Nats-Msg-Id;
//	raw:   the same fast batches, written to the socket by jsload itself
//	       (rawproto.go) rather than by nats.go, so that the header block's
//	       order (-order) and the reply subject's length (-short-reply),
//	       which nats.go does not let a publisher choose, can be compared.
//
// It is the ceiling measurement of docs/benchmarks.md ("Stream sinks"),
// not a test:
//
//	go run ./internal/jsload -url nats://127.0.0.1:14222 -mode fast -server-pid PID CORPUS
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/dictionary"
	"github.com/radrelay/radrelay/sinks/stream"
)

func main() {
	url := flag.String("url", "nats://127.0.0.1:4222", "server")
	subject := flag.String("subject", "radius.load", "subject")
	streamName := flag.String("stream", "LOAD", "stream (created, or updated to allow fast batches)")
	mode := flag.String("mode", "fast", "async, core, fast or raw")
	batch := flag.Int("batch", 4096, "messages per fast batch; in flight at once in async and core modes")
	flow := flag.Int("flow", 500, "fast: the acknowledgement interval asked of the server (messages)")
	serverPID := flag.Int("server-pid", 0, "nats-server's process id, to report its CPU")
	limit := flag.Int("n", 0, "publish at most this many records (0: all)")
	asyncPersist := flag.Bool("async-persist", false, "create the stream with persist_mode async (the PubAck may come before the write)")
	headers := flag.String("headers", "sink", "headers of each message: sink (as the nats sink sends them), withid (and Radrelay-Id, as the sink did before), noexpect (without Nats-Expected-Stream), lean (without Radrelay-Schema-Version), first (sink, but Nats-Expected-Stream only on each fast batch's first message), leanfirst (lean and first), min (Nats-Msg-Id only), none")
	order := flag.String("order", "map", "raw: the order of the header block: natsfirst (Nats-* headers first), natslast, or map (Go's map order, a new one each message, as nats.go writes it)")
	shortReply := flag.Bool("short-reply", false, "raw: a short reply subject (inbox and batch id of 4 characters, not 22 each)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: jsload [flags] DETAIL-FILE")
		os.Exit(2)
	}
	msgs, err := load(flag.Arg(0), *subject, *streamName, *limit, *headers)
	if err != nil {
		fail(err)
	}
	if *headers == "first" || *headers == "leanfirst" {
		// Each fast batch is -batch messages: only its first keeps
		// Nats-Expected-Stream.
		for i, m := range msgs {
			if i%*batch != 0 {
				m.Header.Del(jetstream.ExpectedStreamHeader)
			}
		}
	}
	nc, err := nats.Connect(*url)
	if err != nil {
		fail(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(*batch))
	if err != nil {
		fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: *streamName, Subjects: []string{*subject}, Storage: jetstream.FileStorage,
		Duplicates: 2 * time.Minute, MaxMsgSize: 1 << 20, AllowBatchPublish: *mode == "fast" || *mode == "raw",
		PersistMode: persistMode(*asyncPersist),
	}); err != nil {
		fail(err)
	}
	var hdrs [][]byte
	if *mode == "raw" {
		if hdrs, err = rawHeaders(msgs, *order); err != nil {
			fail(err)
		}
	}
	cpu0, srv0 := selfCPU(), procCPU(*serverPID)
	start := time.Now()
	switch *mode {
	case "async":
		err = publishAsync(ctx, js, msgs, *streamName, *batch)
	case "core":
		err = publishCore(nc, msgs, *batch)
	case "fast":
		err = publishFast(nc, msgs, *batch, *flow)
	case "raw":
		err = publishRaw(*url, msgs, hdrs, *batch, *flow, *shortReply)
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}
	wall := time.Since(start)
	if err != nil {
		fail(err)
	}
	cpu, srv := selfCPU()-cpu0, procCPU(*serverPID)-srv0
	n := float64(len(msgs))
	fmt.Printf("mode=%s headers=%s order=%s short_reply=%v messages=%d wall=%.2fs rate=%.0f/s client_cpu=%.2fs (%.1f µs/msg)",
		*mode, *headers, *order, *shortReply, len(msgs), wall.Seconds(), n/wall.Seconds(), cpu.Seconds(), cpu.Seconds()*1e6/n)
	if *serverPID > 0 {
		fmt.Printf(" server_cpu=%.2fs (%.1f µs/msg)", srv.Seconds(), srv.Seconds()*1e6/n)
	}
	fmt.Println()
}

func persistMode(async bool) jetstream.PersistModeType {
	if async {
		return jetstream.AsyncPersistMode
	}
	return jetstream.DefaultPersistMode
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "jsload:", err)
	os.Exit(1)
}

// load encodes every record of the file as the nats sink does.
func load(path, subject, streamName string, limit int, headers string) ([]*nats.Msg, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	enc, err := stream.NewEncoder(stream.Options{Dictionary: dictionary.Builtin()})
	if err != nil {
		return nil, err
	}
	r := detail.NewReader(f, path)
	var msgs []*nats.Msg
	var m stream.Message
	for limit == 0 || len(msgs) < limit {
		rec, err := r.Finish()
		if err == io.EOF {
			break
		}
		var syntax *detail.SyntaxError
		if errors.As(err, &syntax) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := enc.Encode(rec, &m); err != nil {
			continue
		}
		msg := &nats.Msg{Subject: subject, Data: append([]byte(nil), m.Value...), Header: nats.Header{}}
		for _, h := range m.Headers {
			switch {
			case headers == "min" || headers == "none":
				continue
			case h.Name == stream.HeaderID && headers != "withid":
				continue // the sink sends it as Nats-Msg-Id only
			case h.Name == stream.HeaderSchema && (headers == "lean" || headers == "leanfirst"):
				continue
			}
			msg.Header.Set(h.Name, h.Value)
		}
		if headers != "none" {
			msg.Header.Set(jetstream.MsgIDHeader, m.ID)
		}
		if headers == "sink" || headers == "withid" || headers == "lean" || headers == "first" || headers == "leanfirst" {
			msg.Header.Set(jetstream.ExpectedStreamHeader, streamName)
		}
		msgs = append(msgs, msg)
	}
	return msgs, nil
}

// publishAsync publishes window messages at a time and waits for their
// PubAcks, as the sink did with a batch.
func publishAsync(ctx context.Context, js jetstream.JetStream, msgs []*nats.Msg, streamName string, window int) error {
	futures := make([]jetstream.PubAckFuture, 0, window)
	expect := jetstream.WithExpectStream(streamName)
	for start := 0; start < len(msgs); start += window {
		futures = futures[:0]
		for _, m := range msgs[start:min(start+window, len(msgs))] {
			id := m.Header.Get(jetstream.MsgIDHeader)
			m.Header.Del(jetstream.MsgIDHeader)
			m.Header.Del(jetstream.ExpectedStreamHeader)
			f, err := js.PublishMsgAsync(m, jetstream.WithMsgID(id), expect)
			if err != nil {
				return err
			}
			futures = append(futures, f)
		}
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				return err
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

// publishCore keeps at most window publishes awaiting their PubAck.
func publishCore(nc *nats.Conn, msgs []*nats.Msg, window int) error {
	inbox := nats.NewInbox()
	var acked atomic.Int64
	var failed atomic.Value
	slots := make(chan struct{}, window)
	done := make(chan struct{})
	sub, err := nc.Subscribe(inbox+".*", func(m *nats.Msg) {
		if strings.Contains(string(m.Data), `"error"`) {
			failed.CompareAndSwap(nil, string(m.Data))
		}
		<-slots
		if acked.Add(1) == int64(len(msgs)) {
			close(done)
		}
	})
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	sub.SetPendingLimits(-1, -1)
	for i, m := range msgs {
		slots <- struct{}{}
		m.Reply = inbox + "." + strconv.Itoa(i)
		if err := nc.PublishMsg(m); err != nil {
			return err
		}
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		return fmt.Errorf("%d of %d acknowledged", acked.Load(), len(msgs))
	}
	if f := failed.Load(); f != nil {
		return fmt.Errorf("a publish failed: %s", f)
	}
	return nil
}

// publishFast sends the messages as fast batches of size messages, one
// batch at a time, each waiting for its commit PubAck.
func publishFast(nc *nats.Conn, msgs []*nats.Msg, size, flow int) error {
	inbox := nats.NewInbox()
	var mu sync.Mutex
	var final chan []byte
	sub, err := nc.Subscribe(inbox+".>", func(m *nats.Msg) {
		if strings.HasPrefix(string(m.Data), `{"type":`) {
			return // flow control
		}
		mu.Lock()
		if final != nil {
			final <- m.Data
			final = nil
		}
		mu.Unlock()
	})
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	sub.SetPendingLimits(-1, -1)
	for b := 0; b*size < len(msgs); b++ {
		part := msgs[b*size : min((b+1)*size, len(msgs))]
		id := nats.NewInbox()[len("_INBOX."):]
		ack := make(chan []byte, 1)
		mu.Lock()
		final = ack
		mu.Unlock()
		for i, m := range part {
			op := batchOp(i, len(part))
			m.Reply = fmt.Sprintf("%s.%s.%d.fail.%d.%d.$FI", inbox, id, flow, i+1, op)
			if err := nc.PublishMsg(m); err != nil {
				return err
			}
		}
		select {
		case data := <-ack:
			if err := checkCommit(data, b, len(part)); err != nil {
				return err
			}
		case <-time.After(time.Minute):
			return fmt.Errorf("batch %d: no PubAck", b)
		}
	}
	return nil
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU is the user and system CPU time of process pid (0: none).
func procCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / 100) // USER_HZ
}

// checkCommit checks batch b's commit PubAck: no error, and all n of its
// messages stored.
func checkCommit(data []byte, b, n int) error {
	var pa struct {
		Error *struct{ Description string } `json:"error"`
		Count int                           `json:"count"`
	}
	if err := json.Unmarshal(data, &pa); err != nil {
		return err
	}
	if pa.Error != nil || pa.Count != n {
		return fmt.Errorf("batch %d: %s", b, data)
	}
	return nil
}

// batchOp is the fast-batch operation of message i of a batch of n: its
// start, an append, or (the last) its commit.
func batchOp(i, n int) int {
	switch {
	case i == n-1:
		return 2 // commit
	case i == 0:
		return 0 // start
	}
	return 1 // append
}
