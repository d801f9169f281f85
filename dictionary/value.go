package dictionary

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/radrelay/radrelay/detail"
)

// dateLayout is how FreeRADIUS 3.2 prints dates: strftime "%b %e %Y %H:%M:%S %Z"
// in the server's local zone.
const dateLayout = "Jan _2 2006 15:04:05 MST"

// appendValue appends the wire form of the text value v of an attribute of
// type a.Type (without tag or encryption) to dst.
func (d *Dictionary) appendValue(dst []byte, a *Attribute, v detail.Attribute) ([]byte, error) {
	s := valueText(a, v)
	switch a.Type {
	case TypeString:
		return append(dst, s...), nil
	case TypeOctets, TypeABinary, TypeTLV, TypeVSA, TypeExtended, TypeLongExtended, TypeEVS:
		if v.Quoted && a.Type == TypeOctets {
			// FreeRADIUS accepts a quoted string for octets: its bytes.
			dst = append(dst, s...)
		} else {
			var err error
			if dst, err = appendHex(dst, s); err != nil {
				return dst, err
			}
		}
		return dst, nil
	case TypeIPAddr:
		ip, err := parseIPv4(s)
		if err != nil {
			return dst, err
		}
		b := ip.As4()
		return append(dst, b[:]...), nil
	case TypeIPv6Addr:
		ip, err := netip.ParseAddr(s)
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return dst, fmt.Errorf("%q is not an IPv6 address", s)
		}
		b := ip.As16()
		return append(dst, b[:]...), nil
	case TypeComboIP:
		ip, err := netip.ParseAddr(s)
		if err != nil || ip.Zone() != "" {
			return dst, fmt.Errorf("%q is not an IP address", s)
		}
		return append(dst, ip.AsSlice()...), nil
	case TypeIPv4Prefix:
		p, err := parsePrefix(s, false)
		if err != nil {
			return dst, err
		}
		b := p.Addr().As4()
		dst = append(dst, 0, byte(p.Bits()))
		return append(dst, b[:]...), nil
	case TypeIPv6Prefix:
		p, err := parsePrefix(s, true)
		if err != nil {
			return dst, err
		}
		b := p.Addr().As16()
		dst = append(dst, 0, byte(p.Bits()))
		// The octets the prefix covers, and any non-zero ones after it
		// (bits past the length are kept, as FreeRADIUS prints them).
		n := (p.Bits() + 7) / 8
		for i := n; i < 16; i++ {
			if b[i] != 0 {
				n = i + 1
			}
		}
		return append(dst, b[:n]...), nil
	case TypeInteger, TypeShort, TypeByte, TypeInteger64, TypeDate:
		n, err := d.parseUnsigned(a, s)
		if err != nil {
			return dst, err
		}
		switch a.Type {
		case TypeInteger, TypeDate:
			if n > math.MaxUint32 {
				return dst, fmt.Errorf("%s does not fit in 32 bits", s)
			}
			return binary.BigEndian.AppendUint32(dst, uint32(n)), nil
		case TypeShort:
			if n > math.MaxUint16 {
				return dst, fmt.Errorf("%s does not fit in 16 bits", s)
			}
			return binary.BigEndian.AppendUint16(dst, uint16(n)), nil
		case TypeByte:
			if n > math.MaxUint8 {
				return dst, fmt.Errorf("%s does not fit in 8 bits", s)
			}
			return append(dst, byte(n)), nil
		}
		return binary.BigEndian.AppendUint64(dst, n), nil
	case TypeSigned:
		if n, ok := a.ValueNumber(s); ok {
			return binary.BigEndian.AppendUint32(dst, uint32(n)), nil
		}
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return dst, fmt.Errorf("%q is not a signed 32-bit integer", s)
		}
		return binary.BigEndian.AppendUint32(dst, uint32(int32(n))), nil
	case TypeIfid:
		var b [8]byte
		if err := parseIfid(b[:], s); err != nil {
			return dst, err
		}
		return append(dst, b[:]...), nil
	case TypeEther:
		var b [6]byte
		if err := parseEther(b[:], s); err != nil {
			return dst, err
		}
		return append(dst, b[:]...), nil
	}
	return dst, fmt.Errorf("type %s cannot be encoded", a.Type)
}

// valueText is the value of v as text. The detail Reader takes a leading
// "::" for FreeRADIUS 4's enumeration prefix ("::Start"); for an attribute
// that is not an integer it is part of the value (an IPv6 address "::1").
func valueText(a *Attribute, v detail.Attribute) string {
	if v.Enum && !a.Type.isInteger() && a.Type != TypeDate {
		return "::" + v.Value
	}
	return v.Value
}

