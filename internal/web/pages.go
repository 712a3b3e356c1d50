package web

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/xrdtest/xrdtest/internal/api"

	"github.com/xrdtest/xrdtest/internal/views"

	"github.com/xrdtest/xrdtest/internal/httpapi"

	"github.com/xrdtest/xrdtest/internal/store"
)

// statsDays is the statistics window of the dashboard.
const statsDays = views.DefaultStatsDays

func (h *Handler) dashboard(w http.ResponseWriter, r *http.Request) {
	d, err := h.cfg.Views.Dashboard(r.Context(), statsDays)
	if err != nil {
		h.viewError(w, r, err)
		return
	}
	p := h.newPage(r, "Dashboard", "dashboard", d)
	p.Live = "/events"
	h.render(w, r, http.StatusOK, "dashboard", p)
}

func (h *Handler) suites(w http.ResponseWriter, r *http.Request) {
	s, err := h.cfg.Views.Suites(r.Context())
	if err != nil {
		h.viewError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "suites", h.newPage(r, "Suites", "suites", s))
}

func (h *Handler) cases(w http.ResponseWriter, r *http.Request) {
	c, err := h.cfg.Views.Cases(r.Context(), r.PathValue("suite"))
	if err != nil {
		h.viewError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "cases", h.newPage(r, "Cases of "+c.Suite, "suites", c))
}

func (h *Handler) testCase(w http.ResponseWriter, r *http.Request) {
	c, err := h.cfg.Views.Case(r.Context(), r.PathValue("suite"), r.PathValue("case"))
	if err != nil {
		h.viewError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "case", h.newPage(r, c.Name+" of "+c.Suite, "suites", c))
}

func (h *Handler) history(w http.ResponseWriter, r *http.Request) {
	q, err := views.ParseHistoryQuery(r.URL.Query())
	if err != nil {
		h.viewError(w, r, err)
		return
	}
	hv, err := h.cfg.Views.History(r.Context(), q)
	if err != nil {
		h.viewError(w, r, err)
		return
	}
	type pageLink struct {
		N       int
		Current bool
		Gap     bool
	}
	var links []pageLink
	last := 0
	for _, n := range []int{1, 2, hv.Query.Page - 2, hv.Query.Page - 1, hv.Query.Page, hv.Query.Page + 1, hv.Query.Page + 2, hv.Pages - 1, hv.Pages} {
		if n < 1 || n > hv.Pages || n <= last {
			continue
		}
		if n > last+1 {
			links = append(links, pageLink{Gap: true})
		}
		links = append(links, pageLink{N: n, Current: n == hv.Query.Page})
		last = n
	}
	h.render(w, r, http.StatusOK, "history", h.newPage(r, "History", "history", struct {
		*api.HistoryView
		Links []pageLink
	}{hv, links}))
}

func (h *Handler) clusters(w http.ResponseWriter, r *http.Request) {
	c, err := h.cfg.Views.Clusters(r.Context())
	if err != nil {
		h.viewError(w, r, err)
		return
	}
	p := h.newPage(r, "Clusters", "clusters", struct {
		Clusters []api.ClusterView
		CanStop  bool
	}{c, h.cfg.StopClusters})
	p.Live = "/events"
	h.render(w, r, http.StatusOK, "clusters", p)
}

func (h *Handler) hypervisors(w http.ResponseWriter, r *http.Request) {
	p := h.newPage(r, "Hypervisors", "hypervisors", h.cfg.Views.Hypervisors())
	p.Live = "/events"
	h.render(w, r, http.StatusOK, "hypervisors", p)
}

// pathID reads the {id} of the path.
func (h *Handler) pathID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		h.errorPage(w, r, http.StatusBadRequest, fmt.Errorf("bad session id %q", r.PathValue("id")))
		return 0, false
	}
	return id, true
}

// resultID reads the session id, stage and slave of one result's pages;
// false: the error page is written.
func (h *Handler) resultID(w http.ResponseWriter, r *http.Request) (id int64, stage int, slave string, ok bool) {
	if id, ok = h.pathID(w, r); !ok {
		return 0, 0, "", false
	}
	stage, slave, err := httpapi.StageSlave(r)
	if err != nil {
		h.errorPage(w, r, http.StatusBadRequest, err)
		return 0, 0, "", false
	}
	return id, stage, slave, true
}

// resultAt is resultID and the offset= to show the output from.
func (h *Handler) resultAt(w http.ResponseWriter, r *http.Request) (id int64, stage int, slave string, offset int64, ok bool) {
	if id, stage, slave, ok = h.resultID(w, r); !ok {
		return 0, 0, "", 0, false
	}
	offset, err := offsetParam(r)
	if err != nil {
		h.viewError(w, r, err)
		return 0, 0, "", 0, false
	}
	return id, stage, slave, offset, true
}

