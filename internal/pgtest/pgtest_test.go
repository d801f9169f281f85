package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

var pg *Server

func TestMain(m *testing.M) { Main(m, &pg) }

func TestNewDatabase(t *testing.T) {
	dsn := pg.NewDatabase(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("fresh database has %d tables", n)
	}
}

func TestRestart(t *testing.T) {
	s := Start(t, Options{})
	ctx := context.Background()
	if err := s.StopPostgres(); err != nil {
		t.Fatal(err)
	}
	if _, err := pgx.Connect(ctx, s.AdminDSN); err == nil {
		t.Fatal("connected to a stopped server")
	}
	if err := s.StartPostgres(); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, s.AdminDSN)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
}
