package pgtest_test

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"strings"
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

// TestMissingPostgres runs TestDatabase in a child process that finds no
// PostgreSQL: it skips, saying why, except when PostgreSQL is required,
// where it fails.
func TestMissingPostgres(t *testing.T) {
	for _, tc := range []struct {
		env      []string
		fail     bool
		contains string
	}{
		{[]string{"CI=", "XRDTEST_POSTGRES_REQUIRED="}, false, "--- SKIP: TestDatabase"},
		{[]string{"CI=true", "XRDTEST_POSTGRES_REQUIRED="}, true, "PostgreSQL is required"},
		{[]string{"CI=", "XRDTEST_POSTGRES_REQUIRED=1"}, true, "PostgreSQL is required"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestDatabase$", "-test.v")
		cmd.Env = append(os.Environ(), "XRDTEST_POSTGRES_URL=", "XRDTEST_POSTGRES_BIN="+t.TempDir())
		cmd.Env = append(cmd.Env, tc.env...)
		out, err := cmd.CombinedOutput()
		if (err != nil) != tc.fail || !strings.Contains(string(out), tc.contains) {
			t.Errorf("%v: err %v, want failure %v and %q in:\n%s", tc.env, err, tc.fail, tc.contains, out)
		}
	}
}
