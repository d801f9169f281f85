package dictionary

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"layeh.com/radius"

	"github.com/radrelay/radrelay/detail"
)

// ErrUnknownAttribute is wrapped by an EncodeError (and returned by Check)
// for an attribute name the dictionary does not know. Its text says what to
// do about it: the built-in dictionary holds FreeRADIUS's stock tree, so an
// unknown name comes from a dictionary of the server that wrote the file (a
// local or newer one), which radrelay can load too.
var ErrUnknownAttribute = errors.New("unknown attribute (not in the built-in dictionary, which holds FreeRADIUS " + FreeRADIUSVersion + "'s, nor in any loaded with --dictionary or `dictionary =`; load the dictionary of the server that wrote it, e.g. dictionary = \"/etc/freeradius/3.0/dictionary\")")

// EncodeError reports an attribute that cannot be put on the wire: an
// unknown name, a value not valid for the attribute's type, a value too long
// for its attribute. Retrying cannot help; a sink should treat the record
// as a permanent failure (quarantine it).
type EncodeError struct {
	// Attribute is the name as written in the record, with ":tag" if any.
	Attribute string
	// Value is the value as the record has it.
	Value string
	Err   error
}

func (e *EncodeError) Error() string {
	return fmt.Sprintf("attribute %s: %v", e.Attribute, e.Err)
}

func (e *EncodeError) Unwrap() error { return e.Err }

func encodeError(at detail.Attribute, err error) *EncodeError {
	name := at.Name
	if at.HasTag {
		name += ":" + strconv.Itoa(int(at.Tag))
	}
	return &EncodeError{Attribute: name, Value: at.Value, Err: err}
}

// notOnWire lists names detail writers add that no dictionary defines and
// that are not attributes of the packet.
func notOnWire(name string) bool {
	switch {
	case strings.EqualFold(name, "Timestamp"), strings.EqualFold(name, "Donestamp"),
		strings.EqualFold(name, "Request-Authenticator"):
		return true
	}
	return false
}

// span is one wire attribute built by the encoder: its type and the range
// of its payload in encoder.buf.
type span struct {
	typ        byte
	start, end int32
}

type encoder struct {
	d     *Dictionary
	p     *radius.Packet
	buf   []byte
	spans []span
	val   []byte
}

var encoderPool = sync.Pool{New: func() any {
	return &encoder{buf: make([]byte, 0, 2048), spans: make([]span, 0, 64), val: make([]byte, 0, 256)}
}}

// Encode appends the wire form of attrs to p.Attributes, in order. It skips
// server-internal attributes (Acct-Unique-Session-Id, Tmp-*, Packet-*,
// Timestamp, FreeRADIUS-Proxied-To ...), Message-Authenticator (a per-hop
// check the sender must compute afresh) and empty strings (FreeRADIUS does not
// send them either). Tags, encryption (with p.Secret), vendor formats,
// extended and long-extended attributes with fragmentation, concat splitting
// and the Attr-26.9.1 = 0x... form of unknown attributes are handled.
//
// On error p.Attributes is unchanged and the error is an *EncodeError naming
// the attribute.
func (d *Dictionary) Encode(p *radius.Packet, attrs []detail.Attribute) error {
	e := encoderPool.Get().(*encoder)
	e.d, e.p = d, p
	e.buf, e.spans = e.buf[:0], e.spans[:0]
	defer func() {
		e.d, e.p = nil, nil
		if cap(e.buf) <= 1<<16 && cap(e.spans) <= 1<<12 {
			encoderPool.Put(e)
		}
	}()
	for i := range attrs {
		if err := e.attribute(&attrs[i]); err != nil {
			return err
		}
	}
	if len(e.spans) == 0 {
		return nil
	}
	payload := make([]byte, len(e.buf))
	copy(payload, e.buf)
	avps := make([]radius.AVP, len(e.spans))
	p.Attributes = slices.Grow(p.Attributes, len(e.spans))
	for i, s := range e.spans {
		avps[i] = radius.AVP{Type: radius.Type(s.typ), Attribute: payload[s.start:s.end:s.end]}
		p.Attributes = append(p.Attributes, &avps[i])
	}
	return nil
}

