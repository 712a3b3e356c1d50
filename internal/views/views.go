package views

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/xrdtest/xrdtest/internal/api"
	"github.com/xrdtest/xrdtest/internal/catalog"
	"github.com/xrdtest/xrdtest/internal/daemons"
	"github.com/xrdtest/xrdtest/internal/faults"
	"github.com/xrdtest/xrdtest/internal/session"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/scheduler"
	"github.com/xrdtest/xrdtest/internal/store"
)

// Views builds what the web pages and the JSON API show. Both call the
// same functions, so a page and its API endpoint always agree, and none
// reads more of the history than one screen needs (no function loads all
// sessions: the statistics come from Store.Stats).
type Views struct {
	Manager   *session.Manager
	Registry  *daemons.Registry
	Scheduler *scheduler.Scheduler
	Store     store.Store
	Version   string
	Started   time.Time
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// LastReload reports the definitions' last load (nil: not known).
	LastReload func() *catalog.ReloadReport
	// Changes tells what changed in a suite's files between two
	// definitions revisions (nil: not known); see catalog.Catalog.Changes.
	Changes func(ctx context.Context, suite, from, to string) ([]api.RepoChanges, error)
}

// ErrBadQuery is wrapped by the errors of invalid view parameters (a bad
// history filter): the caller answers 400.
var ErrBadQuery = errors.New("bad query")

func (v *Views) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Views) defs() *definition.Set {
	if v.Manager != nil && v.Manager.Definitions != nil {
		if d := v.Manager.Definitions(); d != nil {
			return d
		}
	}
	return &definition.Set{}
}

// ---- dashboard ----

// Dashboard builds the front page. statsDays is the window of the
// statistics.
func (v *Views) Dashboard(ctx context.Context, statsDays int) (*api.Dashboard, error) {
	now := v.now()
	d := &api.Dashboard{Version: v.Version, Started: v.Started, Uptime: api.Duration(now.Sub(v.Started)),
		Hypervisors: v.Hypervisors(), Slaves: []daemons.DaemonInfo{}, Active: []api.SessionProgress{}, NextRuns: []scheduler.NextRun{}}
	for _, di := range v.Registry.Daemons() {
		if di.Role == api.RoleSlave {
			d.Slaves = append(d.Slaves, di)
		}
	}
	active, err := v.activeSessions(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range active {
		p, err := v.progress(ctx, s)
		if err != nil {
			return nil, err
		}
		d.Active = append(d.Active, *p)
	}
	if d.Clusters, err = v.clusters(ctx, active); err != nil {
		return nil, err
	}
	if v.Scheduler != nil {
		d.NextRuns = v.Scheduler.NextRuns()
		if len(d.NextRuns) > 10 {
			d.NextRuns = d.NextRuns[:10]
		}
	}
	if d.Stats, err = v.Stats(ctx, statsDays); err != nil {
		return nil, err
	}
	d.DefinitionErrors = len(v.defs().Diagnostics.Errors())
	return d, nil
}

// activeSessions lists the queued, running and held sessions, oldest
// first.
func (v *Views) activeSessions(ctx context.Context) ([]*store.Session, error) {
	list, _, err := v.Store.Sessions(ctx, store.Filter{States: store.UnfinishedStates(), Limit: 200})
	slices.Reverse(list)
	return list, err
}

// progress summarises the stages of a session, the planned ones that have
// not started as pending.
func (v *Views) progress(ctx context.Context, s *store.Session) (*api.SessionProgress, error) {
	stages, err := v.Store.Stages(ctx, s.ID)
	if err != nil {
		return nil, err
	}
	results, err := store.ResultSummaries(ctx, v.Store, s.ID)
	if err != nil {
		return nil, err
	}
	p := &api.SessionProgress{Session: s, Current: -1}
	for _, row := range v.stageRows(s, stages, results) {
		sp := api.StageProgress{Index: row.Index, Name: row.Name, Status: row.Status, Total: len(row.Cells)}
		for _, c := range row.Cells {
			if c.Status != "" && c.Status != store.StatusPending && c.Status != store.StatusRunning {
				sp.Done++
			}
		}
		if row.Status == store.StatusRunning {
			p.Current = row.Index
		}
		p.Stages = append(p.Stages, sp)
	}
	return p, nil
}

// ---- statistics ----

// Stats summarises the sessions created in the last days days (1 to 366).
func (v *Views) Stats(ctx context.Context, days int) (*api.StatsView, error) {
	if days < 1 || days > 366 {
		return nil, fmt.Errorf("%w: days must be 1 to 366, not %d", ErrBadQuery, days)
	}
	now := v.now().UTC()
	// Whole UTC days, today included.
	from := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, 1-days)
	st, err := v.Store.Stats(ctx, from, now.Add(time.Nanosecond))
	if err != nil {
		return nil, err
	}
	if st.PerDay == nil {
		st.PerDay = []store.DayStats{} // [] as the other lists, not null
	}
	sv := &api.StatsView{Stats: st, Days: days, MeanDuration: api.Duration(st.MeanDurationNs)}
	if r, ok := st.PassRate(); ok {
		sv.PassRate = &r
	}
	return sv, nil
}

