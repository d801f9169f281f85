package stream

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"

	"github.com/radrelay/radrelay/detail"
)

// ID returns the identity of rec's content: a SHA-256 digest of its
// timestamp, its header and its attributes (names, tags and values, in
// order), as 32 hex digits (128 bits). Where the record was read from is
// not part of it, so a record resent after a restart (or replayed from a
// copy of the file) has the same ID; whether it was marked done is not
// either.
func ID(rec *detail.Record) string {
	var small [64]uint8
	codes := small[:0]
	if len(rec.Attrs) <= len(small) {
		codes = small[:len(rec.Attrs)]
	} else {
		codes = make([]uint8, len(rec.Attrs))
	}
	for i := range rec.Attrs {
		codes[i] = nameCode(rec.Attrs[i].Name)
	}
	return idOf(rec, codes)
}

// idOf is ID with the name code of each attribute (nameCode) known:
// Encode has them from the JSON encoder's cache of names.
func idOf(rec *detail.Record, codes []uint8) string {
	sum := idSum(rec, codes)
	return hex.EncodeToString(sum[:16])
}

// idSum is the SHA-256 digest of which ID is the first 16 bytes.
func idSum(rec *detail.Record, codes []uint8) [sha256.Size]byte {
	var scratch [1024]byte
	return sha256.Sum256(appendIDInput(scratch[:0], rec, codes))
}

// AppendIDInput appends what ID digests; see appendIDInput.
func AppendIDInput(b []byte, rec *detail.Record) []byte {
	b = appendIDHead(b, rec)
	for i := range rec.Attrs {
		a := &rec.Attrs[i]
		b = appendIDAttr(b, a, nameCode(a.Name))
	}
	return b
}

// appendIDInput appends what ID digests, an unambiguous encoding of the
// record's identity (no two different records encode alike: every
// variable-length field is preceded by its length):
//
//	'2'                          the layout's version
//	1 if the record has a Timestamp, else 0; the timestamp (varint)
//	len(header) (uvarint), header
//	per attribute, in order:
//	  its name's code (nameCode), or 0, len(name) (uvarint), name
//	  0 without a tag, 1 tag with one
//	  len(value) (uvarint), value
//
// codes[i] is nameCode of attribute i's name. A well-known attribute
// name (idNames) is one byte instead of its 10 to 25, which halves what
// SHA-256 reads for a typical record: the digest was a sixth of
// radrelay's CPU into JetStream.
func appendIDInput(b []byte, rec *detail.Record, codes []uint8) []byte {
	b = appendIDHead(b, rec)
	attrs := rec.Attrs
	codes = codes[:len(attrs)]
	for i := range attrs {
		a := &attrs[i]
		// The common case, a well-known name without a tag and a value
		// under 128 bytes, written in place: building the input cost as
		// much as digesting it when each piece was an append.
		if n, v := len(b), a.Value; codes[i] != 0 && !a.HasTag && len(v) < 0x80 && cap(b)-n >= 3+len(v) {
			b = b[:n+3+len(v)]
			b[n], b[n+1], b[n+2] = codes[i], 0, byte(len(v))
			copy(b[n+3:], v)
			continue
		}
		b = appendIDAttr(b, a, codes[i])
	}
	return b
}

// appendIDHead appends the version, the timestamp and the header.
func appendIDHead(b []byte, rec *detail.Record) []byte {
	b = append(b, '2')
	if rec.HasTimestamp {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendVarint(b, rec.Timestamp)
	b = binary.AppendUvarint(b, uint64(len(rec.Header)))
	return append(b, rec.Header...)
}

// appendIDAttr appends one attribute of the ID input; code is
// nameCode(a.Name).
func appendIDAttr(b []byte, a *detail.Attribute, code uint8) []byte {
	b = append(b, code)
	if code == 0 {
		b = binary.AppendUvarint(b, uint64(len(a.Name)))
		b = append(b, a.Name...)
	}
	if a.HasTag {
		b = append(b, 1, a.Tag)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(a.Value)))
	return append(b, a.Value...)
}

// nameCode returns the one-byte code of an attribute name that
// nameCodes lists (exactly as written, case included), or 0.
func nameCode(name string) uint8 { return nameCodes[name] }

// nameCodes maps each name of idNames to its position + 1.
var nameCodes = func() map[string]uint8 {
	m := make(map[string]uint8, len(idNames))
	for i, n := range idNames {
		m[n] = uint8(i + 1)
	}
	return m
}()