func (e *encoder) attribute(at *detail.Attribute) error {
	d := e.d
	a, ok := d.Attribute(at.Name)
	raw := false
	if !ok {
		if notOnWire(at.Name) {
			return nil
		}
		oid, isOID := parseAttrOID(at.Name)
		if !isOID {
			return encodeError(*at, ErrUnknownAttribute)
		}
		var err error
		if a, err = d.oidAttribute(oid); err != nil {
			return encodeError(*at, err)
		}
		raw = true
	}
	if a.Internal || a.Virtual {
		return nil
	}
	if a.Parent == nil && a.Vendor == nil && a.Number == 80 {
		return nil // Message-Authenticator
	}
	var err error
	e.val = e.val[:0]
	if raw {
		if e.val, err = appendHex(e.val, at.Value); err != nil {
			return encodeError(*at, err)
		}
		if len(e.val) == 0 {
			return nil // nothing to send, as for empty strings
		}
	} else {
		if e.val, err = d.appendValue(e.val, a, *at); err != nil {
			return encodeError(*at, err)
		}
		if a.Size > 0 && len(e.val) != a.Size && !a.Array {
			return encodeError(*at, fmt.Errorf("value has %d octets, %s has exactly %d", len(e.val), a.Name, a.Size))
		}
		if len(e.val) == 0 && (a.Type == TypeString || a.Type == TypeOctets) {
			return nil
		}
		if at.HasTag && !a.HasTag {
			return encodeError(*at, fmt.Errorf("%s does not take a tag", a.Name))
		}
		if at.Tag > 0x1f {
			return encodeError(*at, fmt.Errorf("tag %d is out of range (0 to 31)", at.Tag))
		}
		switch a.Encrypt {
		case 1:
			if e.val, err = e.userPassword(e.val); err != nil {
				return encodeError(*at, err)
			}
		case 2:
			if e.val, err = e.tunnelPassword(e.val, at.Tag); err != nil {
				return encodeError(*at, err)
			}
		case 3:
			return encodeError(*at, errors.New("encrypt=3 (Ascend-Secret) is not supported"))
		}
		if a.HasTag && a.Encrypt != 2 {
			switch {
			case a.Type == TypeInteger:
				if e.val[0] != 0 {
					return encodeError(*at, fmt.Errorf("value %s does not fit in the 24 bits a tagged integer has", at.Value))
				}
				e.val[0] = at.Tag
			case at.Tag > 0:
				e.val = append(e.val, 0)
				copy(e.val[1:], e.val)
				e.val[0] = at.Tag
			}
		}
	}
	if err := e.wire(a, e.val); err != nil {
		return encodeError(*at, err)
	}
	return nil
}

// cryptoAuthenticator is the request authenticator the hiding of
// User-Password and Tunnel-Password is keyed with: zero for requests whose
// authenticator is a digest of the packet itself (as FreeRADIUS does).
func (e *encoder) cryptoAuthenticator() []byte {
	switch e.p.Code {
	case radius.CodeAccountingRequest, radius.CodeDisconnectRequest, radius.CodeCoARequest:
		return make([]byte, 16)
	}
	return e.p.Authenticator[:]
}

func (e *encoder) userPassword(plain []byte) ([]byte, error) {
	if len(e.p.Secret) == 0 {
		return nil, errors.New("encrypted attribute needs the packet's shared secret")
	}
	return radius.NewUserPassword(plain, e.p.Secret, e.cryptoAuthenticator())
}

func (e *encoder) tunnelPassword(plain []byte, tag uint8) ([]byte, error) {
	if len(e.p.Secret) == 0 {
		return nil, errors.New("encrypted attribute needs the packet's shared secret")
	}
	var salt [2]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return nil, err
	}
	salt[0] |= 0x80
	enc, err := radius.NewTunnelPassword(plain, salt[:], e.p.Secret, e.cryptoAuthenticator())
	if err != nil {
		return nil, err
	}
	return append([]byte{tag}, enc...), nil
}

func (e *encoder) begin(typ byte) int {
	e.spans = append(e.spans, span{typ: typ, start: int32(len(e.buf))})
	return len(e.spans) - 1
}

func (e *encoder) end(i int) {
	e.spans[i].end = int32(len(e.buf))
}

