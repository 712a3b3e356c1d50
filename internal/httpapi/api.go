package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/xrdtest/xrdtest/internal/api"
	"github.com/xrdtest/xrdtest/internal/views"

	"github.com/xrdtest/xrdtest/internal/catalog"
	"github.com/xrdtest/xrdtest/internal/daemons"
	"github.com/xrdtest/xrdtest/internal/scheduler"
	"github.com/xrdtest/xrdtest/internal/session"
	"github.com/xrdtest/xrdtest/internal/store"
)

// API serves the JSON API under /api/v1. Reads are public; actions need
// `Authorization: Bearer <token>` (a header browsers do not send across
// sites, so the API is not open to CSRF). Its routes are in Site's table.
type API struct {
	Manager   *session.Manager
	Scheduler *scheduler.Scheduler
	Registry  *daemons.Registry
	Store     store.Store
	// Views builds what the pages show, which the API sends too.
	Views *views.Views
	// Actions are the state-changing operations, shared with the pages.
	Actions *Actions
	// Bearer checks the tokens actions need; no tokens disables actions.
	Bearer *Bearer
	// Streams bounds the followed outputs, with the pages' live streams
	// (nil: unbounded).
	Streams *Streams
	Version string
	Started time.Time
	// LastReload reports the definitions loaded last (nil: the master has
	// no repositories).
	LastReload func() *catalog.ReloadReport
	Log        *slog.Logger
}

func (a *API) log() *slog.Logger {
	if a.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Log
}

