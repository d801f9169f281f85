package postgres

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/radrelay/radrelay/detail"
)

// statusType is the Acct-Status-Type of a record as the SQL queries see it.
type statusType int

const (
	statusNone statusType = iota // no Acct-Status-Type: FreeRADIUS runs no query
	statusStart
	statusStop
	statusInterim
	statusAccountingOn
	statusAccountingOff
	statusOther // a status type FreeRADIUS's queries.conf has no queries for
)

func (s statusType) String() string {
	switch s {
	case statusStart:
		return "Start"
	case statusStop:
		return "Stop"
	case statusInterim:
		return "Interim-Update"
	case statusAccountingOn:
		return "Accounting-On"
	case statusAccountingOff:
		return "Accounting-Off"
	case statusNone:
		return ""
	}
	return "other"
}

// parseStatus interprets an Acct-Status-Type value: the VALUE names of the
// FreeRADIUS dictionary (any case, "Alive" being the old name of 3), or the
// number (FreeRADIUS 4 "::Start" enum values arrive with Value "Start").
func parseStatus(v string) statusType {
	v = strings.TrimPrefix(strings.TrimSpace(v), "::")
	switch strings.ToLower(v) {
	case "start", "1":
		return statusStart
	case "stop", "2":
		return statusStop
	case "interim-update", "alive", "3":
		return statusInterim
	case "accounting-on", "7":
		return statusAccountingOn
	case "accounting-off", "8":
		return statusAccountingOff
	}
	return statusOther
}

// acct is what the SQL semantics need of one record, computed once.
type acct struct {
	rec      *detail.Record
	status   statusType
	statusV  string // the Acct-Status-Type value as written ("" when none)
	event    int64  // event time, Unix seconds
	received int64  // receive time (Timestamp line), Unix seconds; 0 when unknown
	uniqueID string
	nas      string // NAS-IPv6-Address or NAS-IP-Address (0.0.0.0 when neither)

	sessionID, userName, realm, nasPortID, nasPortType      string
	authentic, connectInfo, calledStation, callingStation   string
	terminateCause, serviceType, framedProtocol             string
	nasIdentifier                                           string
	framedIP, framedIPv6, framedIPv6Prefix, delegatedPrefix *string // validated inet text or nil
	framedInterfaceID                                       *string
	class                                                   *string
	sessionTime                                             *int64 // nil when absent
	inputOctets, outputOctets                               int64  // gigawords applied
	// inputGigawords, outputGigawords: the record carries the Gigawords
	// attribute, so its counter is 64 bits wide and cannot wrap.
	inputGigawords, outputGigawords bool

	fingerprint []byte
	foreignZone string // Event-Timestamp's zone name when it is not one this machine knows
}

// eventTimestampLayout is how FreeRADIUS 3.2 prints a date attribute in a
// detail file (strftime "%b %e %Y %H:%M:%S %Z"), without the zone.
const eventTimestampLayout = "Jan _2 2006 15:04:05"

// numericZone matches the zone names of tz zones without an abbreviation
// ("+04", "-0330"), which give their offset.
var numericZone = regexp.MustCompile(`^[+-][0-9]{2}([0-9]{2})?$`)

// parseEventTime parses an Event-Timestamp value as parseEventTimeZone
// does, reading a date in a foreign zone as local time.
func parseEventTime(v string) (int64, error) {
	t, _, err := parseEventTimeZone(v)
	return t, err
}

