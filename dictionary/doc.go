// Package dictionary loads RADIUS dictionaries in FreeRADIUS format, carries a
// built-in dictionary holding every vendor, attribute and VALUE of
// FreeRADIUS's dictionary tree over attributes written from the RFCs and
// vendor documentation, and converts attribute values between detail-file
// text, typed values and wire attributes (the codec).
//
// # Dictionaries
//
// Builtin returns radrelay's built-in dictionary: the tables generated from
// FreeRADIUS's dictionaries (freeradius_gen.go, by go generate and
// internal/gendict; CC BY 4.0, see NOTICE) applied over the primary-source
// files of builtin/ (IETF attributes, vendors, Livingston-era names,
// FreeRADIUS internal attributes), so that FreeRADIUS's spellings are the
// ones printed. Each copy shares the built dictionary's definitions and
// copies what it changes. LoadFile extends it with a user's FreeRADIUS-format file, and
// Load reads one from scratch (e.g. /usr/share/freeradius/dictionary). A
// later definition of a name or number overrides an earlier one, as in
// FreeRADIUS. Lookups: Attribute (by name, case-insensitive, allocation-free
// for names spelled as defined), AttributeByNumber, Child, AttributeByOID,
// Vendor, VendorByName, and Attribute.ValueName / ValueNumber for VALUE
// names. Listing (radrelay dictionary): Vendors, VendorNames, Attributes,
// Names, Members, VendorAttributes, Attribute.Values, and the Source of
// each definition (built-in file or user file and line).
//
// # The codec
//
// Encode appends the wire form of detail attributes to a layeh.com/radius
// packet: every FreeRADIUS 3.2 type, tags, User-Password and Tunnel-Password
// hiding, Vendor-Specific attributes in every vendor format (t,l = 1,1, 2,1,
// 2,2, 4,0, 1,0 and WiMAX's 1,1,c continuation), RFC 6929 extended and long
// extended attributes (fragmented with the M flag) and evs, concat splitting,
// TLVs, and the Attr-26.9.1 = 0x... form of attributes no dictionary knows.
// Server-internal attributes (numbers above 255 at the top level, such as
// Acct-Unique-Session-Id and Tmp-*) are skipped. An attribute that cannot be
// encoded is reported as an *EncodeError: the record can never be sent as is.
//
// Decode turns a packet's attributes back into detail attributes exactly as
// FreeRADIUS 3.2 prints them, so that record → packet → record gives the same
// lines (tested on files a real FreeRADIUS wrote, and a real FreeRADIUS
// decodes Encode's packets to the lines sent). DecodeAppend does the same
// into a caller's slice, for one reused from packet to packet.
//
// Check validates an attribute for radrelay check --strict; JSONValue gives
// its typed value for JSON output; Internal tells which attributes never go
// on the wire.
//
// A Dictionary must not be modified while it is in use; once loaded, every
// method is safe for concurrent use.
package dictionary
