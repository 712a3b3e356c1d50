package pgtest_test

import (
	"context"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/xrdtest/xrdtest/internal/store/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestDatabase checks that each call gives a new, empty, reachable
// database, over a unix socket.
func TestDatabase(t *testing.T) {
	ctx := context.Background()
	seen := map[string]bool{}
	for range 3 {
		u := pgtest.Database(t)
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		if seen[pu.Path] {
			t.Fatalf("database %s given twice", pu.Path)
		}
		seen[pu.Path] = true
		c, err := pgx.Connect(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		var tables int
		if err := c.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil || tables != 0 {
			t.Errorf("new database has %d tables, %v", tables, err)
		}
		if _, err := c.Exec(ctx, `CREATE TABLE t (x int)`); err != nil {
			t.Error(err)
		}
		c.Close(ctx)
	}
}
