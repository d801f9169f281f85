package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// rawHeaders encodes each message's header block as NATS writes it
// ("NATS/1.0", then "Name: value" lines), in the order asked: natsfirst
// puts the Nats-* headers (the ones the server looks up) before the
// others, natslast after them, map leaves Go's map order, which differs
// from message to message, as nats.go's does.
func rawHeaders(msgs []*nats.Msg, order string) ([][]byte, error) {
	out := make([][]byte, len(msgs))
	for i, m := range msgs {
		if len(m.Header) == 0 {
			continue
		}
		var names []string
		for name := range m.Header {
			names = append(names, name)
		}
		switch order {
		case "map":
		case "natsfirst", "natslast":
			first := order == "natsfirst"
			slices.SortStableFunc(names, func(a, b string) int {
				na, nb := strings.HasPrefix(a, "Nats-"), strings.HasPrefix(b, "Nats-")
				switch {
				case na == nb:
					return strings.Compare(a, b)
				case na == first:
					return -1
				default:
					return 1
				}
			})
		default:
			return nil, fmt.Errorf("unknown order %q", order)
		}
		b := []byte("NATS/1.0\r\n")
		for _, name := range names {
			for _, v := range m.Header[name] {
				b = append(b, name...)
				b = append(b, ": "...)
				b = append(b, v...)
				b = append(b, "\r\n"...)
			}
		}
		out[i] = append(b, "\r\n"...)
	}
	return out, nil
}

// publishRaw publishes the messages as fast batches of size messages, as
// publishFast does, but speaking the NATS protocol on a socket of its own:
// every byte of each message (header block, reply subject) is the one
// asked for. Responses other than flow acknowledgements are PubAcks.
func publishRaw(serverURL string, msgs []*nats.Msg, hdrs [][]byte, size, flow int, shortReply bool) error {
	u, err := url.Parse(serverURL)
	if err != nil {
		return err
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		return err
	}
	defer conn.Close()
	r := bufio.NewReaderSize(conn, 64<<10)
	w := bufio.NewWriterSize(conn, 64<<10)
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "INFO ") {
		return fmt.Errorf("no INFO from the server: %q %v", line, err)
	}
	inbox := nats.NewInbox()
	if shortReply {
		inbox = "_I." + inbox[len(inbox)-4:]
	}
	fmt.Fprintf(w, "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true,\"protocol\":1,\"echo\":false,\"name\":\"jsload\"}\r\nSUB %s.> 1\r\nPING\r\n", inbox)
	if err := w.Flush(); err != nil {
		return err
	}
	acks := make(chan []byte, 16)
	readErr := make(chan error, 1)
	var wmu chanMutex = make(chan struct{}, 1)
	go func() { readErr <- readResponses(r, conn, &wmu, acks) }()

	for b := 0; b*size < len(msgs); b++ {
		part := msgs[b*size : min((b+1)*size, len(msgs))]
		id := nats.NewInbox()[len("_INBOX."):]
		if shortReply {
			id = fmt.Sprintf("%04x", b&0xffff)
		}
		prefix := fmt.Sprintf("%s.%s.%d.fail.", inbox, id, flow)
		wmu.lock()
		for i, m := range part {
			op := batchOp(i, len(part))
			reply := prefix + strconv.Itoa(i+1) + "." + strconv.Itoa(op) + ".$FI"
			h := hdrs[b*size+i]
			if len(h) == 0 {
				fmt.Fprintf(w, "PUB %s %s %d\r\n", m.Subject, reply, len(m.Data))
			} else {
				fmt.Fprintf(w, "HPUB %s %s %d %d\r\n", m.Subject, reply, len(h), len(h)+len(m.Data))
				w.Write(h)
			}
			w.Write(m.Data)
			w.WriteString("\r\n")
		}
		err := w.Flush()
		wmu.unlock()
		if err != nil {
			return err
		}
		select {
		case data := <-acks:
			if err := checkCommit(data, b, len(part)); err != nil {
				return err
			}
		case err := <-readErr:
			return fmt.Errorf("batch %d: reading: %v", b, err)
		case <-time.After(time.Minute):
			return fmt.Errorf("batch %d: no PubAck", b)
		}
	}
	return nil
}

// chanMutex serialises writes to the socket (PONGs and publishes).
type chanMutex chan struct{}

func (m chanMutex) lock()   { m <- struct{}{} }
func (m chanMutex) unlock() { <-m }

// readResponses reads the server's protocol: answers PINGs, and passes on
// every message that is not a flow acknowledgement.
func readResponses(r *bufio.Reader, conn net.Conn, wmu *chanMutex, acks chan<- []byte) error {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		line = strings.TrimRight(line, "\r\n")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "PING":
			wmu.lock()
			_, err := conn.Write([]byte("PONG\r\n"))
			wmu.unlock()
			if err != nil {
				return err
			}
		case "PONG", "+OK", "INFO":
		case "-ERR":
			return fmt.Errorf("%s", line)
		case "MSG", "HMSG":
			total, err := strconv.Atoi(f[len(f)-1])
			if err != nil {
				return fmt.Errorf("bad %q", line)
			}
			buf := make([]byte, total+2)
			if _, err := io.ReadFull(r, buf); err != nil {
				return err
			}
			data := buf[:total]
			if f[0] == "HMSG" {
				hl, _ := strconv.Atoi(f[len(f)-2])
				data = data[hl:]
			}
			if bytes.HasPrefix(data, []byte(`{"type":`)) {
				continue // flow control
			}
			acks <- data
		default:
			return fmt.Errorf("unexpected %q", line)
		}
	}
}
