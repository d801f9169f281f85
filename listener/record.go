package listener

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"layeh.com/radius"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/dictionary"
)

// Attribute sets a record can be written with (Config.Attributes).
const (
	// AttributesDefaultSite writes what FreeRADIUS 3.2's default site writes
	// for the packet: the packet's attributes in order, NAS-IP-Address
	// from an IPv4 source address when the packet has none (NAS-IPv6-Address
	// from an IPv6 one) and Event-Timestamp when it has none (preprocess),
	// Acct-Unique-Session-Id (the acct_unique policy), then Timestamp.
	AttributesDefaultSite = "default-site"
	// AttributesPacket writes the packet's attributes and Timestamp only,
	// as a FreeRADIUS site whose preacct section is empty.
	AttributesPacket = "packet"
)

// classUnique is acct_unique's test for a Class this server made.
var classUnique = regexp.MustCompile(`(?i)^ai:([0-9a-f]{32})`)

// buildRecord turns a verified Accounting-Request into the detail record
// FreeRADIUS's detail module writes for it.
func buildRecord(dict *dictionary.Dictionary, p []byte, secret []byte, src netip.Addr, now time.Time, attrs string) (*detail.Record, error) {
	pkt, err := radius.Parse(p, secret)
	if err != nil {
		return nil, err
	}
	as, err := dict.Decode(pkt)
	if err != nil {
		return nil, err
	}
	rec := &detail.Record{Attrs: as, Timestamp: now.Unix(), HasTimestamp: true}
	if attrs == AttributesPacket {
		return rec, nil
	}
	// What preprocess adds, decoded with the same dictionary so that it is
	// printed as FreeRADIUS prints it: NAS-IP-Address from an IPv4 source
	// when the packet has none (NAS-IPv6-Address from an IPv6 one), and
	// Event-Timestamp (the time received, less Acct-Delay-Time) when it
	// has none.
	added := &radius.Packet{Code: pkt.Code, Secret: secret}
	_, v4 := rec.Get("NAS-IP-Address")
	_, v6 := rec.Get("NAS-IPv6-Address")
	switch a := src.Unmap(); {
	case a.Is4() && !v4:
		b := a.As4()
		added.Add(4, b[:])
	case a.Is6() && !v6:
		b := a.As16()
		added.Add(95, b[:])
	}
	if _, ok := rec.Get("Event-Timestamp"); !ok {
		t := now.Unix()
		if d, ok := pkt.Lookup(41); ok && len(d) == 4 {
			delay := int64(binary.BigEndian.Uint32(d))
			if delay < t {
				t -= delay
			}
		}
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(t))
		added.Add(55, b[:])
	}
	if len(added.Attributes) > 0 {
		more, err := dict.Decode(added)
		if err != nil {
			return nil, err
		}
		rec.Attrs = append(rec.Attrs, more...)
	}
	rec.Attrs = append(rec.Attrs, detail.Attribute{Name: "Acct-Unique-Session-Id", Value: acctUniqueSessionID(rec), Quoted: true})
	return rec, nil
}

// acctUniqueSessionID is FreeRADIUS 3.2's acct_unique policy
// (policy.d/accounting).
func acctUniqueSessionID(rec *detail.Record) string {
	get := func(n string) string {
		a, _ := rec.Get(n)
		return a.Value
	}
	var in string
	if m := classUnique.FindStringSubmatch(get("Class")); m != nil {
		in = m[1] + "," + get("Acct-Session-Id")
	} else if c, ok := rec.Get("Class"); ok && strings.HasPrefix(c.Value, "0x") {
		// Class is octets: printed as hex, its text is the bytes.
		if b, err := hex.DecodeString(c.Value[2:]); err == nil {
			if m := classUnique.FindStringSubmatch(string(b)); m != nil {
				in = m[1] + "," + get("Acct-Session-Id")
			}
		}
	}
	if in == "" {
		nas := get("NAS-IPv6-Address")
		if nas == "" {
			nas = get("NAS-IP-Address")
		}
		in = strings.Join([]string{get("User-Name"), get("Acct-Session-Id"), nas, get("NAS-Identifier"), get("NAS-Port-Id"), get("NAS-Port")}, ",")
	}
	sum := md5.Sum([]byte(in))
	return hex.EncodeToString(sum[:])
}
