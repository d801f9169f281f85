package listener

import (
	"fmt"
	"net/netip"
	"testing"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
)

// BenchmarkHandle (an internal micro-benchmark): what a reader spends on a
// request the bench's load generator sends (checking, the duplicate cache,
// decoding into a record), without the socket and the disk.
func BenchmarkHandle(b *testing.B) {
	l, err := New(Config{UDP: []string{"127.0.0.1:0"}, Clients: []Client{{Prefix: netip.MustParsePrefix("127.0.0.0/8"), Secret: testSecret}}, SpoolDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer l.closeConns()
	reqs := make([][]byte, 4096)
	for i := range reqs {
		p := radius.New(radius.CodeAccountingRequest, []byte(testSecret))
		p.Identifier = byte(i)
		rfc2865.UserName_SetString(p, fmt.Sprintf("user%d", i%1000))
		rfc2866.AcctSessionID_SetString(p, fmt.Sprintf("%08x", i))
		rfc2866.AcctStatusType_Set(p, rfc2866.AcctStatusType_Value_InterimUpdate)
		rfc2865.NASIPAddress_Set(p, []byte{10, 0, 0, 1})
		rfc2865.NASPort_Set(p, rfc2865.NASPort(i))
		rfc2866.AcctInputOctets_Set(p, rfc2866.AcctInputOctets(i*1000))
		rfc2866.AcctOutputOctets_Set(p, rfc2866.AcctOutputOctets(i*3000))
		rfc2866.AcctSessionTime_Set(p, rfc2866.AcctSessionTime(i))
		reqs[i], _ = p.Encode()
	}
	cl, _ := l.clients.find(netip.MustParseAddr("127.0.0.1"))
	var w worker
	bt := l.getBatch()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		from := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(10000+i/256%64+64*(i/len(reqs)%800)))
		l.handle(&w, reqs[i%len(reqs)], from, cl, replyTo{}, bt)
		if len(bt.items) == cap(bt.items) {
			for j := range bt.items {
				l.dedup.done(bt.items[j].key, bt.items[j].dd, bt.items[j].auth, [16]byte(bt.items[j].resp[4:20]), bt.items[j].at)
			}
			l.putBatch(bt) // as a committer does
			bt = l.getBatch()
		}
	}
}
