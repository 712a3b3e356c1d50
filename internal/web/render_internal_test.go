package web

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/xrdtest/xrdtest/internal/master"
	"github.com/xrdtest/xrdtest/internal/store"
)

// TestDashboardBusySlave: a busy slave's stage is its name, linked to its
// result, and its session; the host tooltips say the same.
func TestDashboardBusySlave(t *testing.T) {
	logs := &strings.Builder{}
	h, err := New(Config{Log: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	d := &master.Dashboard{
		Slaves:   []master.DaemonInfo{{Role: "slave", Name: "client.xrd.test", State: "connected", Stage: "slow:run", Session: 7, StageIndex: 2}},
		Clusters: []master.ClusterView{{Name: "c", Hosts: []master.HostView{{Name: "client.xrd.test", State: "busy", Stage: "slow:run", Session: 7, StageIndex: 2}}}},
		Stats:    &master.StatsView{Stats: &store.Stats{}},
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	h.render(rec, req, http.StatusOK, "dashboard", h.newPage(req, "Dashboard", "dashboard", d))
	body := rec.Body.String()
	for _, want := range []string{
		`<a href="/sessions/7/result?stage=2&amp;slave=client.xrd.test">slow:run</a> <span class="muted">session 7</span>`,
		`title="client.xrd.test: busy (slow:run, session 7)"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("dashboard lacks %s:\n%s\n%s", want, body, logs)
		}
	}
}
