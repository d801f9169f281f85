package listener

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"regexp"
	"slices"
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

// packetScratch is one goroutine's storage for the packets buildRecord
// decodes: the attributes point into the request (the decoder copies what
// it prints), so that nothing is allocated per attribute.
type packetScratch struct {
	pkt, added radius.Packet
	avps       []radius.AVP
	ptrs       []*radius.AVP
	addedAVPs  [2]radius.AVP
	addedPtrs  [2]*radius.AVP
	addedData  [2][16]byte
	unique     []byte // acct_unique's input
	headerAt   int64  // the second header is for
	header     string // detail.FormatHeader of headerAt
}

// parse is radius.Parse for p (cut to its Length), with its attributes in
// s and their values in p.
func (s *packetScratch) parse(p []byte, secret []byte) (*radius.Packet, error) {
	s.avps = s.avps[:0]
	for i := 20; i < len(p); {
		if i+2 > len(p) || p[i+1] < 2 || i+int(p[i+1]) > len(p) {
			return nil, errMalformed
		}
		n := int(p[i+1])
		avp := radius.AVP{Type: radius.Type(p[i])}
		if n > 2 {
			avp.Attribute = p[i+2 : i+n : i+n]
		}
		s.avps = append(s.avps, avp)
		i += n
	}
	s.ptrs = s.ptrs[:0]
	for i := range s.avps {
		s.ptrs = append(s.ptrs, &s.avps[i])
	}
	s.pkt = radius.Packet{Code: radius.Code(p[0]), Identifier: p[1], Secret: secret, Attributes: s.ptrs}
	copy(s.pkt.Authenticator[:], p[4:20])
	return &s.pkt, nil
}

// add adds an attribute to s.added, whose storage is s's.
func (s *packetScratch) add(typ radius.Type, v []byte) {
	i := len(s.added.Attributes)
	n := copy(s.addedData[i][:], v)
	s.addedAVPs[i] = radius.AVP{Type: typ, Attribute: s.addedData[i][:n]}
	s.addedPtrs[i] = &s.addedAVPs[i]
	s.added.Attributes = s.addedPtrs[:i+1]
}

// buildRecord turns a verified Accounting-Request p (cut to its Length)
// into the detail record FreeRADIUS's detail module writes for it. s may be
// nil.
func buildRecord(s *packetScratch, dict *dictionary.Dictionary, p []byte, secret []byte, src netip.Addr, now time.Time, attrs string) (*detail.Record, error) {
	rec := &detail.Record{}
	if err := buildRecordIn(rec, s, dict, p, secret, src, now, attrs); err != nil {
		return nil, err
	}
	return rec, nil
}

// buildRecordIn is buildRecord filling rec, whose Attrs' array it reuses:
// the listener keeps records and their attributes from batch to batch.
func buildRecordIn(rec *detail.Record, s *packetScratch, dict *dictionary.Dictionary, p []byte, secret []byte, src netip.Addr, now time.Time, attrs string) error {
	if s == nil {
		s = &packetScratch{}
	}
	pkt, err := s.parse(p, secret)
	if err != nil {
		return err
	}
	// One slice for the packet's attributes, preprocess's and
	// Acct-Unique-Session-Id, reused.
	as, err := dict.DecodeAppend(slices.Grow(rec.Attrs[:0], len(pkt.Attributes)+3), pkt)
	if err != nil {
		return err
	}
	*rec = detail.Record{Attrs: as, Timestamp: now.Unix(), HasTimestamp: true}
	// The header the writer would format, once a second rather than once
	// a record.
	if s.header == "" || s.headerAt != rec.Timestamp {
		s.headerAt, s.header = rec.Timestamp, detail.FormatHeader(time.Unix(rec.Timestamp, 0))
	}
	rec.Header = s.header
	if attrs == AttributesPacket {
		return nil
	}
	// What preprocess adds, decoded with the same dictionary so that it is
	// printed as FreeRADIUS prints it: NAS-IP-Address from an IPv4 source
	// when the packet has none (NAS-IPv6-Address from an IPv6 one), and
	// Event-Timestamp (the time received, less Acct-Delay-Time) when it
	// has none.
	s.added = radius.Packet{Code: pkt.Code, Secret: secret, Attributes: s.addedPtrs[:0]}
	added := &s.added
	f := findAttrs(rec.Attrs)
	switch a := src.Unmap(); {
	case a.Is4() && f[fNASIP] < 0:
		b := a.As4()
		s.add(4, b[:])
	case a.Is6() && f[fNASIPv6] < 0:
		b := a.As16()
		s.add(95, b[:])
	}
	if f[fEventTimestamp] < 0 {
		t := now.Unix()
		if d, ok := pkt.Lookup(41); ok && len(d) == 4 {
			delay := int64(binary.BigEndian.Uint32(d))
			if delay < t {
				t -= delay
			}
		}
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(t))
		s.add(55, b[:])
	}
	if len(added.Attributes) > 0 {
		n := len(rec.Attrs)
		if rec.Attrs, err = dict.DecodeAppend(rec.Attrs, added); err != nil {
			return err
		}
		for i, j := range findAttrs(rec.Attrs[n:]) {
			if f[i] < 0 && j >= 0 {
				f[i] = n + j
			}
		}
	}
	rec.Attrs = append(rec.Attrs, detail.Attribute{Name: "Acct-Unique-Session-Id", Value: s.acctUniqueSessionID(rec.Attrs, f), Quoted: true})
	return nil
}