// parseUnsigned reads an integer, integer64, short, byte or date value:
// a VALUE name, a decimal or 0x number, or (dates) a date as FreeRADIUS
// prints it.
func (d *Dictionary) parseUnsigned(a *Attribute, s string) (uint64, error) {
	if len(s) > 0 && s[0] >= '0' && s[0] <= '9' {
		if n, err := strconv.ParseUint(s, 0, 64); err == nil {
			return n, nil
		}
	}
	if a.Type == TypeDate {
		t, err := d.parseDate(s)
		if err != nil {
			return 0, err
		}
		if t.Unix() < 0 || t.Unix() > math.MaxUint32 {
			return 0, fmt.Errorf("date %q is out of range", s)
		}
		return uint64(t.Unix()), nil
	}
	if n, ok := a.ValueNumber(s); ok {
		return n, nil
	}
	if s == "" {
		return 0, errors.New("empty value")
	}
	return 0, fmt.Errorf("%q is neither a number nor a VALUE name of %s", s, a.Name)
}

func (d *Dictionary) parseDate(s string) (time.Time, error) {
	if t, ok := parseUTCDate(s); ok {
		return t, nil
	}
	loc := d.location()
	if t, err := time.ParseInLocation(dateLayout, s, loc); err == nil {
		if name, _ := t.Zone(); t.Location() != loc && t.Location() != time.UTC && name != "UTC" {
			// An abbreviation the location does not know: like FreeRADIUS
			// (strptime ignores %Z, mktime uses the local zone), read the
			// wall clock in the dictionary's location.
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, loc)
		}
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a date (want seconds since 1970 or e.g. \"Nov 23 2026 11:00:00 UTC\")", s)
}

var months = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// parseUTCDate is the fast path of parseDate for the form FreeRADIUS
// writes on servers running in UTC, "Nov 23 2026 11:00:00 UTC" (or with
// GMT, or the day padded with a space): every Event-Timestamp of such a
// file goes through it.
func parseUTCDate(s string) (time.Time, bool) {
	// "Mmm DD YYYY HH:MM:SS ZZZ": 24 bytes.
	if len(s) != 24 || s[3] != ' ' || s[6] != ' ' || s[11] != ' ' || s[14] != ':' || s[17] != ':' || s[20] != ' ' {
		return time.Time{}, false
	}
	if z := s[21:]; z != "UTC" && z != "GMT" {
		return time.Time{}, false
	}
	month := 0
	for i, m := range months {
		if s[:3] == m {
			month = i + 1
			break
		}
	}
	if month == 0 {
		return time.Time{}, false
	}
	num := func(b string) (int, bool) {
		n := 0
		for i := 0; i < len(b); i++ {
			c := b[i]
			if c == ' ' && i == 0 {
				continue
			}
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	day, ok1 := num(s[4:6])
	year, ok2 := num(s[7:11])
	hour, ok3 := num(s[12:14])
	minute, ok4 := num(s[15:17])
	sec, ok5 := num(s[18:20])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC)
	if t.Day() != day { // Feb 30 and the like
		return time.Time{}, false
	}
	return t, true
}

func appendHex(dst []byte, s string) ([]byte, error) {
	h, ok := strings.CutPrefix(s, "0x")
	if !ok {
		h, ok = strings.CutPrefix(s, "0X")
	}
	if !ok {
		return dst, fmt.Errorf("%q is not hexadecimal octets (0x...)", s)
	}
	if len(h)%2 != 0 {
		return dst, fmt.Errorf("%q has an odd number of hex digits", s)
	}
	n := len(dst)
	dst = append(dst, make([]byte, len(h)/2)...)
	if _, err := hex.Decode(dst[n:], []byte(h)); err != nil {
		return dst[:n], fmt.Errorf("%q is not hexadecimal octets: %v", s, err)
	}
	return dst, nil
}

func parseIPv4(s string) (netip.Addr, error) {
	s = strings.TrimSuffix(s, "/32")
	ip, err := netip.ParseAddr(s)
	if err != nil || !ip.Is4() {
		return netip.Addr{}, fmt.Errorf("%q is not an IPv4 address", s)
	}
	return ip, nil
}

func parsePrefix(s string, v6 bool) (netip.Prefix, error) {
	want := "IPv4"
	if v6 {
		want = "IPv6"
	}
	var p netip.Prefix
	var err error
	if strings.IndexByte(s, '/') < 0 {
		var ip netip.Addr
		if ip, err = netip.ParseAddr(s); err == nil {
			p = netip.PrefixFrom(ip, ip.BitLen())
		}
	} else {
		p, err = netip.ParsePrefix(s)
	}
	if err != nil || p.Addr().Is6() != v6 || p.Addr().Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not an %s prefix", s, want)
	}
	return p, nil
}

func parseIfid(dst []byte, s string) error {
	parts := strings.Split(s, ":")
	if len(parts) != 4 {
		return fmt.Errorf("%q is not an interface id (want x:x:x:x)", s)
	}
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 16, 16)
		if err != nil || p == "" {
			return fmt.Errorf("%q is not an interface id (want x:x:x:x)", s)
		}
		binary.BigEndian.PutUint16(dst[2*i:], uint16(n))
	}
	return nil
}