// idNames are the attribute names ID encodes as one byte: the RFC
// attributes of accounting, the FreeRADIUS ones its detail files carry
// and common vendor ones. The list is part of every record's ID: it must
// never change (TestIDStable pins it), or a record resent across the
// change would be stored twice.
var idNames = [...]string{
	// RFC 2865, 2866, 2867, 2868, 2869, 3162, 4072, 4372, 4675, 4818, 5580
	"User-Name", "User-Password", "CHAP-Password", "NAS-IP-Address", "NAS-Port",
	"Service-Type", "Framed-Protocol", "Framed-IP-Address", "Framed-IP-Netmask", "Framed-Routing",
	"Filter-Id", "Framed-MTU", "Framed-Compression", "Login-IP-Host", "Login-Service",
	"Login-TCP-Port", "Reply-Message", "Callback-Number", "Callback-Id", "Framed-Route",
	"Framed-IPX-Network", "State", "Class", "Vendor-Specific", "Session-Timeout",
	"Idle-Timeout", "Termination-Action", "Called-Station-Id", "Calling-Station-Id", "NAS-Identifier",
	"Proxy-State", "Acct-Status-Type", "Acct-Delay-Time", "Acct-Input-Octets", "Acct-Output-Octets",
	"Acct-Session-Id", "Acct-Authentic", "Acct-Session-Time", "Acct-Input-Packets", "Acct-Output-Packets",
	"Acct-Terminate-Cause", "Acct-Multi-Session-Id", "Acct-Link-Count", "Acct-Input-Gigawords", "Acct-Output-Gigawords",
	"Event-Timestamp", "Egress-VLANID", "Ingress-Filters", "Egress-VLAN-Name", "User-Priority-Table",
	"CHAP-Challenge", "NAS-Port-Type", "Port-Limit", "Tunnel-Type", "Tunnel-Medium-Type",
	"Tunnel-Client-Endpoint", "Tunnel-Server-Endpoint", "Acct-Tunnel-Connection", "Tunnel-Password", "Connect-Info",
	"EAP-Message", "Message-Authenticator", "Tunnel-Private-Group-Id", "Tunnel-Assignment-Id", "Tunnel-Preference",
	"Acct-Interim-Interval", "Acct-Tunnel-Packets-Lost", "NAS-Port-Id", "Framed-Pool", "Chargeable-User-Identity",
	"Tunnel-Client-Auth-Id", "Tunnel-Server-Auth-Id", "NAS-Filter-Rule", "Originating-Line-Info", "NAS-IPv6-Address",
	"Framed-Interface-Id", "Framed-IPv6-Prefix", "Login-IPv6-Host", "Framed-IPv6-Route", "Framed-IPv6-Pool",
	"Error-Cause", "EAP-Key-Name", "Delegated-IPv6-Prefix", "Operator-Name", "Location-Information",
	"Location-Data", "Framed-IPv6-Address", "DNS-Server-IPv6-Address", "Delegated-IPv6-Prefix-Pool", "Stateful-IPv6-Address-Pool",
	// FreeRADIUS's own, written into detail files
	"Acct-Unique-Session-Id", "Stripped-User-Name", "Realm", "Packet-Src-IP-Address", "Packet-Dst-IP-Address",
	"Packet-Src-IPv6-Address", "Packet-Dst-IPv6-Address", "Packet-Src-Port", "Packet-Dst-Port", "Client-Shortname",
	// vendors
	"Cisco-AVPair", "Cisco-NAS-Port", "Cisco-Account-Info", "Cisco-Service-Info", "Mikrotik-Rate-Limit",
	"Mikrotik-Realm", "Mikrotik-Host-IP", "Huawei-Input-Average-Rate", "Huawei-Output-Average-Rate", "Huawei-Domain-Name",
	"WISPr-Location-Name", "WISPr-Location-ID", "WISPr-Logoff-URL", "WISPr-Bandwidth-Max-Up", "WISPr-Bandwidth-Max-Down",
	"ERX-Service-Session", "ERX-Primary-Dns", "Ascend-Data-Rate", "Ascend-Xmit-Rate", "3GPP-IMSI",
	"3GPP-IMEISV", "3GPP-User-Location-Info", "3GPP-RAT-Type", "3GPP-Charging-Id", "3GPP-SGSN-Address",
}
