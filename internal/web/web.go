// Package web serves the master's web pages: dashboard, suites, history,
// session detail with live output, clusters and hypervisors.
//
// Pages are rendered on the server with html/template from the same view
// functions as the JSON API (views.Views); a small script (static/app.js)
// refreshes the live parts on Server-Sent Events and appends streamed
// output as text. Every response carries a strict Content-Security-Policy:
// no inline script or style, so user-controlled text (names, output, log
// content) can only ever be text.
//
// Actions (run, cancel, enable/disable, stop a cluster, re-run, a
// terminal on a session's host: static/shell.js) need a
// login with the [webserver] suite_run_pass: an HMAC-signed HttpOnly,
// SameSite=Strict cookie, a CSRF token derived from it in every form, and
// a same-origin check of Origin or Referer on every POST. A login lasts
// 12 hours (Config.SessionTTL); a logout ends it at once, a new password
// ends every login.
package web

import (
	"crypto/hmac"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/xrdtest/xrdtest/internal/views"

	"github.com/xrdtest/xrdtest/internal/daemons"
	"github.com/xrdtest/xrdtest/internal/httpapi"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/throttle"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config configures the pages.
type Config struct {
	Views *views.Views
	// Actions are the state-changing operations, shared with the API
	// (nil: no action buttons work).
	Actions     *httpapi.Actions
	Store       store.Store
	Changes     *httpapi.Changes
	Registry    *daemons.Registry
	Definitions func() *definition.Set
	// Password is the login password (suite_run_pass); "" disables the
	// login and every action.
	Password func() string
	// APIIdentity tells who a request's API token names ("": no token;
	// an error: a wrong token, or too many of them, see
	// httpapi.Bearer); a token lets API clients read when the pages are
	// not public. Nil: no tokens.
	APIIdentity func(*http.Request) (string, error)
	// Public: the read-only pages and API reads need no login.
	Public bool
	// Secure marks the cookie Secure (the pages are served over HTTPS).
	Secure bool
	// KeyFile keeps the key that signs the login cookies, so logins
	// survive a restart ("": a new key at every start).
	KeyFile string
	// SessionTTL is how long a login lasts (0: 12 hours). A logout ends
	// it sooner, and so does a change of Password: it signs the cookies.
	SessionTTL time.Duration
	// Streams bounds the live streams (Server-Sent Events), with the
	// API's followed outputs (nil: unbounded).
	Streams *httpapi.Streams
	// Guesses counts failed logins per client address (nil: a limiter
	// of the pages' own); the master shares it with the API's tokens.
	Guesses *throttle.Limiter
	// StopClusters: the master starts its clusters, so the pages offer
	// to stop one.
	StopClusters bool
	Log          *slog.Logger
	Now          func() time.Time
}

// Handler serves the pages; it implements httpapi.WebUI.
type Handler struct {
	cfg   Config
	mux   *http.ServeMux
	pages map[string]*template.Template
	keyMu sync.RWMutex
	key   []byte // signs the cookies, with the password; see mac
	// revoked are the logins ended before they expire.
	revoked *revocations
	// guesses limits failed logins per client address.
	guesses *throttle.Limiter
}

var _ httpapi.WebUI = (*Handler)(nil)

// New builds the handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.Password == nil {
		cfg.Password = func() string { return "" }
	}
	if cfg.APIIdentity == nil {
		cfg.APIIdentity = func(*http.Request) (string, error) { return "", nil }
	}
	key, err := loadKey(cfg.KeyFile)
	if err != nil {
		return nil, err
	}
	revoked, err := loadRevocations(revocationsFile(cfg.KeyFile))
	if err != nil {
		// The ended logins are unknown: end them all rather than let
		// them back in, or refuse to start over a file of no value.
		cfg.Log.Warn("web: the list of ended logins is unreadable: new login key, every login ended", "err", err)
		if key, err = newKey(cfg.KeyFile); err != nil {
			return nil, err
		}
		revoked = &revocations{file: revocationsFile(cfg.KeyFile), ends: map[string]int64{}}
	}
	if cfg.Guesses == nil {
		cfg.Guesses = throttle.New()
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), key: key, revoked: revoked, guesses: cfg.Guesses}
	if err := h.parseTemplates(); err != nil {
		return nil, err
	}
	for _, rt := range h.Routes() {
		h.mux.Handle(rt.Pattern, rt.Handler)
	}
	return h, nil
}

