package sinktest

import (
	"encoding/json"
	"strings"

	"github.com/radrelay/radrelay/detail"
)

// A Document is a record as a sink wrote it in the JSON document of the
// jsonl sink and the stream sinks (sinks/file, sinks/stream), read back.
type Document struct {
	Session string         // its Acct-Session-Id
	Status  string         // its Acct-Status-Type
	Time    int64          // its timestamp
	Fields  map[string]any // the whole document
}

// ParseDocument reads one JSON document.
func ParseDocument(b []byte) (Document, error) {
	var d Document
	if err := json.Unmarshal(b, &d.Fields); err != nil {
		return d, err
	}
	attrs, _ := d.Fields["attributes"].(map[string]any)
	d.Session, _ = attrs["Acct-Session-Id"].(string)
	d.Status, _ = attrs["Acct-Status-Type"].(string)
	ts, _ := d.Fields["timestamp"].(float64)
	d.Time = int64(ts)
	return d, nil
}

// Oversized returns a copy of rec with a Class attribute of n bytes added:
// a record over a size limit.
func Oversized(rec *detail.Record, n int) *detail.Record {
	big := *rec
	big.Attrs = append(append([]detail.Attribute(nil), rec.Attrs...), detail.Attribute{Name: "Class", Value: strings.Repeat("x", n), Quoted: true})
	return &big
}
