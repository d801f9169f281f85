package dictionary

import (
	"encoding/binary"

	"layeh.com/radius"

	"github.com/radrelay/radrelay/detail"
)

type decoder struct {
	d     *Dictionary
	p     *radius.Packet
	attrs radius.Attributes
	i     int // index of the wire attribute being decoded
	out   []detail.Attribute
	base  int // len(out) before this packet's
	// The values' text is collected in text and made into one string at
	// the end: one allocation for all values. The end of out[base+i]'s
	// value in text (it starts where out[base+i-1]'s ends) is fixedEnds[i]
	// for the first len(fixedEnds), moreEnds[i-len(fixedEnds)] after them:
	// the array is
	// part of the decoder, which stays on Decode's stack (a slice of an
	// array of Decode's would send the array to the heap, an allocation
	// per packet).
	text      []byte
	fixedEnds [64]int
	moreEnds  []int
}

// end is where out[base+i]'s value ends in text.
func (dec *decoder) end(i int) int {
	if i < len(dec.fixedEnds) {
		return dec.fixedEnds[i]
	}
	return dec.moreEnds[i-len(dec.fixedEnds)]
}

// Decode returns the attributes of p as FreeRADIUS 3.2 prints them in a
// detail file: names from the dictionary (the last defined for a number),
// VALUE names for integers, quoted strings with their raw bytes in Value,
// 0x hex for octets, "Name:tag" for tagged attributes, dates in d.Location,
// and "Attr-26.9.1 = 0x..." for attributes the dictionary does not know or
// whose data is not valid for their type. Concat attributes, long extended
// fragments and WiMAX continuations are joined. Hidden values (User-Password,
// Tunnel-Password) are revealed with p.Secret.
//
// Decode does not fail on malformed data (it prints it raw); the error is
// reserved for future use and is always nil today.
func (d *Dictionary) Decode(p *radius.Packet) ([]detail.Attribute, error) {
	return d.DecodeAppend(make([]detail.Attribute, 0, len(p.Attributes)), p)
}

// DecodeAppend is Decode appending p's attributes to dst (and returning the
// extended slice), for a caller that reuses one slice from packet to packet
// (the listener, per request) or joins the attributes of several packets.
func (d *Dictionary) DecodeAppend(dst []detail.Attribute, p *radius.Packet) ([]detail.Attribute, error) {
	dec := decoder{d: d, p: p, attrs: p.Attributes, out: dst, base: len(dst)}
	// Room for the text: twice the data (0x hex, escapes are rarer) and a
	// few octets an attribute, and a date's ("Dec  6 2026 08:06:44 UTC",
	// 24 characters for 4 octets): growing the buffer is an allocation and
	// a copy.
	n := 32
	for _, avp := range p.Attributes {
		if avp != nil {
			n += 2*len(avp.Attribute) + 8
		}
	}
	dec.text = make([]byte, 0, n)
	for dec.i = 0; dec.i < len(dec.attrs); dec.i++ {
		avp := dec.attrs[dec.i]
		if avp == nil || avp.Type < 0 || avp.Type > 255 {
			continue
		}
		dec.top(byte(avp.Type), avp.Attribute)
	}
	all := string(dec.text)
	start := 0
	for i := range dec.out[dec.base:] {
		end := dec.end(i)
		dec.out[dec.base+i].Value = all[start:end]
		start = end
	}
	return dec.out, nil
}

// emit adds an attribute whose value text has just been appended to dec.text.
func (dec *decoder) emit(a detail.Attribute) {
	if i := len(dec.out) - dec.base; i < len(dec.fixedEnds) {
		dec.fixedEnds[i] = len(dec.text)
	} else {
		dec.moreEnds = append(dec.moreEnds, len(dec.text))
	}
	dec.out = append(dec.out, a)
}

func (dec *decoder) top(typ byte, data []byte) {
	a, ok := dec.d.byNum[numKey{nil, 0, uint32(typ)}]
	if typ == 26 && (!ok || a.Type == TypeVSA) {
		dec.vsa(data)
		return
	}
	if !ok {
		dec.raw(nil, data, uint32(typ))
		return
	}
	switch a.Type {
	case TypeExtended, TypeLongExtended:
		dec.extended(a, data)
		return
	}
	if a.Concat {
		// Join the following attributes of the same type.
		for dec.i+1 < len(dec.attrs) && dec.attrs[dec.i+1] != nil && dec.attrs[dec.i+1].Type == radius.Type(typ) {
			dec.i++
			data = append(data[:len(data):len(data)], dec.attrs[dec.i].Attribute...)
		}
	}
	dec.leaf(a, data)
}

