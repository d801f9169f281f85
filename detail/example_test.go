package detail_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/radrelay/radrelay/detail"
)

// Reading a finished detail file: Finish takes the last record even without
// its empty line and reports a cut-off one; malformed records are reported
// and skipped.
func ExampleReader() {
	const file = "Mon Nov 23 11:57:39 2026\n" +
		"\tAcct-Status-Type = Start\n" +
		"\tUser-Name = \"carl\"\n" +
		"\tTimestamp = 1795435059\n" +
		"\n" +
		"Mon Nov 23 11:58:00 2026\n" +
		"\tAcct-Status-Type Stop\n" +
		"\n" +
		"Mon Nov 23 11:59:00 2026\n" +
		"\tAcct-Status-Type = Stop\n" +
		"\tUser-Name = \"ca"
	r := detail.NewReader(strings.NewReader(file), "detail-20261123")
	for {
		rec, err := r.Next()
		if errors.Is(err, detail.ErrIncomplete) {
			rec, err = r.Finish() // the file is complete
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		user, _ := rec.Get("User-Name")
		status, _ := rec.Get("Acct-Status-Type")
		fmt.Printf("record at line %d, offset %d: %s %s, Timestamp %d\n", rec.Line, rec.Offset, status.Value, user.Value, rec.Timestamp)
	}
	// Output:
	// record at line 1, offset 0: Start carl, Timestamp 1795435059
	// error: detail-20261123:7: attribute line has no " = ": "\tAcct-Status-Type Stop"
	// error: detail-20261123:9: truncated record at end of file (offset 145, 66 bytes; its last line has no line end)
}

// AppendRecord writes what FreeRADIUS 3.2 writes.
func ExampleAppendRecord() {
	rec := &detail.Record{
		Header: "Mon Nov 23 11:57:39 2026",
		Attrs: []detail.Attribute{
			{Name: "User-Name", Value: "carl \"the\" \\admin\\\x01\xff", Quoted: true},
			{Name: "Acct-Status-Type", Value: "Start"},
			{Name: "Tunnel-Type", HasTag: true, Tag: 1, Value: "VLAN"},
			{Name: "Class", Value: "0x0102ff00"},
		},
		Timestamp: 1795435059, HasTimestamp: true,
	}
	os.Stdout.Write(detail.AppendRecord(nil, rec))
	// Output:
	// Mon Nov 23 11:57:39 2026
	// 	User-Name = "carl \"the\" \\admin\\\001\377"
	// 	Acct-Status-Type = Start
	// 	Tunnel-Type:1 = VLAN
	// 	Class = 0x0102ff00
	// 	Timestamp = 1795435059
}