func parseEther(dst []byte, s string) error {
	sep := ":"
	if strings.IndexByte(s, '-') >= 0 {
		sep = "-"
	}
	parts := strings.Split(s, sep)
	if len(parts) != 6 {
		return fmt.Errorf("%q is not an Ethernet address (want aa:bb:cc:dd:ee:ff)", s)
	}
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 16, 8)
		if err != nil || p == "" {
			return fmt.Errorf("%q is not an Ethernet address (want aa:bb:cc:dd:ee:ff)", s)
		}
		dst[i] = byte(n)
	}
	return nil
}

// appendText appends the text FreeRADIUS 3.2 prints for wire data b of
// attribute a to dst and reports whether it is quoted; ok is false (and dst
// unchanged) when the data is not valid for the type, and the caller then
// prints it raw.
func (d *Dictionary) appendText(dst []byte, a *Attribute, b []byte) (out []byte, quoted, ok bool) {
	switch a.Type {
	case TypeString:
		return append(dst, b...), true, true
	case TypeOctets, TypeABinary, TypeTLV, TypeVSA, TypeExtended, TypeLongExtended, TypeEVS:
		return appendHexText(dst, b), false, true
	case TypeIPAddr:
		if len(b) != 4 {
			return dst, false, false
		}
		return netip.AddrFrom4([4]byte(b)).AppendTo(dst), false, true
	case TypeIPv6Addr:
		if len(b) != 16 {
			return dst, false, false
		}
		return netip.AddrFrom16([16]byte(b)).AppendTo(dst), false, true
	case TypeComboIP:
		switch len(b) {
		case 4:
			return netip.AddrFrom4([4]byte(b)).AppendTo(dst), false, true
		case 16:
			return netip.AddrFrom16([16]byte(b)).AppendTo(dst), false, true
		}
		return dst, false, false
	case TypeIPv4Prefix:
		if len(b) != 6 || b[1] > 32 {
			return dst, false, false
		}
		dst = netip.AddrFrom4([4]byte(b[2:])).AppendTo(dst)
		return strconv.AppendUint(append(dst, '/'), uint64(b[1]), 10), false, true
	case TypeIPv6Prefix:
		if len(b) < 2 || len(b) > 18 || b[1] > 128 {
			return dst, false, false
		}
		var a16 [16]byte
		copy(a16[:], b[2:])
		dst = netip.AddrFrom16(a16).AppendTo(dst)
		return strconv.AppendUint(append(dst, '/'), uint64(b[1]), 10), false, true
	case TypeInteger, TypeDate:
		if len(b) != 4 {
			return dst, false, false
		}
		return d.appendUnsigned(dst, a, uint64(binary.BigEndian.Uint32(b))), a.Type == TypeDate, true
	case TypeShort:
		if len(b) != 2 {
			return dst, false, false
		}
		return d.appendUnsigned(dst, a, uint64(binary.BigEndian.Uint16(b))), false, true
	case TypeByte:
		if len(b) != 1 {
			return dst, false, false
		}
		return d.appendUnsigned(dst, a, uint64(b[0])), false, true
	case TypeInteger64:
		if len(b) != 8 {
			return dst, false, false
		}
		return d.appendUnsigned(dst, a, binary.BigEndian.Uint64(b)), false, true
	case TypeSigned:
		if len(b) != 4 {
			return dst, false, false
		}
		n := int32(binary.BigEndian.Uint32(b))
		if name, ok := a.ValueName(uint64(uint32(n))); ok {
			return append(dst, name...), false, true
		}
		return strconv.AppendInt(dst, int64(n), 10), false, true
	case TypeIfid:
		if len(b) != 8 {
			return dst, false, false
		}
		for i := 0; i < 8; i += 2 {
			if i > 0 {
				dst = append(dst, ':')
			}
			dst = strconv.AppendUint(dst, uint64(binary.BigEndian.Uint16(b[i:])), 16)
		}
		return dst, false, true
	case TypeEther:
		if len(b) != 6 {
			return dst, false, false
		}
		for i, c := range b {
			if i > 0 {
				dst = append(dst, ':')
			}
			dst = append(dst, hexDigits[c>>4], hexDigits[c&15])
		}
		return dst, false, true
	}
	return dst, false, false
}

const hexDigits = "0123456789abcdef"

func (d *Dictionary) appendUnsigned(dst []byte, a *Attribute, n uint64) []byte {
	if a.Type == TypeDate {
		return time.Unix(int64(n), 0).In(d.location()).AppendFormat(dst, dateLayout)
	}
	if name, ok := a.ValueName(n); ok {
		return append(dst, name...)
	}
	return strconv.AppendUint(dst, n, 10)
}

func appendHexText(dst, b []byte) []byte {
	dst = append(dst, '0', 'x')
	for _, c := range b {
		dst = append(dst, hexDigits[c>>4], hexDigits[c&15])
	}
	return dst
}

func hexString(b []byte) string {
	return string(appendHexText(make([]byte, 0, 2+2*len(b)), b))
}
