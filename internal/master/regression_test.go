package master_test

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/api"
	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/master"
	"github.com/xrdtest/xrdtest/internal/master/mastertest"
	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/testutil"
)

// TestFirstBadRevision: in a git repository where one commit breaks a
// case, the case's view names the last session where it passed and the
// first where it failed, with their revisions, and the commits and diff
// of the suite's files in between; a commit to another folder is not
// among them.
func TestFirstBadRevision(t *testing.T) {
	testutil.HermeticGit(t)
	u := tsUpstream(t, gitSuite("'c'"), map[string]string{"tc/c/run.sh": "#!/bin/bash\necho fine\n"})
	m, _ := gitMaster(t, u, time.Hour, 10*time.Second)
	defer mastertest.Serve(m)()
	defer runAgents(t, m, hosts...)()
	ctx := context.Background()
	run := func(want store.SessionState) *store.Session {
		t.Helper()
		s := startSession(t, m)
		if got, err := m.Manager.Wait(ctx, s.ID); err != nil || got.State != want {
			t.Fatalf("session %d: %v %v, want %s", s.ID, got, err, want)
		}
		return s
	}
	reload := func(rev string) {
		t.Helper()
		m.Catalog.Reload(ctx)
		waitUntil(t, "the commit is loaded", func() bool { return m.LastReload().Repos[0].Revision == rev })
	}
	good := run(store.SessionPassed)
	u.Commit("unrelated file", map[string]string{"README": "notes\n"})
	breaking := u.Commit("c: check the impossible", map[string]string{"test-suites/ts/tc/c/run.sh": "#!/bin/bash\necho checking\nexit 4\n"})
	reload(breaking)
	bad := run(store.SessionFailed)
	run(store.SessionFailed)

	cv := caseView(t, m, "ts", "c")
	r := cv.Regression
	if r == nil || r.LastGood == nil || r.LastGood.Session != good.ID || r.FirstBad.Session != bad.ID ||
		r.LastGood.Revision != good.RepoRevision || r.FirstBad.Revision != bad.RepoRevision || r.ChangesError != "" {
		t.Fatalf("regression %+v (good %d %s, bad %d %s)", r, good.ID, good.RepoRevision, bad.ID, bad.RepoRevision)
	}
	if len(r.Changes) != 1 || r.Changes[0].Repo != "defs" || len(r.Changes[0].Commits) != 1 ||
		r.Changes[0].Commits[0].Subject != "c: check the impossible" || r.Changes[0].Commits[0].Hash != breaking ||
		!strings.Contains(r.Changes[0].Diff, "+exit 4") || strings.Contains(r.Changes[0].Diff, "README") {
		t.Errorf("changes %+v", r.Changes)
	}
}

// TestFirstBadRevisionLocalfs: between the last good and the first bad
// session of a localfs repository, the case's view names the suite's
// files that changed (the catalog kept each revision's file list).
func TestFirstBadRevisionLocalfs(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	testutil.WriteFiles(t, repo, map[string]string{
		"clusters/cluster_t.py":        twoHosts,
		"test-suites/ts/test_suite.py": gitSuite("'c'"),
		"test-suites/ts/tc/c/run.sh":   "#!/bin/bash\necho fine\n",
	})
	m := mastertest.Open(t, master.Options{
		StateDir: filepath.Join(dir, "state"), Token: token, Log: logger(),
		Repos: []definition.Repo{{Name: "local", Root: repo}}, Settings: mastertest.Settings(10 * time.Second), ReloadDebounce: -1,
	})
	defer mastertest.Serve(m)()
	defer runAgents(t, m, hosts...)()
	ctx := context.Background()
	for i, script := range []string{"#!/bin/bash\necho fine\n", "#!/bin/bash\nexit 2\n"} {
		if i > 0 {
			testutil.WriteFiles(t, repo, map[string]string{"test-suites/ts/tc/c/run.sh": script})
			m.Catalog.Reload(ctx)
		}
		s := startSession(t, m)
		m.Manager.Wait(ctx, s.ID)
	}
	cv := caseView(t, m, "ts", "c")
	want := []api.FileChange{{Path: "test-suites/ts/tc/c/run.sh", Change: "modified"}}
	if r := cv.Regression; r == nil || r.LastGood == nil || len(r.Changes) != 1 || r.Changes[0].Repo != "local" ||
		!reflect.DeepEqual(r.Changes[0].Files, want) || r.Changes[0].Note != "" || len(r.Changes[0].Commits) != 0 {
		t.Errorf("regression %+v", r)
	}
}

// caseView is GET /api/v1/suites/SUITE/cases/CASE from m's API.
func caseView(t *testing.T, m *master.Master, suite, cas string) *api.CaseView {
	t.Helper()
	c, err := api.NewClient(api.Options{URL: "http://" + m.WebAddr().String()})
	if err != nil {
		t.Fatal(err)
	}
	cv, err := c.Case(context.Background(), suite, cas)
	if err != nil {
		t.Fatal(err)
	}
	return cv
}
