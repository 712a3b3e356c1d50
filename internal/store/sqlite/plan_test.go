package sqlite

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/store/internal/sqlstore"
)

// TestQueryPlans checks that the page queries of Sessions use an index for
// both the filter and the order (no temporary B-tree for ORDER BY).
func TestQueryPlans(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, f := range []store.Filter{
		{},
		{Suite: "a"},
		{States: []store.SessionState{store.SessionFailed}},
		{Suite: "a", States: []store.SessionState{store.SessionFailed}},
		{From: t0, To: t0.Add(time.Hour)},
		{Suite: "a", From: t0},
	} {
		cond, args, err := sessionsWhere(f)
		if err != nil {
			t.Fatal(err)
		}
		p := queryPlan(t, s, fmt.Sprintf(sessionsPage, cond), append(args, 50, 0)...)
		if !strings.Contains(p, "INDEX sessions_") || strings.Contains(p, "TEMP B-TREE") {
			t.Errorf("%+v: plan %q", f, p)
		}
		t.Logf("%+v: %s", f, p)
	}
}

// TestOrphanFingerprintsPlan: forgetting the pruned fingerprints looks each
// up in the failures' index, not through every result.
func TestOrphanFingerprintsPlan(t *testing.T) {
	s, err := Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if p := queryPlan(t, s, deleteOrphanFingerprints); !strings.Contains(p, "INDEX results_fingerprint") {
		t.Errorf("plan %q", p)
	}
}

// TestStatsPlan checks that Stats reads its covering index only, not the
// wide session rows.
func TestStatsPlan(t *testing.T) {
	s, err := Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := queryPlan(t, s, statsQuery, sqlstore.DayNS, 0, 1)
	if !strings.Contains(p, "COVERING INDEX sessions_created_stats") {
		t.Errorf("plan %q", p)
	}
}

func queryPlan(t *testing.T, s *Store, query string, args ...any) string {
	t.Helper()
	rows, err := s.r.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, "; ")
}

// TestCaseResultsPlan checks that the window of CaseResults comes from the
// suite's index and that stages and results are looked up by their keys,
// never scanned.
func TestCaseResultsPlan(t *testing.T) {
	s, err := Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := queryPlan(t, s, caseResults, "a", int64(1), 50, "")
	t.Log(p)
	if !strings.Contains(p, "INDEX sessions_suite") || strings.Contains(p, "SCAN r") || strings.Contains(p, "SCAN st") {
		t.Errorf("plan %q", p)
	}
}