func (h *Handler) session(w http.ResponseWriter, r *http.Request) {
	id, ok := h.pathID(w, r)
	if !ok {
		return
	}
	v, err := h.cfg.Views.Session(r.Context(), id)
	if err != nil {
		h.viewError(w, r, err)
		return
	}
	var cases []string
	if su := h.cfg.Definitions().Suite(v.Suite); su != nil {
		for _, tc := range su.Tests {
			cases = append(cases, tc.Name)
		}
	}
	p := h.newPage(r, fmt.Sprintf("Session %d", id), "history", struct {
		*api.SessionView
		Timeline *timeline
		Cases    []string
		CanRerun bool
	}{v, buildTimeline(v, h.cfg.Now()), cases, h.cfg.Actions != nil})
	if !v.State.Finished() {
		p.Live = fmt.Sprintf("/sessions/%d/events", id)
	}
	h.render(w, r, http.StatusOK, "session", p)
}

// pageSize is how much of an output or log one page shows.
const pageSize = 256 << 10

// textPage is one page of a large text: never more than pageSize bytes
// are read.
type textPage struct {
	Text       string
	Start, End int64 // byte range shown
	Size       int64
	Prev, Next int64 // offsets of the neighbour pages (-1: none)
	Last       int64 // offset of the page that ends at the end
}

// readPage reads the page starting at offset, or at the next line (or at
// least character) when offset is inside one, as Previous and Last
// offsets are; it ends on such a boundary too, so pages split neither.
func readPage(f io.ReadSeeker, offset int64) (*textPage, error) {
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, err
	}
	offset = min(max(offset, 0), size)
	// From the byte before: it tells whether offset starts a line.
	from := max(offset-1, 0)
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return nil, err
	}
	buf := make([]byte, min(pageSize, size-offset)+offset-from)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	buf = buf[:n]
	if offset > from && len(buf) > 0 {
		before := buf[0]
		buf = buf[1:]
		if before != '\n' {
			skip := 0
			if i := bytes.IndexByte(buf, '\n'); i >= 0 && i < len(buf)/2 {
				skip = i + 1
			} else {
				for skip < utf8.UTFMax && skip < len(buf) && !utf8.RuneStart(buf[skip]) {
					skip++
				}
			}
			buf, offset = buf[skip:], offset+int64(skip)
		}
	}
	end := offset + int64(len(buf))
	if end < size {
		if i := bytes.LastIndexByte(buf, '\n'); i >= len(buf)/2 {
			buf = buf[:i+1]
		} else {
			for k := 0; k < utf8.UTFMax && len(buf) > 0 && !utf8.RuneStart(buf[len(buf)-1]); k++ {
				buf = buf[:len(buf)-1]
			}
			if len(buf) > 0 && !utf8.FullRune(buf[len(buf)-1:]) {
				buf = buf[:len(buf)-1]
			}
		}
	}
	p := &textPage{Text: string(buf), Start: offset, End: offset + int64(len(buf)), Size: size, Prev: -1, Next: -1,
		Last: max(0, size-pageSize)}
	if offset > 0 {
		p.Prev = max(0, offset-pageSize)
	}
	if p.End < size {
		p.Next = p.End
	}
	return p, nil
}

func offsetParam(r *http.Request) (int64, error) {
	s := r.URL.Query().Get("offset")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: offset %q: want a byte offset", views.ErrBadQuery, s)
	}
	return n, nil
}

