package views

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/xrdtest/xrdtest/internal/api"
	"github.com/xrdtest/xrdtest/internal/session"
	"github.com/xrdtest/xrdtest/internal/store"
)

// The windows of the case statistics: the last CaseDays days, and the
// suite's last CaseLast sessions that reached its cases.
const (
	CaseDays = 30
	CaseLast = 50
	// caseFailures caps the failures a case's page lists.
	caseFailures = 100
)

// Cases builds the statistics of every case of a suite: the cases
// defined, then those only the history knows. ErrUnknownSuite when the
// suite is neither defined nor in the window of the history.
func (v *Views) Cases(ctx context.Context, suite string) (*api.CasesView, error) {
	now := v.now()
	acc, err := v.caseHistory(ctx, suite, "", now)
	if err != nil {
		return nil, err
	}
	out := &api.CasesView{Suite: suite, Now: now, Days: CaseDays, Last: CaseLast, Cases: []api.CaseStats{}}
	var all []*caseAcc
	for _, name := range acc.names {
		all = append(all, acc.cases[name])
	}
	fps, err := v.fingerprints(ctx, all)
	if err != nil {
		return nil, err
	}
	qs, err := v.quarantines(ctx, suite, now)
	if err != nil {
		return nil, err
	}
	for _, c := range all {
		st := c.stats(fps)
		st.Quarantine = qs[c.name]
		out.Cases = append(out.Cases, st)
	}
	return out, nil
}

// quarantines reads the quarantines of a suite in force at now, by case.
func (v *Views) quarantines(ctx context.Context, suite string, now time.Time) (map[string]*api.Quarantine, error) {
	qs, err := v.Store.Quarantines(ctx, suite)
	if err != nil {
		return nil, err
	}
	out := map[string]*api.Quarantine{}
	for _, q := range qs {
		if q.Until.After(now) {
			out[q.Case] = &q
		}
	}
	return out, nil
}

// Case builds one case's statistics and its recent failures.
// ErrUnknownCase when neither the suite's definition nor the window of
// the history knows it.
func (v *Views) Case(ctx context.Context, suite, name string) (*api.CaseView, error) {
	now := v.now()
	acc, err := v.caseHistory(ctx, suite, name, now)
	if err != nil {
		return nil, err
	}
	c := acc.cases[name]
	if c == nil {
		return nil, fmt.Errorf("%w: suite %s has no test case %q", session.ErrUnknownCase, suite, name)
	}
	fps, err := v.fingerprints(ctx, []*caseAcc{c})
	if err != nil {
		return nil, err
	}
	out := &api.CaseView{Suite: suite, Now: now, Days: CaseDays, Last: CaseLast, CaseStats: c.stats(fps), RecentFailures: c.failed}
	if out.RecentFailures == nil {
		out.RecentFailures = []api.CaseFailure{}
	}
	out.Regression = v.regression(ctx, suite, c.all)
	qs, err := v.quarantines(ctx, suite, now)
	if err != nil {
		return nil, err
	}
	out.Quarantine = qs[name]
	return out, nil
}

// regression finds, for a case whose last run failed, its last passing
// run and the first failed one after it (runs newest first), and what
// changed in the definitions between the two.
func (v *Views) regression(ctx context.Context, suite string, runs []api.CaseRun) *api.Regression {
	if len(runs) == 0 || runs[0].Status != store.StatusFailed {
		return nil
	}
	r := &api.Regression{FirstBad: runs[0], Changes: []api.RepoChanges{}}
	for i, run := range runs {
		if run.Status == store.StatusPassed {
			good := run
			r.LastGood, r.FirstBad = &good, runs[i-1]
			break
		}
		r.FirstBad = run
	}
	if r.LastGood == nil || r.LastGood.Revision == r.FirstBad.Revision {
		return r
	}
	if v.Changes == nil {
		r.ChangesError = "the definition repositories are not known here"
		return r
	}
	changes, err := v.Changes(ctx, suite, r.LastGood.Revision, r.FirstBad.Revision)
	if err != nil {
		r.ChangesError = err.Error()
		return r
	}
	if changes != nil {
		r.Changes = changes
	}
	return r
}