// wire puts the value data of attribute a into wire attributes, wrapping it
// in its TLV, vendor and extended containers.
func (e *encoder) wire(a *Attribute, data []byte) error {
	if a.Parent != nil {
		switch a.Parent.Type {
		case TypeTLV:
			if len(data) > 253 {
				return fmt.Errorf("value of %d octets is too long for a TLV member (at most 253)", len(data))
			}
			w := make([]byte, 0, len(data)+2)
			w = append(w, byte(a.Number), byte(len(data)+2))
			w = append(w, data...)
			return e.wire(a.Parent, w)
		case TypeExtended, TypeLongExtended:
			var hdr [1]byte
			hdr[0] = byte(a.Number)
			return e.extended(a.Parent, hdr[:], data)
		case TypeEVS:
			if a.Vendor == nil {
				return errors.New("evs member without vendor")
			}
			var hdr [6]byte
			hdr[0] = byte(a.Parent.Number)
			binary.BigEndian.PutUint32(hdr[1:], a.Vendor.ID)
			hdr[5] = byte(a.Number)
			if a.Parent.Parent == nil {
				return errors.New("evs without extended parent")
			}
			return e.extended(a.Parent.Parent, hdr[:], data)
		}
		return fmt.Errorf("parent %s of type %s cannot hold attributes", a.Parent.Name, a.Parent.Type)
	}
	if a.Vendor != nil {
		return e.vsa(a, data)
	}
	if a.Number > 255 {
		return nil // internal
	}
	if len(data) <= 253 {
		i := e.begin(byte(a.Number))
		e.buf = append(e.buf, data...)
		e.end(i)
		return nil
	}
	if !a.Concat {
		return fmt.Errorf("value of %d octets is too long (at most 253)", len(data))
	}
	for len(data) > 0 {
		n := min(len(data), 253)
		i := e.begin(byte(a.Number))
		e.buf = append(e.buf, data[:n]...)
		e.end(i)
		data = data[n:]
	}
	return nil
}

// extended writes an RFC 6929 extended attribute: hdr is the Extended-Type
// octet followed, for an evs, by the Vendor-Id and Vendor-Type.
func (e *encoder) extended(ext *Attribute, hdr, data []byte) error {
	if ext.Parent != nil || ext.Vendor != nil || ext.Number > 255 {
		return fmt.Errorf("%s is not a top-level extended attribute", ext.Name)
	}
	typ := byte(ext.Number)
	if ext.Type == TypeExtended {
		if len(hdr)+len(data) > 253 {
			return fmt.Errorf("value of %d octets is too long for an extended attribute (at most %d)", len(data), 253-len(hdr))
		}
		i := e.begin(typ)
		e.buf = append(e.buf, hdr...)
		e.buf = append(e.buf, data...)
		e.end(i)
		return nil
	}
	// Long Extended Type: Extended-Type, flags (M = more), then the value;
	// the vendor header travels in the first fragment only.
	first := true
	for first || len(data) > 0 {
		i := e.begin(typ)
		room := 251
		e.buf = append(e.buf, hdr[0], 0)
		flagAt := len(e.buf) - 1
		if first {
			e.buf = append(e.buf, hdr[1:]...)
			room -= len(hdr) - 1
		}
		n := min(len(data), room)
		e.buf = append(e.buf, data[:n]...)
		data = data[n:]
		if len(data) > 0 {
			e.buf[flagAt] = 0x80
		}
		e.end(i)
		first = false
	}
	return nil
}

