// Package radiusload is a RADIUS accounting load generator: it sends a set
// of Accounting-Requests to a server keeping a fixed number in flight (one
// UDP socket and one outstanding request per worker, resent after a timeout
// until answered) and reports how long the server took to acknowledge them
// all. Benchmarks use it to measure a home server's own ceiling, in the same
// run as the relays they compare against it.
//
// Requests are signed before the clock starts, so the generator spends its
// time on the wire, not on encoding.
package radiusload

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	layeh "layeh.com/radius"
)

// Options configure a run.
type Options struct {
	// Addr is the server, host:port.
	Addr string
	// Secret is the shared secret.
	Secret []byte
	// InFlight is how many requests are outstanding at once (64 when 0):
	// one worker with its own socket each.
	InFlight int
	// Timeout is how long a request waits for its answer before it is sent
	// again (1 s when 0).
	Timeout time.Duration
}

// Result is what a run did.
type Result struct {
	Requests    int // requests acknowledged (all of them on success)
	Sent        int // datagrams sent, retransmissions included
	Retransmits int
	Elapsed     time.Duration
}

// Rate is acknowledged requests per second.
func (r Result) Rate() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

// Sign turns attribute sections (the wire attributes of an
// Accounting-Request, without the 20-octet header) into signed requests,
// Identifier i%256 for the i-th.
func Sign(attrs [][]byte, secret []byte) [][]byte {
	out := make([][]byte, len(attrs))
	for i, a := range attrs {
		b := make([]byte, 20+len(a))
		copy(b[20:], a)
		b[0] = byte(layeh.CodeAccountingRequest)
		b[1] = byte(i)
		binary.BigEndian.PutUint16(b[2:4], uint16(len(b)))
		h := md5.New()
		h.Write(b)
		h.Write(secret)
		h.Sum(b[4:4:20])
		out[i] = b
	}
	return out
}

// Run sends every request (signed, as Sign returns them) once and waits
// for all answers. It fails only when ctx ends or a socket cannot be opened.
func Run(ctx context.Context, opt Options, requests [][]byte) (Result, error) {
	inFlight := opt.InFlight
	if inFlight <= 0 {
		inFlight = 64
	}
	timeout := opt.Timeout
	if timeout <= 0 {
		timeout = time.Second
	}
	raddr, err := net.ResolveUDPAddr("udp", opt.Addr)
	if err != nil {
		return Result{}, fmt.Errorf("radiusload: %w", err)
	}
	conns := make([]*net.UDPConn, inFlight)
	for i := range conns {
		if conns[i], err = net.DialUDP("udp", nil, raddr); err != nil {
			for _, c := range conns[:i] {
				c.Close()
			}
			return Result{}, fmt.Errorf("radiusload: %w", err)
		}
	}
	stop := context.AfterFunc(ctx, func() {
		for _, c := range conns {
			c.SetReadDeadline(time.Now())
		}
	})
	defer stop()
	var next, acked, sent, resent atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			buf := make([]byte, layeh.MaxPacketLength)
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(requests) {
					return
				}
				req := requests[i]
				for ctx.Err() == nil {
					c.Write(req)
					sent.Add(1)
					if answered(c, buf, req, opt.Secret, timeout) {
						acked.Add(1)
						break
					}
					resent.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	res := Result{Requests: int(acked.Load()), Sent: int(sent.Load()), Retransmits: int(resent.Load()), Elapsed: time.Since(start)}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	return res, nil
}

// answered waits up to timeout for the authentic answer to req on c.
func answered(c *net.UDPConn, buf, req, secret []byte, timeout time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(timeout))
	for {
		n, err := c.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return false
			}
			continue // ECONNREFUSED and the like: keep waiting for the timeout
		}
		if n >= 20 && buf[1] == req[1] && layeh.Code(buf[0]) == layeh.CodeAccountingResponse &&
			layeh.IsAuthenticResponse(buf[:n], req, secret) {
			return true
		}
	}
}
