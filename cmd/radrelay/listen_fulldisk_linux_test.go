//go:build linux

package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"

	"github.com/radrelay/radrelay/internal/tmpfstest"
)

// TestListenFullDiskStopsAcknowledging: the spool is on a 64 KiB tmpfs.
// Requests are acknowledged until it is full; then radrelay stops
// acknowledging and says so at error level; once the disk has room again
// the NAS's retransmission is written and acknowledged, without a restart,
// and every acknowledged request is in the spool, whole.
func TestListenFullDiskStopsAcknowledging(t *testing.T) {
	disk := tmpfstest.Mount(t, 64<<10)
	dir := t.TempDir()
	spool := filepath.Join(disk, "spool")
	_, sc := startRadrelay(t, "run", "--listen", "127.0.0.1:0", "--client", "127.0.0.0/8:"+writeSecret(t, dir, "s3cret"), "--spool", spool,
		"--metrics", "127.0.0.1:0")
	addr, metrics := listenAndMetricsAddrs(t, sc)
	scrape := func() string {
		resp, err := http.Get("http://" + metrics + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	lines := make(chan string, 1000)
	go func() {
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
	}()
	ua, _ := net.ResolveUDPAddr("udp", addr)
	c, err := net.DialUDP("udp", nil, ua)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 4096)
	send := func(req []byte, wait time.Duration) bool {
		c.Write(req)
		c.SetReadDeadline(time.Now().Add(wait))
		n, err := c.Read(buf)
		return err == nil && radius.IsAuthenticResponse(buf[:n], req, []byte("s3cret"))
	}
	request := func(i int) []byte {
		p := radius.New(radius.CodeAccountingRequest, []byte("s3cret"))
		p.Identifier = byte(i)
		rfc2865.UserName_SetString(p, strings.Repeat("u", 200))
		rfc2866.AcctSessionID_SetString(p, fmt.Sprintf("full-%d", i))
		rfc2866.AcctStatusType_Set(p, rfc2866.AcctStatusType_Value_InterimUpdate)
		b, _ := p.Encode()
		return b
	}
	var acked []string
	var refused []byte
	for i := 0; i < 2000 && refused == nil; i++ {
		req := request(i)
		if send(req, 5*time.Second) { // a bound: an answer comes in milliseconds
			acked = append(acked, fmt.Sprintf("full-%d", i))
		} else {
			refused = req
		}
	}
	if refused == nil {
		t.Fatal("a 64 KiB disk never filled up")
	}
	// The retransmission is not acknowledged either while the disk is full.
	if send(refused, 300*time.Millisecond) {
		t.Fatal("a request was acknowledged while the disk is full")
	}
	waitFor(t, lines, "NOT ACKNOWLEDGING")
	if m := scrape(); !strings.Contains(m, `radrelay_listen_paused{listen="`+addr+`"} 1`) || strings.Contains(m, `reason="write_error"} 0`) {
		t.Errorf("/metrics while the disk is full does not say paused with write errors:\n%s", m)
	}
	tmpfstest.Resize(t, disk, 64<<20)
	deadline := time.Now().Add(30 * time.Second)
	for !send(refused, time.Second) {
		if time.Now().After(deadline) {
			t.Fatal("the retransmission was never acknowledged after the disk got room")
		}
	}
	waitFor(t, lines, "acknowledging accounting requests again")
	if m := scrape(); !strings.Contains(m, `radrelay_listen_paused{listen="`+addr+`"} 0`) {
		t.Errorf("/metrics still says paused after the disk got room")
	}
	acked = append(acked, "refused-then-acked")
	inSpool := map[string]int{}
	for _, r := range spooled(t, filepath.Join(spool, "*", "detail-*")) {
		a, _ := r.Get("Acct-Session-Id")
		inSpool[a.Value]++
	}
	for _, id := range acked[:len(acked)-1] {
		if inSpool[id] != 1 {
			t.Errorf("acknowledged %s is %d times in the spool", id, inSpool[id])
		}
	}
	if len(inSpool) != len(acked) {
		t.Errorf("%d sessions in the spool, %d acknowledged", len(inSpool), len(acked))
	}
}

func waitFor(t *testing.T, lines <-chan string, want string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("radrelay ended without logging %q", want)
			}
			if strings.Contains(l, want) {
				return
			}
		case <-timeout:
			t.Fatalf("radrelay did not log %q", want)
		}
	}
}