// revocationsFile is where the ended logins are kept: beside the key.
func revocationsFile(keyFile string) string {
	if keyFile == "" {
		return ""
	}
	return keyFile + ".ended"
}

func (h *Handler) parseTemplates() error {
	h.pages = map[string]*template.Template{}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return fmt.Errorf("template %s: %w", n, err)
		}
		h.pages[base] = t
	}
	return nil
}

// Routes is the pages' part of the web port's route table.
func (h *Handler) Routes() []httpapi.Route {
	static, _ := fs.Sub(staticFS, "static")
	p := func(pattern string, f http.HandlerFunc) httpapi.Route {
		return httpapi.Route{Pattern: pattern, Handler: f}
	}
	return []httpapi.Route{
		{Pattern: "GET /static/", Handler: http.StripPrefix("/static/", staticFiles(http.FileServerFS(static)))},
		p("GET /{$}", h.dashboard),
		p("GET /suites", h.suites),
		p("GET /suites/{suite}/cases", h.cases),
		p("GET /suites/{suite}/cases/{case}", h.testCase),
		p("GET /history", h.history),
		p("GET /clusters", h.clusters),
		p("GET /hypervisors", h.hypervisors),
		p("GET /sessions/{id}", h.session),
		p("GET /sessions/{id}/result", h.result),
		p("GET /sessions/{id}/output/raw", h.outputRaw),
		p("GET /sessions/{id}/output/stream", h.outputStream),
		p("GET /sessions/{id}/log", h.logPage),
		p("GET /sessions/{id}/log/raw", h.logRaw),
		p("GET /sessions/{id}/events", h.sessionEvents),
		p("GET /sessions/{id}/shell", h.shell),
		p("GET /events", h.dashboardEvents),
		p("GET /login", h.loginPage),
		p("POST /login", h.login),
		p("POST /logout", h.action(h.logout)),
		p("POST /suites/{name}/run", h.action(h.run)),
		p("POST /suites/{name}/enabled", h.action(h.setEnabled)),
		p("POST /sessions/{id}/cancel", h.action(h.cancel)),
		p("POST /sessions/{id}/rerun", h.action(h.rerun)),
		p("POST /sessions/{id}/hold/release", h.action(h.release)),
		p("POST /sessions/{id}/hold/extend", h.action(h.extend)),
		p("POST /clusters/{name}/stop", h.action(h.stopCluster)),
		p("POST /repos/reload", h.action(h.reload)),
		p("POST /suites/{suite}/cases/{case}/quarantine", h.action(h.quarantine)),
		p("POST /suites/{suite}/cases/{case}/unquarantine", h.action(h.unquarantine)),
		p("/", func(w http.ResponseWriter, r *http.Request) {
			h.errorPage(w, r, http.StatusNotFound, fmt.Errorf("no such page: %s %s", r.Method, r.URL.Path))
		}),
	}
}

// staticFiles lets browsers cache the assets briefly.
func staticFiles(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		next.ServeHTTP(w, r)
	})
}

// ServeHTTP serves the pages alone (tests; the master mounts Routes).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// csp allows the page's own script, style and connections only: no
// inline script or style, no plugins, no framing.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// publicPaths are served without a login even when the pages are not
// public: the login itself, its assets, the scripts slaves download, and
// the test credentials their scripts ask for (which check who asks).
var publicPaths = []string{"/login", "/static/", "/downloadScript/", "/getTrustedCACertificate", "/getSignedCertificate", "/getSSSKeytable"}

