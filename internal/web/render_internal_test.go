package web

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/api"

	"github.com/xrdtest/xrdtest/internal/daemons"

	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/throttle"
)

// TestDashboardBusySlave: a busy slave's stage is its name, linked to its
// result, and its session; the host tooltips say the same.
func TestDashboardBusySlave(t *testing.T) {
	logs := &strings.Builder{}
	h, err := New(Config{Log: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	d := &api.Dashboard{
		Slaves:   []daemons.DaemonInfo{{Role: "slave", Name: "client.xrd.test", State: "connected", Stage: "slow:run", Session: 7, StageIndex: 2}},
		Clusters: []api.ClusterView{{Name: "c", Hosts: []api.HostView{{Name: "client.xrd.test", State: "busy", Stage: "slow:run", Session: 7, StageIndex: 2}}}},
		Stats:    &api.StatsView{Stats: &store.Stats{}},
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

// The limiter's defaults, which the pages' own limiter has.
const (
	loginFailures = throttle.DefaultFailures
	loginWindow   = throttle.DefaultWindow
	loginLockout  = throttle.DefaultLockout
)

// TestLoginThrottled: after loginFailures failed logins in a minute an
// address is refused (429, Retry-After), even with the right password,
// until the lockout ends; other addresses are not; a login resets.
func TestLoginThrottled(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	logs := &strings.Builder{}
	h, err := New(Config{Password: func() string { return "right-password" }, Now: func() time.Time { return now },
		Log: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	login := func(addr, pass string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(url.Values{"password": {pass}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "http://example.com")
		req.RemoteAddr = addr
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	// Failures spread over more than a minute do not add up.
	for i := 0; i < 2*loginFailures; i++ {
		if rec := login("192.0.2.1:1000", "wrong"); rec.Code != http.StatusUnauthorized {
			t.Fatalf("slow failure %d: %d", i, rec.Code)
		}
		now = now.Add(loginWindow/(loginFailures-1) + time.Second)
	}
	now = now.Add(time.Hour)
	for i := 1; i < loginFailures; i++ {
		if rec := login("192.0.2.1:1000", "wrong"); rec.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, rec.Code)
		}
	}
	rec := login("192.0.2.1:1001", "wrong")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "300" {
		t.Fatalf("failure %d: %d, Retry-After %q", loginFailures, rec.Code, rec.Header().Get("Retry-After"))
	}
	now = now.Add(time.Minute)
	rec = login("192.0.2.1:1002", "right-password")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "240" || !strings.Contains(rec.Body.String(), "try again in 240 seconds") {
		t.Errorf("while refused, the right password: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	if rec := login("192.0.2.2:1000", "right-password"); rec.Code != http.StatusSeeOther {
		t.Errorf("another address: %d", rec.Code)
	}
	now = now.Add(loginLockout)
	if rec := login("192.0.2.1:1000", "right-password"); rec.Code != http.StatusSeeOther {
		t.Errorf("after the lockout: %d", rec.Code)
	}
	// The login reset the count.
	for i := 1; i < loginFailures; i++ {
		if rec := login("192.0.2.1:1000", "wrong"); rec.Code != http.StatusUnauthorized {
			t.Errorf("after a login, failure %d: %d", i, rec.Code)
		}
	}
	if !strings.Contains(logs.String(), "too many failed logins") || strings.Contains(logs.String(), "right-password") {
		t.Errorf("log:\n%s", logs)
	}
}