// parseEventTimeZone parses an Event-Timestamp value: an integer (dates
// written with dates_as_integer) or FreeRADIUS's date print, whose zone
// name is the writer's local zone abbreviation. UTC and GMT, numeric names
// ("+04") and the names of this machine's local zone are honoured; the
// name settles the offset, so the repeated hour at the end of daylight
// saving time ("02:30:00 CEST" and "02:30:00 CET") is read right. Any other
// name cannot be converted without the writer's zone database: the date is
// read as local time and the name returned as foreign, so that the caller
// can prefer another clock.
func parseEventTimeZone(v string) (sec int64, foreign string, err error) {
	v = strings.TrimSpace(v)
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n, "", nil
	}
	fields := strings.Fields(v)
	if len(fields) < 4 {
		return 0, "", fmt.Errorf("Event-Timestamp %q is neither an integer nor a date like \"Nov 23 2026 11:00:00 UTC\"", v)
	}
	wall := strings.Join(fields[:4], " ")
	local, err := time.ParseInLocation(eventTimestampLayout, wall, time.Local)
	if err != nil {
		return 0, "", fmt.Errorf("Event-Timestamp %q: %v", v, err)
	}
	if len(fields) < 5 {
		return local.Unix(), "", nil
	}
	zone := fields[4]
	switch strings.ToUpper(zone) {
	case "UTC", "GMT", "Z", "UT":
		t, _ := time.ParseInLocation(eventTimestampLayout, wall, time.UTC)
		return t.Unix(), "", nil
	}
	if m := numericZone.FindStringSubmatch(zone); m != nil {
		h, _ := strconv.Atoi(zone[1:3])
		mins := 0
		if m[1] != "" {
			mins, _ = strconv.Atoi(m[1])
		}
		off := int64(h*3600 + mins*60)
		if zone[0] == '-' {
			off = -off
		}
		t, _ := time.ParseInLocation(eventTimestampLayout, wall, time.UTC)
		return t.Unix() - off, "", nil
	}
	// With a zone abbreviation the time package takes the offset the local
	// zone gives that name, and makes up a zero-offset zone for a name the
	// local zone does not have.
	t, err := time.ParseInLocation(eventTimestampLayout+" MST", wall+" "+zone, time.Local)
	if err != nil || t.Location() != time.Local {
		return local.Unix(), zone, nil
	}
	return t.Unix(), "", nil
}

// maxEventTime is 9999-12-31 23:59:59 UTC: later event times are garbage
// (and would need history partitions PostgreSQL cannot name).
const maxEventTime = 253402300799

// headerLayout is the ctime form of a detail record's header line.
const headerLayout = "Mon Jan _2 15:04:05 2006"

// classPrefix is FreeRADIUS's default policy.class_value_prefix: a Class
// value starting with it and 32 hex digits was made by insert_acct_class.
const classPrefix = "ai:"

var classIDPattern = regexp.MustCompile(`(?i)^ai:([0-9a-f]{32})`)

// wantedNames are the attributes the queries read.
var wantedNames = []string{
	"Acct-Status-Type", "Event-Timestamp", "Acct-Unique-Session-Id", "NAS-IPv6-Address",
	"NAS-IP-Address", "Acct-Session-Id", "User-Name", "Realm", "NAS-Port-Id", "NAS-Port",
	"NAS-Port-Type", "Acct-Authentic", "Connect-Info", "Called-Station-Id",
	"Calling-Station-Id", "Acct-Terminate-Cause", "Service-Type", "Framed-Protocol",
	"NAS-Identifier", "Framed-IP-Address", "Framed-IPv6-Address", "Framed-IPv6-Prefix",
	"Delegated-IPv6-Prefix", "Framed-Interface-Id", "Class", "Acct-Session-Time",
	"Acct-Input-Octets", "Acct-Input-Gigawords", "Acct-Output-Octets", "Acct-Output-Gigawords",
}

// wantedExact maps each wanted name as spelled in wantedNames to its index.
var wantedExact = func() map[string]int {
	m := make(map[string]int, len(wantedNames))
	for i, n := range wantedNames {
		m[n] = i
	}
	return m
}()

// attrSet holds the first occurrence of each wanted attribute of a record,
// found in one pass (names compared case-insensitively, as FreeRADIUS does).
type attrSet struct {
	attrs [30]*detail.Attribute
}

func newAttrSet(r *detail.Record) *attrSet {
	s := &attrSet{}
	for i := range r.Attrs {
		a := &r.Attrs[i]
		if len(a.Name) >= len(wantedByLen) {
			continue
		}
		// Only the wanted names of the same length are compared: most
		// attributes are not wanted, and most lengths have one or two
		// (this was a map lookup of a lower-cased copy per attribute).
		for _, k := range wantedByLen[len(a.Name)] {
			if s.attrs[k] == nil && strings.EqualFold(a.Name, wantedNames[k]) {
				s.attrs[k] = a
				break
			}
		}
	}
	return s
}

