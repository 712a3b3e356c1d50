package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/xrdtest/xrdtest/internal/junit"
	"github.com/xrdtest/xrdtest/internal/store"
)

// junit serves GET /api/v1/sessions/{id}/junit.xml (?tail=BYTES of output
// per test case).
func (a *API) junit(w http.ResponseWriter, r *http.Request) {
	id, err := sessionID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	tail := int64(junit.DefaultTail)
	if v := r.URL.Query().Get("tail"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > junit.MaxTail {
			writeError(w, badRequest("tail=%q: want a number of bytes from 0 to %d", v, junit.MaxTail))
			return
		}
		tail = n
	}
	d, err := store.Detail(r.Context(), a.Store, id)
	if errors.Is(err, store.ErrNotFound) {
		err = withStatus(http.StatusNotFound, fmt.Errorf("no session %d", id))
	}
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`inline; filename="xrdtest-session-%d.xml"`, id))
	if err := junit.Write(r.Context(), w, a.Store, d, tail, junit.Budget, time.Now()); err != nil {
		a.log().Warn("JUnit export cut short", "session", id, "err", err)
	}
}
