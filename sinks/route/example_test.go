package route_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks/route"
)

// printSink prints the session of every record it is handed.
type printSink struct{}

func (printSink) Send(_ context.Context, recs []*detail.Record, results []error) {
	for i, r := range recs {
		a, _ := r.Get("Acct-Session-Id")
		fmt.Println("sent", a.Value)
		results[i] = nil
	}
}

func (printSink) Close() error { return nil }

// A filter passes a sink only the records it wants: here the Stop
// records. The others count as delivered for that sink.
func Example() {
	f, err := route.New(route.Config{StatusType: []string{"Stop"}})
	if err != nil {
		log.Fatal(err)
	}
	s := route.Wrap(printSink{}, f)
	r := detail.NewReader(strings.NewReader(
		"Mon Nov 23 11:57:39 2026\n\tAcct-Status-Type = Start\n\tAcct-Session-Id = \"a\"\n\n"+
			"Mon Nov 23 12:57:39 2026\n\tAcct-Status-Type = Stop\n\tAcct-Session-Id = \"a\"\n\n"), "example")
	var recs []*detail.Record
	for {
		rec, err := r.Next()
		if err != nil {
			break
		}
		recs = append(recs, rec)
	}
	results := make([]error, len(recs))
	s.Send(context.Background(), recs, results)
	fmt.Println("outcomes:", results)
	// Output:
	// sent a
	// outcomes: [<nil> <nil>]
}