// vsa writes a Vendor-Specific attribute in the vendor's format.
func (e *encoder) vsa(a *Attribute, data []byte) error {
	v := a.Vendor
	hl := v.TypeLen + v.LenLen
	if v.Continuation {
		hl++
	}
	room := 253 - 4 - hl
	if len(data) > room && !v.Continuation && !a.Concat {
		return fmt.Errorf("value of %d octets is too long for a vendor attribute of %s (at most %d)", len(data), v.Name, room)
	}
	if v.TypeLen < 4 && uint64(a.Number) >= 1<<(8*v.TypeLen) {
		return fmt.Errorf("number %d does not fit vendor %s's %d-octet type field", a.Number, v.Name, v.TypeLen)
	}
	first := true
	for first || len(data) > 0 {
		first = false
		n := min(len(data), room)
		i := e.begin(26)
		e.buf = binary.BigEndian.AppendUint32(e.buf, v.ID)
		switch v.TypeLen {
		case 1:
			e.buf = append(e.buf, byte(a.Number))
		case 2:
			e.buf = binary.BigEndian.AppendUint16(e.buf, uint16(a.Number))
		case 4:
			e.buf = binary.BigEndian.AppendUint32(e.buf, a.Number)
		}
		switch v.LenLen {
		case 1:
			e.buf = append(e.buf, byte(hl+n))
		case 2:
			e.buf = binary.BigEndian.AppendUint16(e.buf, uint16(hl+n))
		}
		if v.Continuation {
			flag := byte(0)
			if n < len(data) {
				flag = 0x80
			}
			e.buf = append(e.buf, flag)
		}
		e.buf = append(e.buf, data[:n]...)
		data = data[n:]
		e.end(i)
	}
	return nil
}

// parseAttrOID reads the numbers of an "Attr-26.9.1" name.
func parseAttrOID(name string) ([]uint32, bool) {
	if len(name) < 6 || !strings.EqualFold(name[:5], "Attr-") {
		return nil, false
	}
	parts := strings.Split(name[5:], ".")
	oid := make([]uint32, len(parts))
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return nil, false
		}
		oid[i] = uint32(n)
	}
	return oid, true
}

// oidAttribute returns the attribute at oid, or an unknown attribute of
// type octets that encodes to that place.
func (d *Dictionary) oidAttribute(oid []uint32) (*Attribute, error) {
	if a, ok := d.AttributeByOID(oid); ok && a.Type != TypeVSA {
		return a, nil
	}
	name := "Attr-" + joinOID(oid)
	vendor := func(id uint32) *Vendor {
		if v, ok := d.vendors[id]; ok {
			return v
		}
		return &Vendor{Name: strconv.FormatUint(uint64(id), 10), ID: id, TypeLen: 1, LenLen: 1}
	}
	var cur *Attribute
	i := 0
	switch {
	case oid[0] == 26 && len(oid) >= 3:
		cur = &Attribute{Name: name, Number: oid[2], Vendor: vendor(oid[1])}
		i = 3
	case oid[0] >= 241 && oid[0] <= 246 && len(oid) >= 2:
		ext, ok := d.byNum[numKey{nil, 0, oid[0]}]
		if !ok || (ext.Type != TypeExtended && ext.Type != TypeLongExtended) {
			t := TypeExtended
			if oid[0] >= 245 {
				t = TypeLongExtended
			}
			ext = &Attribute{Name: "Attr-" + strconv.Itoa(int(oid[0])), Number: oid[0], Type: t}
		}
		if oid[1] == 26 && len(oid) >= 4 {
			evs := &Attribute{Name: name, Number: 26, Type: TypeEVS, Parent: ext}
			cur = &Attribute{Name: name, Number: oid[3], Vendor: vendor(oid[2]), Parent: evs}
			i = 4
		} else {
			cur = &Attribute{Name: name, Number: oid[1], Parent: ext}
			i = 2
		}
	case len(oid) == 1:
		cur = &Attribute{Name: name, Number: oid[0]}
		if oid[0] > 255 {
			cur.Internal = true
		}
		i = 1
	default:
		return nil, fmt.Errorf("%s: attribute %d has no members", name, oid[0])
	}
	if cur.Parent != nil && cur.Number > 255 {
		return nil, fmt.Errorf("%s: number %d does not fit in one octet", name, cur.Number)
	}
	for ; i < len(oid); i++ {
		if oid[i] > 255 {
			return nil, fmt.Errorf("%s: TLV number %d does not fit in one octet", name, oid[i])
		}
		cur.Type = TypeTLV
		cur = &Attribute{Name: name, Number: oid[i], Parent: cur, Vendor: cur.Vendor}
	}
	cur.Type = TypeOctets
	return cur, nil
}

func joinOID(oid []uint32) string {
	var b []byte
	for i, n := range oid {
		if i > 0 {
			b = append(b, '.')
		}
		b = appendUint(b, uint64(n))
	}
	return string(b)
}
