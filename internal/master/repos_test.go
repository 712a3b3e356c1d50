package master_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/catalog"
	"github.com/xrdtest/xrdtest/internal/master/mastertest"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/master"
	"github.com/xrdtest/xrdtest/internal/repo"
	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/testutil"
)

// gitSuite is the suite "ts" with the given test cases.
func gitSuite(tests string) string {
	return "def getTestSuite():\n    ts = TestSuite('ts')\n    ts.clusters = ['cluster_t']\n    ts.tests = [" + tests + "]\n" +
		"    ts.schedule = dict(hour='1')\n    ts.initialize = '#!/bin/bash\\necho init'\n    return ts\n"
}

// tsUpstream is a git repository of twoHosts and the suite "ts" of
// test_suite.py suite and these files (below test-suites/ts/).
func tsUpstream(t *testing.T, suite string, files map[string]string) *testutil.Upstream {
	t.Helper()
	all := map[string]string{"clusters/cluster_t.py": twoHosts, "test-suites/ts/test_suite.py": suite}
	for p, c := range files {
		all["test-suites/ts/"+p] = c
	}
	return testutil.NewUpstream(t, all)
}

// gitMaster opens a master whose only repository "defs" is a git clone of
// u, fetched every interval.
func gitMaster(t *testing.T, u *testutil.Upstream, interval time.Duration, slaveWait time.Duration) (*master.Master, string) {
	t.Helper()
	dir := t.TempDir()
	checkout := filepath.Join(dir, "checkout")
	m := mastertest.Open(t, master.Options{
		StateDir: filepath.Join(dir, "state"), Token: token, APIToken: "api-token", Log: logger(),
		Repos: []definition.Repo{{Name: "defs", Root: checkout}},
		Git: []catalog.GitRepo{{Name: "defs", Interval: interval,
			Git: &repo.Git{URL: u.Bare, RemoteBranch: "origin/master", LocalBranch: "master", Dir: checkout, Timeout: 30 * time.Second}}},
		Settings:  mastertest.Settings(slaveWait),
		Heartbeat: 200 * time.Millisecond, HeartbeatTimeout: 2 * time.Second,
		ReloadDebounce: 50 * time.Millisecond,
	})
	return m, checkout
}

// suiteCases names the test cases of the suite "ts" m loaded, in order.
func suiteCases(m *master.Master) string {
	s := m.Definitions().Suite("ts")
	if s == nil {
		return "<none>"
	}
	var names []string
	for _, tc := range s.Tests {
		names = append(names, tc.Name)
	}
	return strings.Join(names, ",")
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
	}
}