// Protect sets the security headers on everything the web port serves
// and, when the pages are not public, refuses reads without a login or an
// API bearer token.
func (h *Handler) Protect(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		if h.cfg.Public || r.Method == http.MethodPost || h.isPublicPath(r.URL.Path) {
			// POSTs check their own authentication: the API its
			// token, the pages the login and CSRF token.
			next.ServeHTTP(w, r)
			return
		}
		if _, ok := h.user(r); ok {
			next.ServeHTTP(w, r)
			return
		}
		// A valid API token reads everything a login does (CI tools
		// fetch pages, scripts and logs); it acts only through the API.
		api := strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/metrics"
		if api || r.Method == http.MethodGet || r.Method == http.MethodHead {
			id, err := h.cfg.APIIdentity(r)
			if id != "" && err == nil {
				next.ServeHTTP(w, r)
				return
			}
			if re, ok := errors.AsType[*throttle.RefusedError](err); ok {
				w.Header().Set("Retry-After", strconv.Itoa(re.Seconds()))
				if api {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusTooManyRequests)
					json.NewEncoder(w).Encode(map[string]string{"error": re.Error()})
					return
				}
				h.errorPage(w, r, http.StatusTooManyRequests, re)
				return
			}
		}
		if api {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("WWW-Authenticate", `Bearer realm="xrdtest"`)
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintln(w, `{"error": "this master's pages are not public: log in or give the API token (Authorization: Bearer TOKEN)"}`)
			return
		}
		http.Redirect(w, r, "/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	})
}

func (h *Handler) isPublicPath(p string) bool {
	for _, pp := range publicPaths {
		if p == pp || (strings.HasSuffix(pp, "/") && strings.HasPrefix(p, pp)) {
			return true
		}
	}
	return false
}

// page is what every template gets.
type page struct {
	Title   string
	Nav     string // the nav entry to highlight
	User    string // "" when not logged in
	CSRF    string
	CanAct  bool // actions are enabled on this master
	Live    string
	Version string
	Now     time.Time
	Data    any
	Flash   string
}

func (h *Handler) newPage(r *http.Request, title, nav string, data any) *page {
	p := &page{Title: title, Nav: nav, Data: data, CanAct: h.cfg.Password() != "", Now: h.cfg.Now()}
	if h.cfg.Views != nil {
		p.Version = h.cfg.Views.Version
	}
	if u, ok := h.user(r); ok {
		p.User, p.CSRF = u.Name, h.csrfToken(u)
	}
	if f := r.URL.Query().Get("flash"); f != "" {
		if sig, err := b64.DecodeString(r.URL.Query().Get("fs")); err == nil && hmac.Equal(sig, h.mac("flash", f)) {
			p.Flash = f
		}
	}
	return p
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, code int, name string, p *page) {
	t := h.pages[name]
	if t == nil {
		http.Error(w, "no template "+name, http.StatusInternalServerError)
		return
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout.html", p); err != nil {
		h.cfg.Log.Error("web: rendering a page", "page", name, "err", err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write([]byte(b.String()))
}

func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request, code int, err error) {
	p := h.newPage(r, http.StatusText(code), "", struct {
		Code    int
		Message string
	}{code, err.Error()})
	h.render(w, r, code, "error", p)
}

// viewError answers a failed view: 400 for a bad query, 404 for what is
// missing, 500 otherwise.
func (h *Handler) viewError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, views.ErrBadQuery):
		h.errorPage(w, r, http.StatusBadRequest, err)
	case errors.Is(err, store.ErrNotFound), httpapi.Status(err) == http.StatusNotFound: // unknown suites and cases too
		h.errorPage(w, r, http.StatusNotFound, err)
	default:
		h.cfg.Log.Error("web: reading the history", "path", r.URL.Path, "err", err)
		h.errorPage(w, r, http.StatusInternalServerError, errors.New("internal error reading the history"))
	}
}
