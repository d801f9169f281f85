// gen writes radclient input for a day of broadband BNG accounting
// (Cisco ISG-, Juniper ERX/MX- and MikroTik-like NASes): Start, 0-6
// Interim-Update and Stop per session, plus Accounting-On/Off, in
// Event-Timestamp order. Deterministic for a given seed.
//
//	go run gen.go -sessions 50000 -nases 100 -seed 7 > input.txt
package main

import (
	"bufio"
	"cmp"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
)

const day = int64(1795392000) // 2026-11-23 00:00:00 UTC

type nas struct {
	ip, id, kind string
	v6           int
}

type event struct {
	at   int64
	seq  int
	text string
}

var causes = []string{"User-Request", "Lost-Carrier", "Idle-Timeout", "Session-Timeout", "Admin-Reset", "Port-Error", "NAS-Request", "Lost-Service"}

var ciscoDisc = []struct{ ppp, ext string }{
	{"Received LCP TERMREQ from peer", "PPP Receive Term"},
	{"Keepalive failure", "PPP No Keepalive"},
	{"Peer not responding", "Lost Carrier"},
	{"Session timeout", "Session Timeout"},
	{"Idle timeout", "Idle Timeout"},
}

var profiles = []int{20, 50, 100, 250, 500, 1000}

func main() {
	sessions := flag.Int("sessions", 50000, "user sessions")
	nNAS := flag.Int("nases", 100, "NASes")
	reboots := flag.Int("reboots", 4, "NASes that reboot during the day")
	offs := flag.Int("offs", 3, "NASes that send Accounting-Off at the end")
	seed := flag.Uint64("seed", 7, "seed")
	flag.Parse()
	rng := rand.New(rand.NewPCG(*seed, 0xb16c0))
	kinds := []string{"cisco", "cisco", "juniper", "juniper", "mikrotik"}
	nases := make([]nas, *nNAS)
	for i := range nases {
		k := kinds[i%len(kinds)]
		nases[i] = nas{ip: fmt.Sprintf("172.%d.%d.1", 16+i/200, i%200), id: fmt.Sprintf("pop%02d-%s-bng%03d", i/10, k, i), kind: k, v6: i}
	}
	var evs []event
	add := func(at int64, text string) { evs = append(evs, event{at, len(evs), text}) }
	var nRecs, nStart, nInt, nStop, nOn, nOff int
	nasEvent := func(n nas, status string, at int64) {
		add(at, fmt.Sprintf("Acct-Status-Type = %s\nNAS-IP-Address = %s\nNAS-Identifier = \"%s\"\nAcct-Session-Id = \"00000000\"\nAcct-Authentic = RADIUS\nAcct-Delay-Time = 0\nEvent-Timestamp = %d\n", status, n.ip, n.id, at))
		if status == "Accounting-On" {
			nOn++
		} else {
			nOff++
		}
	}
	for _, n := range nases {
		nasEvent(n, "Accounting-On", day)
	}
	rebootAt := map[int]int64{}
	for i := 0; i < *reboots && i < len(nases); i++ {
		ni := (i*13 + 5) % len(nases)
		at := day + 15000 + int64(i)*16000
		rebootAt[ni] = at
		nasEvent(nases[ni], "Accounting-On", at+45)
	}
	for i := 0; i < *offs && i < len(nases); i++ {
		nasEvent(nases[len(nases)-1-i], "Accounting-Off", day+86350)
	}
	// interim count weights 0..6: mean about 2.8, so ~4.8 records a session
	weights := []int{14, 16, 17, 17, 14, 12, 10}
	pickInterims := func() int {
		x := rng.IntN(100)
		for i, w := range weights {
			if x < w {
				return i
			}
			x -= w
		}
		return 6
	}
	var b strings.Builder
	for s := 0; s < *sessions; s++ {
		ni := rng.IntN(len(nases))
		n := nases[ni]
		user := fmt.Sprintf("%c%07d@fibre.isp.example", 'a'+rune(rng.IntN(26)), rng.IntN(3000000))
		m := [6]int{rng.IntN(256) &^ 1, rng.IntN(256), rng.IntN(256), rng.IntN(256), rng.IntN(256), rng.IntN(256)}
		macColon := fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
		macDot := fmt.Sprintf("%02x%02x.%02x%02x.%02x%02x", m[0], m[1], m[2], m[3], m[4], m[5])
		ip := fmt.Sprintf("100.%d.%d.%d", 64+rng.IntN(64), rng.IntN(256), 1+rng.IntN(254))
		v6 := fmt.Sprintf("2001:db8:%x:%x", 0x1000+n.v6, rng.IntN(65536))
		slot, sub, port := rng.IntN(4), rng.IntN(2), rng.IntN(8)
		svlan, cvlan := 100+rng.IntN(50), 1+rng.IntN(4000)
		nasPort := slot<<24 | sub<<20 | port<<16 | cvlan
		sid := fmt.Sprintf("%08X", 0x6b000000+s*7919)
		msid := fmt.Sprintf("%s%08x", n.kind[:3], rng.Uint32())
		start := day + 90 + int64(rng.IntN(80000))
		interval := int64(900)
		interims := pickInterims()
		class := make([]byte, 16+rng.IntN(16))
		for i := range class {
			class[i] = byte(rng.IntN(256))
		}
		speed := profiles[rng.IntN(len(profiles))]
		circuit := fmt.Sprintf("OLT%04d.pop%02d xpon 1/%d/%d/%d:%d.%d", rng.IntN(2000), n.v6/10, slot, port, rng.IntN(16), svlan, cvlan)
		remote := fmt.Sprintf("ONT-%08X-%s", rng.Uint32(), strings.ToUpper(strings.ReplaceAll(macColon, ":", "")))
		disc := ciscoDisc[rng.IntN(len(ciscoDisc))]
		var in, out, pin, pout, in6, out6 int64
		emit := func(status string, elapsed int64, stop bool) bool {
			at := start + elapsed
			if r, ok := rebootAt[ni]; ok && start < r && at >= r {
				return false
			}
			b.Reset()
			w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...); b.WriteByte('\n') }
			w("Acct-Status-Type = %s", status)
			w("User-Name = \"%s\"", user)
			w("NAS-IP-Address = %s", n.ip)
			w("NAS-Identifier = \"%s\"", n.id)
			w("NAS-Port = %d", nasPort)
			w("NAS-Port-Type = Virtual")
			switch n.kind {
			case "cisco":
				w("NAS-Port-Id = \"%d/%d/%d/%d.%d\"", slot, sub, port, svlan, cvlan)
			case "juniper":
				w("NAS-Port-Id = \"ge-%d/%d/%d.demux0.%d:%d-%d\"", slot, sub, port, 3221225472+cvlan, svlan, cvlan)
			default:
				w("NAS-Port-Id = \"vlan%d-pppoe\"", cvlan)
			}
			w("Service-Type = Framed-User")
			w("Framed-Protocol = PPP")
			w("Framed-IP-Address = %s", ip)
			w("Framed-IPv6-Prefix = %s:8000::/64", v6)
			w("Delegated-IPv6-Prefix = %s::/56", v6)
			w("Calling-Station-Id = \"%s\"", macColon)
			w("Called-Station-Id = \"%s\"", n.id)
			w("Acct-Session-Id = \"%s\"", sid)
			w("Acct-Multi-Session-Id = \"%s\"", msid)
			w("Acct-Authentic = RADIUS")
			w("Connect-Info = \"PPPoE %dM/%dM\"", speed, speed/5+1)
			w("ADSL-Agent-Circuit-Id = \"%s\"", circuit)
			if status == "Start" {
				w("Acct-Interim-Interval = %d", interval)
			} else {
				w("Acct-Session-Time = %d", elapsed)
				w("Acct-Input-Octets = %d", in%(1<<32))
				w("Acct-Output-Octets = %d", out%(1<<32))
				w("Acct-Input-Gigawords = %d", in>>32)
				w("Acct-Output-Gigawords = %d", out>>32)
				w("Acct-Input-Packets = %d", pin)
				w("Acct-Output-Packets = %d", pout)
			}
			if stop {
				w("Acct-Terminate-Cause = %s", causes[rng.IntN(len(causes))])
			}
			switch n.kind {
			case "cisco":
				w("Cisco-AVPair = \"connect-progress=LAN Ses Up\"")
				w("Cisco-AVPair = \"client-mac-address=%s\"", macDot)
				w("Cisco-AVPair = \"subscriber:sa=SVC_INTERNET_%dM;SVC_IPTV_MCAST;SVC_VOIP_EF\"", speed)
				w("Cisco-AVPair = \"nas-tx-speed=%d\"", speed*1000000)
				w("Cisco-AVPair = \"remote-id-tag=%s\"", remote)
				if status != "Start" {
					w("Cisco-AVPair = \"acct-input-octets-ipv6=%d\"", in6)
					w("Cisco-AVPair = \"acct-output-octets-ipv6=%d\"", out6)
				}
				if stop {
					w("Cisco-AVPair = \"ppp-disconnect-cause=%s\"", disc.ppp)
					w("Cisco-AVPair = \"disc-cause-ext=%s\"", disc.ext)
				}
			case "juniper":
				w("ERX-Virtual-Router-Name = \"default:INTERNET\"")
				w("ERX-Pppoe-Description = \"pppoe %s\"", macColon)
				w("ERX-Interface-Desc = \"pp0.%d ge-%d/%d/%d.%d\"", 1073741824+s%1000000, slot, sub, port, svlan)
				w("ERX-Ingress-Policy-Name = \"IN-RES-%dM\"", speed)
				w("ERX-Egress-Policy-Name = \"OUT-RES-%dM\"", speed)
				w("ERX-Qos-Profile-Name = \"QOS-RES-%dM-TRIPLE-PLAY\"", speed)
				if status != "Start" {
					w("ERX-IPv6-Acct-Input-Octets = %d", in6%(1<<32))
					w("ERX-IPv6-Acct-Output-Octets = %d", out6%(1<<32))
				}
			default:
				w("Mikrotik-Rate-Limit = \"%dM/%dM %dM/%dM %dM/%dM 16/16 8 %dM/%dM\"", speed/5+1, speed, speed/4+1, speed*5/4, speed/5+1, speed, speed/10+1, speed/2)
				w("Mikrotik-Group = \"residential-%dM\"", speed)
				w("Mikrotik-Address-List = \"subscribers-active,plan-%dM\"", speed)
				w("Mikrotik-Realm = \"fibre.isp.example\"")
				w("Mikrotik-Host-IP = %s", ip)
				w("Mikrotik-Delegated-IPv6-Pool = \"pd-pool-%02d\"", n.v6%13)
			}
			w("Class = 0x%x", class)
			w("Event-Timestamp = %d", at)
			w("Acct-Delay-Time = %d", rng.IntN(3))
			add(at, b.String())
			return true
		}
		if !emit("Start", 0, false) {
			continue
		}
		nStart++
		elapsed := int64(0)
		alive := true
		for range interims {
			elapsed += interval
			in += rng.Int64N(1_500_000_000)
			out += rng.Int64N(9_000_000_000)
			pin += rng.Int64N(1_500_000)
			pout += rng.Int64N(7_000_000)
			in6 += rng.Int64N(500_000_000)
			out6 += rng.Int64N(3_000_000_000)
			if alive = emit("Interim-Update", elapsed, false); !alive {
				break
			}
			nInt++
		}
		if !alive {
			continue
		}
		elapsed += int64(rng.IntN(int(interval)))
		in += rng.Int64N(100_000_000)
		out += rng.Int64N(600_000_000)
		pin += rng.Int64N(100_000)
		pout += rng.Int64N(500_000)
		in6 += rng.Int64N(30_000_000)
		out6 += rng.Int64N(200_000_000)
		if emit("Stop", elapsed, true) {
			nStop++
		}
	}
	slices.SortStableFunc(evs, func(a, b event) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.seq, b.seq)) })
	bw := bufio.NewWriter(os.Stdout)
	for _, e := range evs {
		bw.WriteString(e.text + "\n")
	}
	bw.Flush()
	nRecs = len(evs)
	fmt.Fprintf(os.Stderr, "%d records: %d sessions (%d Start, %d Interim-Update, %d Stop), %d Accounting-On, %d Accounting-Off\n", nRecs, *sessions, nStart, nInt, nStop, nOn, nOff)
}
