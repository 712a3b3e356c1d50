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

// TestReadPageStartsOnBoundary: an offset inside a line (Previous, Last)
// starts the page at the next line, or inside a long line at the next
// character; an offset at a line's start stays.
func TestReadPageStartsOnBoundary(t *testing.T) {
	text := "héllo\nwörld\n" + strings.Repeat("é", 10)
	for _, tc := range []struct {
		offset int64
		want   string
	}{
		{0, text},
		{7, "wörld\n" + strings.Repeat("é", 10)}, // at a line's start
		{3, "wörld\n" + strings.Repeat("é", 10)}, // inside the first line
		{16, strings.Repeat("é", 9)},             // in a line without end: at a character
		{17, strings.Repeat("é", 8)},             // inside a character
	} {
		p, err := readPage(strings.NewReader(text), tc.offset)
		if err != nil {
			t.Fatal(err)
		}
		if p.Text != tc.want || p.End != int64(len(text)) || p.Start != p.End-int64(len(tc.want)) {
			t.Errorf("offset %d: %q [%d, %d), want %q", tc.offset, p.Text, p.Start, p.End, tc.want)
		}
	}
}
