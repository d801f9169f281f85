package spool_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/detail/spool"
)

// A Writer appends records to one file per client and day, as
// FreeRADIUS's detail module does.
func ExampleWriter() {
	dir, _ := os.MkdirTemp("", "radacct")
	defer os.RemoveAll(dir)
	w, err := spool.New(spool.Options{
		Template:   filepath.Join(dir, "%{Client-IP-Address}/detail-%Y%m%d"),
		Lock:       true,                 // as FreeRADIUS's locking = yes
		Durability: spool.SyncEachRecord, // fsync before Write returns
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer w.Close()
	rec := &detail.Record{
		Attrs: []detail.Attribute{
			{Name: "Acct-Status-Type", Value: "Start"},
			{Name: "User-Name", Value: "carl", Quoted: true},
			{Name: "NAS-IP-Address", Value: "10.0.0.1"},
		},
		Timestamp: 1795435059, HasTimestamp: true,
	}
	if err := w.Write(rec); err != nil {
		fmt.Println(err)
		return
	}
	rel, _ := filepath.Rel(dir, w.Path(rec))
	fmt.Println(filepath.Dir(rel))
	// Output:
	// 10.0.0.1
}
