// Package bench is radrelay's end-to-end benchmark harness: it drives the
// built radrelay binary, side by side with the peer it is measured against
// (FreeRADIUS 3.2's buffered-sql, a plain file writer), on a corpus of
// accounting that a real FreeRADIUS 3.2 wrote, and prints each figure with
// what it was measured on. "make bench-e2e" runs it; without
// RADRELAY_BENCH_E2E=1, "go test ./bench" runs only a tiny smoke run of
// every scenario (no figure is checked: the harness reports, people judge).
//
// This file holds the corpus generator: radclient input for a day of
// traffic on many NASes, which the harness sends through a FreeRADIUS 3.2
// home server so that the detail file the benchmarks read is FreeRADIUS's
// own. Only the generator lives in the repository, not the (160 MB) file.
package bench

import (
	"cmp"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
)

// CorpusSpec sizes a generated day of accounting.
type CorpusSpec struct {
	// Sessions is the number of user sessions (each a Start, 0–4
	// Interim-Updates and a Stop, unless its NAS reboots meanwhile).
	Sessions int
	// NASes is the number of NASes; every one sends Accounting-On at the
	// start of the day.
	NASes int
	// Reboots is how many NASes reboot during the day: their sessions open
	// at that moment get no more records (no Stop) and the NAS sends
	// Accounting-On again.
	Reboots int
	// Offs is how many NASes send Accounting-Off at the end of the day.
	Offs int
	// Seed makes the output deterministic.
	Seed uint64
}

// FullCorpus is the corpus of "make bench-e2e": about 240,000 records of
// 60,000 sessions on 40 NASes.
var FullCorpus = CorpusSpec{Sessions: 60000, NASes: 40, Reboots: 3, Offs: 2, Seed: 12}

// SmokeCorpus is the corpus of the smoke run inside "go test".
var SmokeCorpus = CorpusSpec{Sessions: 1000, NASes: 4, Reboots: 1, Offs: 1, Seed: 12}

// corpusDay is 2026-11-23 00:00:00 UTC.
const corpusDay = int64(1795392000)

type corpusNAS struct {
	ip, id, kind string
}

// event is one Accounting-Request of the day.
type event struct {
	at   int64 // Event-Timestamp
	seq  int   // generation order, to keep the sort stable and deterministic
	text string
}

// CorpusStats counts what WriteRadclientInput wrote.
type CorpusStats struct {
	Records, Sessions, Starts, Interims, Stops, AccountingOn, AccountingOff int
}

func (s CorpusStats) String() string {
	return fmt.Sprintf("%d records: %d sessions (%d Start, %d Interim-Update, %d Stop), %d Accounting-On, %d Accounting-Off",
		s.Records, s.Sessions, s.Starts, s.Interims, s.Stops, s.AccountingOn, s.AccountingOff)
}

var terminateCauses = []string{"User-Request", "Lost-Carrier", "Idle-Timeout", "Session-Timeout", "Admin-Reset", "Port-Error"}