// raw emits an attribute in its Attr-<oid> = 0x... form; parent is the
// known attribute the numbers are relative to (nil for the top level).
func (dec *decoder) raw(parent *Attribute, data []byte, nums ...uint32) {
	b := make([]byte, 0, 32)
	b = append(b, "Attr-"...)
	if parent != nil {
		b = parent.appendOID(b)
	}
	for i, n := range nums {
		if i > 0 || parent != nil {
			b = append(b, '.')
		}
		b = appendUint(b, uint64(n))
	}
	dec.text = appendHexText(dec.text, data)
	dec.emit(detail.Attribute{Name: string(b)})
}

// rawAttr emits a known attribute's data raw under its numeric name, as
// FreeRADIUS does when the data does not fit the type.
func (dec *decoder) rawAttr(a *Attribute, data []byte) {
	dec.text = appendHexText(dec.text, data)
	dec.emit(detail.Attribute{Name: "Attr-" + a.OID()})
}

func (dec *decoder) leaf(a *Attribute, data []byte) {
	if a.Type == TypeTLV {
		dec.tlv(a, data)
		return
	}
	if a.Type == TypeEVS || a.Type == TypeVSA || a.Type == TypeExtended || a.Type == TypeLongExtended {
		dec.rawAttr(a, data)
		return
	}
	out := detail.Attribute{Name: a.Name}
	if a.HasTag {
		out.HasTag = true
		switch {
		case a.Encrypt == 2 || (a.Type != TypeInteger && len(data) > 0 && data[0] >= 1 && data[0] <= 0x1f):
			if len(data) == 0 {
				dec.rawAttr(a, data)
				return
			}
			out.Tag, data = data[0], data[1:]
		case a.Type == TypeInteger && len(data) == 4:
			if data[0] > 0x1f {
				// Not a tag (RFC 2868: 0 to 0x1F): malformed, print raw.
				dec.rawAttr(a, data)
				return
			}
			out.Tag = data[0]
			var b [4]byte
			copy(b[1:], data[1:])
			data = b[:]
		}
	}
	switch a.Encrypt {
	case 1:
		plain, err := radius.UserPassword(data, dec.p.Secret, dec.cryptoAuthenticator())
		if err != nil {
			dec.rawAttr(a, data)
			return
		}
		data = plain
	case 2:
		plain, _, err := radius.TunnelPassword(data, dec.p.Secret, dec.cryptoAuthenticator())
		if err != nil {
			dec.rawAttr(a, data)
			return
		}
		data = plain
	}
	if a.Size > 0 && len(data) != a.Size && !a.Array {
		dec.rawAttr(a, data)
		return
	}
	text, quoted, ok := dec.d.appendText(dec.text, a, data)
	if !ok {
		dec.rawAttr(a, data)
		return
	}
	dec.text = text
	out.Quoted = quoted
	dec.emit(out)
}

func (dec *decoder) cryptoAuthenticator() []byte {
	switch dec.p.Code {
	case radius.CodeAccountingRequest, radius.CodeDisconnectRequest, radius.CodeCoARequest:
		return make([]byte, 16)
	}
	return dec.p.Authenticator[:]
}

// tlv emits the members of a TLV; malformed contents are printed raw.
func (dec *decoder) tlv(a *Attribute, data []byte) {
	for b := data; len(b) > 0; {
		if len(b) < 2 || int(b[1]) < 2 || int(b[1]) > len(b) {
			dec.rawAttr(a, data)
			return
		}
		b = b[b[1]:]
	}
	for b := data; len(b) > 0; b = b[b[1]:] {
		t, v := b[0], b[2:b[1]]
		if c, ok := dec.d.byNum[numKey{a, 0, uint32(t)}]; ok {
			dec.leaf(c, v)
		} else {
			dec.raw(a, v, uint32(t))
		}
	}
}

