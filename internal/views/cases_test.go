package views

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/api"
	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/session"
	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/store/sqlite/sqlitetest"
)

// run is one session of suite "s" in a case history: its age in days, its
// revision and the status of case c's run stage on each host.
type run struct {
	age   int
	rev   string
	hosts map[string]store.Status
}

func seedCases(t *testing.T, st store.Store, now time.Time, runs []run) []*store.Session {
	t.Helper()
	ctx := context.Background()
	var out []*store.Session
	// Oldest first, as they happened.
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		se := &store.Session{Suite: "s", State: store.SessionPassed, RepoRevision: r.rev,
			Created: now.Add(-time.Duration(r.age)*24*time.Hour - time.Duration(i+1)*time.Minute), Machines: []string{"a", "b"}}
		if err := st.CreateSession(ctx, se); err != nil {
			t.Fatal(err)
		}
		out = append([]*store.Session{se}, out...)
		for idx, name := range []string{"c:init", "c:run"} {
			if err := st.PutStage(ctx, &store.Stage{SessionID: se.ID, Index: idx, Name: name, Case: "c"}); err != nil {
				t.Fatal(err)
			}
			for _, h := range []string{"a", "b"} {
				res := &store.Result{SessionID: se.ID, Stage: idx, Slave: h, Status: store.StatusPassed}
				if s, ok := r.hosts[h]; ok && idx == 1 {
					res.Status = s
					if failing(s) {
						res.Fingerprint = "fp-" + h
					}
				}
				if err := st.PutResult(ctx, res); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return out
}

func TestCases(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	F, P := store.StatusFailed, store.StatusPassed
	alternate := func(n int) []run { // newest first: fail, pass, fail...
		var rs []run
		for i := range n {
			s := P
			if i%2 == 0 {
				s = F
			}
			rs = append(rs, run{age: 0, rev: "r1", hosts: map[string]store.Status{"a": s}})
		}
		return rs
	}
	pct := func(p *float64) string {
		if p == nil {
			return "none"
		}
		return fmt.Sprintf("%.0f%%", *p*100)
	}
	tests := []struct {
		name             string
		runs             []run
		runsN, failuresN int
		rate, recentRate string
		flaky            bool
		fingerprints     int
		fpCount          int // of the first fingerprint
		hostA, hostB     string
		trend            int
	}{
		{"every other run fails", alternate(10), 10, 5, "50%", "50%", true, 1, 5, "50%", "100%", 10},
		{"fails again: the count grows", alternate(12), 12, 6, "50%", "50%", true, 1, 6, "50%", "100%", 12},
		{"always passes", []run{{0, "r1", nil}, {1, "r1", nil}}, 2, 0, "100%", "100%", false, 0, 0, "100%", "100%", 2},
		{"broken by a revision: not flaky", []run{{0, "r2", map[string]store.Status{"b": F}}, {1, "r1", nil}}, 2, 1, "50%", "50%", false, 1, 1, "100%", "50%", 2},
		{"timeout and lost count as failures", []run{{0, "r1", map[string]store.Status{"a": store.StatusTimeout}}, {1, "r1", map[string]store.Status{"a": store.StatusLost, "b": P}}, {2, "r1", nil}},
			3, 2, "33%", "33%", true, 1, 2, "33%", "100%", 3},
		{"cancelled and skipped are no runs", []run{{0, "r1", map[string]store.Status{"a": store.StatusCancelled}}, {1, "r1", map[string]store.Status{"a": store.StatusSkipped, "b": store.StatusSkipped}}, {2, "r1", nil}},
			1, 0, "100%", "100%", false, 0, 0, "100%", "100%", 1},
		{"old runs: only in the recent window", []run{{40, "r1", map[string]store.Status{"a": F}}, {41, "r1", nil}}, 0, 0, "none", "50%", true, 1, 1, "none", "none", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := sqlitetest.Open(t, t.TempDir())
			seedCases(t, st, now, tc.runs)
			v := &Views{Store: st, Now: func() time.Time { return now }}
			cv, err := v.Cases(context.Background(), "s")
			if err != nil {
				t.Fatal(err)
			}
			if len(cv.Cases) != 1 {
				t.Fatalf("cases: %+v", cv.Cases)
			}
			c := cv.Cases[0]
			if c.Name != "c" || c.Runs != tc.runsN || c.Failures != tc.failuresN || pct(c.PassRate) != tc.rate || pct(c.Recent.PassRate) != tc.recentRate {
				t.Errorf("runs %d failures %d rate %s recent %s; want %d %d %s %s", c.Runs, c.Failures, pct(c.PassRate), pct(c.Recent.PassRate),
					tc.runsN, tc.failuresN, tc.rate, tc.recentRate)
			}
			if c.Flaky != tc.flaky || (c.Flaky && c.FlakyRevisions[0] != "r1") {
				t.Errorf("flaky %v %v, want %v", c.Flaky, c.FlakyRevisions, tc.flaky)
			}
			if len(c.Fingerprints) != tc.fingerprints || (tc.fingerprints > 0 && c.Fingerprints[0].Count != tc.fpCount) {
				t.Errorf("fingerprints %+v, want %d counting %d", c.Fingerprints, tc.fingerprints, tc.fpCount)
			}
			hosts := map[string]string{}
			for _, h := range c.Hosts {
				hosts[h.Host] = pct(h.Days.PassRate)
			}
			if len(c.Hosts) > 0 && (hosts["a"] != tc.hostA || hosts["b"] != tc.hostB) {
				t.Errorf("hosts %v, want a %s b %s", hosts, tc.hostA, tc.hostB)
			}
			if len(c.Trend) != tc.trend {
				t.Errorf("trend of %d, want %d", len(c.Trend), tc.trend)
			}
			cv1, err := v.Case(context.Background(), "s", "c")
			if err != nil {
				t.Fatal(err)
			}
			if len(cv1.RecentFailures) < tc.failuresN || cv1.Runs != c.Runs {
				t.Errorf("case view: %d failures, %d runs", len(cv1.RecentFailures), cv1.Runs)
			}
		})
	}
}

func TestCasesRecentWindow(t *testing.T) {
	// 60 runs in the last days: Recent covers the newest 50 only, the
	// trend too; the days window all.
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var runs []run
	for i := range 60 {
		s := store.StatusPassed
		if i >= 50 {
			s = store.StatusFailed
		}
		runs = append(runs, run{age: 0, rev: fmt.Sprint("r", i), hosts: map[string]store.Status{"a": s}})
	}
	st := sqlitetest.Open(t, t.TempDir())
	seedCases(t, st, now, runs)
	v := &Views{Store: st, Now: func() time.Time { return now }}
	cv, err := v.Cases(context.Background(), "s")
	if err != nil {
		t.Fatal(err)
	}
	c := cv.Cases[0]
	if c.Runs != 60 || c.Failures != 10 || c.Recent.Runs != 50 || c.Recent.Failures != 0 || len(c.Trend) != 50 || c.Flaky {
		t.Errorf("%+v", c)
	}
	if _, err := v.Case(context.Background(), "s", "nope"); !errors.Is(err, session.ErrUnknownCase) {
		t.Errorf("unknown case: %v", err)
	}
	if _, err := v.Cases(context.Background(), "nope"); !errors.Is(err, session.ErrUnknownSuite) {
		t.Errorf("unknown suite: %v", err)
	}
	_ = api.CaseRun{}
}

func TestRegression(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	F, P := store.StatusFailed, store.StatusPassed
	a := func(s store.Status) map[string]store.Status { return map[string]store.Status{"a": s} }
	tests := []struct {
		name        string
		runs        []run // newest first
		none        bool
		good, bad   int // indexes into runs; good -1: none
		asked       string
		changeError string
	}{
		{"broken by r3", []run{{0, "r3", a(F)}, {0, "r3", a(F)}, {0, "r2", a(P)}, {0, "r1", a(P)}}, false, 2, 1, "r2>r3", ""},
		{"passing now", []run{{0, "r3", a(P)}, {0, "r3", a(F)}}, true, 0, 0, "", ""},
		{"never passed", []run{{0, "r3", a(F)}, {0, "r2", a(F)}}, false, -1, 1, "", ""},
		{"same revision: not the definitions", []run{{0, "r1", a(F)}, {0, "r1", a(P)}}, false, 1, 0, "", ""},
		{"changes unreadable", []run{{0, "r2", a(F)}, {0, "r1", a(P)}}, false, 1, 0, "r1>r2", "boom"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := sqlitetest.Open(t, t.TempDir())
			ss := seedCases(t, st, now, tc.runs)
			var asked string
			v := &Views{Store: st, Now: func() time.Time { return now },
				Changes: func(_ context.Context, suite, from, to string) ([]api.RepoChanges, error) {
					asked = from + ">" + to
					if tc.changeError != "" {
						return nil, errors.New(tc.changeError)
					}
					return []api.RepoChanges{{Repo: "defs", From: from, To: to, Commits: []api.Commit{{Subject: "break it"}}}}, nil
				}}
			cv, err := v.Case(context.Background(), "s", "c")
			if err != nil {
				t.Fatal(err)
			}
			r := cv.Regression
			if tc.none {
				if r != nil {
					t.Errorf("regression %+v, want none", r)
				}
				return
			}
			if r == nil {
				t.Fatal("no regression")
			}
			if r.FirstBad.Session != ss[tc.bad].ID || (tc.good < 0) != (r.LastGood == nil) || (tc.good >= 0 && r.LastGood.Session != ss[tc.good].ID) {
				t.Errorf("regression %+v, want good %d bad %d", r, tc.good, tc.bad)
			}
			if asked != tc.asked || r.ChangesError != tc.changeError || (tc.asked != "" && tc.changeError == "" && len(r.Changes) != 1) {
				t.Errorf("changes asked %q, error %q, %+v", asked, r.ChangesError, r.Changes)
			}
		})
	}
}

