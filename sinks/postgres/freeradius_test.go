package postgres

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/internal/freeradiustest"
)

// createStockSchema runs FreeRADIUS's own schema.sql in database dsn.
func createStockSchema(t testing.TB, dsn string) {
	t.Helper()
	schema := freeradiustest.StockSchema(t)
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), string(schema)); err != nil {
		t.Fatalf("FreeRADIUS schema.sql: %v", err)
	}
}

// readDetail reads every record of a detail file.
func readDetail(t testing.TB, path string) []*detail.Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := detail.NewReader(bufio.NewReaderSize(f, 1<<16), filepath.Base(path))
	var recs []*detail.Record
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return recs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		recs = append(recs, rec)
	}
}
