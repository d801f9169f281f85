package radius

import (
	"crypto/md5"
	"encoding/binary"
	"log/slog"
	"testing"
	"time"

	layeh "layeh.com/radius"
)

// FuzzHandleReply feeds arbitrary datagrams to the reply matcher of a socket
// with one request outstanding: it must never panic, and must acknowledge
// the request only for an authentic Accounting-Response to it.
func FuzzHandleReply(f *testing.F) {
	secret := []byte(testSecret)
	req := make([]byte, 20+8)
	req[20], req[21] = 44, 8
	copy(req[22:], "sess01")
	signAccountingRequest(req, 7, secret)
	good := make([]byte, 20)
	good[0], good[1] = byte(layeh.CodeAccountingResponse), 7
	binary.BigEndian.PutUint16(good[2:], 20)
	h := md5.New()
	h.Write(good[:4])
	h.Write(req[4:20])
	h.Write(secret)
	h.Sum(good[4:4])
	f.Add(good)
	f.Add(good[:19])
	f.Add(append([]byte{5, 7, 0, 255}, good[4:]...))
	f.Add(append(append([]byte(nil), good...), 0, 0, 0))
	forged := append([]byte(nil), good...)
	forged[10] ^= 1
	f.Add(forged)
	f.Fuzz(func(t *testing.T, b []byte) {
		e := &endpoint{secret: secret, window: newWindow(8, time.Second), epoch: time.Now(), now: time.Now, log: slog.New(slog.DiscardHandler)}
		c := newConn(nil, e)
		p := newPending()
		id, s, ok := c.acquire(p)
		if !ok {
			t.Fatal("no id")
		}
		_ = id
		copy(s.header[:], req[:20])
		// The matcher must see the request under Identifier 7.
		c.slots[7], c.slots[id] = s, nil
		c.handleReply(b)
		acked := len(p.acked) == 1
		authentic := len(b) >= 20 && layeh.Code(b[0]) == layeh.CodeAccountingResponse && b[1] == 7 &&
			int(binary.BigEndian.Uint16(b[2:4])) >= 20 && int(binary.BigEndian.Uint16(b[2:4])) <= len(b) &&
			layeh.IsAuthenticResponse(b[:binary.BigEndian.Uint16(b[2:4])], req, secret)
		if acked != authentic {
			t.Fatalf("acked = %v for %x (authentic %v)", acked, b, authentic)
		}
	})
}

// FuzzConfigFromURL: any string gives a Config or an error, never a panic,
// and an accepted URL gives a usable configuration.
func FuzzConfigFromURL(f *testing.F) {
	for _, s := range []string{
		"radius://10.0.0.2:1813?secret_file=/etc/s",
		"radius://[::1],h2:1?secret_env=X&policy=broadcast&initial_rtx=1s",
		"radius://h?secret_file=s&server_window=-1",
		"radius://,,?secret_file=s",
		"radius://h?%zz",
		"radius://",
		"radsec://h?certificate_file=/c&private_key_file=/k&ca_file=/ca&server_name=n&tls_min_version=1.3",
		"radsec://[::1]?certificate_file=/c",
		"radius://h:2083?secret_env=X&transport=radsec&ca_file=/ca",
		"radius://h?secret_env=X&transport=tcp",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := ConfigFromURL(raw)
		if err != nil {
			return
		}
		if len(c.Servers) == 0 || c.ServerWindow < 1 || c.InitialRTX <= 0 || c.MaxRTX < c.InitialRTX {
			t.Fatalf("accepted %q as %+v", raw, c)
		}
	})
}
