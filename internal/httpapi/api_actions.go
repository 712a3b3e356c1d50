package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"unicode"

	"github.com/xrdtest/xrdtest/internal/session"

	"github.com/xrdtest/xrdtest/internal/store"
)

// extraRoutes adds the routes beyond the first ones (Handler).
func (a *API) extraRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/sessions/{id}/rerun", a.authorized(a.rerun))
	mux.HandleFunc("POST /api/v1/clusters/{name}/stop", a.authorized(a.stopCluster))
	mux.HandleFunc("GET /api/v1/sessions/{id}/junit.xml", a.junit)
}

func (a *API) log() *slog.Logger {
	if a.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Log
}

// actor is who asked for an action: the API token's holder, with the
// user name the client claims (unverified, so only a hint: `xrdtest`
// sends $USER).
func actor(r *http.Request, claimed string) string {
	claimed = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, claimed)
	claimed = strings.TrimSpace(claimed)
	if r := []rune(claimed); len(r) > 64 {
		claimed = string(r[:64])
	}
	if claimed == "" {
		return identity(r)
	}
	return identity(r) + " (" + claimed + ")"
}

// actionBy decodes an action's optional JSON body, {"by": "user"}, and
// returns who asks (see actor); ok false: the request was answered 400.
func actionBy(w http.ResponseWriter, r *http.Request) (by string, ok bool) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	var req struct {
		By string `json:"by"`
	}
	if err == nil && len(strings.TrimSpace(string(b))) > 0 {
		err = json.Unmarshal(b, &req)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("bad request body: %w", err))
		return "", false
	}
	return actor(r, req.By), true
}

// rerun starts a new session of a session's suite and cases.
func (a *API) rerun(w http.ResponseWriter, r *http.Request) {
	id, ok := sessionID(w, r)
	if !ok {
		return
	}
	by, ok := actionBy(w, r)
	if !ok {
		return
	}
	a.log().Info("API: re-run session", "session", id, "by", by)
	s, err := a.Manager.Rerun(r.Context(), id, by)
	if err != nil {
		a.log().Warn("API: re-run refused", "session", id, "by", by, "err", err)
		writeError(w, ActionStatus(err), err)
		return
	}
	writeJSON(w, http.StatusCreated, s)
}

// stopCluster stops a cluster no session uses.
func (a *API) stopCluster(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	by, ok := actionBy(w, r)
	if !ok {
		return
	}
	a.log().Info("API: stop cluster", "cluster", name, "by", by)
	if err := a.Manager.StopCluster(r.Context(), name, by); err != nil {
		writeError(w, ActionStatus(err), err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"cluster": name, "stopped": true})
}

// ActionStatus maps the session.Manager's errors to HTTP statuses, for the API
// and the web pages alike.
func ActionStatus(err error) int {
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, session.ErrUnknownSuite), errors.Is(err, session.ErrUnknownCase), errors.Is(err, session.ErrUnknownCluster):
		return http.StatusNotFound
	case errors.Is(err, session.ErrClusterInUse), errors.Is(err, session.ErrNoClusters), errors.Is(err, session.ErrClusterNotRunning), errors.Is(err, session.ErrNotRunning):
		return http.StatusConflict
	case errors.Is(err, session.ErrShuttingDown):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