// extended decodes an RFC 6929 extended or long extended attribute.
func (dec *decoder) extended(ext *Attribute, data []byte) {
	if len(data) < 1 || (ext.Type == TypeLongExtended && len(data) < 2) {
		dec.rawAttr(ext, data)
		return
	}
	et := data[0]
	var value []byte
	if ext.Type == TypeExtended {
		value = data[1:]
	} else {
		value = data[2:]
		more := data[1]&0x80 != 0
		if more {
			value = append([]byte(nil), value...)
		}
		for more {
			next := dec.i + 1
			if next >= len(dec.attrs) || dec.attrs[next] == nil || dec.attrs[next].Type != radius.Type(ext.Number) ||
				len(dec.attrs[next].Attribute) < 2 || dec.attrs[next].Attribute[0] != et {
				break // a missing last fragment: decode what there is
			}
			dec.i = next
			frag := dec.attrs[next].Attribute
			value = append(value, frag[2:]...)
			more = frag[1]&0x80 != 0
		}
	}
	if et == 26 {
		if evs, ok := dec.d.byNum[numKey{ext, 0, 26}]; ok && evs.Type == TypeEVS {
			if len(value) < 5 {
				dec.raw(ext, value, 26)
				return
			}
			vid := binary.BigEndian.Uint32(value)
			vt := value[4]
			if a, ok := dec.d.byNum[numKey{evs, vid, uint32(vt)}]; ok {
				dec.leaf(a, value[5:])
			} else {
				dec.raw(evs, value[5:], vid, uint32(vt))
			}
			return
		}
	}
	if a, ok := dec.d.byNum[numKey{ext, 0, uint32(et)}]; ok {
		dec.leaf(a, value)
		return
	}
	dec.raw(ext, value, uint32(et))
}

// vsa decodes a Vendor-Specific attribute holding one or more vendor
// attributes in the vendor's format (1,1 for unknown vendors). Data that
// does not parse is printed raw as Attr-26.
func (dec *decoder) vsa(data []byte) {
	if len(data) < 5 || data[0] != 0 {
		dec.raw(nil, data, 26)
		return
	}
	vid := binary.BigEndian.Uint32(data)
	v, known := dec.d.vendors[vid]
	tl, ll, cont := 1, 1, false
	if known {
		tl, ll, cont = v.TypeLen, v.LenLen, v.Continuation
	}
	hl := tl + ll
	if cont {
		hl++
	}
	body := data[4:]
	// Validate every vendor attribute before emitting any.
	for b := body; len(b) > 0; {
		if len(b) < hl {
			dec.raw(nil, data, 26)
			return
		}
		n := len(b)
		switch ll {
		case 1:
			n = int(b[tl])
		case 2:
			n = int(binary.BigEndian.Uint16(b[tl:]))
		}
		if n < hl || n > len(b) {
			dec.raw(nil, data, 26)
			return
		}
		b = b[n:]
	}
	for b := body; len(b) > 0; {
		var vt uint32
		switch tl {
		case 1:
			vt = uint32(b[0])
		case 2:
			vt = uint32(binary.BigEndian.Uint16(b))
		case 4:
			vt = binary.BigEndian.Uint32(b)
		}
		n := len(b)
		switch ll {
		case 1:
			n = int(b[tl])
		case 2:
			n = int(binary.BigEndian.Uint16(b[tl:]))
		}
		value := b[hl:n]
		if cont && b[hl-1]&0x80 != 0 && n == len(b) {
			// WiMAX continuation: the value goes on in the next
			// Vendor-Specific attributes of the same vendor and type.
			value = append([]byte(nil), value...)
			for more := true; more; {
				next := dec.i + 1
				if next >= len(dec.attrs) || dec.attrs[next] == nil || dec.attrs[next].Type != 26 {
					break
				}
				nd := dec.attrs[next].Attribute
				if len(nd) < 4+hl || binary.BigEndian.Uint32(nd) != vid || uint32(nd[4]) != vt || int(nd[5]) != len(nd)-4 {
					break
				}
				dec.i = next
				value = append(value, nd[4+hl:]...)
				more = nd[4+hl-1]&0x80 != 0
			}
		}
		if a, ok := dec.d.byNum[numKey{nil, vid, vt}]; ok {
			dec.leaf(a, value)
		} else {
			dec.raw(nil, value, 26, vid, vt)
		}
		b = b[n:]
	}
}