// WriteRadclientInput writes the day as radclient input (attribute lines,
// requests separated by an empty line), in Event-Timestamp order, as a
// RADIUS server receives it: sessions interleave, records of one session
// are at least five minutes apart.
func WriteRadclientInput(w io.Writer, spec CorpusSpec) (CorpusStats, error) {
	rng := rand.New(rand.NewPCG(spec.Seed, 0))
	kinds := []string{"cisco", "cisco", "mikrotik", "wispr", "huawei"}
	nases := make([]corpusNAS, spec.NASes)
	for i := range nases {
		k := kinds[i%len(kinds)]
		nases[i] = corpusNAS{ip: fmt.Sprintf("10.%d.%d.1", 20+i/200, i%200), id: fmt.Sprintf("%s-%02d", k, i), kind: k}
	}
	var st CorpusStats
	var evs []event
	add := func(at int64, text string) {
		evs = append(evs, event{at: at, seq: len(evs), text: text})
	}
	nasEvent := func(n corpusNAS, status string, at int64) {
		add(at, fmt.Sprintf("Acct-Status-Type = %s\nNAS-IP-Address = %s\nNAS-Identifier = \"%s\"\nAcct-Session-Id = \"00000000\"\nAcct-Delay-Time = 0\nEvent-Timestamp = %d\n",
			status, n.ip, n.id, at))
		if status == "Accounting-On" {
			st.AccountingOn++
		} else {
			st.AccountingOff++
		}
	}
	for _, n := range nases {
		nasEvent(n, "Accounting-On", corpusDay)
	}
	// A rebooting NAS loses its open sessions at rebootAt and says
	// Accounting-On 30 s later.
	rebootAt := map[int]int64{}
	for i := 0; i < spec.Reboots && i < len(nases); i++ {
		ni := (i*7 + 3) % len(nases)
		at := corpusDay + 20000 + int64(i)*15000
		rebootAt[ni] = at
		nasEvent(nases[ni], "Accounting-On", at+30)
	}
	for i := 0; i < spec.Offs && i < len(nases); i++ {
		nasEvent(nases[len(nases)-1-i], "Accounting-Off", corpusDay+86300)
	}
	var b strings.Builder
	for s := 0; s < spec.Sessions; s++ {
		ni := rng.IntN(len(nases))
		n := nases[ni]
		user := fmt.Sprintf("user%05d@isp.example", rng.IntN(20000))
		if n.kind == "wispr" {
			user = fmt.Sprintf("student%05d", rng.IntN(20000))
		}
		sid := fmt.Sprintf("%08X", 0x5a000000+s*7919)
		mac := fmt.Sprintf("02:%02x:%02x:%02x:%02x:%02x", rng.IntN(256), rng.IntN(256), rng.IntN(256), rng.IntN(256), rng.IntN(256))
		ip := fmt.Sprintf("100.%d.%d.%d", 64+rng.IntN(64), rng.IntN(256), 1+rng.IntN(254))
		port := rng.IntN(4096)
		start := corpusDay + 60 + int64(rng.IntN(80000))
		interval := int64(600)
		interims := rng.IntN(5)
		class := rng.Uint32()
		rate := 10 * (1 + rng.IntN(10))
		var in, out, pin, pout int64
		st.Sessions++
		emit := func(status string, elapsed int64, stop bool) bool {
			at := start + elapsed
			if r, ok := rebootAt[ni]; ok && start < r && at >= r {
				return false // the NAS rebooted: nothing more from this session
			}
			b.Reset()
			fmt.Fprintf(&b, "Acct-Status-Type = %s\nUser-Name = \"%s\"\n", status, user)
			fmt.Fprintf(&b, "NAS-IP-Address = %s\nNAS-Identifier = \"%s\"\nNAS-Port = %d\n", n.ip, n.id, port)
			switch n.kind {
			case "wispr":
				b.WriteString("NAS-Port-Type = Wireless-802.11\nCalled-Station-Id = \"00-1a-1e-00-00-01:eduroam\"\n")
			default:
				fmt.Fprintf(&b, "NAS-Port-Type = Ethernet\nNAS-Port-Id = \"0/1/%d:%d.%d\"\nService-Type = Framed-User\nFramed-Protocol = PPP\n", port%8, 100+port%50, port)
			}
			fmt.Fprintf(&b, "Calling-Station-Id = \"%s\"\nFramed-IP-Address = %s\n", mac, ip)
			fmt.Fprintf(&b, "Acct-Session-Id = \"%s\"\nAcct-Authentic = RADIUS\n", sid)
			if status == "Start" {
				fmt.Fprintf(&b, "Acct-Interim-Interval = %d\n", interval)
			} else {
				fmt.Fprintf(&b, "Acct-Session-Time = %d\n", elapsed)
				fmt.Fprintf(&b, "Acct-Input-Octets = %d\nAcct-Output-Octets = %d\n", in%(1<<32), out%(1<<32))
				fmt.Fprintf(&b, "Acct-Input-Gigawords = %d\nAcct-Output-Gigawords = %d\n", in>>32, out>>32)
				fmt.Fprintf(&b, "Acct-Input-Packets = %d\nAcct-Output-Packets = %d\n", pin, pout)
			}
			if stop {
				fmt.Fprintf(&b, "Acct-Terminate-Cause = %s\n", terminateCauses[rng.IntN(len(terminateCauses))])
			}
			switch n.kind {
			case "cisco":
				fmt.Fprintf(&b, "Cisco-AVPair = \"connect-progress=LAN Ses Up\"\nCisco-AVPair = \"client-mac-address=%s\"\n", mac)
			case "mikrotik":
				fmt.Fprintf(&b, "Mikrotik-Rate-Limit = \"%dM/%dM\"\n", rate, 5*rate)
			case "wispr":
				b.WriteString("WISPr-Location-Name = \"Library, 2nd floor\"\n")
			case "huawei":
				fmt.Fprintf(&b, "Huawei-Domain-Name = \"isp.example\"\nHuawei-Input-Average-Rate = %d\n", 1000000*rate)
			}
			fmt.Fprintf(&b, "Class = 0x%08x\n", class)
			fmt.Fprintf(&b, "Event-Timestamp = %d\nAcct-Delay-Time = %d\n", at, rng.IntN(2))
			add(at, b.String())
			return true
		}
		if !emit("Start", 0, false) {
			continue
		}
		st.Starts++
		elapsed := int64(0)
		alive := true
		for range interims {
			elapsed += interval
			in += rng.Int64N(900_000_000)
			out += rng.Int64N(4_000_000_000)
			pin += rng.Int64N(600_000)
			pout += rng.Int64N(2_000_000)
			if alive = emit("Interim-Update", elapsed, false); !alive {
				break
			}
			st.Interims++
		}
		if !alive {
			continue
		}
		elapsed += int64(rng.IntN(int(interval)))
		in += rng.Int64N(100_000_000)
		out += rng.Int64N(400_000_000)
		if emit("Stop", elapsed, true) {
			st.Stops++
		}
	}
	slices.SortStableFunc(evs, func(a, b event) int {
		return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.seq, b.seq))
	})
	for _, e := range evs {
		if _, err := io.WriteString(w, e.text+"\n"); err != nil {
			return st, err
		}
	}
	st.Records = len(evs)
	return st, nil
}
