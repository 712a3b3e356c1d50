package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xrdtest/xrdtest/internal/store/pgtest"
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

// TestPostgresQueryPlans is TestQueryPlans and TestStatsPlan for
// PostgreSQL, whose planner needs rows and statistics to prefer the
// indexes: 10000 sessions, vacuumed and analyzed.
func TestPostgresQueryPlans(t *testing.T) {
	ctx := context.Background()
	p, err := OpenPostgres(ctx, pgtest.Database(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	states := []SessionState{SessionPassed, SessionPassed, SessionFailed, SessionCancelled, SessionInterrupted}
	var ss []*Session
	for i := range 10000 {
		ss = append(ss, &Session{Suite: fmt.Sprintf("suite-%02d", i%40), State: states[i*7%len(states)],
			Created: t0.Add(time.Duration(i) * time.Minute), Started: t0.Add(time.Duration(i) * time.Minute), Ended: t0.Add(time.Duration(i+1) * time.Minute)})
	}
	start := time.Now()
	if err := p.CreateSessions(ctx, ss); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d sessions created in %v", len(ss), time.Since(start))
	if _, err := p.pool.Exec(ctx, `VACUUM ANALYZE sessions`); err != nil {
		t.Fatal(err)
	}
	// A page of a large set is read in index order; a small set may be
	// fetched from an index and sorted (the planner's choice, cheap).
	for _, c := range []struct {
		f      Filter
		sorted bool
	}{
		{Filter{}, true},
		{Filter{Suite: "suite-01"}, false},
		{Filter{States: []SessionState{SessionFailed}}, true},
		{Filter{Suite: "suite-01", States: []SessionState{SessionFailed}}, false},
		{Filter{From: t0, To: t0.Add(time.Hour)}, false},
		{Filter{Suite: "suite-01", From: t0.Add(100 * time.Hour)}, false},
		{Filter{States: []SessionState{SessionFailed, SessionCancelled}}, false},
	} {
		f := c.f
		cond, args, err := pgSessionsWhere(f)
		if err != nil {
			t.Fatal(err)
		}
		q := fmt.Sprintf(`SELECT %s FROM sessions%s ORDER BY created_ns DESC, id DESC LIMIT $%d OFFSET $%d`,
			pgSessionColumns, cond, len(args)+1, len(args)+2)
		plan := pgPlan(t, p, q, append(args, int64(50), int64(0))...)
		if !strings.Contains(plan, "Index") || strings.Contains(plan, "Seq Scan") || (c.sorted && strings.Contains(plan, "Sort")) {
			t.Errorf("%+v: plan %q", f, plan)
		}
		t.Logf("%+v: %s", f, plan)
	}
	if plan := pgPlan(t, p, pgStatsQuery, dayNS, t0.UnixNano(), t0.Add(48*time.Hour).UnixNano()); !strings.Contains(plan, "Index Only Scan using sessions_created") {
		t.Errorf("stats plan %q", plan)
	}
}

func pgPlan(t *testing.T, p *Postgres, query string, args ...any) string {
	t.Helper()
	rows, err := p.pool.Query(context.Background(), "EXPLAIN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "; ")
}
