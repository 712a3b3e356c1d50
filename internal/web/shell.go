package web

import (
	"crypto/hmac"
	"errors"
	"net/http"
)

// shell is the pages' terminal: GET /sessions/{id}/shell, a WebSocket
// (api.ShellPath says what it carries) that a page's script opens. It
// acts, so it is guarded as the forms are: the Origin names this site,
// the login's cookie is valid, and the login's CSRF token is in the
// query (a browser's WebSocket cannot set a header).
func (h *Handler) shell(w http.ResponseWriter, r *http.Request) {
	refuse := func(code int, err error) {
		h.cfg.Log.Warn("web: shell refused", "path", r.URL.Path, "addr", r.RemoteAddr, "err", err)
		http.Error(w, err.Error(), code)
	}
	if err := sameOrigin(r); err != nil {
		refuse(http.StatusForbidden, err)
		return
	}
	if h.cfg.Password() == "" || h.cfg.Actions == nil {
		refuse(http.StatusForbidden, errors.New("actions are disabled on this master: set [webserver] suite_run_pass"))
		return
	}
	u, ok := h.user(r)
	if !ok {
		refuse(http.StatusUnauthorized, errors.New("log in first: a shell needs the password"))
		return
	}
	if !hmac.Equal([]byte(r.URL.Query().Get(csrfField)), []byte(h.csrfToken(u))) {
		refuse(http.StatusForbidden, errors.New("missing or wrong form token (reload the page and try again)"))
		return
	}
	id, ok := h.pathID(w, r)
	if !ok {
		return
	}
	h.cfg.Actions.Shell(w, r, caller(r, u), id)
}