func TestPassedOnRetry(t *testing.T) {
	F, P, S := store.StatusFailed, store.StatusPassed, store.StatusSkipped
	// rows: stage index and status, two hosts per stage.
	rows := func(st ...any) []store.CaseResult {
		var out []store.CaseResult
		for i := 0; i < len(st); i += 2 {
			idx, s := st[i].(int), st[i+1].(store.Status)
			out = append(out, store.CaseResult{StageIndex: idx, Slave: "a", Status: s}, store.CaseResult{StageIndex: idx, Slave: "b", Status: P})
		}
		return out
	}
	for _, tc := range []struct {
		name string
		rs   []store.CaseResult
		want bool
	}{
		{"one attempt that passed", rows(1, P, 2, P, 3, P), false},
		{"one attempt that failed", rows(1, P, 2, F, 3, P), false},
		{"failed, then passed", rows(1, P, 2, F, 3, P, 4, P, 5, P, 6, P), true},
		{"failed init, then passed", rows(1, F, 2, S, 3, P, 4, P, 5, P, 6, P), true},
		{"failed twice", rows(1, P, 2, F, 3, P, 4, P, 5, F, 6, P), false},
		{"failed, failed, passed", rows(1, P, 2, F, 3, P, 4, P, 5, F, 6, P, 7, P, 8, P, 9, P), true},
	} {
		if got := passedOnRetry(tc.rs); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestPlannedAfterRetry: while a session runs, the stages still to come
// follow those recorded, a case run again (c:run#2) included.
func TestPlannedAfterRetry(t *testing.T) {
	su := &definition.Suite{Name: "s", Tests: []definition.TestCase{{Name: "a"}, {Name: "b"}}}
	v := &Views{Manager: &session.Manager{Definitions: func() *definition.Set { return &definition.Set{Suites: []*definition.Suite{su}} }}}
	s := &store.Session{Suite: "s", State: store.SessionRunning, Machines: []string{"m"}, Cases: []string{"a", "b"}}
	var stages []*store.Stage
	for i, n := range []string{"suite_init", "a:init", "a:run", "a:finalize", "a:init#2"} {
		stages = append(stages, &store.Stage{Index: i, Name: n})
	}
	var got []string
	for _, r := range v.stageRows(s, stages, nil) {
		got = append(got, fmt.Sprintf("%d %s %v", r.Index, r.Name, r.Planned))
	}
	want := []string{"0 suite_init false", "1 a:init false", "2 a:run false", "3 a:finalize false", "4 a:init#2 false",
		"5 b:init true", "6 b:run true", "7 b:finalize true", "8 suite_finalize true"}
	if !slices.Equal(got, want) {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
