package dictionary

import "strings"

// Type is the data type of an attribute, as named in a dictionary's ATTRIBUTE line.
type Type uint8

// The attribute types of FreeRADIUS 3.2 dictionaries.
const (
	TypeInvalid Type = iota
	TypeString
	TypeOctets
	TypeIPAddr
	TypeIPv6Addr
	TypeIPv4Prefix
	TypeIPv6Prefix
	TypeInteger
	TypeInteger64
	TypeSigned
	TypeShort
	TypeByte
	TypeDate
	TypeIfid
	TypeEther
	TypeABinary
	TypeComboIP
	TypeTLV
	TypeVSA
	TypeExtended
	TypeLongExtended
	TypeEVS
)

var typeNames = [...]string{
	TypeInvalid:      "invalid",
	TypeString:       "string",
	TypeOctets:       "octets",
	TypeIPAddr:       "ipaddr",
	TypeIPv6Addr:     "ipv6addr",
	TypeIPv4Prefix:   "ipv4prefix",
	TypeIPv6Prefix:   "ipv6prefix",
	TypeInteger:      "integer",
	TypeInteger64:    "integer64",
	TypeSigned:       "signed",
	TypeShort:        "short",
	TypeByte:         "byte",
	TypeDate:         "date",
	TypeIfid:         "ifid",
	TypeEther:        "ether",
	TypeABinary:      "abinary",
	TypeComboIP:      "combo-ip",
	TypeTLV:          "tlv",
	TypeVSA:          "vsa",
	TypeExtended:     "extended",
	TypeLongExtended: "long-extended",
	TypeEVS:          "evs",
}

// String returns the dictionary name of the type.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "invalid"
}

// typeByName maps the (lower-case) type names a dictionary may use. The
// uintN spellings are FreeRADIUS 4's names for the same types.
var typeByName = map[string]Type{
	"string":        TypeString,
	"octets":        TypeOctets,
	"ipaddr":        TypeIPAddr,
	"ipv4addr":      TypeIPAddr,
	"ipv6addr":      TypeIPv6Addr,
	"ipv4prefix":    TypeIPv4Prefix,
	"ipv6prefix":    TypeIPv6Prefix,
	"integer":       TypeInteger,
	"uint32":        TypeInteger,
	"integer64":     TypeInteger64,
	"uint64":        TypeInteger64,
	"signed":        TypeSigned,
	"int32":         TypeSigned,
	"short":         TypeShort,
	"uint16":        TypeShort,
	"byte":          TypeByte,
	"uint8":         TypeByte,
	"date":          TypeDate,
	"ifid":          TypeIfid,
	"ether":         TypeEther,
	"ethernet":      TypeEther,
	"abinary":       TypeABinary,
	"combo-ip":      TypeComboIP,
	"tlv":           TypeTLV,
	"vsa":           TypeVSA,
	"extended":      TypeExtended,
	"long-extended": TypeLongExtended,
	"evs":           TypeEVS,
}

func parseType(s string) (Type, bool) {
	t, ok := typeByName[s]
	if !ok {
		t, ok = typeByName[strings.ToLower(s)]
	}
	return t, ok
}

// isInteger reports whether values of the type are unsigned integers that
// VALUE names may stand for.
func (t Type) isInteger() bool {
	switch t {
	case TypeInteger, TypeInteger64, TypeShort, TypeByte, TypeSigned:
		return true
	}
	return false
}

// isContainer reports whether the attribute's value is made of other attributes.
func (t Type) isContainer() bool {
	switch t {
	case TypeTLV, TypeVSA, TypeExtended, TypeLongExtended, TypeEVS:
		return true
	}
	return false
}
