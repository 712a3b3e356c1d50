package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/xrdtest/xrdtest/internal/views"

	"github.com/xrdtest/xrdtest/internal/scheduler"
	"github.com/xrdtest/xrdtest/internal/session"
	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/throttle"
)

// endpoint is a JSON endpoint: it returns the answer (written with 200 OK,
// or with the status of a Reply) or an error (written by writeError with
// Status(err)). Endpoints that stream text or XML are plain handlers that
// report errors with writeError too.
type endpoint func(r *http.Request) (any, error)

// Reply is an answer with a status other than 200 OK.
type Reply struct {
	Status int
	Body   any
}

// serveJSON is the one wrapper that writes what endpoints return.
func serveJSON(e endpoint) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := e(r)
		if err != nil {
			writeError(w, err)
			return
		}
		if rep, ok := v.(Reply); ok {
			writeJSON(w, rep.Status, rep.Body)
			return
		}
		writeJSON(w, http.StatusOK, v)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// writeError answers {"error": "..."} with Status(err); a refusal for
// too many failures says when to try again (Retry-After).
func writeError(w http.ResponseWriter, err error) {
	if re, ok := errors.AsType[*throttle.RefusedError](err); ok {
		w.Header().Set("Retry-After", strconv.Itoa(re.Seconds()))
	}
	writeJSON(w, Status(err), map[string]string{"error": err.Error()})
}

// StatusError is an error with the HTTP status it answers.
type StatusError struct {
	Code int
	Err  error
}

func (e *StatusError) Error() string { return e.Err.Error() }
func (e *StatusError) Unwrap() error { return e.Err }

// withStatus gives err the status code.
func withStatus(code int, err error) error { return &StatusError{Code: code, Err: err} }

// badRequest is a 400 error.
func badRequest(format string, a ...any) error {
	return withStatus(http.StatusBadRequest, fmt.Errorf(format, a...))
}

// ErrNotOffered: the master does not offer what was asked (no
// repositories to reload, no clusters of its own...).
var ErrNotOffered = errors.New("not offered")

// Status is the HTTP status of an error of the API, the pages or the
// actions: one mapping for all of them.
func Status(err error) int {
	var se *StatusError
	var re *throttle.RefusedError
	switch {
	case errors.As(err, &se):
		return se.Code
	case errors.As(err, &re):
		return http.StatusTooManyRequests
	case errors.Is(err, views.ErrBadQuery), errors.Is(err, session.ErrBadRetries), errors.Is(err, ErrBadQuarantine),
		errors.Is(err, session.ErrBadHold):
		return http.StatusBadRequest
	case errors.Is(err, store.ErrNotFound), errors.Is(err, ErrNotOffered), errors.Is(err, session.ErrUnknownSuite), errors.Is(err, session.ErrUnknownCase),
		errors.Is(err, session.ErrUnknownCluster), errors.Is(err, scheduler.ErrUnknownSuite):
		return http.StatusNotFound
	case errors.Is(err, session.ErrClusterInUse), errors.Is(err, session.ErrNoClusters), errors.Is(err, session.ErrClusterNotRunning),
		errors.Is(err, session.ErrNotRunning), errors.Is(err, session.ErrNotHeld):
		return http.StatusConflict
	case errors.Is(err, session.ErrShuttingDown):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// sessionID reads the {id} of the path.
func sessionID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, badRequest("bad session id %q", r.PathValue("id"))
	}
	return id, nil
}
