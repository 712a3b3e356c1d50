package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/xrdtest/xrdtest/internal/httpapi"

	"github.com/xrdtest/xrdtest/internal/scheduler"
)

// by is how sessions started from the pages name who started them.
func by(u login) string { return "web (" + u.Name + ")" }

// back redirects to the page the form was on (or to fallback), with a
// message shown at its top. The message is signed: a link cannot make the
// pages say something the master did not.
func (h *Handler) back(w http.ResponseWriter, r *http.Request, fallback, flash string) {
	to := fallback
	if ref, err := url.Parse(r.Header.Get("Referer")); err == nil && ref.Path != "" && strings.HasPrefix(ref.Path, "/") && !strings.HasPrefix(ref.Path, "//") {
		to = ref.Path
	}
	if flash != "" {
		to += "?" + url.Values{"flash": {flash}, "fs": {b64.EncodeToString(h.mac("flash", flash))}}.Encode()
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// cases reads the case checkboxes of a run form (none: all cases).
func formCases(r *http.Request) []string {
	var out []string
	for _, c := range r.PostForm["case"] {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, c)
		}
	}
	return out
}

func (h *Handler) run(w http.ResponseWriter, r *http.Request, u login) {
	name := r.PathValue("name")
	cases := formCases(r)
	s, err := h.cfg.Manager.Start(r.Context(), name, cases, by(u))
	if err != nil {
		h.cfg.Log.Warn("web: run refused", "suite", name, "user", u.Name, "err", err)
		h.errorPage(w, r, httpapi.ActionStatus(err), err)
		return
	}
	h.cfg.Log.Info("web: session started", "suite", name, "session", s.ID, "cases", cases, "user", u.Name, "addr", r.RemoteAddr)
	http.Redirect(w, r, fmt.Sprintf("/sessions/%d", s.ID), http.StatusSeeOther)
}

func (h *Handler) setEnabled(w http.ResponseWriter, r *http.Request, u login) {
	name := r.PathValue("name")
	var on bool
	switch r.PostFormValue("enabled") {
	case "1":
		on = true
	case "0":
	default:
		h.errorPage(w, r, http.StatusBadRequest, errors.New("enabled must be 1 or 0"))
		return
	}
	if err := h.cfg.Scheduler.SetEnabled(r.Context(), name, on); err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, scheduler.ErrUnknownSuite) {
			code = http.StatusNotFound
		}
		h.errorPage(w, r, code, err)
		return
	}
	h.cfg.Log.Info("web: suite enable state set", "suite", name, "enabled", on, "user", u.Name, "addr", r.RemoteAddr)
	state := "disabled"
	if on {
		state = "enabled"
	}
	h.back(w, r, "/suites", fmt.Sprintf("Suite %s %s.", name, state))
}

func (h *Handler) cancel(w http.ResponseWriter, r *http.Request, u login) {
	id, ok := h.pathID(w, r)
	if !ok {
		return
	}
	if err := h.cfg.Manager.Cancel(id); err != nil {
		h.errorPage(w, r, httpapi.ActionStatus(err), err)
		return
	}
	h.cfg.Log.Info("web: session cancelled", "session", id, "user", u.Name, "addr", r.RemoteAddr)
	http.Redirect(w, r, fmt.Sprintf("/sessions/%d", id), http.StatusSeeOther)
}

func (h *Handler) rerun(w http.ResponseWriter, r *http.Request, u login) {
	id, ok := h.pathID(w, r)
	if !ok {
		return
	}
	if h.cfg.Rerun == nil {
		h.errorPage(w, r, http.StatusNotImplemented, errors.New("re-running is not available on this master"))
		return
	}
	cases := formCases(r)
	s, err := h.cfg.Rerun(r.Context(), id, cases, by(u))
	if err != nil {
		h.errorPage(w, r, httpapi.ActionStatus(err), err)
		return
	}
	h.cfg.Log.Info("web: session re-run", "session", id, "new", s.ID, "cases", cases, "user", u.Name, "addr", r.RemoteAddr)
	http.Redirect(w, r, "/sessions/"+strconv.FormatInt(s.ID, 10), http.StatusSeeOther)
}

func (h *Handler) stopCluster(w http.ResponseWriter, r *http.Request, u login) {
	name := r.PathValue("name")
	if h.cfg.StopCluster == nil {
		h.errorPage(w, r, http.StatusNotImplemented, errors.New("stopping clusters is not available on this master"))
		return
	}
	if err := h.cfg.StopCluster(r.Context(), name, by(u)); err != nil {
		h.errorPage(w, r, httpapi.ActionStatus(err), err)
		return
	}
	h.cfg.Log.Info("web: cluster stopped", "cluster", name, "user", u.Name, "addr", r.RemoteAddr)
	h.back(w, r, "/clusters", fmt.Sprintf("Cluster %s stopped.", name))
}

func (h *Handler) reload(w http.ResponseWriter, r *http.Request, u login) {
	if h.cfg.Reload == nil {
		h.errorPage(w, r, http.StatusNotImplemented, errors.New("reloading is not available on this master"))
		return
	}
	h.cfg.Log.Info("web: reload of the definitions", "user", u.Name, "addr", r.RemoteAddr)
	rep := h.cfg.Reload(r.Context())
	msg := fmt.Sprintf("Definitions reloaded: %s, %s.", plural(rep.Suites, "suite"), plural(rep.Clusters, "cluster"))
	if n := len(rep.Errors); n > 0 {
		msg = fmt.Sprintf("Definitions reloaded: %s, %s, %s (the last good definitions stay in use).",
			plural(rep.Suites, "suite"), plural(rep.Clusters, "cluster"), plural(n, "error"))
	}
	h.back(w, r, "/suites", msg)
}

// plural is "1 suite", "2 suites".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
