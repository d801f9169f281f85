package postgres_test

import (
	"context"
	"log"
	"log/slog"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks/postgres"
)

// A postgres sink keeps FreeRADIUS's radacct up to date (one row per
// session) and appends every record to the history table. The DSN names a
// FreeRADIUS database; the password belongs in PGPASSFILE, not the DSN.
// (Not run by go test: it needs a PostgreSQL server.)
func Example() {
	s, err := postgres.New(context.Background(), postgres.Config{
		DSNEnv: "RADRELAY_DSN", // e.g. postgres://radrelay@db.example.net/radius
	}, slog.Default())
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	var recs []*detail.Record // records read with detail.NewReader
	results := make([]error, len(recs))
	s.Send(context.Background(), recs, results)
	for i, err := range results {
		if err != nil {
			log.Printf("record %d: %v", i, err)
		}
	}
}
