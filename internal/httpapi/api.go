package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/xrdtest/xrdtest/internal/catalog"
	"github.com/xrdtest/xrdtest/internal/daemons"
	"github.com/xrdtest/xrdtest/internal/session"

	"github.com/xrdtest/xrdtest/internal/scheduler"
	"github.com/xrdtest/xrdtest/internal/store"
)

// API serves the JSON API under /api/v1. Reads are public; actions need
// `Authorization: Bearer <token>` (a header browsers do not send across
// sites, so the API is not open to CSRF).
type API struct {
	Manager   *session.Manager
	Scheduler *scheduler.Scheduler
	Registry  *daemons.Registry
	Store     store.Store
	// Tokens returns the tokens actions need; none disables actions.
	Tokens  func() []APIToken
	Version string
	Started time.Time
	// Reload fetches the git repositories and loads the definitions
	// again; LastReload reports the last load. Nil: not offered.
	Reload     func(context.Context) *catalog.ReloadReport
	LastReload func() *catalog.ReloadReport
	// Log records every action with who asked (nil: no log).
	Log *slog.Logger
}

// Handler returns the API's routes.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	a.viewRoutes(mux)
	mux.HandleFunc("GET /api/v1/status", a.status)
	mux.HandleFunc("GET /api/v1/daemons", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, a.Registry.Daemons()) })
	mux.HandleFunc("GET /api/v1/suites", a.suites)
	mux.HandleFunc("GET /api/v1/sessions", a.sessions)
	mux.HandleFunc("POST /api/v1/sessions", a.authorized(a.startSession))
	mux.HandleFunc("GET /api/v1/sessions/{id}", a.session)
	mux.HandleFunc("GET /api/v1/sessions/{id}/output", a.output)
	mux.HandleFunc("POST /api/v1/sessions/{id}/cancel", a.authorized(a.cancel))
	mux.HandleFunc("GET /api/v1/schedule", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, a.Scheduler.NextRuns()) })
	mux.HandleFunc("POST /api/v1/suites/{name}/enabled", a.authorized(a.setEnabled))
	mux.HandleFunc("GET /api/v1/repos", a.repos)
	mux.HandleFunc("POST /api/v1/reload", a.authorized(a.reload))
	a.extraRoutes(mux)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Errorf("no such API endpoint: %s %s", r.Method, r.URL.Path))
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}

func (a *API) authorized(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tokens := a.Tokens()
		if len(tokens) == 0 {
			writeError(w, http.StatusForbidden, errors.New("actions are disabled on this master: set [webserver] suite_run_pass, api_token or api_tokens"))
			return
		}
		id, ok := BearerIdentity(tokens, r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="xrdtest"`)
			writeError(w, http.StatusUnauthorized, errors.New("a valid API token is required (Authorization: Bearer TOKEN)"))
			return
		}
		h(w, withIdentity(r, id))
	}
}

func (a *API) status(w http.ResponseWriter, r *http.Request) {
	running, _, err := a.Store.Sessions(r.Context(), store.Filter{States: []store.SessionState{store.SessionQueued, store.SessionRunning}})
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	if running == nil {
		running = []*store.Session{}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"version": a.Version, "started": a.Started, "daemons": a.Registry.Daemons(), "sessions": running,
	})
}

func (a *API) suites(w http.ResponseWriter, r *http.Request) {
	type suite struct {
		Name     string   `json:"name"`
		Clusters []string `json:"clusters"`
		Machines []string `json:"machines"`
		Cases    []string `json:"cases"`
	}
	out := []suite{}
	for _, s := range a.Manager.Definitions().Suites {
		v := suite{Name: s.Name, Clusters: s.Clusters, Machines: s.Machines}
		for _, tc := range s.Tests {
			v.Cases = append(v.Cases, tc.Name)
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) sessions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.Filter{Suite: q.Get("suite"), Limit: 50}
	for _, s := range q["state"] {
		// As the history: a typo is an error, not an empty list.
		if !slices.Contains(sessionStates, store.SessionState(s)) {
			writeError(w, http.StatusBadRequest, fmt.Errorf("state %q: want one of %s", s, joinStates(sessionStates)))
			return
		}
		f.States = append(f.States, store.SessionState(s))
	}
	if v, err := strconv.Atoi(q.Get("limit")); err == nil && v > 0 && v <= 1000 {
		f.Limit = v
	}
	if v, err := strconv.Atoi(q.Get("offset")); err == nil && v >= 0 {
		f.Offset = v
	}
	list, total, err := a.Store.Sessions(r.Context(), f)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	if list == nil {
		list = []*store.Session{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": list, "total": total})
}

func (a *API) startSession(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Suite string   `json:"suite"`
		Cases []string `json:"cases"`
		By    string   `json:"by"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("bad request body: %w", err))
		return
	}
	by := actor(r, req.By)
	a.log().Info("API: run suite", "suite", req.Suite, "cases", req.Cases, "by", by)
	s, err := a.Manager.Start(r.Context(), req.Suite, req.Cases, by)
	if err != nil {
		writeError(w, ActionStatus(err), err)
		return
	}
	writeJSON(w, http.StatusCreated, s)
}

