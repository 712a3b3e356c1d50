package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestQueryPlans checks that the page queries of Sessions use an index for
// both the filter and the order (no temporary B-tree for ORDER BY).
func TestQueryPlans(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, f := range []Filter{
		{},
		{Suite: "a"},
		{States: []SessionState{SessionFailed}},
		{Suite: "a", States: []SessionState{SessionFailed}},
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

// TestStatsPlan checks that Stats reads its covering index only, not the
// wide session rows.
func TestStatsPlan(t *testing.T) {
	s, err := OpenSQLite(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := queryPlan(t, s, statsQuery, dayNS, 0, 1)
	if !strings.Contains(p, "COVERING INDEX sessions_created_stats") {
		t.Errorf("plan %q", p)
	}
}

func queryPlan(t *testing.T, s *SQLite, query string, args ...any) string {
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

func TestEscapeComponent(t *testing.T) {
	for in, want := range map[string]string{
		"a.xrd.test":        "a.xrd.test",
		"..":                "%2E.",
		".":                 "%2E",
		"../../x":           "%2E.%2F..%2Fx",
		"/../../etc/passwd": "%2F..%2F..%2Fetc%2Fpasswd",
		"A":                 "%41",
		"a%2Fb":             "a%252%46b",
		"~":                 "%7E",
		"é":                 "%C3%A9",
	} {
		if got := escapeComponent(in); got != want {
			t.Errorf("escapeComponent(%q) = %q, want %q", in, got, want)
		}
	}
	long1, long2 := strings.Repeat("/", 500)+"1", strings.Repeat("/", 500)+"2"
	e1, e2 := escapeComponent(long1), escapeComponent(long2)
	if e1 == e2 || len(e1) > maxComponent || len(e2) > maxComponent || !strings.Contains(e1, "~") {
		t.Errorf("long names: %q, %q", e1, e2)
	}
}