// ---- daemons and clusters ----

// Hypervisors lists the connected hypervisors by name.
func (v *Views) Hypervisors() []daemons.HypervisorInfo {
	return v.Registry.HypervisorInfos(v.placements())
}

// placements maps the clusters started on hypervisors to theirs.
func (v *Views) placements() map[string]string {
	if h, ok := v.Manager.Clusters.(*daemons.Hypervisors); ok && h != nil {
		return h.Placements()
	}
	return map[string]string{}
}

// Clusters lists the defined clusters and the state of their hosts.
func (v *Views) Clusters(ctx context.Context) ([]api.ClusterView, error) {
	active, err := v.activeSessions(ctx)
	if err != nil {
		return nil, err
	}
	return v.clusters(ctx, active)
}

func (v *Views) clusters(ctx context.Context, active []*store.Session) ([]api.ClusterView, error) {
	defs := v.defs()
	slaves := map[string]daemons.DaemonInfo{}
	for _, d := range v.Registry.Daemons() {
		if d.Role == api.RoleSlave {
			slaves[d.Name] = d
		}
	}
	placed := v.placements()
	// The clusters the active sessions use, and the hosts' last start-up
	// phase from those sessions' events ("host: phase").
	users := map[string][]int64{}
	phase := map[string]string{}
	for _, s := range active {
		su := defs.Suite(s.Suite)
		if su == nil {
			continue
		}
		for _, c := range su.Clusters {
			users[c] = append(users[c], s.ID)
		}
		evs, err := v.Store.Events(ctx, s.ID)
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			if e.Kind == "cluster" {
				if host, ph, ok := strings.Cut(e.Message, ": "); ok {
					phase[host] = ph
				}
			}
		}
	}
	out := []api.ClusterView{}
	for _, c := range defs.Clusters {
		cv := api.ClusterView{Name: c.Name, File: c.File, Network: api.Network(c.Network), Hypervisor: placed[c.Name], Sessions: users[c.Name], Hosts: []api.HostView{}}
		if cv.Sessions == nil {
			cv.Sessions = []int64{}
		}
		for _, h := range c.Hosts {
			hv := api.HostView{Name: h.Name, IP: h.IP, State: api.HostDown}
			if d, ok := slaves[h.Name]; ok {
				hv.State, hv.Stage, hv.Session, hv.StageIndex, hv.Since = api.HostState(d.State), d.Stage, d.Session, d.StageIndex, d.Since
				if d.State == api.DaemonConnected && d.Stage != "" {
					hv.State = api.HostBusy
				}
			} else if ph := phase[h.Name]; ph != "" && len(cv.Sessions) > 0 {
				hv.State = api.HostState(ph)
			}
			cv.Hosts = append(cv.Hosts, hv)
		}
		out = append(out, cv)
	}
	slices.SortFunc(out, func(a, b api.ClusterView) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// ---- suites ----

func diagView(d definition.Diagnostic) api.DiagnosticView {
	return api.DiagnosticView{Severity: d.Severity.String(), File: d.File, Line: d.Line, Message: d.Message}
}

// inDir reports whether the diagnostic d is about file or a file in its
// folder, in repository repo.
func inDir(d definition.Diagnostic, repo, file string) bool {
	if d.Repo != repo {
		return false
	}
	dir := path.Dir(file)
	return d.File == file || (dir != "." && strings.HasPrefix(d.File, dir+"/"))
}

// recentPerSuite is the length of the pass/fail strips.
const recentPerSuite = 20

// Suites lists every suite with its summary and last results, and the
// definitions that did not load.
func (v *Views) Suites(ctx context.Context) (*api.SuitesView, error) {
	defs := v.defs()
	next := map[string]scheduler.NextRun{}
	if v.Scheduler != nil {
		for _, n := range v.Scheduler.NextRuns() {
			next[n.Suite] = n
		}
	}
	out := &api.SuitesView{Suites: []api.SuiteView{}, Broken: []api.BrokenView{}, Errors: []api.DiagnosticView{}, Warnings: []api.DiagnosticView{}, Repos: []catalog.RepoStatus{}}
	if v.LastReload != nil {
		if rep := v.LastReload(); rep != nil {
			out.Repos, out.Loaded = rep.Repos, rep.Loaded
		}
	}
	for _, d := range defs.Diagnostics {
		if d.Severity == definition.Error {
			out.Errors = append(out.Errors, diagView(d))
		} else {
			out.Warnings = append(out.Warnings, diagView(d))
		}
	}
	for _, s := range defs.Suites {
		n := next[s.Name]
		enabled, known, err := v.Store.SuiteEnabled(ctx, s.Name)
		if err != nil {
			return nil, err
		}
		sv := api.SuiteView{Name: s.Name, File: s.File, Clusters: s.Clusters, Machines: s.Machines, Cases: []string{},
			Schedule: scheduleText(s.Schedule), Next: n.Next, Enabled: enabled || !known, Pending: n.Pending,
			AlertEmails: s.AlertEmails, AlertSuccess: string(s.AlertSuccess), AlertFailure: string(s.AlertFailure),
			Recent: []api.SessionBrief{}, Diagnostics: []api.DiagnosticView{}}
		// The scheduler reports a suite enabled only when it is on too.
		if sv.Enabled && v.Scheduler != nil && !n.Enabled {
			out.SchedulerOff = true
		}
		if v.Manager != nil {
			sv.Running = v.Manager.Running(s.Name)
		}
		for _, tc := range s.Tests {
			sv.Cases = append(sv.Cases, tc.Name)
		}
		recent, _, err := v.Store.Sessions(ctx, store.Filter{Suite: s.Name, Limit: recentPerSuite})
		if err != nil {
			return nil, err
		}
		for _, r := range recent {
			sv.Recent = append(sv.Recent, api.SessionBrief{ID: r.ID, State: r.State, Created: r.Created})
		}
		for _, d := range defs.Diagnostics {
			if inDir(d, s.Repo, s.File) {
				sv.Diagnostics = append(sv.Diagnostics, diagView(d))
			}
		}
		out.Suites = append(out.Suites, sv)
	}
	slices.SortFunc(out.Suites, func(a, b api.SuiteView) int { return cmp.Compare(a.Name, b.Name) })
	for _, f := range defs.Failed {
		b := api.BrokenView{Kind: f.Kind, Name: f.Name, File: f.File, Errors: []api.DiagnosticView{}}
		for _, d := range defs.Diagnostics.Errors() {
			if (f.Kind == "suite" && inDir(d, f.Repo, f.File)) || (d.Repo == f.Repo && d.File == f.File) {
				b.Errors = append(b.Errors, diagView(d))
			}
		}
		out.Broken = append(out.Broken, b)
	}
	return out, nil
}

// scheduleText renders a schedule dict as written: "hour=3, minute=*/5".
func scheduleText(s map[string]any) string {
	order := []string{"year", "month", "day", "week", "day_of_week", "hour", "minute", "second", "start_date"}
	var parts []string
	for _, k := range order {
		if v, ok := s[k]; ok {
			parts = append(parts, fmt.Sprintf("%s=%v", k, v))
		}
	}
	var rest []string
	for k, v := range s {
		if !slices.Contains(order, k) {
			rest = append(rest, fmt.Sprintf("%s=%v", k, v))
		}
	}
	slices.Sort(rest)
	return strings.Join(append(parts, rest...), ", ")
}

// ---- history ----

// History paging limits.
const (
	DefaultPerPage = api.DefaultPerPage
	MaxPerPage     = 500
	maxPage        = 10_000_000
)

// SessionStates lists the session states, for filters.
func SessionStates() []store.SessionState { return store.AllSessionStates() }

// ParseHistoryQuery reads suite, state (repeatable), from, to, page and
// per_page; errors wrap ErrBadQuery and name the parameter.
func ParseHistoryQuery(q url.Values) (api.HistoryQuery, error) {
	h := api.HistoryQuery{Suite: strings.TrimSpace(q.Get("suite")), From: q.Get("from"), To: q.Get("to"), Page: 1, PerPage: DefaultPerPage}
	bad := func(format string, args ...any) (api.HistoryQuery, error) {
		return api.HistoryQuery{}, fmt.Errorf("%w: "+format, append([]any{ErrBadQuery}, args...)...)
	}
	if len(h.Suite) > 200 || strings.ContainsFunc(h.Suite, unicode.IsControl) {
		return bad("suite: not a suite name")
	}
	for _, s := range q["state"] {
		if s == "" {
			continue
		}
		st := store.SessionState(s)
		if !slices.Contains(store.AllSessionStates(), st) {
			return bad("state %q: want one of %s", s, store.JoinStates(store.AllSessionStates()))
		}
		if !slices.Contains(h.States, st) {
			h.States = append(h.States, st)
		}
	}
	for _, d := range []struct{ name, v string }{{"from", h.From}, {"to", h.To}} {
		if d.v == "" {
			continue
		}
		// Times are stored as int64 nanoseconds: 1678 to 2262.
		if t, err := time.Parse(time.DateOnly, d.v); err != nil || t.Year() < 1970 || t.Year() > 2200 {
			return bad("%s %q: want a date YYYY-MM-DD from 1970 to 2200", d.name, d.v)
		}
	}
	if h.From != "" && h.To != "" && h.To < h.From {
		return bad("to %s is before from %s", h.To, h.From)
	}
	for _, p := range []struct {
		name string
		dst  *int
		max  int
	}{{"page", &h.Page, maxPage}, {"per_page", &h.PerPage, MaxPerPage}} {
		s := q.Get(p.name)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > p.max {
			return bad("%s %q: want a number from 1 to %d", p.name, s, p.max)
		}
		*p.dst = n
	}
	return h, nil
}

// History returns one page of the sessions matching q, newest first.
func (v *Views) History(ctx context.Context, q api.HistoryQuery) (*api.HistoryView, error) {
	if q.Page < 1 {
		q.Page = 1
	}
	if q.PerPage < 1 || q.PerPage > MaxPerPage {
		q.PerPage = DefaultPerPage
	}
	f := store.Filter{Suite: q.Suite, States: q.States, Limit: q.PerPage, Offset: (q.Page - 1) * q.PerPage}
	if q.From != "" {
		t, err := time.Parse(time.DateOnly, q.From)
		if err != nil {
			return nil, fmt.Errorf("%w: from: %v", ErrBadQuery, err)
		}
		f.From = t
	}
	if q.To != "" {
		t, err := time.Parse(time.DateOnly, q.To)
		if err != nil {
			return nil, fmt.Errorf("%w: to: %v", ErrBadQuery, err)
		}
		f.To = t.AddDate(0, 0, 1)
	}
	list, total, err := v.Store.Sessions(ctx, f)
	if err != nil {
		return nil, err
	}
	hv := &api.HistoryView{Query: q, Sessions: list, Total: total, Pages: max(1, (total+q.PerPage-1)/q.PerPage), Suites: []string{}}
	if hv.Sessions == nil {
		hv.Sessions = []*store.Session{}
	}
	for _, s := range v.defs().Suites {
		hv.Suites = append(hv.Suites, s.Name)
	}
	slices.Sort(hv.Suites)
	return hv, nil
}

// ---- one session ----

// Session returns the view of session id (store.ErrNotFound when absent).
func (v *Views) Session(ctx context.Context, id int64) (*api.SessionView, error) {
	s, err := v.Store.Session(ctx, id)
	if err != nil {
		return nil, err
	}
	stages, err := v.Store.Stages(ctx, id)
	if err != nil {
		return nil, err
	}
	results, err := store.ResultSummaries(ctx, v.Store, id)
	if err != nil {
		return nil, err
	}
	sv := &api.SessionView{Session: s, Slaves: slices.Clone(s.Machines), Stages: v.stageRows(s, stages, results)}
	if sv.Slaves == nil {
		sv.Slaves = []string{}
	}
	if !s.Started.IsZero() {
		end := s.Ended
		if end.IsZero() {
			end = v.now()
		}
		sv.Duration = api.Duration(end.Sub(s.Started))
	}
	if sv.Events, err = v.Store.Events(ctx, id); err != nil {
		return nil, err
	}
	if sv.Logs, err = v.Store.Logs(ctx, id); err != nil {
		return nil, err
	}
	if sv.Events == nil {
		sv.Events = []store.Event{}
	}
	sv.Faults = FaultWindows(sv.Events)
	if sv.Logs == nil {
		sv.Logs = []store.LogFile{}
	}
	if err := v.markFailures(ctx, sv, results); err != nil {
		return nil, err
	}
	return sv, nil
}

// markFailures adds the summaries of the session's fingerprints and marks
// the cells whose failure this session saw first.
func (v *Views) markFailures(ctx context.Context, sv *api.SessionView, results []*store.Result) error {
	var ids []string
	for _, r := range results {
		ids = append(ids, r.Fingerprint)
	}
	fps, err := v.Store.Fingerprints(ctx, ids)
	if err != nil {
		return err
	}
	sv.Fingerprints = fps
	if sv.Fingerprints == nil {
		sv.Fingerprints = []api.Fingerprint{}
	}
	first := map[string]bool{}
	for _, f := range fps {
		first[f.ID] = f.First.ID == sv.ID
	}
	for i := range sv.Stages {
		for j := range sv.Stages[i].Cells {
			c := &sv.Stages[i].Cells[j]
			c.NewFailure = c.Fingerprint != "" && first[c.Fingerprint]
		}
	}
	return nil
}

// stageRows builds the matrix: the recorded stages, then the planned ones
// of an unfinished session (from the suite as loaded now).
func (v *Views) stageRows(s *store.Session, stages []*store.Stage, results []*store.Result) []api.StageRow {
	now := v.now()
	byStage := map[int]map[string]*store.Result{}
	for _, r := range results {
		if byStage[r.Stage] == nil {
			byStage[r.Stage] = map[string]*store.Result{}
		}
		byStage[r.Stage][r.Slave] = r
	}
	rows := []api.StageRow{}
	seen := map[string]bool{}
	next := 0 // the index of the next stage to run
	for _, st := range stages {
		seen[st.Name] = true
		next = max(next, st.Index+1)
		row := api.StageRow{Index: st.Index, Name: st.Name, Case: st.Case, Started: st.Started, Ended: st.Ended}
		for _, slave := range s.Machines {
			c := api.Cell{Slave: slave, Status: store.StatusPending}
			if r := byStage[st.Index][slave]; r != nil {
				c = api.Cell{Slave: slave, Status: r.Status, ExitCode: r.ExitCode, Start: r.Start, End: r.End, Message: r.Message,
					OutputBytes: r.OutputBytes, Fingerprint: r.Fingerprint}
				if !r.Start.IsZero() {
					end := r.End
					if end.IsZero() {
						end = now
					}
					c.Duration = api.Duration(end.Sub(r.Start))
				}
			}
			row.Cells = append(row.Cells, c)
		}
		row.Status = summarize(row.Cells, !st.Ended.IsZero())
		rows = append(rows, row)
	}
	if !s.State.Finished() {
		if su := v.defs().Suite(s.Suite); su != nil {
			// By name: a case run again (c:run#2) moves the stages after
			// it, which run in plan order after those recorded.
			for _, ps := range session.Plan(su, s.Cases) {
				if seen[ps.Name] {
					continue
				}
				row := api.StageRow{Index: next, Name: ps.Name, Case: ps.Case, Planned: true, Status: store.StatusPending}
				next++
				for _, slave := range s.Machines {
					row.Cells = append(row.Cells, api.Cell{Slave: slave, Status: store.StatusPending})
				}
				rows = append(rows, row)
			}
		}
	}
	for i := range rows {
		if rows[i].Cells == nil {
			rows[i].Cells = []api.Cell{}
		}
	}
	slices.SortStableFunc(rows, func(a, b api.StageRow) int { return cmp.Compare(a.Index, b.Index) })
	return rows
}

// summarize is a stage's status over its cells: running while any runs
// (or the stage has not ended), then the worst outcome.
func summarize(cells []api.Cell, ended bool) store.Status {
	has := map[store.Status]bool{}
	for _, c := range cells {
		has[c.Status] = true
	}
	switch {
	case has[store.StatusRunning] || (!ended && len(cells) > 0):
		return store.StatusRunning
	case has[store.StatusFailed] || has[store.StatusTimeout] || has[store.StatusLost]:
		return store.StatusFailed
	case has[store.StatusCancelled]:
		return store.StatusCancelled
	case has[store.StatusPassed]:
		return store.StatusPassed
	case has[store.StatusSkipped]:
		return store.StatusSkipped
	}
	return store.StatusPending
}

// Result returns one slave's result of one stage, with its script (the
// exact script that ran, after tag substitution).
func (v *Views) Result(ctx context.Context, id int64, stage int, slave string) (*store.Result, error) {
	return store.OneResult(ctx, v.Store, id, stage, slave)
}

// FaultWindows are the faults a session's events record, each with its
// window: from the event that set it to the one that healed it.
func FaultWindows(events []store.Event) []api.Fault {
	out := []api.Fault{}
	at := map[string]int{} // fault id -> index in out
	for _, e := range events {
		if e.Kind != "fault" {
			continue
		}
		ev, ok := faults.ParseEvent(e.Message)
		if !ok {
			continue
		}
		switch ev.Op {
		case faults.EventSet, faults.EventDone:
			f := api.Fault{ID: ev.ID, Kind: ev.Spec.Kind, Spec: ev.Spec.String(), By: ev.By, Start: e.Time,
				Hosts: append(slices.Clone(ev.Spec.Hosts), ev.Spec.Peers...)}
			if ev.Op == faults.EventDone {
				f.End = e.Time
			}
			at[ev.ID] = len(out)
			out = append(out, f)
		case faults.EventHealed:
			if i, ok := at[ev.ID]; ok && out[i].End.IsZero() {
				out[i].End = e.Time
			}
		}
	}
	return out
}
