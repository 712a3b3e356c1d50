package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/store/internal/sqlstore"
	"github.com/xrdtest/xrdtest/internal/store/pgtest"
)

// TestPostgresQueryPlans is package sqlite's TestQueryPlans and
// TestStatsPlan for PostgreSQL, whose planner needs rows and statistics
// to prefer the indexes: 10000 sessions, vacuumed and analyzed.
func TestPostgresQueryPlans(t *testing.T) {
	ctx := context.Background()
	p, err := Open(ctx, pgtest.Database(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	states := []store.SessionState{store.SessionPassed, store.SessionPassed, store.SessionFailed, store.SessionCancelled, store.SessionInterrupted}
	var ss []*store.Session
	for i := range 10000 {
		ss = append(ss, &store.Session{Suite: fmt.Sprintf("suite-%02d", i%40), State: states[i*7%len(states)],
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
		f      store.Filter
		sorted bool
	}{
		{store.Filter{}, true},
		{store.Filter{Suite: "suite-01"}, false},
		{store.Filter{States: []store.SessionState{store.SessionFailed}}, true},
		{store.Filter{Suite: "suite-01", States: []store.SessionState{store.SessionFailed}}, false},
		{store.Filter{From: t0, To: t0.Add(time.Hour)}, false},
		{store.Filter{Suite: "suite-01", From: t0.Add(100 * time.Hour)}, false},
		{store.Filter{States: []store.SessionState{store.SessionFailed, store.SessionCancelled}}, false},
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
	if plan := pgPlan(t, p, pgStatsQuery, sqlstore.DayNS, t0.UnixNano(), t0.Add(48*time.Hour).UnixNano()); !strings.Contains(plan, "Index Only Scan using sessions_created") {
		t.Errorf("stats plan %q", plan)
	}
}

func pgPlan(t *testing.T, p *Store, query string, args ...any) string {
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
