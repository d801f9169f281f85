// Package dictionary loads RADIUS dictionaries in FreeRADIUS format, carries a
// built-in dictionary written from the RFCs and vendor documentation, and
// converts attribute values between detail-file text, typed values and wire
// attributes (the codec).
package dictionary
