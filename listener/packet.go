package listener

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/subtle"
	"encoding/binary"
	"errors"
)

// RADIUS codes the listener handles.
const (
	codeAccountingRequest  = 4
	codeAccountingResponse = 5
	codeStatusServer       = 12
	attrMessageAuth        = 80
)

var (
	errMalformed  = errors.New("malformed packet")
	errBadAuth    = errors.New("bad Request Authenticator")
	errBadMsgAuth = errors.New("bad Message-Authenticator")
	errNoMsgAuth  = errors.New("Status-Server without Message-Authenticator")
)

// checkPacket checks the framing of p (RFC 2865 §3: Length within the
// datagram, attributes that add up) and returns the offset of the
// Message-Authenticator's value, or -1.
func checkPacket(p []byte) (int, error) {
	if len(p) < 20 {
		return -1, errMalformed
	}
	n := int(binary.BigEndian.Uint16(p[2:4]))
	if n < 20 || n > len(p) || n > 4096 {
		return -1, errMalformed
	}
	ma := -1
	for i := 20; i < n; {
		if i+2 > n {
			return -1, errMalformed
		}
		l := int(p[i+1])
		if l < 2 || i+l > n {
			return -1, errMalformed
		}
		if p[i] == attrMessageAuth {
			if l != 18 {
				return -1, errMalformed
			}
			ma = i + 2
		}
		i += l
	}
	return ma, nil
}

// checker is one goroutine's scratch space for checking and answering
// requests: the MD5 of a request is taken over a copy of it in buf, so that
// nothing is allocated per request.
type checker struct {
	buf []byte
}

var zeroAuthenticator [16]byte

// verifyRequest checks an Accounting-Request or Status-Server p (already
// cut to its Length) against secret: the Request Authenticator of an
// Accounting-Request (RFC 2866 §3) and the Message-Authenticator when
// present (RFC 3579 §3.2; required for Status-Server, RFC 5997 §3).
func verifyRequest(p []byte, ma int, secret []byte) error {
	var c checker
	return c.verifyRequest(p, ma, secret)
}

func (c *checker) verifyRequest(p []byte, ma int, secret []byte) error {
	if p[0] == codeAccountingRequest {
		b := append(c.buf[:0], p[:4]...)
		b = append(b, zeroAuthenticator[:]...)
		b = append(b, p[20:]...)
		b = append(b, secret...)
		c.buf = b
		sum := md5.Sum(b)
		if subtle.ConstantTimeCompare(sum[:], p[4:20]) != 1 {
			return errBadAuth
		}
	}
	if ma < 0 {
		if p[0] == codeStatusServer {
			return errNoMsgAuth
		}
		return nil
	}
	var got [16]byte
	copy(got[:], p[ma:ma+16])
	// The HMAC is over the packet with the Message-Authenticator zeroed,
	// and for an Accounting-Request with the authenticator zeroed too (as
	// FreeRADIUS computes it). Work on a copy: p is the caller's.
	q := append(c.buf[:0], p...)
	c.buf = q
	clear(q[ma : ma+16])
	if p[0] == codeAccountingRequest {
		clear(q[4:20])
	}
	m := hmac.New(md5.New, secret)
	m.Write(q)
	if !hmac.Equal(m.Sum(nil), got[:]) {
		return errBadMsgAuth
	}
	return nil
}

// response returns the Accounting-Response to the request p (RFC 2866
// §3: Response Authenticator = MD5(Code+ID+Length+RequestAuth+Attributes+Secret)).
func (c *checker) response(p []byte, secret []byte) [20]byte {
	var r [20]byte
	r[0], r[1] = codeAccountingResponse, p[1]
	binary.BigEndian.PutUint16(r[2:4], 20)
	b := append(c.buf[:0], r[:4]...)
	b = append(b, p[4:20]...)
	b = append(b, secret...)
	c.buf = b
	sum := md5.Sum(b)
	copy(r[4:], sum[:])
	return r
}

// cachedResponse is the Accounting-Response to a retransmission of the
// request with Identifier id, answered before with the Response
// Authenticator auth: an Accounting-Response has no attributes, so it is the
// same bytes again.
func cachedResponse(id byte, auth [16]byte) []byte {
	r := make([]byte, 20)
	r[0], r[1] = codeAccountingResponse, id
	binary.BigEndian.PutUint16(r[2:4], 20)
	copy(r[4:], auth[:])
	return r
}

// statusResponse returns the Accounting-Response to a Status-Server p, with
// a Message-Authenticator (RFC 5997 §3: the response carries one, computed
// with the request's authenticator in place, RFC 3579 §3.2).
func statusResponse(p []byte, secret []byte) []byte {
	r := make([]byte, 38)
	r[0], r[1] = codeAccountingResponse, p[1]
	binary.BigEndian.PutUint16(r[2:4], 38)
	copy(r[4:20], p[4:20])
	r[20], r[21] = attrMessageAuth, 18
	m := hmac.New(md5.New, secret)
	m.Write(r)
	m.Sum(r[22:22])
	h := md5.New()
	h.Write(r)
	h.Write(secret)
	h.Sum(r[4:4])
	return r
}