// wantedByLen lists the indexes of wantedNames by the names' length.
var wantedByLen = func() [][]int {
	longest := 0
	for _, n := range wantedNames {
		longest = max(longest, len(n))
	}
	byLen := make([][]int, longest+1)
	for i, n := range wantedNames {
		byLen[len(n)] = append(byLen[len(n)], i)
	}
	return byLen
}()

// get returns the first attribute called name (one of wantedNames).
func (s *attrSet) get(name string) (detail.Attribute, bool) {
	k, ok := wantedExact[name]
	if !ok {
		panic("postgres: attribute not in wantedNames: " + name)
	}
	if a := s.attrs[k]; a != nil {
		return *a, true
	}
	return detail.Attribute{}, false
}

// acctUniqueID computes Acct-Unique-Session-Id the way FreeRADIUS 3.2's
// acct_unique policy (policy.d/accounting) does: from a Class that
// insert_acct_class made, else from the attributes identifying the session.
func acctUniqueID(r *attrSet) string {
	get := func(name string) string { a, _ := r.get(name); return a.Value }
	if c, ok := r.get("Class"); ok {
		if raw, ok := octets(c); ok {
			if m := classIDPattern.FindStringSubmatch(raw); m != nil && strings.HasPrefix(raw, classPrefix) {
				sum := md5.Sum([]byte(m[1] + "," + get("Acct-Session-Id")))
				return hex.EncodeToString(sum[:])
			}
		}
	}
	nas := get("NAS-IPv6-Address")
	if nas == "" {
		nas = get("NAS-IP-Address")
	}
	s := get("User-Name") + "," + get("Acct-Session-Id") + "," + nas + "," +
		get("NAS-Identifier") + "," + get("NAS-Port-Id") + "," + get("NAS-Port")
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// octets returns the bytes of an octets attribute written as 0x hex (or as
// a quoted string).
func octets(a detail.Attribute) (string, bool) {
	if a.Quoted {
		return a.Value, true
	}
	v := a.Value
	if !strings.HasPrefix(v, "0x") && !strings.HasPrefix(v, "0X") {
		return v, true
	}
	b, err := hex.DecodeString(v[2:])
	if err != nil {
		return "", false
	}
	return string(b), true
}

// contentError is a problem with a record's content: retrying cannot help.
type contentError struct{ msg string }

func (e *contentError) Error() string { return e.msg }

// parseRecord computes what the queries need from r.
func parseRecord(r *detail.Record, storeClass bool) (*acct, error) {
	a := &acct{rec: r}
	set := newAttrSet(r)
	get := func(name string) string {
		at, _ := set.get(name)
		return text(at.Value)
	}
	if st, ok := set.get("Acct-Status-Type"); ok {
		a.statusV = st.Value
		a.status = parseStatus(st.Value)
	}
	if r.HasTimestamp {
		a.received = r.Timestamp
	} else if t, err := time.ParseInLocation(headerLayout, strings.TrimSpace(r.Header), time.Local); err == nil {
		a.received = t.Unix()
	}
	if et, ok := set.get("Event-Timestamp"); ok && strings.TrimSpace(et.Value) != "" {
		ts, foreign, err := parseEventTimeZone(et.Value)
		if err != nil {
			return nil, &contentError{err.Error()}
		}
		a.event = ts
		if foreign != "" {
			// Written in a zone this machine does not know the offset of:
			// the receive time is the better clock when there is one.
			a.foreignZone = foreign
			if r.HasTimestamp {
				a.event = r.Timestamp
			}
		}
	} else if a.received != 0 {
		a.event = a.received
	} else {
		return nil, &contentError{"record has neither Event-Timestamp nor a Timestamp line nor a parsable header, so it has no event time"}
	}

	if a.event < 0 || a.event > maxEventTime {
		return nil, &contentError{fmt.Sprintf("event time %d is outside the years 1970 to 9999", a.event)}
	}
	if u, ok := set.get("Acct-Unique-Session-Id"); ok && u.Value != "" {
		a.uniqueID = text(u.Value)
	} else {
		a.uniqueID = acctUniqueID(set)
	}
	a.nas = get("NAS-IPv6-Address")
	if a.nas == "" {
		a.nas = get("NAS-IP-Address")
	}
	if a.nas == "" {
		a.nas = "0.0.0.0"
	} else if _, err := netip.ParseAddr(a.nas); err != nil {
		return nil, &contentError{fmt.Sprintf("NAS address %q is not an IP address", a.nas)}
	}
	a.sessionID = get("Acct-Session-Id")
	a.userName = get("User-Name")
	a.realm = get("Realm")
	a.nasPortID = get("NAS-Port-Id")
	if a.nasPortID == "" {
		a.nasPortID = get("NAS-Port")
	}
	a.nasPortType = get("NAS-Port-Type")
	a.authentic = get("Acct-Authentic")
	a.connectInfo = get("Connect-Info")
	a.calledStation = get("Called-Station-Id")
	a.callingStation = get("Calling-Station-Id")
	a.terminateCause = get("Acct-Terminate-Cause")
	a.serviceType = get("Service-Type")
	a.framedProtocol = get("Framed-Protocol")
	a.nasIdentifier = get("NAS-Identifier")

	var err error
	if a.framedIP, err = inetAttr(set, "Framed-IP-Address", false); err != nil {
		return nil, err
	}
	if a.framedIPv6, err = inetAttr(set, "Framed-IPv6-Address", false); err != nil {
		return nil, err
	}
	if a.framedIPv6Prefix, err = inetAttr(set, "Framed-IPv6-Prefix", true); err != nil {
		return nil, err
	}
	if a.delegatedPrefix, err = inetAttr(set, "Delegated-IPv6-Prefix", true); err != nil {
		return nil, err
	}
	if v := get("Framed-Interface-Id"); v != "" {
		a.framedInterfaceID = &v
	}
	if storeClass {
		// The stock class section writes '%{Class}': '' when there is none.
		v := get("Class")
		a.class = &v
	}
	if v := get("Acct-Session-Time"); v != "" {
		n, err := integer("Acct-Session-Time", v)
		if err != nil {
			return nil, err
		}
		a.sessionTime = &n
	}
	if a.inputOctets, err = counter(set, "Acct-Input-Octets", "Acct-Input-Gigawords"); err != nil {
		return nil, err
	}
	if a.outputOctets, err = counter(set, "Acct-Output-Octets", "Acct-Output-Gigawords"); err != nil {
		return nil, err
	}
	_, a.inputGigawords = set.get("Acct-Input-Gigawords")
	_, a.outputGigawords = set.get("Acct-Output-Gigawords")
	a.fingerprint = fingerprint(r)
	return a, nil
}

// integer parses an integer attribute value as the queries' SQL would.
func integer(name, v string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, &contentError{fmt.Sprintf("%s %q is not an integer", name, v)}
	}
	return n, nil
}

