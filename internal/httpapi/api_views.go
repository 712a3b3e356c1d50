package httpapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/xrdtest/xrdtest/internal/store"
)

// DefaultStatsDays is the window of the statistics on the dashboard.
const DefaultStatsDays = 14

// Views returns the view builder over the API's parts: the pages and
// the API show the same views.
func (a *API) Views() *Views {
	return &Views{Manager: a.Manager, Registry: a.Registry, Scheduler: a.Scheduler, Store: a.Store, Version: a.Version, Started: a.Started,
		LastReload: a.LastReload}
}

// viewRoutes adds the endpoints of what the web pages show; pages and
// endpoints are built by the same Views functions.
func (a *API) viewRoutes(mux *http.ServeMux) {
	v := a.Views()
	mux.HandleFunc("GET /api/v1/dashboard", func(w http.ResponseWriter, r *http.Request) {
		d, err := v.Dashboard(r.Context(), DefaultStatsDays)
		writeView(w, d, err)
	})
	mux.HandleFunc("GET /api/v1/stats", func(w http.ResponseWriter, r *http.Request) {
		days := DefaultStatsDays
		if s := r.URL.Query().Get("days"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				writeError(w, http.StatusBadRequest, fmt.Errorf("days %q: want a number of days", s))
				return
			}
			days = n
		}
		st, err := v.Stats(r.Context(), days)
		writeView(w, st, err)
	})
	mux.HandleFunc("GET /api/v1/clusters", func(w http.ResponseWriter, r *http.Request) {
		c, err := v.Clusters(r.Context())
		writeView(w, c, err)
	})
	mux.HandleFunc("GET /api/v1/hypervisors", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, v.Hypervisors())
	})
	mux.HandleFunc("GET /api/v1/suites/overview", func(w http.ResponseWriter, r *http.Request) {
		s, err := v.Suites(r.Context())
		writeView(w, s, err)
	})
	mux.HandleFunc("GET /api/v1/history", func(w http.ResponseWriter, r *http.Request) {
		q, err := ParseHistoryQuery(r.URL.Query())
		if err != nil {
			writeView(w, nil, err)
			return
		}
		h, err := v.History(r.Context(), q)
		writeView(w, h, err)
	})
	mux.HandleFunc("GET /api/v1/sessions/{id}/view", func(w http.ResponseWriter, r *http.Request) {
		id, ok := sessionID(w, r)
		if !ok {
			return
		}
		s, err := v.Session(r.Context(), id)
		writeView(w, s, err)
	})
	mux.HandleFunc("GET /api/v1/sessions/{id}/script", func(w http.ResponseWriter, r *http.Request) {
		id, ok := sessionID(w, r)
		if !ok {
			return
		}
		stage, slave, err := StageSlave(r)
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		res, err := v.Result(r.Context(), id, stage, slave)
		if err != nil {
			writeView(w, nil, err)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Write([]byte(res.Script))
	})
	mux.HandleFunc("GET /api/v1/sessions/{id}/log", a.logFile)
}

// logFile sends a log file collected from a slave as text (the web's log
// pages validate the same way: OpenLogFile).
func (a *API) logFile(w http.ResponseWriter, r *http.Request) {
	id, ok := sessionID(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	f, err := OpenLogFile(a.Store, id, q.Get("slave"), q.Get("path"))
	if err != nil {
		writeView(w, nil, err)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// Ranges too: a client can fetch the tail of a large log.
	http.ServeContent(w, r, "", time.Time{}, f)
}

// OpenLogFile opens the log file path collected from slave in session id;
// a bad name wraps ErrBadQuery, a missing file store.ErrNotFound, saying
// why it may be missing.
func OpenLogFile(st store.Store, id int64, slave, path string) (io.ReadSeekCloser, error) {
	if slave == "" || path == "" || len(slave) > 255 || len(path) > 4096 {
		return nil, fmt.Errorf("%w: give slave=NAME and path=PATH", ErrBadQuery)
	}
	f, err := st.OpenLog(id, slave, path)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: log %s of %s in session %d: never collected, or deleted by the retention limits ([retention] outputs_max_age)",
			store.ErrNotFound, path, slave, id)
	}
	return f, err
}

// StageSlave reads the stage=INDEX and slave=NAME parameters.
func StageSlave(r *http.Request) (int, string, error) {
	q := r.URL.Query()
	stage, err := strconv.Atoi(q.Get("stage"))
	slave := q.Get("slave")
	if err != nil || stage < 0 || stage > 1_000_000 || slave == "" || len(slave) > 255 {
		return 0, "", errors.New("give stage=INDEX and slave=NAME")
	}
	return stage, slave, nil
}

// writeView answers with v, or with the error's status: 400 for a bad
// query, 404 for something missing.
func writeView(w http.ResponseWriter, v any, err error) {
	switch {
	case errors.Is(err, ErrBadQuery):
		writeError(w, http.StatusBadRequest, err)
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, err)
	case err != nil:
		writeError(w, http.StatusInternalServerError, err)
	default:
		writeJSON(w, http.StatusOK, v)
	}
}
