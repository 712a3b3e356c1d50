package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/daemons"

	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/store/sqlite/sqlitetest"
	"github.com/xrdtest/xrdtest/internal/testutil"
)

// TestSessionCountsCache: the counts are read at most once per ttl, and a
// store that fails leaves the other metrics served.
func TestSessionCountsCache(t *testing.T) {
	ctx := context.Background()
	st := sqlitetest.Open(t, t.TempDir())
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	logs := &testutil.SyncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	m := NewMetrics(st, daemons.NewRegistry(daemons.RegistryConfig{}), func() int { return 0 }, "v1", log)
	m.sessions.now = func() time.Time { return now }
	h := m.Handler(log)
	body := func() string {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
		if w.Code != 200 {
			t.Fatalf("/metrics: %d %s", w.Code, w.Body)
		}
		return w.Body.String()
	}
	if b := body(); !strings.Contains(b, `xrdtest_sessions{state="queued"} 0`) {
		t.Fatalf("no session counts:\n%s", b)
	}
	st.CreateSession(ctx, &store.Session{Suite: "s"})
	now = now.Add(4 * time.Second)
	if b := body(); !strings.Contains(b, `xrdtest_sessions{state="queued"} 0`) {
		t.Errorf("counts read again within the ttl")
	}
	now = now.Add(time.Second)
	if b := body(); !strings.Contains(b, `xrdtest_sessions{state="queued"} 1`) {
		t.Errorf("counts not read again after the ttl")
	}
	st.Close()
	now = now.Add(time.Minute)
	b := body()
	if strings.Contains(b, "xrdtest_sessions{") || !strings.Contains(b, "go_goroutines") || !strings.Contains(b, `xrdtest_build_info{version="v1"} 1`) {
		t.Errorf("with a closed store:\n%s", b)
	}
	if !strings.Contains(logs.String(), "metrics: cannot count the sessions") {
		t.Errorf("the failure is not logged: %s", logs)
	}
}

// BenchmarkMetricsScrape: a whole /metrics scrape with 100k sessions in
// the history, counting them every time (no cache) and with the cache.
func BenchmarkMetricsScrape(b *testing.B) {
	ctx := context.Background()
	st := sqlitetest.Open(b, b.TempDir())
	states := []store.SessionState{store.SessionPassed, store.SessionPassed, store.SessionPassed, store.SessionFailed, store.SessionCancelled, store.SessionInterrupted}
	t0 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 100_000
	for i := 0; i < n; i += 10_000 {
		var ss []*store.Session
		for j := i; j < i+10_000; j++ {
			c := t0.Add(time.Duration(j) * 17 * time.Minute)
			ss = append(ss, &store.Session{Suite: fmt.Sprintf("suite-%02d", j%50), State: states[j%len(states)], Machines: []string{"a.xrd.test"},
				Created: c, Started: c.Add(time.Second), Ended: c.Add(time.Hour)})
		}
		if err := st.CreateSessions(ctx, ss); err != nil {
			b.Fatal(err)
		}
	}
	log := slog.New(slog.DiscardHandler)
	for _, ttl := range []time.Duration{0, 5 * time.Second} {
		b.Run(fmt.Sprintf("ttl=%s", ttl), func(b *testing.B) {
			m := NewMetrics(st, daemons.NewRegistry(daemons.RegistryConfig{}), func() int { return 0 }, "bench", log)
			m.sessions.ttl = ttl
			h := m.Handler(log)
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
				if w.Code != 200 || !strings.Contains(w.Body.String(), `xrdtest_sessions{state="passed"} 50001`) {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}
