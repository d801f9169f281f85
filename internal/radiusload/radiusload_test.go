package radiusload

import (
	"context"
	"crypto/md5"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	layeh "layeh.com/radius"
)

// TestRunGetsEveryRequestAnswered: a server that ignores the first copy of
// every third request still gets all of them acknowledged, each once.
func TestRunGetsEveryRequestAnswered(t *testing.T) {
	secret := []byte("s3cret")
	srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var mu sync.Mutex
	seen := map[string]int{}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, from, err := srv.ReadFromUDP(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			req := buf[:n]
			if !layeh.IsAuthenticRequest(req, secret) {
				t.Errorf("request %d not authentic", req[1])
				continue
			}
			key := string(req[20:])
			mu.Lock()
			seen[key]++
			first := seen[key] == 1
			mu.Unlock()
			if first && req[21] == 8 && req[22]%3 == 0 {
				continue // lost
			}
			resp := make([]byte, 20)
			resp[0] = byte(layeh.CodeAccountingResponse)
			resp[1] = req[1]
			resp[3] = 20
			h := md5.New()
			h.Write(resp[:4])
			h.Write(req[4:20])
			h.Write(secret)
			h.Sum(resp[4:4])
			srv.WriteToUDP(resp, from)
		}
	}()
	var attrs [][]byte
	for i := range 300 {
		attrs = append(attrs, []byte{44, 8, byte(i), byte(i >> 8), 'a', 'b', 'c', 'd'})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := Run(ctx, Options{Addr: srv.LocalAddr().String(), Secret: secret, InFlight: 8, Timeout: 20 * time.Millisecond}, Sign(attrs, secret))
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != len(attrs) || res.Retransmits < len(attrs)/3 || res.Sent != res.Requests+res.Retransmits {
		t.Fatalf("result %+v: want %d requests, at least %d retransmits", res, len(attrs), len(attrs)/3)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != len(attrs) {
		t.Fatalf("server saw %d distinct requests, want %d", len(seen), len(attrs))
	}
}