// startSession starts a session of ts and returns its record as created.
func startSession(t *testing.T, m *master.Master) *store.Session {
	t.Helper()
	s := mastertest.StartSession(t, m, "ts")
	got, err := m.Store.Session(context.Background(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestGitRepoPolling: the master clones the repository at start, follows
// new commits by polling, keeps the last good suite when a commit breaks
// it, survives an unreachable remote, and every session records the
// revision of the definitions it runs.
func TestGitRepoPolling(t *testing.T) {
	testutil.HermeticGit(t)
	u := tsUpstream(t, gitSuite("'c'"), map[string]string{"tc/c/run.sh": "#!/bin/bash\n", "tc/d/run.sh": "#!/bin/bash\n"})
	rev1 := testutil.Git(t, u.Work, "rev-parse", "HEAD")
	m, checkout := gitMaster(t, u, 50*time.Millisecond, 100*time.Millisecond)
	// Cloned by Open, before Serve.
	if got := suiteCases(m); got != "c" {
		t.Fatalf("after the clone: cases %q; report %+v", got, m.LastReload())
	}
	rep := m.LastReload()
	if len(rep.Repos) != 1 || rep.Repos[0].Type != "git" || rep.Repos[0].Revision != rev1 || rep.Repos[0].Error != "" || rep.Repos[0].Synced.IsZero() {
		t.Errorf("report %+v", rep.Repos)
	}
	if s := startSession(t, m); s.RepoRevision != "defs@"+rev1 {
		t.Errorf("session revision %q, want defs@%s", s.RepoRevision, rev1)
	}
	defer mastertest.Serve(m)()

	rev2 := u.Commit("case d", map[string]string{"test-suites/ts/test_suite.py": gitSuite("'c', 'd'")})
	// The definitions are published a moment before the reload's report.
	waitUntil(t, "the new commit is loaded", func() bool {
		return suiteCases(m) == "c,d" && m.LastReload().Repos[0].Revision == rev2
	})
	if s := startSession(t, m); s.RepoRevision != "defs@"+rev2 {
		t.Errorf("session revision %q, want defs@%s", s.RepoRevision, rev2)
	}

	// A broken commit: the suite of rev2 stays, and a session says so.
	rev3 := u.Commit("broken", map[string]string{"test-suites/ts/test_suite.py": "def getTestSuite(:\n"})
	waitUntil(t, "the broken commit is loaded", func() bool { return m.LastReload().Repos[0].Revision == rev3 })
	rep = m.LastReload()
	if len(rep.Errors) == 0 || rep.Errors[0].Repo != "defs" || rep.Errors[0].File != "test-suites/ts/test_suite.py" {
		t.Errorf("errors %+v", rep.Errors)
	}
	if !hasProblem(rep.Warnings, "the last good definition is kept") {
		t.Errorf("warnings %+v", rep.Warnings)
	}
	if got := suiteCases(m); got != "c,d" {
		t.Errorf("after a broken commit: cases %q, want the last good c,d", got)
	}
	// It runs the suite of rev2 on the cluster of rev3.
	if s := startSession(t, m); s.RepoRevision != "defs@"+rev2+",defs@"+rev3 {
		t.Errorf("session of the kept suite: revision %q, want defs@%s,defs@%s (what it runs)", s.RepoRevision, rev2, rev3)
	}

	// The remote goes away: an error in the report, the definitions stay.
	os.Rename(u.Bare, u.Bare+".away")
	waitUntil(t, "the failed fetch is reported", func() bool { return m.LastReload().Repos[0].Error != "" })
	rep = m.LastReload()
	if !hasProblem(rep.Errors, "cannot update from "+u.Bare) || !hasProblem(rep.Errors, "tried again at the next poll") {
		t.Errorf("errors %+v", rep.Errors)
	}
	if suiteCases(m) != "c,d" || rep.Repos[0].Revision != rev3 {
		t.Errorf("after a failed fetch: cases %q, revision %s", suiteCases(m), rep.Repos[0].Revision)
	}
	os.Rename(u.Bare+".away", u.Bare)
	rev4 := u.Commit("fixed", map[string]string{"test-suites/ts/test_suite.py": gitSuite("'d'")})
	// The definitions are published a moment before the reload's report.
	waitUntil(t, "the fixed commit is loaded", func() bool {
		return suiteCases(m) == "d" && m.LastReload().Repos[0].Revision == rev4
	})
	rep = m.LastReload()
	if rep.Repos[0].Error != "" || len(rep.Errors) != 0 || rep.Repos[0].Revision != rev4 {
		t.Errorf("after recovery: %+v", rep)
	}

	// The checkout is the master's: a hand edit there is set aside at the
	// next poll, never loaded.
	edited := filepath.Join(checkout, "test-suites/ts/test_suite.py")
	os.WriteFile(edited, []byte(gitSuite("'c'")), 0o644)
	waitUntil(t, "the hand edit is set aside", func() bool { return hasProblem(m.LastReload().Warnings, "set aside with git stash") })
	if got := suiteCases(m); got != "d" {
		t.Errorf("a hand edit of the checkout was loaded: cases %q", got)
	}
	if b, _ := os.ReadFile(edited); string(b) != gitSuite("'d'") {
		t.Errorf("the checkout was not reset: %q", b)
	}
	if got := testutil.Git(t, checkout, "show", "stash@{0}:test-suites/ts/test_suite.py"); got != strings.TrimSpace(gitSuite("'c'")) {
		t.Errorf("stash holds %q", got)
	}
	time.Sleep(200 * time.Millisecond) // polls with nothing new keep the warning
	if !hasProblem(m.LastReload().Warnings, "set aside with git stash") {
		t.Errorf("the warning went at the next poll: %+v", m.LastReload().Warnings)
	}
}

func hasProblem(ps []catalog.Problem, substr string) bool {
	for _, p := range ps {
		if strings.Contains(p.Message, substr) {
			return true
		}
	}
	return false
}

// TestReloadOnDemand: POST /api/v1/reload fetches at once (the poll is an
// hour away), answers with the revisions and problems, and needs the
// token.
func TestReloadOnDemand(t *testing.T) {
	testutil.HermeticGit(t)
	u := tsUpstream(t, gitSuite("'c'"), map[string]string{"tc/c/run.sh": "#!/bin/bash\n"})
	m, _ := gitMaster(t, u, time.Hour, time.Second)
	defer mastertest.Serve(m)()
	base := "http://" + m.WebAddr().String()
	post := func(token string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/reload", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return testutil.Do(t, req)
	}
	rev := u.Commit("broken", map[string]string{"test-suites/ts/tc/c/run.sh": "", "clusters/cluster_x.py": "x = (\n"})
	if resp, _ := post(""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without a token: %s", resp.Status)
	}
	if resp, _ := post("wrong"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("with a wrong token: %s", resp.Status)
	}
	if got := m.LastReload().Repos[0].Revision; got == rev {
		t.Fatal("an unauthorized reload fetched")
	}
	resp, body := post("api-token")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s", resp.Status, body)
	}
	var rep catalog.ReloadReport
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Repos) != 1 || rep.Repos[0].Name != "defs" || rep.Repos[0].Revision != rev || rep.Repos[0].Remote != u.Bare || rep.Repos[0].Branch != "origin/master" {
		t.Errorf("repos %+v", rep.Repos)
	}
	var files []string
	for _, p := range rep.Errors {
		files = append(files, p.Repo+":"+p.File)
	}
	if strings.Join(files, " ") != "defs:clusters/cluster_x.py defs:test-suites/ts/test_suite.py" {
		t.Errorf("errors %+v", rep.Errors)
	}
	if rep.Suites != 1 || suiteCases(m) != "c" {
		t.Errorf("suites %d, cases %q: want the last good ts", rep.Suites, suiteCases(m))
	}

	// GET /api/v1/repos reports the same, to anyone.
	r2, err := http.Get(base + "/api/v1/repos")
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Body.Close()
	var got catalog.ReloadReport
	if err := json.NewDecoder(r2.Body).Decode(&got); err != nil || got.Repos[0].Revision != rev || len(got.Errors) != 2 {
		t.Errorf("GET /api/v1/repos: %+v, %v", got, err)
	}
}

// TestRunningSessionKeepsItsDefinitions: a session keeps running the
// scripts of the revision it started with while a new one is loaded.
func TestRunningSessionKeepsItsDefinitions(t *testing.T) {
	testutil.HermeticGit(t)
	u := tsUpstream(t, gitSuite("'c'"), map[string]string{
		"tc/c/init.sh": "#!/bin/bash\nwhile [ ! -e \"$GO\" ]; do sleep 0.05; done\n",
		"tc/c/run.sh":  "#!/bin/bash\necho first revision\n",
	})
	rev1 := testutil.Git(t, u.Work, "rev-parse", "HEAD")
	m, _ := gitMaster(t, u, time.Hour, 10*time.Second)
	defer mastertest.Serve(m)()
	gate := filepath.Join(t.TempDir(), "go")
	t.Setenv("GO", gate) // the slaves' scripts inherit it
	defer runAgents(t, m, hosts...)()
	waitConnected(t, m, hosts...)
	s := startSession(t, m)
	waitUntil(t, "the session runs c:init", func() bool {
		d, err := store.Detail(context.Background(), m.Store, s.ID)
		return err == nil && len(d.Stages) > 1 && len(d.Stages[1].Results) > 0
	})
	rev2 := u.Commit("second", map[string]string{"test-suites/ts/tc/c/run.sh": "#!/bin/bash\necho second revision\n"})
	if got := m.Catalog.Reload(context.Background()).Repos[0].Revision; got != rev2 {
		t.Fatalf("reloaded %s, want %s", got, rev2)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	end, err := m.Manager.Wait(ctx, s.ID)
	if err != nil || end.State != store.SessionPassed || end.RepoRevision != "defs@"+rev1 {
		t.Fatalf("session %+v, %v", end, err)
	}
	out := outputOf(t, m, s.ID, 2, "h1.xrd.test")
	if out != "first revision\n" {
		t.Errorf("c:run printed %q, want the first revision's", out)
	}
	if got := m.Definitions().Revision(m.Definitions().Suite("ts")); got != "defs@"+rev2 {
		t.Errorf("next session's revision: %q", got)
	}
}

func outputOf(t *testing.T, m *master.Master, session int64, stage int, slave string) string {
	t.Helper()
	f, err := m.Store.OpenOutput(session, stage, slave)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	return string(b)
}

// TestReloadsSerialized: polls, on-demand reloads and watcher reloads
// never overlap: no git command runs while definitions load, and no two
// git commands run at once.
func TestReloadsSerialized(t *testing.T) {
	testutil.HermeticGit(t)
	dir := t.TempDir()
	inGit, inLoad, overlaps := filepath.Join(dir, "in-git"), filepath.Join(dir, "in-load"), filepath.Join(dir, "overlaps")
	wrapper := filepath.Join(dir, "git-wrapper")
	os.WriteFile(wrapper, []byte(`#!/bin/sh
mkdir "$IN_GIT" 2>/dev/null || echo "git during git: $*" >>"$OVERLAPS"
[ -e "$IN_LOAD" ] && echo "git during a load: $*" >>"$OVERLAPS"
sleep 0.005
git "$@"; rc=$?
rmdir "$IN_GIT"
exit $rc
`), 0o755)
	t.Setenv("IN_GIT", inGit)
	t.Setenv("IN_LOAD", inLoad)
	t.Setenv("OVERLAPS", overlaps)
	// Loading fetches the suite's initialize script from here.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := os.Mkdir(inLoad, 0o755); err != nil {
			appendFile(overlaps, "load during a load\n")
		}
		if _, err := os.Stat(inGit); err == nil {
			appendFile(overlaps, "load during git\n")
		}
		time.Sleep(10 * time.Millisecond)
		os.Remove(inLoad)
		io.WriteString(w, "#!/bin/bash\necho init\n")
	}))
	defer srv.Close()
	u := tsUpstream(t, strings.Replace(gitSuite("'c'"), "'#!/bin/bash\\necho init'", "'"+srv.URL+"/init.sh'", 1), map[string]string{"tc/c/run.sh": "#!/bin/bash\n"})
	local := filepath.Join(dir, "local")
	os.MkdirAll(filepath.Join(local, "clusters"), 0o755)
	os.MkdirAll(filepath.Join(local, "test-suites"), 0o755)
	checkout := filepath.Join(dir, "checkout")
	m := mastertest.Open(t, master.Options{
		StateDir: filepath.Join(dir, "state"), Log: logger(),
		Repos: []definition.Repo{{Name: "defs", Root: checkout}, {Name: "local", Root: local}},
		Git: []catalog.GitRepo{{Name: "defs", Interval: 20 * time.Millisecond,
			Git: &repo.Git{URL: u.Bare, RemoteBranch: "origin/master", LocalBranch: "master", Dir: checkout, GitPath: wrapper}}},
		ReloadDebounce: time.Millisecond,
	})
	defer mastertest.Serve(m)()
	if m.Definitions().Suite("ts") == nil {
		t.Fatalf("ts did not load: %+v", m.LastReload())
	}
	done := make(chan struct{})
	for i := range 3 {
		go func() {
			defer func() { done <- struct{}{} }()
			for j := range 3 {
				m.Catalog.Reload(context.Background())
				os.WriteFile(filepath.Join(local, "clusters", fmt.Sprintf("notes%d-%d", i, j)), nil, 0o644) // the watcher reloads
				if i == 0 {
					u.Commit(fmt.Sprint("commit ", j), map[string]string{"test-suites/ts/tc/c/run.sh": fmt.Sprintf("#!/bin/bash\necho %d\n", j)})
				}
			}
		}()
	}
	for range 3 {
		<-done
	}
	rev := testutil.Git(t, u.Work, "rev-parse", "HEAD")
	waitUntil(t, "the last commit is loaded", func() bool { return m.LastReload().Repos[0].Revision == rev })
	if b, err := os.ReadFile(overlaps); err == nil {
		t.Errorf("overlaps:\n%s", b)
	}
}

