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

	fingerprint [fingerprintSize]byte
	foreignZone string // Event-Timestamp's zone name when it is not one this machine knows

	// What the pointers above point to, kept here so that a record's
	// values cost the one allocation of its acct.
	inet                   [4]string // framedIP, framedIPv6, framedIPv6Prefix, delegatedPrefix
	framedInterfaceIDValue string
	classValue             string
	sessionTimeValue       int64
	eventTimeValue         time.Time // time.Unix(event, 0).UTC()
}

// eventTime is the event time as a pointer for a liveRow (not to be
// written through).
func (a *acct) eventTime() *time.Time { return &a.eventTimeValue }

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
	if n, ok := parseUTCEventTime(v); ok {
		return n, "", nil
	}
	return parseEventTimeGeneral(v)
}

// parseUTCEventTime parses the Event-Timestamp FreeRADIUS writes on a
// server running in UTC ("Nov 23 2026 00:44:05 UTC", "Nov  3 ..."), the
// common case, without the time package's parser (which, with the
// splitting and joining of fields around it, took 4% of radrelay's CPU
// in a replay into PostgreSQL); ok is false for anything else, which
// parseEventTimeGeneral then reads. Both give the same time for what
// this one accepts (FuzzUTCEventTime).
func parseUTCEventTime(v string) (sec int64, ok bool) {
	if len(v) != len("Nov 23 2026 00:44:05 UTC") || v[3] != ' ' || v[6] != ' ' || v[11] != ' ' ||
		v[14] != ':' || v[17] != ':' || v[20] != ' ' || (v[21:] != "UTC" && v[21:] != "GMT") {
		return 0, false
	}
	month := strings.Index(monthAbbreviations, v[:3])
	if month < 0 || month%3 != 0 {
		return 0, false
	}
	month = month/3 + 1
	day, ok := digits(strings.TrimPrefix(v[4:6], " "))
	if !ok {
		return 0, false
	}
	year, ok1 := digits(v[7:11])
	hour, ok2 := digits(v[12:14])
	minute, ok3 := digits(v[15:17])
	second, ok4 := digits(v[18:20])
	if !ok1 || !ok2 || !ok3 || !ok4 || year < 1970 || hour > 23 || minute > 59 || second > 59 ||
		day < 1 || day > daysIn(month, year) {
		return 0, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, second, 0, time.UTC).Unix(), true
}

// monthAbbreviations are the months as strftime's %b writes them in the C
// locale, three letters each.
const monthAbbreviations = "JanFebMarAprMayJunJulAugSepOctNovDec"

