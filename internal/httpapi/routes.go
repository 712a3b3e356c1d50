package httpapi

import (
	"fmt"
	"log/slog"

	"net/http"
	"strings"

	"github.com/xrdtest/xrdtest/internal/definition"
)

// WebUI is the web pages: their routes go into the web port's table.
type WebUI interface {
	Routes() []Route
	// Protect wraps everything the web port serves (the API too): it
	// may refuse requests, e.g. reads when the pages are not public.
	Protect(http.Handler) http.Handler
}

// Site is everything the master's web port serves.
type Site struct {
	API     *API
	Metrics *Metrics
	// TestCredentials are the original's test credential endpoints.
	TestCredentials *TestCredentials
	// Repos are where /downloadScript and /showScript find scripts;
	// WebpageDir is where /showScript looks first ("": only Repos).
	Repos      []definition.Repo
	WebpageDir string
	// UI is the web pages (nil: the API only).
	UI WebUI
	// Hosts are the master's names: a request that changes state, or
	// that the client's address alone allows, must be addressed to one
	// of them (or to an IP address, or localhost).
	Hosts []string
	Log   *slog.Logger
}

// Route is one entry of the web port's route table: a net/http pattern
// ("GET /api/v1/status") and its handler.
type Route struct {
	Pattern string
	Handler http.Handler
}

// Routes is the web port's route table: every path the port serves but
// the scripts' (withScripts) and, when there are pages, theirs (WebUI's
// Routes), in one place.
func (s *Site) Routes() []Route {
	a, tc := s.API, s.TestCredentials
	h := func(pattern string, f http.HandlerFunc) Route { return Route{pattern, f} }
	return []Route{
		// The JSON API: reads.
		h("GET /api/v1/status", serveJSON(a.status)),
		h("GET /api/v1/daemons", serveJSON(a.daemons)),
		h("GET /api/v1/suites", serveJSON(a.suites)),
		h("GET /api/v1/schedule", serveJSON(a.schedule)),
		h("GET /api/v1/repos", serveJSON(a.repos)),
		h("GET /api/v1/sessions", serveJSON(a.sessions)),
		h("GET /api/v1/sessions/{id}", serveJSON(a.session)),
		h("GET /api/v1/sessions/{id}/output", a.output),
		h("GET /api/v1/sessions/{id}/script", a.script),
		h("GET /api/v1/sessions/{id}/log", a.logFile),
		h("GET /api/v1/sessions/{id}/junit.xml", a.junit),
		// The JSON API: what the pages show, built by the same views.Views.
		h("GET /api/v1/dashboard", serveJSON(a.dashboard)),
		h("GET /api/v1/stats", serveJSON(a.stats)),
		h("GET /api/v1/clusters", serveJSON(a.clusters)),
		h("GET /api/v1/hypervisors", serveJSON(a.hypervisors)),
		h("GET /api/v1/suites/overview", serveJSON(a.suitesOverview)),
		h("GET /api/v1/history", serveJSON(a.history)),
		h("GET /api/v1/sessions/{id}/view", serveJSON(a.sessionView)),
		h("GET /api/v1/suites/{suite}/cases", serveJSON(a.cases)),
		h("GET /api/v1/suites/{suite}/cases/{case}", serveJSON(a.testCase)),
		// The JSON API: actions, behind a bearer token.
		h("POST /api/v1/sessions", a.action(a.startSession)),
		h("POST /api/v1/sessions/{id}/cancel", a.action(a.cancel)),
		h("POST /api/v1/sessions/{id}/rerun", a.action(a.rerun)),
		h("POST /api/v1/sessions/{id}/hold/release", a.action(a.release)),
		h("POST /api/v1/sessions/{id}/hold/extend", a.action(a.extend)),
		h("POST /api/v1/suites/{name}/enabled", a.action(a.setEnabled)),
		h("POST /api/v1/clusters/{name}/stop", a.action(a.stopCluster)),
		h("POST /api/v1/reload", a.action(a.reload)),
		// A shell on a session's host: a WebSocket (api.ShellPath).
		h("GET /api/v1/sessions/{id}/shell", a.authorized(a.shell)),
		h("POST /api/v1/suites/{suite}/cases/{case}/quarantine", a.action(a.quarantine)),
		h("POST /api/v1/suites/{suite}/cases/{case}/unquarantine", a.action(a.unquarantine)),
		h("/api/", func(w http.ResponseWriter, r *http.Request) {
			writeError(w, withStatus(http.StatusNotFound, fmt.Errorf("no such API endpoint: %s %s", r.Method, r.URL.Path)))
		}),
		// Prometheus.
		{"GET /metrics", s.Metrics.Handler(s.Log)},
		// The original's test credentials.
		h("GET /getTrustedCACertificate", tc.caCert),
		h("POST /getSignedCertificate", tc.sign),
		h("GET /getSSSKeytable", tc.sssKeytable),
	}
}

// Handler is the web port's handler: the routes of Routes and the pages'
// (at /), the scripts under /downloadScript/ and /showScript/, everything
// behind guard's checks and the pages' Protect.
func (s *Site) Handler() http.Handler {
	mux := http.NewServeMux()
	routes := s.Routes()
	if s.UI != nil {
		routes = append(routes, s.UI.Routes()...)
	}
	for _, r := range routes {
		mux.Handle(r.Pattern, r.Handler)
	}
	h := s.guard(mux, withScripts(&scriptServer{repos: s.Repos, webroot: s.WebpageDir, log: s.Log}, mux))
	if s.UI == nil {
		return h
	}
	return s.UI.Protect(h)
}

// withScripts serves the script paths before next sees them: a ServeMux
// would answer the doubled slash the slaves' scripts use
// (/downloadScript//suite/x.sh) with a redirect that wget and curl do not
// follow by default.
func withScripts(s *scriptServer, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rel, ok := strings.CutPrefix(r.URL.Path, "/downloadScript/"); ok {
			s.serve(w, r, rel, true)
			return
		}
		if rel, ok := strings.CutPrefix(r.URL.Path, "/showScript/"); ok {
			s.serve(w, r, rel, false)
			return
		}
		next.ServeHTTP(w, r)
	})
}
