// Package sqlitetest opens SQLite histories for the tests of the packages
// that read or write one: the store's own tests and those of its users.
package sqlitetest

import (
	"context"
	"testing"

	"github.com/xrdtest/xrdtest/internal/store/sqlite"
)

// Open opens (creating it if need be) the SQLite history in dir, failing
// the test if it cannot. The store is closed when the test ends, and a
// failed close fails the test; a test may close it sooner (Close is
// idempotent), e.g. to hand the folder to a master.
func Open(t testing.TB, dir string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("closing the store: %v", err)
		}
	})
	return s
}