// authorized lets an action through with a valid bearer token.
func (a *API) authorized(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.Bearer == nil || len(a.Bearer.Tokens) == 0 {
			writeError(w, withStatus(http.StatusForbidden, errors.New("actions are disabled on this master: set [webserver] suite_run_pass, api_token or api_tokens")))
			return
		}
		id, err := a.Bearer.Identity(r)
		if err == nil && id == "" {
			err = errBadToken
		}
		if err != nil {
			if Status(err) == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="xrdtest"`)
			}
			writeError(w, err)
			return
		}
		h(w, withIdentity(r, id))
	}
}

// action is an endpoint behind authorized.
func (a *API) action(e endpoint) http.HandlerFunc { return a.authorized(serveJSON(e)) }

// ---- reads ----

func (a *API) status(r *http.Request) (any, error) {
	running, _, err := a.Store.Sessions(r.Context(), store.Filter{States: store.UnfinishedStates()})
	if err != nil {
		return nil, err
	}
	if running == nil {
		running = []*store.Session{}
	}
	return map[string]any{"version": a.Version, "started": a.Started, "daemons": a.Registry.Daemons(), "sessions": running}, nil
}

func (a *API) daemons(*http.Request) (any, error) { return a.Registry.Daemons(), nil }

func (a *API) schedule(*http.Request) (any, error) { return a.Scheduler.NextRuns(), nil }

func (a *API) suites(*http.Request) (any, error) {
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
	return out, nil
}

func (a *API) sessions(r *http.Request) (any, error) {
	q := r.URL.Query()
	f := store.Filter{Suite: q.Get("suite"), Limit: 50}
	for _, s := range q["state"] {
		// As the history: a typo is an error, not an empty list.
		if !slices.Contains(sessionStates, store.SessionState(s)) {
			return nil, badRequest("state %q: want one of %s", s, store.JoinStates(sessionStates))
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
		return nil, err
	}
	if list == nil {
		list = []*store.Session{}
	}
	return map[string]any{"sessions": list, "total": total}, nil
}

func (a *API) session(r *http.Request) (any, error) {
	id, err := sessionID(r)
	if err != nil {
		return nil, err
	}
	// scripts=0 leaves the scripts out (tens of MiB with 1000 slaves):
	// GET .../script?stage=&slave= returns one.
	d, err := store.ReadDetail(r.Context(), a.Store, id, r.URL.Query().Get("scripts") != "0")
	if errors.Is(err, store.ErrNotFound) {
		return nil, withStatus(http.StatusNotFound, fmt.Errorf("no session %d", id))
	}
	return d, err
}

// repos reports the repositories as last loaded: revisions, fetch errors,
// and the definitions' errors and warnings.
func (a *API) repos(*http.Request) (any, error) {
	if a.LastReload == nil {
		return nil, withStatus(http.StatusNotFound, errors.New("no repositories on this master"))
	}
	return a.LastReload(), nil
}

// ---- the views the pages show ----

func (a *API) dashboard(r *http.Request) (any, error) {
	return a.Views.Dashboard(r.Context(), views.DefaultStatsDays)
}

func (a *API) stats(r *http.Request) (any, error) {
	days := views.DefaultStatsDays
	if s := r.URL.Query().Get("days"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, badRequest("days %q: want a number of days", s)
		}
		days = n
	}
	return a.Views.Stats(r.Context(), days)
}

func (a *API) clusters(r *http.Request) (any, error) { return a.Views.Clusters(r.Context()) }

func (a *API) hypervisors(*http.Request) (any, error) { return a.Views.Hypervisors(), nil }

func (a *API) suitesOverview(r *http.Request) (any, error) { return a.Views.Suites(r.Context()) }

func (a *API) history(r *http.Request) (any, error) {
	q, err := views.ParseHistoryQuery(r.URL.Query())
	if err != nil {
		return nil, err
	}
	return a.Views.History(r.Context(), q)
}

func (a *API) sessionView(r *http.Request) (any, error) {
	id, err := sessionID(r)
	if err != nil {
		return nil, err
	}
	return a.Views.Session(r.Context(), id)
}

func (a *API) cases(r *http.Request) (any, error) {
	return a.Views.Cases(r.Context(), r.PathValue("suite"))
}

func (a *API) testCase(r *http.Request) (any, error) {
	return a.Views.Case(r.Context(), r.PathValue("suite"), r.PathValue("case"))
}

// ---- text answers ----

// plainText sets the headers of a text answer that must never be
// rendered as anything else.
func plainText(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
}

// script sends the script one slave ran for one stage.
func (a *API) script(w http.ResponseWriter, r *http.Request) {
	id, err := sessionID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	stage, slave, err := StageSlave(r)
	if err != nil {
		writeError(w, withStatus(http.StatusBadRequest, err))
		return
	}
	res, err := a.Views.Result(r.Context(), id, stage, slave)
	if err != nil {
		writeError(w, err)
		return
	}
	plainText(w)
	w.Write([]byte(res.Script))
}

// logFile sends a log file collected from a slave as text (the web's log
// pages validate the same way: views.OpenLogFile).
func (a *API) logFile(w http.ResponseWriter, r *http.Request) {
	id, err := sessionID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	q := r.URL.Query()
	f, err := views.OpenLogFile(a.Store, id, q.Get("slave"), q.Get("path"))
	if err != nil {
		writeError(w, err)
		return
	}
	defer f.Close()
	NoDeadlines(w) // a large file on a slow link
	plainText(w)
	// Ranges too: a client can fetch the tail of a large log.
	http.ServeContent(w, r, "", time.Time{}, f)
}

// output streams one slave's output of one stage as plain text; with
// follow=1 it keeps streaming until the stage has ended there.
func (a *API) output(w http.ResponseWriter, r *http.Request) {
	id, err := sessionID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	stage, err := strconv.Atoi(r.URL.Query().Get("stage"))
	slave := r.URL.Query().Get("slave")
	if err != nil || stage < 0 || slave == "" {
		writeError(w, badRequest("give stage=INDEX and slave=NAME"))
		return
	}
	follow := r.URL.Query().Get("follow") == "1"
	// A cell the session does not have is 404 at once: following it would
	// send nothing until the session ends.
	var f *views.OutputFollower
	if follow {
		err = views.CheckCell(r.Context(), a.Store, id, stage, slave)
	}
	if err == nil {
		f, err = views.OpenOutput(r.Context(), a.Store, id, stage, slave, follow)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	defer f.Close()
	if follow {
		release, err := a.Streams.Start(w, r)
		if err != nil {
			writeError(w, err)
			return
		}
		defer release()
	} else {
		NoDeadlines(w) // a large file on a slow link
	}
	plainText(w)
	flush := func() {}
	if flusher, ok := w.(http.Flusher); ok {
		flush = flusher.Flush
	}
	f.Copy(r.Context(), 0, func(p []byte) error { _, err := w.Write(p); return err }, flush)
}

// ---- actions ----

// caller is who asks for an action through the API: the token's holder,
// with the user name the client claims in the body's "by" (unverified,
// so only a hint: `xrdtest` sends $USER).
func caller(r *http.Request, claimed string) Caller {
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
	by := identity(r)
	if claimed != "" {
		by += " (" + claimed + ")"
	}
	return Caller{Via: "API", By: by}
}

// decodeBody decodes an action's JSON body into v; an empty body leaves v
// as it is when emptyOK.
func decodeBody(r *http.Request, limit int64, v any, emptyOK bool) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, limit))
	if err == nil && (!emptyOK || len(bytes.TrimSpace(b)) > 0) {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		return badRequest("bad request body: %w", err)
	}
	return nil
}

// actionCaller reads the optional body of the actions that take nothing
// else, {"by": "user"}, and returns who asks.
func actionCaller(r *http.Request) (Caller, error) {
	var req struct {
		By string `json:"by"`
	}
	if err := decodeBody(r, 1<<16, &req, true); err != nil {
		return Caller{}, err
	}
	return caller(r, req.By), nil
}

// sessionAction reads the session id of the path and the caller.
func sessionAction(r *http.Request) (int64, Caller, error) {
	id, err := sessionID(r)
	if err != nil {
		return 0, Caller{}, err
	}
	c, err := actionCaller(r)
	return id, c, err
}

func (a *API) startSession(r *http.Request) (any, error) {
	var req api.StartRequest
	if err := decodeBody(r, 1<<20, &req, false); err != nil {
		return nil, err
	}
	retries := -1
	if req.Retries != nil {
		if *req.Retries < 0 {
			return nil, badRequest("retries must not be negative, got %d", *req.Retries)
		}
		retries = *req.Retries
	}
	if req.Seed < 0 {
		return nil, badRequest("seed must not be negative, got %d", req.Seed)
	}
	var hold time.Duration
	if req.Hold != "" {
		var err error
		if hold, err = time.ParseDuration(req.Hold); err != nil || hold <= 0 {
			return nil, badRequest("hold %q is not a positive duration such as \"30m\"", req.Hold)
		}
	}
	s, err := a.Actions.RunWith(r.Context(), caller(r, req.By), req.Suite, req.Cases, session.StartOptions{Retries: retries, Seed: req.Seed, Hold: hold})
	if err != nil {
		return nil, err
	}
	return Reply{http.StatusCreated, s}, nil
}

// rerun starts a new session of a session's suite and cases.
func (a *API) rerun(r *http.Request) (any, error) {
	id, c, err := sessionAction(r)
	if err != nil {
		return nil, err
	}
	s, err := a.Actions.Rerun(r.Context(), c, id, nil)
	if err != nil {
		return nil, err
	}
	return Reply{http.StatusCreated, s}, nil
}

func (a *API) cancel(r *http.Request) (any, error) {
	id, c, err := sessionAction(r)
	if err != nil {
		return nil, err
	}
	if err := a.Actions.Cancel(c, id); err != nil {
		return nil, err
	}
	return Reply{http.StatusAccepted, map[string]any{"cancelling": id}}, nil
}

// release ends the hold of a held session.
func (a *API) release(r *http.Request) (any, error) {
	id, c, err := sessionAction(r)
	if err != nil {
		return nil, err
	}
	if err := a.Actions.Release(r.Context(), c, id); err != nil {
		return nil, err
	}
	return Reply{http.StatusAccepted, api.HoldReply{Session: id, Released: true}}, nil
}

// extend moves the deadline of a held session: {"duration": "30m"}.
func (a *API) extend(r *http.Request) (any, error) {
	id, err := sessionID(r)
	if err != nil {
		return nil, err
	}
	var req api.ExtendRequest
	if err := decodeBody(r, 1<<16, &req, false); err != nil {
		return nil, err
	}
	d, err := time.ParseDuration(req.Duration)
	if err != nil || d <= 0 {
		return nil, badRequest("duration %q is not a positive duration such as \"30m\"", req.Duration)
	}
	until, err := a.Actions.Extend(r.Context(), caller(r, req.By), id, d)
	if err != nil {
		return nil, err
	}
	return api.HoldReply{Session: id, Until: until}, nil
}

// setEnabled enables or disables a suite's schedule: {"enabled": bool}.
func (a *API) setEnabled(r *http.Request) (any, error) {
	var req struct {
		Enabled *bool  `json:"enabled"`
		By      string `json:"by"`
	}
	if err := decodeBody(r, 1<<16, &req, false); err != nil || req.Enabled == nil {
		return nil, badRequest(`want {"enabled": true|false}`)
	}
	name := r.PathValue("name")
	if err := a.Actions.SetEnabled(r.Context(), caller(r, req.By), name, *req.Enabled); err != nil {
		return nil, err
	}
	return map[string]any{"suite": name, "enabled": *req.Enabled}, nil
}

// quarantine sets a case aside until a date.
func (a *API) quarantine(r *http.Request) (any, error) {
	var req api.QuarantineRequest
	if err := decodeBody(r, 1<<16, &req, false); err != nil {
		return nil, badRequest(`want {"reason": TEXT, "until": RFC 3339 time, "by": NAME}: %v`, err)
	}
	return a.Actions.Quarantine(r.Context(), caller(r, req.By), r.PathValue("suite"), r.PathValue("case"), req.Reason, req.Until)
}

// unquarantine ends a case's quarantine.
func (a *API) unquarantine(r *http.Request) (any, error) {
	c, err := actionCaller(r)
	if err != nil {
		return nil, err
	}
	suite, name := r.PathValue("suite"), r.PathValue("case")
	if err := a.Actions.Unquarantine(r.Context(), c, suite, name); err != nil {
		return nil, err
	}
	return api.Unquarantined{Suite: suite, Case: name}, nil
}

// stopCluster stops a cluster no session uses.
func (a *API) stopCluster(r *http.Request) (any, error) {
	c, err := actionCaller(r)
	if err != nil {
		return nil, err
	}
	name := r.PathValue("name")
	if err := a.Actions.StopCluster(r.Context(), c, name); err != nil {
		return nil, err
	}
	return map[string]any{"cluster": name, "stopped": true}, nil
}

// reload fetches the git repositories and loads the definitions again.
func (a *API) reload(r *http.Request) (any, error) {
	c, err := actionCaller(r)
	if err != nil {
		return nil, err
	}
	return a.Actions.ReloadDefinitions(r.Context(), c)
}