// counter is (gigawords << 32) + octets, missing values counting as 0, with
// PostgreSQL's bigint shift (which wraps) and addition.
func counter(r *attrSet, octetsName, gigawordsName string) (int64, error) {
	var o, g int64
	var err error
	if a, ok := r.get(octetsName); ok && a.Value != "" {
		if o, err = integer(octetsName, a.Value); err != nil {
			return 0, err
		}
	}
	if a, ok := r.get(gigawordsName); ok && a.Value != "" {
		if g, err = integer(gigawordsName, a.Value); err != nil {
			return 0, err
		}
	}
	return g<<32 + o, nil
}

// inetAttr returns the attribute's value checked to be what PostgreSQL's
// inet accepts (an address, or for prefixes an address/length), or nil.
func inetAttr(r *attrSet, name string, prefix bool) (*string, error) {
	a, ok := r.get(name)
	if !ok || a.Value == "" {
		return nil, nil
	}
	v := strings.TrimSpace(a.Value)
	var err error
	if strings.Contains(v, "/") {
		_, err = netip.ParsePrefix(v)
	} else {
		_, err = netip.ParseAddr(v)
	}
	if err != nil {
		return nil, &contentError{fmt.Sprintf("%s %q is not an IP address or prefix", name, a.Value)}
	}
	return &v, nil
}