// The attributes buildRecord and acctUniqueSessionID look at, as indexes
// of found.
const (
	fNASIP = iota
	fNASIPv6
	fEventTimestamp
	fClass
	fUserName
	fAcctSessionID
	fNASIdentifier
	fNASPortID
	fNASPort
	nFound
)

var foundNames = [nFound]string{"NAS-IP-Address", "NAS-IPv6-Address", "Event-Timestamp", "Class", "User-Name", "Acct-Session-Id", "NAS-Identifier", "NAS-Port-Id", "NAS-Port"}

// found holds the index in a record's attributes of the first attribute of
// each name of foundNames, -1 when there is none.
type found [nFound]int

// findAttrs looks the attributes of foundNames up in one pass over attrs
// (names compared case-insensitively, as detail.Record.Get does).
func findAttrs(attrs []detail.Attribute) found {
	var f found
	for i := range f {
		f[i] = -1
	}
	for i := range attrs {
		name := attrs[i].Name
		for k, want := range foundNames {
			if f[k] < 0 && len(name) == len(want) && strings.EqualFold(name, want) {
				f[k] = i
				break
			}
		}
	}
	return f
}

// acctUniqueSessionID is FreeRADIUS 3.2's acct_unique policy
// (policy.d/accounting), for a record's attributes whose names findAttrs
// has found.
func acctUniqueSessionID(attrs []detail.Attribute, f found) string {
	var s packetScratch
	return s.acctUniqueSessionID(attrs, f)
}

func (s *packetScratch) acctUniqueSessionID(attrs []detail.Attribute, f found) string {
	get := func(k int) string {
		if f[k] < 0 {
			return ""
		}
		return attrs[f[k]].Value
	}
	in := s.unique[:0]
	if m := classUnique.FindStringSubmatch(get(fClass)); m != nil {
		in = append(append(append(in, m[1]...), ','), get(fAcctSessionID)...)
	} else if c := get(fClass); strings.HasPrefix(c, "0x") {
		// Class is octets: printed as hex, its text is the bytes.
		if b, err := hex.DecodeString(c[2:]); err == nil {
			if m := classUnique.FindStringSubmatch(string(b)); m != nil {
				in = append(append(append(in, m[1]...), ','), get(fAcctSessionID)...)
			}
		}
	}
	if len(in) == 0 {
		nas := get(fNASIPv6)
		if nas == "" {
			nas = get(fNASIP)
		}
		for i, v := range [...]string{get(fUserName), get(fAcctSessionID), nas, get(fNASIdentifier), get(fNASPortID), get(fNASPort)} {
			if i > 0 {
				in = append(in, ',')
			}
			in = append(in, v...)
		}
	}
	s.unique = in
	sum := md5.Sum(in)
	var h [2 * md5.Size]byte
	hex.Encode(h[:], sum[:])
	return string(h[:])
}