// setEnabled enables or disables a suite's schedule: {"enabled": bool}.
func (a *API) setEnabled(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Enabled *bool  `json:"enabled"`
		By      string `json:"by"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil || req.Enabled == nil {
		writeError(w, http.StatusBadRequest, errors.New(`want {"enabled": true|false}`))
		return
	}
	name := r.PathValue("name")
	a.log().Info("API: set suite enabled", "suite", name, "enabled", *req.Enabled, "by", actor(r, req.By))
	if err := a.Scheduler.SetEnabled(r.Context(), name, *req.Enabled); err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, scheduler.ErrUnknownSuite) {
			code = http.StatusNotFound
		}
		writeError(w, code, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"suite": name, "enabled": *req.Enabled})
}

func sessionID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, fmt.Errorf("bad session id %q", r.PathValue("id")))
		return 0, false
	}
	return id, true
}

func (a *API) session(w http.ResponseWriter, r *http.Request) {
	id, ok := sessionID(w, r)
	if !ok {
		return
	}
	// scripts=0 leaves the scripts out (tens of MiB with 1000 slaves):
	// GET .../script?stage=&slave= returns one.
	d, err := store.ReadDetail(r.Context(), a.Store, id, r.URL.Query().Get("scripts") != "0")
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Errorf("no session %d", id))
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (a *API) cancel(w http.ResponseWriter, r *http.Request) {
	id, ok := sessionID(w, r)
	if !ok {
		return
	}
	by, ok := actionBy(w, r)
	if !ok {
		return
	}
	a.log().Info("API: cancel session", "session", id, "by", by)
	if err := a.Manager.Cancel(id); err != nil {
		writeError(w, ActionStatus(err), err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"cancelling": id})
}

// output streams one slave's output of one stage as plain text; with
// follow=1 it keeps streaming until the stage has ended there.
func (a *API) output(w http.ResponseWriter, r *http.Request) {
	id, ok := sessionID(w, r)
	if !ok {
		return
	}
	stage, err := strconv.Atoi(r.URL.Query().Get("stage"))
	slave := r.URL.Query().Get("slave")
	if err != nil || slave == "" {
		writeError(w, http.StatusBadRequest, errors.New("give stage=INDEX and slave=NAME"))
		return
	}
	follow := r.URL.Query().Get("follow") == "1"
	// A cell the session does not have is 404 at once: following it would
	// send nothing until the session ends.
	var f *OutputFollower
	if follow {
		err = CheckCell(r.Context(), a.Store, id, stage, slave)
	}
	if err == nil {
		f, err = OpenOutput(r.Context(), a.Store, id, stage, slave, follow)
	}
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, err)
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	flush := func() {}
	if flusher, ok := w.(http.Flusher); ok {
		flush = flusher.Flush
	}
	f.Copy(r.Context(), 0, func(p []byte) error { _, err := w.Write(p); return err }, flush)
}
