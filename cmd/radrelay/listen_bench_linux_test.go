//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"

	"github.com/radrelay/radrelay/internal/freeradiustest"
	"github.com/radrelay/radrelay/internal/radiusload"
)

// TestListenThroughput (RADRELAY_LISTEN_BENCH=N requests) drives a
// FreeRADIUS 3.2 home server (detail, no fsync) and radrelay's listener
// (fsync before every acknowledgement, group commit) with the same load
// generator, 64 requests in flight, and logs both rates. docs/benchmarks.md
// records its figures.
func TestListenThroughput(t *testing.T) {
	n := 0
	fmt.Sscan(os.Getenv("RADRELAY_LISTEN_BENCH"), &n)
	if n <= 0 {
		t.Skip("set RADRELAY_LISTEN_BENCH=N (requests) to run")
	}
	const secret = "s3cret"
	attrs := make([][]byte, n)
	for i := range attrs {
		p := radius.New(radius.CodeAccountingRequest, []byte(secret))
		rfc2865.UserName_SetString(p, fmt.Sprintf("user%d", i%1000))
		rfc2866.AcctSessionID_SetString(p, fmt.Sprintf("%08x", i))
		rfc2866.AcctStatusType_Set(p, rfc2866.AcctStatusType_Value_InterimUpdate)
		rfc2865.NASIPAddress_Set(p, []byte{10, 0, 0, 1})
		rfc2865.NASPort_Set(p, rfc2865.NASPort(i))
		rfc2866.AcctInputOctets_Set(p, rfc2866.AcctInputOctets(i*1000))
		rfc2866.AcctOutputOctets_Set(p, rfc2866.AcctOutputOctets(i*3000))
		rfc2866.AcctSessionTime_Set(p, rfc2866.AcctSessionTime(i))
		b, _ := p.Encode()
		attrs[i] = b[20:]
	}
	reqs := radiusload.Sign(attrs, []byte(secret))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	home := freeradiustest.StartHomeServer(t, freeradiustest.HomeOptions{Secret: secret})
	fr, err := radiusload.Run(ctx, radiusload.Options{Addr: home.Addr, Secret: []byte(secret), InFlight: 64}, reqs)
	if err != nil {
		t.Fatal(err)
	}
	home.Stop()

	dir := t.TempDir()
	_, sc := startRadrelay(t, "run", "--listen", "127.0.0.1:0", "--client", "127.0.0.0/8:"+writeSecret(t, dir, secret), "--spool", filepath.Join(dir, "spool"))
	addr := listenAddr(t, sc)
	// Fresh identifiers would be the same: the duplicate cache is keyed by
	// source port too, and radiusload opens new sockets.
	rr, err := radiusload.Run(ctx, radiusload.Options{Addr: addr, Secret: []byte(secret), InFlight: 64}, reqs)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("FreeRADIUS 3.2 (detail, no fsync): %d acks in %v = %.0f/s (%d retransmits)", fr.Requests, fr.Elapsed.Round(time.Millisecond), fr.Rate(), fr.Retransmits)
	t.Logf("radrelay listener (fsync before ack): %d acks in %v = %.0f/s (%d retransmits), ratio %.2f", rr.Requests, rr.Elapsed.Round(time.Millisecond), rr.Rate(), rr.Retransmits, rr.Rate()/fr.Rate())
}
