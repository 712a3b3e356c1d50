package httpapi

import (
	"log/slog"

	"net/http"
	"strings"

	"github.com/xrdtest/xrdtest/internal/definition"
)

// WebUI is the web pages' handler, mounted at / on the web port.
type WebUI interface {
	http.Handler
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
	UI  WebUI
	Log *slog.Logger
}

// Handler is the web listener's top-level handler: the JSON API under
// /api/, /metrics, the repositories' scripts under /downloadScript/ and
// /showScript/, the original's test credentials, and the pages at /.
func (s *Site) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/api/", s.API.Handler())
	mux.Handle("GET /metrics", s.Metrics.Handler(s.Log))
	s.TestCredentials.routes(mux)
	h := withScripts(&scriptServer{repos: s.Repos, webroot: s.WebpageDir, log: s.Log}, mux)
	if s.UI == nil {
		return h
	}
	mux.Handle("/", s.UI)
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