// digits parses s, one or more ASCII digits.
func digits(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// daysIn is the number of days of month (1-12) in year.
func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// parseEventTimeGeneral is parseEventTimeZone for any value.
func parseEventTimeGeneral(v string) (sec int64, foreign string, err error) {
	if v != "" && (v[0] == '+' || v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) {
		// (Only then: a failed ParseInt allocates its error.)
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n, "", nil
		}
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

// The attributes the queries read, by their index in wantedNames.
const (
	wStatusType = iota
	wEventTimestamp
	wUniqueSessionID
	wNASIPv6Address
	wNASIPAddress
	wSessionID
	wUserName
	wRealm
	wNASPortID
	wNASPort
	wNASPortType
	wAuthentic
	wConnectInfo
	wCalledStationID
	wCallingStationID
	wTerminateCause
	wServiceType
	wFramedProtocol
	wNASIdentifier
	wFramedIPAddress
	wFramedIPv6Address
	wFramedIPv6Prefix
	wDelegatedIPv6Prefix
	wFramedInterfaceID
	wClass
	wSessionTime
	wInputOctets
	wInputGigawords
	wOutputOctets
	wOutputGigawords
	wantedCount
)

// wantedNames are the attributes the queries read, in the order of the
// w... constants.
var wantedNames = [wantedCount]string{
	"Acct-Status-Type", "Event-Timestamp", "Acct-Unique-Session-Id", "NAS-IPv6-Address",
	"NAS-IP-Address", "Acct-Session-Id", "User-Name", "Realm", "NAS-Port-Id", "NAS-Port",
	"NAS-Port-Type", "Acct-Authentic", "Connect-Info", "Called-Station-Id",
	"Calling-Station-Id", "Acct-Terminate-Cause", "Service-Type", "Framed-Protocol",
	"NAS-Identifier", "Framed-IP-Address", "Framed-IPv6-Address", "Framed-IPv6-Prefix",
	"Delegated-IPv6-Prefix", "Framed-Interface-Id", "Class", "Acct-Session-Time",
	"Acct-Input-Octets", "Acct-Input-Gigawords", "Acct-Output-Octets", "Acct-Output-Gigawords",
}

// attrSet holds the first occurrence of each wanted attribute of a record,
// found in one pass (names compared case-insensitively, as FreeRADIUS does).
// It is a value, kept on the stack: the attributes are indexed by the
// w... constants, not looked up by name (a map lookup per attribute read
// was 3% of radrelay's CPU time in a replay into PostgreSQL).
type attrSet struct {
	attrs [wantedCount]*detail.Attribute
}

func newAttrSet(r *detail.Record) attrSet {
	var s attrSet
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

// get returns the first attribute wantedNames[k].
func (s *attrSet) get(k int) (detail.Attribute, bool) {
	if a := s.attrs[k]; a != nil {
		return *a, true
	}
	return detail.Attribute{}, false
}

// value is the first attribute wantedNames[k]'s value, "" when absent.
func (s *attrSet) value(k int) string {
	if a := s.attrs[k]; a != nil {
		return a.Value
	}
	return ""
}

// acctUniqueID computes Acct-Unique-Session-Id the way FreeRADIUS 3.2's
// acct_unique policy (policy.d/accounting) does: from a Class that
// insert_acct_class made, else from the attributes identifying the session.
func acctUniqueID(r *attrSet) string {
	var stack [256]byte
	b := stack[:0]
	if c, ok := r.get(wClass); ok && classMayBeID(c) {
		if raw, ok := octets(c); ok {
			if m := classIDPattern.FindStringSubmatch(raw); m != nil && strings.HasPrefix(raw, classPrefix) {
				b = append(append(append(b, m[1]...), ','), r.value(wSessionID)...)
				return md5Hex(b)
			}
		}
	}
	nas := r.value(wNASIPv6Address)
	if nas == "" {
		nas = r.value(wNASIPAddress)
	}
	// The policy's string, built in one buffer (this was a concatenation
	// of eleven strings per record).
	for i, v := range [...]string{r.value(wUserName), r.value(wSessionID), nas,
		r.value(wNASIdentifier), r.value(wNASPortID), r.value(wNASPort)} {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, v...)
	}
	return md5Hex(b)
}

// md5Hex is the lower-case hex MD5 of b.
func md5Hex(b []byte) string {
	sum := md5.Sum(b)
	var out [2 * md5.Size]byte
	hex.Encode(out[:], sum[:])
	return string(out[:])
}

// classMayBeID reports whether Class attribute c may start with classPrefix,
// without decoding it: most Class values are something else, and
// decoding them and running classIDPattern was most of acctUniqueID's time.
func classMayBeID(c detail.Attribute) bool {
	v := c.Value
	if c.Quoted || (!strings.HasPrefix(v, "0x") && !strings.HasPrefix(v, "0X")) {
		return strings.HasPrefix(v, classPrefix)
	}
	var head [len(classPrefix)]byte
	if len(v) < 2+2*len(head) {
		return false
	}
	if _, err := hex.Decode(head[:], []byte(v[2:2+2*len(head)])); err != nil {
		return false
	}
	return string(head[:]) == classPrefix
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
	get := func(k int) string { return text(set.value(k)) }
	if st, ok := set.get(wStatusType); ok {
		a.statusV = st.Value
		a.status = parseStatus(st.Value)
	}
	if r.HasTimestamp {
		a.received = r.Timestamp
	} else if t, err := time.ParseInLocation(headerLayout, strings.TrimSpace(r.Header), time.Local); err == nil {
		a.received = t.Unix()
	}
	hasEvent := false
	if et, ok := set.get(wEventTimestamp); ok && strings.TrimSpace(et.Value) != "" {
		hasEvent = true
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
	a.eventTimeValue = time.Unix(a.event, 0).UTC()
	if u := set.value(wUniqueSessionID); u != "" {
		a.uniqueID = text(u)
	} else {
		a.uniqueID = acctUniqueID(&set)
	}
	a.nas = get(wNASIPv6Address)
	if a.nas == "" {
		a.nas = get(wNASIPAddress)
	}
	if a.nas == "" {
		a.nas = "0.0.0.0"
	} else if _, err := netip.ParseAddr(a.nas); err != nil {
		return nil, &contentError{fmt.Sprintf("NAS address %q is not an IP address", a.nas)}
	}
	a.sessionID = get(wSessionID)
	a.userName = get(wUserName)
	a.realm = get(wRealm)
	a.nasPortID = get(wNASPortID)
	if a.nasPortID == "" {
		a.nasPortID = get(wNASPort)
	}
	a.nasPortType = get(wNASPortType)
	a.authentic = get(wAuthentic)
	a.connectInfo = get(wConnectInfo)
	a.calledStation = get(wCalledStationID)
	a.callingStation = get(wCallingStationID)
	a.terminateCause = get(wTerminateCause)
	a.serviceType = get(wServiceType)
	a.framedProtocol = get(wFramedProtocol)
	a.nasIdentifier = get(wNASIdentifier)

	var err error
	if a.framedIP, err = inetAttr(&set, wFramedIPAddress, &a.inet[0]); err != nil {
		return nil, err
	}
	if a.framedIPv6, err = inetAttr(&set, wFramedIPv6Address, &a.inet[1]); err != nil {
		return nil, err
	}
	if a.framedIPv6Prefix, err = inetAttr(&set, wFramedIPv6Prefix, &a.inet[2]); err != nil {
		return nil, err
	}
	if a.delegatedPrefix, err = inetAttr(&set, wDelegatedIPv6Prefix, &a.inet[3]); err != nil {
		return nil, err
	}
	if v := get(wFramedInterfaceID); v != "" {
		a.framedInterfaceIDValue = v
		a.framedInterfaceID = &a.framedInterfaceIDValue
	}
	if storeClass {
		// The stock class section writes '%{Class}': '' when there is none.
		a.classValue = get(wClass)
		a.class = &a.classValue
	}
	if v := get(wSessionTime); v != "" {
		n, err := integer(wantedNames[wSessionTime], v)
		if err != nil {
			return nil, err
		}
		a.sessionTimeValue = n
		a.sessionTime = &a.sessionTimeValue
	}
	if a.inputOctets, err = counter(&set, wInputOctets, wInputGigawords); err != nil {
		return nil, err
	}
	if a.outputOctets, err = counter(&set, wOutputOctets, wOutputGigawords); err != nil {
		return nil, err
	}
	a.inputGigawords = set.attrs[wInputGigawords] != nil
	a.outputGigawords = set.attrs[wOutputGigawords] != nil
	if !hasEvent {
		// The first Event-Timestamp is empty: fingerprint looks for a
		// non-empty one among the others.
		hasEvent = hasEventTimestamp(r)
	}
	a.fingerprint = recordFingerprint(r, hasEvent)
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
func counter(r *attrSet, octetsK, gigawordsK int) (int64, error) {
	var o, g int64
	var err error
	if v := r.value(octetsK); v != "" {
		if o, err = integer(wantedNames[octetsK], v); err != nil {
			return 0, err
		}
	}
	if v := r.value(gigawordsK); v != "" {
		if g, err = integer(wantedNames[gigawordsK], v); err != nil {
			return 0, err
		}
	}
	return g<<32 + o, nil
}

// inetAttr returns the attribute wantedNames[k]'s value checked to be what
// PostgreSQL's inet accepts (an address, or for prefixes an
// address/length), stored in *store, or nil when the record has none.
func inetAttr(r *attrSet, k int, store *string) (*string, error) {
	a, ok := r.get(k)
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
		return nil, &contentError{fmt.Sprintf("%s %q is not an IP address or prefix", wantedNames[k], a.Value)}
	}
	*store = v
	return store, nil
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
func fingerprint(r *detail.Record) [fingerprintSize]byte {
	return recordFingerprint(r, hasEventTimestamp(r))
}

// fingerprintSize is how many bytes of the SHA-256 the history keeps.
const fingerprintSize = 16

// hasEventTimestamp reports whether r has a non-empty Event-Timestamp.
func hasEventTimestamp(r *detail.Record) bool {
	for _, a := range r.Attrs {
		if strings.EqualFold(a.Name, "Event-Timestamp") && strings.TrimSpace(a.Value) != "" {
			return true
		}
	}
	return false
}

// recordFingerprint is fingerprint(r), told whether r has an
// Event-Timestamp (parseRecord knows already).
func recordFingerprint(r *detail.Record, hasEvent bool) [fingerprintSize]byte {
	// The hashed bytes are built in one buffer and hashed at once: the same
	// digest as writing them piece by piece, without a conversion and a
	// call per piece (this ran for 17% of radrelay's CPU time in a replay
	// into PostgreSQL).
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
	return [fingerprintSize]byte(sum[:fingerprintSize])
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
	if name == "" {
		return false
	}
	// The prefixes by their first letter: most names start with none of
	// them, and are compared with nothing.
	switch name[0] | 0x20 {
	case 'p':
		if len(name) >= 7 && strings.EqualFold(name[:7], "Packet-") {
			return true
		}
	case 'c':
		if len(name) >= 7 && strings.EqualFold(name[:7], "Client-") {
			return true
		}
	case 's':
		if len(name) >= 9 && strings.EqualFold(name[:9], "Stripped-") {
			return true
		}
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
