package master_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/xrdtest/xrdtest/internal/master"
	"github.com/xrdtest/xrdtest/internal/store/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestOpenBadDatabase: a master whose database cannot be reached does not
// start, and its error names the database but not the password.
func TestOpenBadDatabase(t *testing.T) {
	_, err := master.Open(context.Background(), master.Options{
		StateDir: t.TempDir(), Database: "postgres://xrdtest:pw-s3cret@/histdb?host=/nonexistent&connect_timeout=2",
		DaemonAddr: "127.0.0.1:0", WebAddr: "127.0.0.1:0", Log: logger(),
	})
	if err == nil {
		t.Fatal("the master opened an unreachable database")
	}
	if !strings.Contains(err.Error(), `"histdb"`) || strings.Contains(err.Error(), "pw-s3cret") {
		t.Errorf("error %q: want the database named, the password not", err)
	}
}
