package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/xrdtest/xrdtest/internal/httpapi"
	"github.com/xrdtest/xrdtest/internal/session"
)

// caller is who asks for an action from the pages: sessions they start
// are "triggered by" web (USER).
func caller(r *http.Request, u login) httpapi.Caller {
	return httpapi.Caller{Via: "web", By: "web (" + u.Name + ")", Addr: r.RemoteAddr}
}

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

// formStartOptions reads the retries and the hold of a run form (blank:
// the suite's).
func formStartOptions(r *http.Request) (session.StartOptions, error) {
	opts := session.StartOptions{Retries: -1}
	if v := strings.TrimSpace(r.PostFormValue("retries")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return opts, fmt.Errorf("retries %q: want a whole number from 0", v)
		}
		opts.Retries = n
	}
	if v := strings.TrimSpace(r.PostFormValue("hold")); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return opts, fmt.Errorf("hold %q: want a duration such as 30m or 2h", v)
		}
		opts.Hold = d
	}
	return opts, nil
}

func (h *Handler) run(w http.ResponseWriter, r *http.Request, u login) {
	name := r.PathValue("name")
	cases := formCases(r)
	opts, err := formStartOptions(r)
	if err != nil {
		h.errorPage(w, r, http.StatusBadRequest, err)
		return
	}
	s, err := h.cfg.Actions.RunWith(r.Context(), caller(r, u), name, cases, opts)
	if err != nil {
		h.errorPage(w, r, httpapi.Status(err), err)
		return
	}
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
	if err := h.cfg.Actions.SetEnabled(r.Context(), caller(r, u), name, on); err != nil {
		h.errorPage(w, r, httpapi.Status(err), err)
		return
	}
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
	if err := h.cfg.Actions.Cancel(caller(r, u), id); err != nil {
		h.errorPage(w, r, httpapi.Status(err), err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/sessions/%d", id), http.StatusSeeOther)
}

func (h *Handler) release(w http.ResponseWriter, r *http.Request, u login) {
	id, ok := h.pathID(w, r)
	if !ok {
		return
	}
	if err := h.cfg.Actions.Release(r.Context(), caller(r, u), id); err != nil {
		h.errorPage(w, r, httpapi.Status(err), err)
		return
	}
	h.back(w, r, fmt.Sprintf("/sessions/%d", id), fmt.Sprintf("Session %d released: its finalizes run, then its cluster stops.", id))
}

func (h *Handler) extend(w http.ResponseWriter, r *http.Request, u login) {
	id, ok := h.pathID(w, r)
	if !ok {
		return
	}
	d, err := time.ParseDuration(r.PostFormValue("duration"))
	if err != nil || d <= 0 {
		h.errorPage(w, r, http.StatusBadRequest, fmt.Errorf("duration %q: want a duration such as 30m", r.PostFormValue("duration")))
		return
	}
	until, err := h.cfg.Actions.Extend(r.Context(), caller(r, u), id, d)
	if err != nil {
		h.errorPage(w, r, httpapi.Status(err), err)
		return
	}
	h.back(w, r, fmt.Sprintf("/sessions/%d", id), fmt.Sprintf("Session %d held until %s.", id, until.Local().Format(time.DateTime)))
}

func (h *Handler) rerun(w http.ResponseWriter, r *http.Request, u login) {
	id, ok := h.pathID(w, r)
	if !ok {
		return
	}
	s, err := h.cfg.Actions.Rerun(r.Context(), caller(r, u), id, formCases(r))
	if err != nil {
		h.errorPage(w, r, httpapi.Status(err), err)
		return
	}
	http.Redirect(w, r, "/sessions/"+strconv.FormatInt(s.ID, 10), http.StatusSeeOther)
}

func (h *Handler) stopCluster(w http.ResponseWriter, r *http.Request, u login) {
	name := r.PathValue("name")
	if err := h.cfg.Actions.StopCluster(r.Context(), caller(r, u), name); err != nil {
		h.errorPage(w, r, httpapi.Status(err), err)
		return
	}
	h.back(w, r, "/clusters", fmt.Sprintf("Cluster %s stopped.", name))
}

func (h *Handler) reload(w http.ResponseWriter, r *http.Request, u login) {
	rep, err := h.cfg.Actions.ReloadDefinitions(r.Context(), caller(r, u))
	if err != nil {
		h.errorPage(w, r, httpapi.Status(err), err)
		return
	}
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

func (h *Handler) quarantine(w http.ResponseWriter, r *http.Request, u login) {
	suite, name := r.PathValue("suite"), r.PathValue("case")
	until, err := time.ParseInLocation(time.DateOnly, r.PostFormValue("until"), time.Local)
	if err != nil {
		h.errorPage(w, r, http.StatusBadRequest, fmt.Errorf("until %q: want a date, YYYY-MM-DD", r.PostFormValue("until")))
		return
	}
	q, err := h.cfg.Actions.Quarantine(r.Context(), caller(r, u), suite, name, r.PostFormValue("reason"), until)
	if err != nil {
		h.errorPage(w, r, httpapi.Status(err), err)
		return
	}
	h.back(w, r, caseURL(suite, name), fmt.Sprintf("Case %s quarantined until %s.", name, q.Until.Local().Format(time.DateOnly)))
}

func (h *Handler) unquarantine(w http.ResponseWriter, r *http.Request, u login) {
	suite, name := r.PathValue("suite"), r.PathValue("case")
	if err := h.cfg.Actions.Unquarantine(r.Context(), caller(r, u), suite, name); err != nil {
		h.errorPage(w, r, httpapi.Status(err), err)
		return
	}
	h.back(w, r, caseURL(suite, name), fmt.Sprintf("Case %s no longer quarantined.", name))
}

func caseURL(suite, name string) string {
	return "/suites/" + url.PathEscape(suite) + "/cases/" + url.PathEscape(name)
}
