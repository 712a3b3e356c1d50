package master

import (
	"net/http"
	"strings"
)

// routes is the web listener's top-level handler: the JSON API under
// /api/, /metrics, the repositories' scripts under /downloadScript/ and
// /showScript/, and the original's test credentials (testCredentials).
// Other pages go on mux.
func (m *Master) routes(api *API, ui WebUI) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/api/", api.Handler())
	mux.Handle("GET /metrics", m.Metrics.Handler(m.opts.Log))
	m.testCreds.routes(mux)
	h := withScripts(&scriptServer{repos: m.opts.Repos, webroot: m.opts.WebpageDir, log: m.opts.Log}, mux)
	if ui == nil {
		return h
	}
	mux.Handle("/", ui)
	return ui.Protect(h)
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
