package web_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/xrdtest/xrdtest/internal/master"
	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/store/sqlite"
)

// seedSessions writes n finished sessions of 20 suites over the last year
// straight into the history database of a stopped master (the store's API
// would take minutes: one transaction per session).
func seedSessions(t *testing.T, stateDir string, n int) {
	t.Helper()
	// Create the schema, then write in one transaction.
	st, err := sqlite.Open(context.Background(), filepath.Join(stateDir, "history"))
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(stateDir, "history", "history.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	ins, err := tx.Prepare(`INSERT INTO sessions (suite, state, reason, machines, cases, triggered_by, created_ns, started_ns, ended_ns)
		VALUES (?, ?, ?, '["w1.xrd.test","w2.xrd.test"]', '["greet","bye"]', 'schedule', ?, ?, ?)`)
	if err != nil {
		t.Fatal(err)
	}
	states := []store.SessionState{store.SessionPassed, store.SessionPassed, store.SessionPassed, store.SessionFailed, store.SessionCancelled}
	r := rand.New(rand.NewPCG(1, 2))
	start := time.Now().Add(-365 * 24 * time.Hour)
	step := 365 * 24 * time.Hour / time.Duration(n)
	for i := 0; i < n; i++ {
		created := start.Add(time.Duration(i) * step)
		suite := "hello"
		if i%20 != 0 {
			suite = fmt.Sprintf("suite%02d", i%20)
		}
		state := states[r.IntN(len(states))]
		reason := ""
		if state == store.SessionFailed {
			reason = "greet:run failed on w2.xrd.test (exit 1)"
		}
		if _, err := ins.Exec(suite, string(state), reason, created.UnixNano(), created.Add(time.Second).UnixNano(),
			created.Add(time.Duration(30+r.IntN(600))*time.Second).UnixNano()); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestPagesAt100k times the pages over a history of 100,000 sessions
// (XRDTEST_WEB_BENCH=1; figures only). The target is under 200 ms per
// page, a deep and a filtered history page included.
func TestPagesAt100k(t *testing.T) {
	if os.Getenv("XRDTEST_WEB_BENCH") == "" {
		t.Skip("set XRDTEST_WEB_BENCH=1 to time the pages over 100,000 sessions")
	}
	const n = 100_000
	seeded := time.Now()
	dir := t.TempDir()
	seedSessions(t, filepath.Join(dir, "state"), n)
	t.Logf("seeded %d sessions in %s", n, time.Since(seeded).Round(time.Millisecond))
	ts := start(t, func(o *master.Options, _ *webOpts) { o.StateDir = filepath.Join(dir, "state") })
	c := client(t)
	for _, p := range []string{
		"/",
		"/history",
		"/history?page=2",
		fmt.Sprintf("/history?page=%d", n/50),
		fmt.Sprintf("/history?page=%d&per_page=500", n/500),
		"/history?suite=hello&state=failed",
		"/history?suite=hello&state=failed&page=15",
		"/history?state=cancelled&from=2000-01-01",
		"/suites",
		"/clusters",
		"/api/v1/dashboard",
		"/api/v1/history?suite=hello&state=failed&page=15",
		"/api/v1/stats?days=366",
	} {
		var ds []time.Duration
		for range 7 {
			t0 := time.Now()
			code, body, _ := ts.get(t, c, p)
			ds = append(ds, time.Since(t0))
			if code != http.StatusOK {
				t.Fatalf("GET %s: %d\n%s", p, code, body)
			}
		}
		slices.Sort(ds)
		t.Logf("%-55s median %7.1f ms  max %7.1f ms", p, ms(ds[len(ds)/2]), ms(ds[len(ds)-1]))
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
