//go:build ignore

// gen-sessions writes a radclient input file of realistic accounting
// traffic: Accounting-On for each NAS, then sessions of several users on
// several NASes (Start, Interim-Update..., Stop) with the attributes real
// BRAS, Wi-Fi controllers and NASes send. The output is deterministic.
//
//	go run gen-sessions.go -sessions 60 > packets-sessions.txt
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
)

type nas struct {
	ip, id, kind string
}

var nases = []nas{
	{"10.20.0.1", "bras-ams-1", "cisco"},
	{"10.20.0.2", "bras-ams-2", "cisco"},
	{"10.30.0.1", "mt-tower-north", "mikrotik"},
	{"10.40.0.1", "wlc-campus", "wispr"},
	{"10.50.0.1", "ne40-rtm", "huawei"},
}

var causes = []string{"User-Request", "Lost-Carrier", "Idle-Timeout", "Session-Timeout", "Admin-Reset", "Port-Error", "NAS-Reboot"}

func main() {
	sessions := flag.Int("sessions", 60, "number of sessions")
	seed := flag.Uint64("seed", 2026, "random seed")
	flag.Parse()
	rng := rand.New(rand.NewPCG(*seed, 0))
	var b strings.Builder
	for _, n := range nases {
		fmt.Fprintf(&b, "Acct-Status-Type = Accounting-On\nNAS-IP-Address = %s\nNAS-Identifier = \"%s\"\nAcct-Session-Id = \"00000000\"\nAcct-Delay-Time = 0\nEvent-Timestamp = %d\n\n", n.ip, n.id, 1795392000)
	}
	t0 := int64(1795392000) // 2026-11-23 00:00:00 UTC
	for s := range *sessions {
		n := nases[rng.IntN(len(nases))]
		user := fmt.Sprintf("user%03d@isp.example", rng.IntN(120))
		if n.kind == "wispr" {
			user = fmt.Sprintf("student%04d", rng.IntN(5000))
		}
		sid := fmt.Sprintf("%08X", 0x5a000000+s*7919)
		mac := fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", 0x02, rng.IntN(256), rng.IntN(256), rng.IntN(256), rng.IntN(256), rng.IntN(256))
		ip := fmt.Sprintf("100.64.%d.%d", rng.IntN(256), 1+rng.IntN(254))
		port := rng.IntN(4096)
		start := t0 + int64(rng.IntN(80000))
		interims := rng.IntN(4)
		var in, out, pin, pout int64
		emit := func(status string, elapsed int64, stop bool) {
			fmt.Fprintf(&b, "Acct-Status-Type = %s\n", status)
			fmt.Fprintf(&b, "User-Name = \"%s\"\n", user)
			fmt.Fprintf(&b, "NAS-IP-Address = %s\nNAS-Identifier = \"%s\"\n", n.ip, n.id)
			fmt.Fprintf(&b, "NAS-Port = %d\n", port)
			switch n.kind {
			case "wispr":
				fmt.Fprintf(&b, "NAS-Port-Type = Wireless-802.11\nCalled-Station-Id = \"00-1a-1e-00-00-01:eduroam\"\n")
			default:
				fmt.Fprintf(&b, "NAS-Port-Type = Ethernet\nNAS-Port-Id = \"0/1/%d:%d.%d\"\nService-Type = Framed-User\nFramed-Protocol = PPP\n", port%8, 100+port%50, port)
			}
			fmt.Fprintf(&b, "Calling-Station-Id = \"%s\"\nFramed-IP-Address = %s\n", mac, ip)
			fmt.Fprintf(&b, "Acct-Session-Id = \"%s\"\nAcct-Authentic = RADIUS\n", sid)
			if status != "Start" {
				fmt.Fprintf(&b, "Acct-Session-Time = %d\n", elapsed)
				fmt.Fprintf(&b, "Acct-Input-Octets = %d\nAcct-Output-Octets = %d\n", in%(1<<32), out%(1<<32))
				fmt.Fprintf(&b, "Acct-Input-Gigawords = %d\nAcct-Output-Gigawords = %d\n", in>>32, out>>32)
				fmt.Fprintf(&b, "Acct-Input-Packets = %d\nAcct-Output-Packets = %d\n", pin, pout)
			}
			if stop {
				fmt.Fprintf(&b, "Acct-Terminate-Cause = %s\n", causes[rng.IntN(len(causes))])
			}
			switch n.kind {
			case "cisco":
				fmt.Fprintf(&b, "Cisco-AVPair = \"connect-progress=LAN Ses Up\"\nCisco-AVPair = \"client-mac-address=%s\"\n", mac)
			case "mikrotik":
				fmt.Fprintf(&b, "Mikrotik-Rate-Limit = \"%dM/%dM\"\n", 10*(1+rng.IntN(10)), 50*(1+rng.IntN(4)))
			case "wispr":
				fmt.Fprintf(&b, "WISPr-Location-Name = \"Library, 2nd floor\"\n")
			case "huawei":
				fmt.Fprintf(&b, "Huawei-Domain-Name = \"isp.example\"\nHuawei-Input-Average-Rate = %d\n", 1000000*(1+rng.IntN(100)))
			}
			fmt.Fprintf(&b, "Class = 0x%08x\n", rng.Uint32())
			fmt.Fprintf(&b, "Event-Timestamp = %d\nAcct-Delay-Time = %d\n\n", start+elapsed, rng.IntN(2))
		}
		emit("Start", 0, false)
		elapsed := int64(0)
		for range interims {
			elapsed += 300
			in += rng.Int64N(900_000_000)
			out += rng.Int64N(4_000_000_000)
			pin += rng.Int64N(600_000)
			pout += rng.Int64N(2_000_000)
			emit("Interim-Update", elapsed, false)
		}
		elapsed += int64(rng.IntN(300))
		in += rng.Int64N(100_000_000)
		out += rng.Int64N(400_000_000)
		emit("Stop", elapsed, true)
	}
	os.Stdout.WriteString(b.String())
}