// text makes an attribute value storable in a PostgreSQL text column
// without changing any value that is: valid UTF-8 without NUL bytes is kept
// exactly. A NUL byte or a byte that is not part of valid UTF-8 (which
// PostgreSQL refuses in text) is written "=XX", the form FreeRADIUS's SQL
// escaping gives such bytes, and a literal '=' is left alone.
func text(v string) string {
	if utf8.ValidString(v) && strings.IndexByte(v, 0) < 0 {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); {
		r, size := utf8.DecodeRuneInString(v[i:])
		if (r == utf8.RuneError && size == 1) || r == 0 {
			fmt.Fprintf(&b, "=%02X", v[i])
			i++
			continue
		}
		b.WriteString(v[i : i+size])
		i += size
	}
	return b.String()
}

// fingerprint identifies a record by its content, not by where it was
// read, so that the same record replayed from another copy of a file, a
// NAS's retransmission of it, or a copy relayed through another server's
// detail file is recognised. It hashes the attributes in order, with tags
// and values, except those that differ between copies of one event (see
// fingerprintSkips); and the receive time (Timestamp line, or the header
// without one) only when the record has no Event-Timestamp: with one, the
// event time is part of the history's key anyway, and the receive time is
// the receiving server's, different for each copy.
//
// Changing what is hashed changes the fingerprints of new rows only: rows
// stored before keep theirs, so a record stored by an older version and
// replayed after an upgrade is not recognised (see docs/postgres.md).
func fingerprint(r *detail.Record) []byte {
	// The hashed bytes are built in one buffer and hashed at once: the same
	// digest as writing them piece by piece, without a conversion and a
	// call per piece (this ran for 17% of radrelay's CPU time in a replay
	// into PostgreSQL).
	hasEvent := false
	for _, a := range r.Attrs {
		if strings.EqualFold(a.Name, "Event-Timestamp") && strings.TrimSpace(a.Value) != "" {
			hasEvent = true
			break
		}
	}
	var stack [1024]byte
	b := stack[:0]
	if !hasEvent {
		b = binary.BigEndian.AppendUint64(b, uint64(r.Timestamp))
		if !r.HasTimestamp {
			b = append(b, r.Header...)
		}
	}
	b = append(b, 0)
	for _, a := range r.Attrs {
		if fingerprintSkips(a.Name) {
			continue
		}
		b = append(b, a.Name...)
		if a.HasTag {
			b = append(b, ':', a.Tag)
		}
		b = append(b, 0)
		if a.Quoted {
			b = append(b, '"')
		}
		b = append(b, a.Value...)
		b = append(b, 0)
	}
	sum := sha256.Sum256(b)
	return append([]byte(nil), sum[:16]...)
}

// fingerprintSkips reports whether attribute name is left out of the
// fingerprint: attributes that differ between copies of one accounting
// event, because the NAS raises them on a retransmission (Acct-Delay-Time,
// Message-Authenticator, which covers the packet's Identifier) or because
// the server that received a copy added them (the Packet-* attributes of
// the receiving socket, Proxy-State of a proxy on the way, Client-*,
// FreeRADIUS-Proxied-To, Virtual-Server) or derived them from the NAS's
// attributes by its own configuration (Acct-Unique-Session-Id, Realm,
// Stripped-User-*): a copy through another server may have them or not.
// Acct-Unique-Session-Id being derived, two records with equal NAS
// attributes have equal ids; leaving it out loses nothing.
func fingerprintSkips(name string) bool {
	if len(name) >= 7 && strings.EqualFold(name[:7], "Packet-") {
		return true
	}
	if len(name) >= 7 && strings.EqualFold(name[:7], "Client-") {
		return true
	}
	if len(name) >= 9 && strings.EqualFold(name[:9], "Stripped-") {
		return true
	}
	// By length first: no allocation, and most names are compared with
	// nothing.
	for _, skip := range fingerprintSkipNames[min(len(name), len(fingerprintSkipNames)-1)] {
		if strings.EqualFold(name, skip) {
			return true
		}
	}
	return false
}

// fingerprintSkipNames are the whole names fingerprintSkips leaves out, by length.
var fingerprintSkipNames = func() [][]string {
	names := []string{"acct-delay-time", "message-authenticator", "proxy-state", "freeradius-proxied-to",
		"virtual-server", "acct-unique-session-id", "realm"}
	longest := 0
	for _, n := range names {
		longest = max(longest, len(n))
	}
	byLen := make([][]string, longest+2) // the last: every name longer than all of them (none)
	for _, n := range names {
		byLen[len(n)] = append(byLen[len(n)], n)
	}
	return byLen
}()