func appendFile(path, text string) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err == nil {
		f.WriteString(text)
		f.Close()
	}
}

// TestGitRemoteHangsAtStart: a remote that does not answer delays Open by
// GitStartWait, not by git's timeout; the definitions come when the clone
// does; a restart starts with the checkout it has; Close stops a sync
// under way.
func TestGitRemoteHangsAtStart(t *testing.T) {
	testutil.HermeticGit(t)
	dir := t.TempDir()
	hang := filepath.Join(dir, "hang")
	wrapper := filepath.Join(dir, "git-wrapper")
	os.WriteFile(wrapper, []byte(`#!/bin/sh
case " $* " in
*" clone "*|*" fetch "*) while [ -e "$HANG" ]; do sleep 0.02; done ;;
esac
exec git "$@"
`), 0o755)
	t.Setenv("HANG", hang)
	u := tsUpstream(t, gitSuite("'c'"), map[string]string{"tc/c/run.sh": "#!/bin/bash\n"})
	rev := testutil.Git(t, u.Work, "rev-parse", "HEAD")
	checkout := filepath.Join(dir, "checkout")
	open := func() (*master.Master, time.Duration) {
		t.Helper()
		start := time.Now()
		m := mastertest.Open(t, master.Options{
			StateDir: filepath.Join(dir, "state"), Log: logger(),
			Repos: []definition.Repo{{Name: "defs", Root: checkout}},
			Git: []catalog.GitRepo{{Name: "defs", Interval: time.Hour,
				Git: &repo.Git{URL: u.Bare, RemoteBranch: "origin/master", LocalBranch: "master", Dir: checkout, GitPath: wrapper}}},
			GitStartWait: 300 * time.Millisecond, ReloadDebounce: -1,
		})
		return m, time.Since(start)
	}
	closed := func(m *master.Master) {
		t.Helper()
		start := time.Now()
		m.Close()
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Close took %s with a sync under way", d)
		}
	}

	os.WriteFile(hang, nil, 0o644)
	m, took := open()
	if took > 5*time.Second {
		t.Errorf("Open took %s with a hanging remote", took)
	}
	if m.Definitions().Suite("ts") != nil {
		t.Fatal("ts loaded before its clone")
	}
	if w := m.LastReload().Warnings; len(w) != 1 || !strings.Contains(w[0].Message, "nothing is checked out yet: the first clone from "+u.Bare+" (origin/master) is under way") {
		t.Errorf("warnings while cloning: %+v", w)
	}
	if r := m.LastReload(); len(r.Errors) != 0 || r.Repos[0].Revision != "" {
		t.Errorf("while cloning: errors %+v, revision %q", r.Errors, r.Repos[0].Revision)
	}
	os.Remove(hang)
	// The definitions are published a moment before the reload's report.
	waitUntil(t, "ts loaded after the clone", func() bool {
		return m.Definitions().Suite("ts") != nil && m.LastReload().Repos[0].Revision == rev
	})
	r := m.LastReload()
	if r.Repos[0].Revision != rev || r.Repos[0].Synced.IsZero() || r.Repos[0].Error != "" {
		t.Errorf("after the clone: %+v", r)
	}
	for _, w := range r.Warnings {
		if strings.Contains(w.Message, "checked out") {
			t.Errorf("warning left after the clone: %+v", w)
		}
	}
	closed(m)

	// A restart while the remote hangs starts at once with the checkout.
	os.WriteFile(hang, nil, 0o644)
	m, _ = open()
	if m.Definitions().Suite("ts") == nil || m.LastReload().Repos[0].Revision != rev {
		t.Errorf("restart: %+v", m.LastReload())
	}
	if got := m.Definitions().Revision(m.Definitions().Suite("ts")); got != "defs@"+rev {
		t.Errorf("revision of ts: %q", got)
	}
	closed(m)
}
