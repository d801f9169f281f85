package listener

import (
	"encoding/hex"

	"github.com/radrelay/radrelay/detail"
)

func recordOf(kv ...string) *detail.Record {
	r := &detail.Record{}
	for i := 0; i+1 < len(kv); i += 2 {
		r.Attrs = append(r.Attrs, detail.Attribute{Name: kv[i], Value: kv[i+1]})
	}
	return r
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }
