package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/store"
)

// BulkStore is a Store that creates sessions in bulk.
type BulkStore interface {
	store.Store
	CreateSessions(ctx context.Context, ss []*store.Session) error
	Optimize(ctx context.Context) error
}

// BenchSessions100k fills a store with 100k sessions (in batches, one
// transaction each) and measures filtered page queries (page and total),
// Stats over a year and a Prune of the oldest 10% (each with 10 results
// and an event). It reports figures only.
func BenchSessions100k(b *testing.B, s BulkStore) {
	const n = 100_000
	ctx := context.Background()
	name := b.Name()
	suites := 50
	states := []store.SessionState{store.SessionPassed, store.SessionPassed, store.SessionPassed,
		store.SessionFailed, store.SessionCancelled, store.SessionInterrupted}
	t0 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	start := time.Now()
	const batch = 10_000
	for i := 0; i < n; i += batch {
		ss := make([]*store.Session, 0, batch)
		for j := i; j < i+batch; j++ {
			ss = append(ss, &store.Session{
				Suite:        fmt.Sprintf("suite-%02d", j%suites),
				State:        states[j*7%len(states)],
				Reason:       "slaves not connected after 5m0s: a.xrd.test",
				Machines:     []string{"a.xrd.test", "b.xrd.test", "c.xrd.test"},
				Cases:        []string{"basic", "stress"},
				RepoRevision: "3e44039",
				TriggeredBy:  "schedule",
				Created:      t0.Add(time.Duration(j) * 17 * time.Minute),
				Started:      t0.Add(time.Duration(j)*17*time.Minute + time.Second),
				Ended:        t0.Add(time.Duration(j)*17*time.Minute + time.Hour),
			})
		}
		if err := s.CreateSessions(ctx, ss); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Optimize(ctx); err != nil { // what autovacuum does in time
		b.Fatal(err)
	}
	d := time.Since(start)
	// Printed, not logged: b.Logf of a benchmark with sub-benchmarks only
	// shows with -v.
	fmt.Printf("%s: inserted %d sessions in %d batches in %v (%.0f sessions/s)\n",
		name, n, n/batch, d.Round(time.Millisecond), n/d.Seconds())

	mid := t0.Add(n / 2 * 17 * time.Minute)
	for _, bc := range []struct {
		name string
		f    store.Filter
	}{
		{"all", store.Filter{Limit: 50}},
		{"all-offset-50k", store.Filter{Limit: 50, Offset: 50_000}},
		{"suite", store.Filter{Suite: "suite-07", Limit: 50, Offset: 100}},
		{"state", store.Filter{States: []store.SessionState{store.SessionFailed}, Limit: 50}},
		{"states", store.Filter{States: []store.SessionState{store.SessionFailed, store.SessionInterrupted}, Limit: 50}},
		{"suite-state-range", store.Filter{Suite: "suite-07", States: []store.SessionState{store.SessionFailed},
			From: mid.Add(-365 * 24 * time.Hour), To: mid, Limit: 50}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var got []*store.Session
			var total int
			for b.Loop() {
				var err error
				got, total, err = s.Sessions(ctx, bc.f)
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(got)), "rows")
			b.ReportMetric(float64(total), "total")
		})
	}
	b.Run("stats-year", func(b *testing.B) {
		var st *store.Stats
		for b.Loop() {
			var err error
			if st, err = s.Stats(ctx, mid.Add(-365*24*time.Hour), mid); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(st.Sessions), "sessions")
	})

	// Prune: the oldest 10% get results and an event first.
	got, _, err := s.Sessions(ctx, store.Filter{To: t0.Add(n / 10 * 17 * time.Minute)})
	if err != nil {
		b.Fatal(err)
	}
	for _, se := range got {
		rs := make([]*store.Result, 10)
		for i := range rs {
			rs[i] = &store.Result{SessionID: se.ID, Stage: i / 2, Slave: fmt.Sprintf("s%d.xrd.test", i%2), Status: store.StatusPassed}
		}
		if err := s.PutResults(ctx, rs); err != nil {
			b.Fatal(err)
		}
		if err := s.AddEvent(ctx, store.Event{Session: se.ID, Kind: "state", Message: "passed"}); err != nil {
			b.Fatal(err)
		}
	}
	start = time.Now()
	pruned, err := s.Prune(ctx, time.Time{}, n-len(got))
	if err != nil || pruned != len(got) {
		b.Fatalf("Prune = %d, %v; want %d", pruned, err, len(got))
	}
	d = time.Since(start)
	fmt.Printf("%s: pruned %d sessions (%d results, %d events) in %v (%.0f sessions/s)\n",
		name, pruned, pruned*10, pruned, d.Round(time.Millisecond), float64(pruned)/d.Seconds())
}