// caseHistory reads the window of the suite's history (of one case when
// name is set) and folds it per case.
func (v *Views) caseHistory(ctx context.Context, suite, name string, now time.Time) (*suiteAcc, error) {
	from := now.AddDate(0, 0, -CaseDays)
	rows, err := v.Store.CaseResults(ctx, suite, name, from, CaseLast)
	if err != nil {
		return nil, err
	}
	acc := &suiteAcc{cases: map[string]*caseAcc{}}
	def := v.defs().Suite(suite)
	if def != nil {
		for _, tc := range def.Tests {
			acc.add(tc.Name)
		}
	} else if len(rows) == 0 {
		// Neither defined nor in the window: a suite of the history still
		// has its page, with no case.
		ss, _, err := v.Store.Sessions(ctx, store.Filter{Suite: suite, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(ss) == 0 {
			return nil, fmt.Errorf("%w %q", session.ErrUnknownSuite, suite)
		}
	}
	// Rows come newest session first: a run is complete when the next
	// row is of another session or case.
	for i := 0; i < len(rows); {
		j := i
		for j < len(rows) && rows[j].Session == rows[i].Session && rows[j].Case == rows[i].Case {
			j++
		}
		acc.add(rows[i].Case).addRun(rows[i:j], !rows[i].Created.Before(from))
		i = j
	}
	return acc, nil
}

// fingerprints reads the summaries of the fingerprints of cases' failures.
func (v *Views) fingerprints(ctx context.Context, cases []*caseAcc) (map[string]api.Fingerprint, error) {
	var ids []string
	for _, c := range cases {
		ids = append(ids, c.fpOrder...)
	}
	fps, err := v.Store.Fingerprints(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]api.Fingerprint, len(fps))
	for _, f := range fps {
		out[f.ID] = f
	}
	return out, nil
}

type suiteAcc struct {
	names []string // defined ones first, then as met (newest first)
	cases map[string]*caseAcc
}

func (s *suiteAcc) add(name string) *caseAcc {
	c := s.cases[name]
	if c == nil {
		c = &caseAcc{name: name, hosts: map[string]*hostAcc{}, revs: map[string]uint8{}, fps: map[string]bool{}}
		s.cases[name] = c
		s.names = append(s.names, name)
	}
	return c
}

// caseAcc folds a case's runs, newest first.
type caseAcc struct {
	name             string
	runs, failures   int // days window
	rRuns, rFailures int // recent window
	sessions         int // runs met, for the recent window
	trend            []api.CaseRun
	all              []api.CaseRun // every run in the window, newest first
	hosts            map[string]*hostAcc
	hostOrder        []string
	revs             map[string]uint8 // revision: 1 passed, 2 failed, 3 both
	revOrder         []string
	fps              map[string]bool
	fpOrder          []string          // newest first
	failed           []api.CaseFailure // the failures list, newest first
	passedOnRetry    int               // runs that passed only on a retry
}

type hostAcc struct{ runs, failures, rRuns, rFailures int }

// failing says whether a status is a failure of the case.
func failing(s store.Status) bool {
	return s == store.StatusFailed || s == store.StatusTimeout || s == store.StatusLost
}

// verdict folds results: failed when one failed, passed when all passed,
// "" (no run) otherwise.
func verdict(rs []store.CaseResult) store.Status {
	passed := len(rs) > 0
	for _, r := range rs {
		if failing(r.Status) {
			return store.StatusFailed
		}
		if r.Status != store.StatusPassed {
			passed = false
		}
	}
	if passed {
		return store.StatusPassed
	}
	return ""
}

// passedOnRetry tells whether the session's last attempt of the case
// passed after an earlier one failed. Attempts are the case's init, run
// and finalize, recorded again in that order (session.StartOptions): the
// case's stage indices in threes.
func passedOnRetry(rs []store.CaseResult) bool {
	var idx []int
	for _, r := range rs {
		if len(idx) == 0 || idx[len(idx)-1] != r.StageIndex {
			idx = append(idx, r.StageIndex)
		}
	}
	if len(idx) <= 3 {
		return false
	}
	lastStart := idx[(len(idx)-1)/3*3]
	var last []store.CaseResult
	earlierFailed := false
	for _, r := range rs {
		if r.StageIndex >= lastStart {
			last = append(last, r)
		} else if failing(r.Status) {
			earlierFailed = true
		}
	}
	return earlierFailed && verdict(last) == store.StatusPassed
}

// addRun folds one session's results of the case; inDays tells whether
// the session is in the days window.
func (c *caseAcc) addRun(rs []store.CaseResult, inDays bool) {
	v := verdict(rs)
	if v == "" {
		return
	}
	if passedOnRetry(rs) {
		c.passedOnRetry++
	}
	recent := c.sessions < CaseLast
	c.sessions++
	failed := v == store.StatusFailed
	count := func(runs, failures *int, on bool) {
		if on {
			*runs++
			if failed {
				*failures++
			}
		}
	}
	count(&c.runs, &c.failures, inDays)
	count(&c.rRuns, &c.rFailures, recent)
	run := api.CaseRun{Session: rs[0].Session, Created: rs[0].Created, Revision: rs[0].Revision, Status: v}
	c.all = append(c.all, run)
	if recent {
		c.trend = append(c.trend, run)
	}
	if rev := rs[0].Revision; rev != "" {
		if _, ok := c.revs[rev]; !ok {
			c.revOrder = append(c.revOrder, rev)
		}
		c.revs[rev] |= map[bool]uint8{false: 1, true: 2}[failed]
	}
	// Per host: the host's results of this session.
	byHost := map[string][]store.CaseResult{}
	var order []string
	for _, r := range rs {
		if _, ok := byHost[r.Slave]; !ok {
			order = append(order, r.Slave)
		}
		byHost[r.Slave] = append(byHost[r.Slave], r)
		if failing(r.Status) {
			if r.Fingerprint != "" && !c.fps[r.Fingerprint] {
				c.fps[r.Fingerprint] = true
				c.fpOrder = append(c.fpOrder, r.Fingerprint)
			}
			if len(c.failed) < caseFailures {
				c.failed = append(c.failed, api.CaseFailure{
					FailureRef: api.FailureRef{Session: r.Session, Stage: r.StageIndex, Slave: r.Slave},
					Created:    r.Created, Revision: r.Revision, StageName: r.Stage, Status: r.Status, ExitCode: r.ExitCode,
					Fingerprint: r.Fingerprint})
			}
		}
	}
	for _, host := range order {
		hv := verdict(byHost[host])
		if hv == "" {
			continue
		}
		h := c.hosts[host]
		if h == nil {
			h = &hostAcc{}
			c.hosts[host] = h
			c.hostOrder = append(c.hostOrder, host)
		}
		hf := hv == store.StatusFailed
		if inDays {
			h.runs++
			if hf {
				h.failures++
			}
		}
		if recent {
			h.rRuns++
			if hf {
				h.rFailures++
			}
		}
	}
}

func (c *caseAcc) stats(fps map[string]api.Fingerprint) api.CaseStats {
	days := api.NewRate(c.runs, c.failures)
	s := api.CaseStats{Name: c.name, Runs: c.runs, Failures: c.failures, PassRate: days.PassRate,
		Recent: api.NewRate(c.rRuns, c.rFailures), Hosts: []api.HostRate{}, FlakyRevisions: []string{},
		Trend: c.trend, Fingerprints: []api.Fingerprint{}}
	if s.Trend == nil {
		s.Trend = []api.CaseRun{}
	}
	hosts := slices.Clone(c.hostOrder)
	slices.Sort(hosts)
	for _, h := range hosts {
		a := c.hosts[h]
		s.Hosts = append(s.Hosts, api.HostRate{Host: h, Days: api.NewRate(a.runs, a.failures), Recent: api.NewRate(a.rRuns, a.rFailures)})
	}
	for _, rev := range c.revOrder {
		if c.revs[rev] == 3 {
			s.FlakyRevisions = append(s.FlakyRevisions, rev)
		}
	}
	s.PassedOnRetry = c.passedOnRetry
	s.Flaky = len(s.FlakyRevisions) > 0 || c.passedOnRetry > 0
	for _, id := range c.fpOrder {
		if f, ok := fps[id]; ok {
			s.Fingerprints = append(s.Fingerprints, f)
		}
	}
	slices.SortStableFunc(s.Fingerprints, func(a, b api.Fingerprint) int { return cmp.Compare(b.Last.ID, a.Last.ID) })
	return s
}
