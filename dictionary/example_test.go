package dictionary_test

import (
	"fmt"

	"layeh.com/radius"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/dictionary"
)

func ExampleDictionary_Encode() {
	d := dictionary.Builtin()
	attrs := []detail.Attribute{
		{Name: "User-Name", Value: "carl", Quoted: true},
		{Name: "Acct-Status-Type", Value: "Start"},
		{Name: "Cisco-AVPair", Value: "audit-session-id=42", Quoted: true},
		{Name: "Tunnel-Type", HasTag: true, Tag: 1, Value: "VLAN"},
		{Name: "Acct-Unique-Session-Id", Value: "2061053d", Quoted: true}, // internal: not sent
	}
	p := radius.New(radius.CodeAccountingRequest, []byte("secret"))
	if err := d.Encode(p, attrs); err != nil {
		fmt.Println(err)
		return
	}
	for _, avp := range p.Attributes {
		fmt.Printf("%d %x\n", avp.Type, []byte(avp.Attribute))
	}
	back, _ := d.Decode(p)
	for _, a := range back {
		fmt.Printf("%s:%v:%d = %s\n", a.Name, a.HasTag, a.Tag, a.Value)
	}
	// Output:
	// 1 6361726c
	// 40 00000001
	// 26 00000009011561756469742d73657373696f6e2d69643d3432
	// 64 0100000d
	// User-Name:false:0 = carl
	// Acct-Status-Type:false:0 = Start
	// Cisco-AVPair:false:0 = audit-session-id=42
	// Tunnel-Type:true:1 = VLAN
}

func ExampleDictionary_Encode_error() {
	d := dictionary.Builtin()
	p := radius.New(radius.CodeAccountingRequest, []byte("secret"))
	err := d.Encode(p, []detail.Attribute{{Name: "NAS-Port", Value: "many"}})
	var ee *dictionary.EncodeError
	fmt.Println(err)
	fmt.Println(errorsAs(err, &ee), ee.Attribute)
	// Output:
	// attribute NAS-Port: "many" is neither a number nor a VALUE name of NAS-Port
	// true NAS-Port
}

func errorsAs(err error, target **dictionary.EncodeError) bool {
	e, ok := err.(*dictionary.EncodeError)
	*target = e
	return ok
}
