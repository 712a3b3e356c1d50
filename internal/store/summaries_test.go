package store_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/store/sqlite/sqlitetest"
)

// plainStore hides the SQLite store's optional abilities.
type plainStore struct{ store.Store }

// TestResultReaderFallback: ResultSummaries and OneResult work on a store
// without ResultReader, through Results.
func TestResultReaderFallback(t *testing.T) {
	ctx := context.Background()
	s := sqlitetest.Open(t, filepath.Join(t.TempDir(), "store"))
	var st store.Store = plainStore{s}
	if _, ok := st.(store.ResultReader); ok {
		t.Fatal("the wrapper should hide ResultReader")
	}
	se := &store.Session{Suite: "s"}
	if err := st.CreateSession(ctx, se); err != nil {
		t.Fatal(err)
	}
	if err := st.PutResult(ctx, &store.Result{SessionID: se.ID, Stage: 2, Slave: "a", Status: store.StatusPassed, Script: "echo hi"}); err != nil {
		t.Fatal(err)
	}
	sums, err := store.ResultSummaries(ctx, st, se.ID)
	if err != nil || len(sums) != 1 || sums[0].Script != "" || sums[0].Slave != "a" {
		t.Errorf("ResultSummaries: %+v, %v", sums, err)
	}
	r, err := store.OneResult(ctx, st, se.ID, 2, "a")
	if err != nil || r.Script != "echo hi" {
		t.Errorf("OneResult: %+v, %v", r, err)
	}
	if _, err := store.OneResult(ctx, st, se.ID, 1, "a"); err == nil {
		t.Error("OneResult of a missing result: no error")
	}
}
