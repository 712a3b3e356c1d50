package httpapi

import (
	"context"
	"errors"
	"net/http"
)

// repos reports the repositories as last loaded: revisions, sync errors,
// and the definitions' errors and warnings.
func (a *API) repos(w http.ResponseWriter, r *http.Request) {
	if a.LastReload == nil {
		writeError(w, http.StatusNotFound, errors.New("no repositories on this master"))
		return
	}
	writeJSON(w, http.StatusOK, a.LastReload())
}

// reload fetches the git repositories and loads the definitions again. A
// failed fetch or broken definitions are in the report, not an HTTP error:
// the reload itself happened, with the last good definitions kept.
func (a *API) reload(w http.ResponseWriter, r *http.Request) {
	if a.Reload == nil {
		writeError(w, http.StatusNotFound, errors.New("reloading is not offered by this master"))
		return
	}
	by, ok := actionBy(w, r)
	if !ok {
		return
	}
	a.log().Info("API: reload of the definitions", "by", by)
	// A client that hangs up does not cut a fetch short.
	writeJSON(w, http.StatusOK, a.Reload(context.WithoutCancel(r.Context())))
}
