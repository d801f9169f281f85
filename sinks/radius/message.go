package radius

import (
	"crypto/md5"
	"encoding/binary"
	"time"

	layeh "layeh.com/radius"
)

// attrAcctDelayTime is the RFC 2866 Acct-Delay-Time attribute type.
const attrAcctDelayTime = 41

// message is one record ready for the wire: its attribute section, encoded
// once, and where its Acct-Delay-Time value sits so that every transmission
// can set the current delay without encoding the record again.
type message struct {
	attrs []byte
	// delayOff is the offset in attrs of the 4-octet Acct-Delay-Time value,
	// or -1 when the delay is not updated.
	delayOff  int
	baseDelay uint32
	// received is the Unix time the writer received the record (its
	// Timestamp line); 0 when unknown.
	received int64
}

// newMessage takes the attributes of p as the message body. With
// updateDelay, Acct-Delay-Time is located (or appended when the record has
// none, as FreeRADIUS's detail reader does) so that it can be raised by the
// time the record spent in the spool.
func newMessage(p *layeh.Packet, received int64, updateDelay bool) (*message, error) {
	m := &message{delayOff: -1, received: received}
	if updateDelay {
		found := false
		for _, avp := range p.Attributes {
			if avp.Type == attrAcctDelayTime && len(avp.Attribute) == 4 {
				found = true
				break
			}
		}
		if !found {
			p.Attributes = append(p.Attributes, &layeh.AVP{Type: attrAcctDelayTime, Attribute: make([]byte, 4)})
		}
	}
	b, err := p.MarshalBinary()
	if err != nil {
		return nil, err
	}
	m.attrs = b[20:]
	if updateDelay {
		for off := 0; off+2 <= len(m.attrs); {
			t, l := m.attrs[off], int(m.attrs[off+1])
			if l < 2 {
				break
			}
			if t == attrAcctDelayTime && l == 6 {
				m.delayOff = off + 2
				m.baseDelay = binary.BigEndian.Uint32(m.attrs[off+2:])
				break
			}
			off += l
		}
	}
	return m, nil
}

// delayAt returns the Acct-Delay-Time to send at now: the delay the NAS
// reported plus the seconds since the writer received the record.
func (m *message) delayAt(now time.Time) uint32 {
	if m.delayOff < 0 {
		return 0
	}
	d := m.baseDelay
	if m.received > 0 {
		if spool := now.Unix() - m.received; spool > 0 {
			d += uint32(spool)
		}
	}
	return d
}

// sign fills in the header of an Accounting-Request in buf (buf[20:] holds
// the attributes) and computes its Request Authenticator:
// MD5(Code | Identifier | Length | 16 zero octets | Attributes | Secret),
// RFC 2866 §3 — the same as layeh.com/radius's Packet.Encode.
func signAccountingRequest(buf []byte, id byte, secret []byte) {
	buf[0] = byte(layeh.CodeAccountingRequest)
	buf[1] = id
	binary.BigEndian.PutUint16(buf[2:4], uint16(len(buf)))
	clear(buf[4:20])
	h := md5.New()
	h.Write(buf)
	h.Write(secret)
	h.Sum(buf[4:4:20])
}