// result shows one slave's stage: status, output (live while it runs,
// then by pages), the script that ran.
func (h *Handler) result(w http.ResponseWriter, r *http.Request) {
	id, stage, slave, offset, ok := h.resultAt(w, r)
	if !ok {
		return
	}
	s, err := h.cfg.Store.Session(r.Context(), id)
	if err != nil {
		h.viewError(w, r, err)
		return
	}
	if !slices.Contains(s.Machines, slave) {
		h.errorPage(w, r, http.StatusNotFound, fmt.Errorf("session %d has no slave %q", id, slave))
		return
	}
	stages, err := h.cfg.Store.Stages(r.Context(), id)
	if err != nil {
		h.viewError(w, r, err)
		return
	}
	var st *store.Stage
	for _, x := range stages {
		if x.Index == stage {
			st = x
		}
	}
	if st == nil {
		h.errorPage(w, r, http.StatusNotFound, fmt.Errorf("session %d has no stage %d (yet)", id, stage))
		return
	}
	res, err := h.cfg.Views.Result(r.Context(), id, stage, slave)
	if errors.Is(err, store.ErrNotFound) {
		res = &store.Result{SessionID: id, Stage: stage, Slave: slave, Status: store.StatusPending}
	} else if err != nil {
		h.viewError(w, r, err)
		return
	}
	data := struct {
		Session *store.Session
		Stage   *store.Stage
		Result  *store.Result
		Running bool
		Stream  string
		Page    *textPage
		Raw     string
		PageURL func(int64) string
		Dur     time.Duration
	}{Session: s, Stage: st, Result: res}
	q := url.Values{"stage": {strconv.Itoa(stage)}, "slave": {slave}}
	data.Raw = fmt.Sprintf("/sessions/%d/output/raw?%s", id, q.Encode())
	data.PageURL = func(off int64) string {
		q := url.Values{"stage": {strconv.Itoa(stage)}, "slave": {slave}, "offset": {strconv.FormatInt(off, 10)}}
		return fmt.Sprintf("/sessions/%d/result?%s", id, q.Encode())
	}
	if !res.Start.IsZero() {
		end := res.End
		if end.IsZero() {
			end = h.cfg.Now()
		}
		data.Dur = end.Sub(res.Start)
	}
	live := res.Status == store.StatusRunning || (res.Status == store.StatusPending && !s.State.Finished())
	if live {
		// Live: the page streams from the last page's start on.
		data.Running = true
		var from int64
		if f, err := h.cfg.Store.OpenOutput(id, stage, slave); err == nil {
			if size, err := f.Seek(0, io.SeekEnd); err == nil && size > pageSize {
				from = size - pageSize
			}
			f.Close()
		}
		q.Set("offset", strconv.FormatInt(from, 10))
		data.Stream = fmt.Sprintf("/sessions/%d/output/stream?%s", id, q.Encode())
	} else if f, err := h.cfg.Store.OpenOutput(id, stage, slave); err == nil {
		defer f.Close()
		if data.Page, err = readPage(f, offset); err != nil {
			h.viewError(w, r, err)
			return
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		h.viewError(w, r, err)
		return
	}
	p := h.newPage(r, fmt.Sprintf("%s on %s, session %d", st.Name, slave, id), "history", data)
	if live {
		p.Live = fmt.Sprintf("/sessions/%d/events", id)
	}
	h.render(w, r, http.StatusOK, "result", p)
}

// sendRaw sends a whole file as text, as a download.
func sendRaw(w http.ResponseWriter, r *http.Request, f io.ReadSeeker, name string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	httpapi.NoDeadlines(w) // a large file on a slow link
	http.ServeContent(w, r, "", time.Time{}, f)
}

func (h *Handler) outputRaw(w http.ResponseWriter, r *http.Request) {
	id, stage, slave, ok := h.resultID(w, r)
	if !ok {
		return
	}
	f, err := h.cfg.Store.OpenOutput(id, stage, slave)
	if err != nil {
		h.viewError(w, r, err)
		return
	}
	defer f.Close()
	sendRaw(w, r, f, fmt.Sprintf("session%d-stage%d-%s.txt", id, stage, safeFileName(slave)))
}

func safeFileName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// logFile is a collected log file a log page names: the session from the
// path, the slave and the file's path on it from the query.
type logFile struct {
	id          int64
	slave, path string
	f           io.ReadSeekCloser
}

// openLog opens the log file the request names; false: the error page
// was sent. The caller closes the file.
func (h *Handler) openLog(w http.ResponseWriter, r *http.Request) (logFile, bool) {
	var l logFile
	var ok bool
	if l.id, ok = h.pathID(w, r); !ok {
		return l, false
	}
	q := r.URL.Query()
	l.slave, l.path = q.Get("slave"), q.Get("path")
	f, err := views.OpenLogFile(h.cfg.Store, l.id, l.slave, l.path)
	if err != nil {
		h.viewError(w, r, err)
		return l, false
	}
	l.f = f
	return l, true
}

func (h *Handler) logPage(w http.ResponseWriter, r *http.Request) {
	offset, err := offsetParam(r)
	if err != nil {
		h.viewError(w, r, err)
		return
	}
	l, ok := h.openLog(w, r)
	if !ok {
		return
	}
	defer l.f.Close()
	pg, err := readPage(l.f, offset)
	if err != nil {
		h.viewError(w, r, err)
		return
	}
	q := url.Values{"slave": {l.slave}, "path": {l.path}}
	data := struct {
		ID          int64
		Slave, Path string
		Page        *textPage
		Raw         string
		PageURL     func(int64) string
	}{ID: l.id, Slave: l.slave, Path: l.path, Page: pg, Raw: fmt.Sprintf("/sessions/%d/log/raw?%s", l.id, q.Encode())}
	data.PageURL = func(off int64) string {
		q := url.Values{"slave": {l.slave}, "path": {l.path}, "offset": {strconv.FormatInt(off, 10)}}
		return fmt.Sprintf("/sessions/%d/log?%s", l.id, q.Encode())
	}
	h.render(w, r, http.StatusOK, "log", h.newPage(r, fmt.Sprintf("%s on %s, session %d", l.path, l.slave, l.id), "history", data))
}

func (h *Handler) logRaw(w http.ResponseWriter, r *http.Request) {
	l, ok := h.openLog(w, r)
	if !ok {
		return
	}
	defer l.f.Close()
	sendRaw(w, r, l.f, fmt.Sprintf("session%d-%s-%s", l.id, safeFileName(l.slave), safeFileName(l.path)))
}
