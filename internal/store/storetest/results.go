package storetest

import (
	"errors"
	"testing"

	"github.com/xrdtest/xrdtest/internal/store"
)

// testResultReader checks store.ResultSummaries and store.OneResult, which
// use the store's ResultReader when it has one.
func testResultReader(t *testing.T, open func(*testing.T) store.Store) {
	s := open(t)
	se := mustCreate(t, s, &store.Session{Suite: "s"})
	script := "#!/bin/sh\necho 'ünïcödé'\n"
	puts := []*store.Result{
		{SessionID: se.ID, Stage: 1, Slave: "b.xrd.test", Status: store.StatusRunning, Start: tm(1, 5), Script: script + "b1"},
		{SessionID: se.ID, Stage: 0, Slave: "b.xrd.test", Status: store.StatusPassed, ExitCode: intp(0), Start: tm(0, 1), End: tm(0, 2), Script: script + "b0", OutputBytes: 12},
		{SessionID: se.ID, Stage: 0, Slave: "a.xrd.test", Status: store.StatusFailed, ExitCode: intp(3), Message: "exit 3", Script: script + "a0"},
	}
	if err := s.PutResults(ctx, puts); err != nil {
		t.Fatal(err)
	}
	full, err := s.Results(ctx, se.ID)
	if err != nil {
		t.Fatal(err)
	}
	sums, err := store.ResultSummaries(ctx, s, se.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) != len(full) {
		t.Fatalf("ResultSummaries: %d results, Results: %d", len(sums), len(full))
	}
	for i := range full {
		want := *full[i]
		want.Script = ""
		if d := diff(&want, sums[i]); d != "" {
			t.Errorf("summary %d: %s", i, d)
		}
	}
	for _, p := range puts {
		got, err := store.OneResult(ctx, s, se.ID, p.Stage, p.Slave)
		if err != nil {
			t.Fatalf("OneResult(%d, %s): %v", p.Stage, p.Slave, err)
		}
		if d := diff(p, got); d != "" {
			t.Errorf("OneResult(%d, %s): %s", p.Stage, p.Slave, d)
		}
	}
	for _, miss := range []struct {
		session int64
		stage   int
		slave   string
	}{{se.ID, 1, "a.xrd.test"}, {se.ID, 7, "b.xrd.test"}, {se.ID + 1, 0, "b.xrd.test"}} {
		if _, err := store.OneResult(ctx, s, miss.session, miss.stage, miss.slave); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("OneResult(%v): %v, want ErrNotFound", miss, err)
		}
	}
}
