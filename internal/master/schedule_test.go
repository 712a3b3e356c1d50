package master_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/master/mastertest"
	"github.com/xrdtest/xrdtest/internal/testutil"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/master"
	"github.com/xrdtest/xrdtest/internal/notify"
	"github.com/xrdtest/xrdtest/internal/scheduler"
	"github.com/xrdtest/xrdtest/internal/store"
)

// TestScheduledSessionAndAlerts: the suite runs at its cron time on the
// master's (fake) clock, and its failure is mailed as the suite asks.
func TestScheduledSessionAndAlerts(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	files := map[string]string{
		"clusters/cluster_t.py": twoHosts,
		"test-suites/ts/test_suite.py": "def getTestSuite():\n    ts = TestSuite('ts')\n    ts.clusters = ['cluster_t']\n    ts.tests = ['c']\n" +
			"    ts.schedule = dict(minute='*/15')\n    ts.initialize = '#!/bin/bash\\necho init'\n" +
			"    ts.alert_emails = ['ops@example.org']\n    ts.alert_failure = 'SUITE'\n    return ts\n",
		"test-suites/ts/tc/c/run.sh": "#!/bin/bash\necho 'the disk is full' >&2\nexit 3\n",
	}
	testutil.WriteFiles(t, repo, files)
	clock := scheduler.NewFakeClock(time.Date(2026, 11, 29, 10, 7, 0, 0, time.UTC))
	mails := &notify.Recorder{}
	m := mastertest.Open(t, master.Options{
		StateDir: filepath.Join(dir, "state"), Token: token, Log: logger(),
		Repos:    []definition.Repo{{Root: repo}},
		Settings: mastertest.Settings(10 * time.Second),
		Schedule: scheduler.Config{Enabled: true, Clock: clock, Location: time.UTC},
		Notifier: mails, BaseURL: "https://xrdtest.example.org",
	})
	defer mastertest.Serve(m)()
	defer runAgents(t, m, hosts...)()
	waitConnected(t, m, hosts...)
	next := m.Scheduler.NextRuns()
	if len(next) != 1 || !next[0].Next.Equal(time.Date(2026, 11, 29, 10, 15, 0, 0, time.UTC)) {
		t.Fatalf("next runs %+v", next)
	}
	clock.Advance(8 * time.Minute)
	var s *store.Session
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		list, _, _ := m.Store.Sessions(context.Background(), store.Filter{Suite: "ts"})
		if len(list) == 1 && list[0].State.Finished() {
			s = list[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no scheduled session ended: %+v", list)
		}
	}
	if s.TriggeredBy != "schedule" || s.State != store.SessionFailed {
		t.Errorf("session %+v", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := mails.Wait(ctx, 1); err != nil {
		t.Fatalf("no alert mail: %v", err)
	}
	got := mails.Messages()[0]
	if got.To[0] != "ops@example.org" || !strings.Contains(got.Subject, "FAILED") ||
		!strings.Contains(got.Body, "the disk is full") || !strings.Contains(got.Body, "https://xrdtest.example.org/sessions/") {
		t.Errorf("mail %+v", got)
	}
}

// TestReloadOnChange: an edit of a definition reloads it; a broken edit
// keeps the last good definition and reports the error.
func TestReloadOnChange(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	suite := func(tests string) string {
		return "def getTestSuite():\n    ts = TestSuite('ts')\n    ts.clusters = ['cluster_t']\n    ts.tests = [" + tests + "]\n" +
			"    ts.schedule = dict(hour='1')\n    ts.initialize = '#!/bin/bash\\necho init'\n    return ts\n"
	}
	write := func(p, c string) {
		full := filepath.Join(repo, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("clusters/cluster_t.py", twoHosts)
	write("test-suites/ts/test_suite.py", suite("'c'"))
	write("test-suites/ts/tc/c/run.sh", "#!/bin/bash\n")
	write("test-suites/ts/tc/d/run.sh", "#!/bin/bash\n")
	m := mastertest.Open(t, master.Options{
		StateDir: filepath.Join(dir, "state"), Log: logger(),
		Repos: []definition.Repo{{Root: repo}}, ReloadDebounce: 50 * time.Millisecond,
	})
	defer mastertest.Serve(m)()
	waitFor := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); suiteCases(m) != want; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("cases %q, want %q", suiteCases(m), want)
			}
		}
	}
	time.Sleep(100 * time.Millisecond) // let the watcher start
	write("test-suites/ts/test_suite.py", suite("'c', 'd'"))
	waitFor("c,d")
	write("test-suites/ts/test_suite.py", "def getTestSuite(:\n") // a syntax error
	for deadline := time.Now().Add(10 * time.Second); len(m.Definitions().Diagnostics.Errors()) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the broken edit was not reloaded")
		}
	}
	if suiteCases(m) != "c,d" {
		t.Errorf("after a broken edit: cases %q, want the last good c,d", suiteCases(m))
	}
	found := false
	for _, d := range m.Definitions().Diagnostics.Warnings() {
		found = found || strings.Contains(d.Message, "the last good definition is kept")
	}
	if !found {
		t.Errorf("no warning about the kept definition: %v", m.Definitions().Diagnostics)
	}
}

// TestNameClashKeepsLoadedSuite: a suite added to another repository
// under the name of a loaded suite does not take its place: the loaded
// one stays and the newcomer's file is the error. At a fresh start the
// first repository wins, as documented.
func TestNameClashKeepsLoadedSuite(t *testing.T) {
	dir := t.TempDir()
	r1, r2 := filepath.Join(dir, "r1"), filepath.Join(dir, "r2")
	write := func(p, c string) {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	suite := func(test string) string {
		return "def getTestSuite():\n    ts = TestSuite('ts')\n    ts.clusters = ['cluster_t']\n    ts.tests = ['" + test + "']\n" + suiteTail
	}
	write(filepath.Join(r1, "clusters", "README"), "")
	write(filepath.Join(r2, "clusters", "cluster_t.py"), twoHosts)
	write(filepath.Join(r2, "test-suites", "ts", "test_suite.py"), suite("from_r2"))
	write(filepath.Join(r2, "test-suites", "ts", "tc", "from_r2", "run.sh"), "#!/bin/bash\n")
	opts := master.Options{StateDir: filepath.Join(dir, "state"), Log: logger(),
		Repos: []definition.Repo{{Name: "r1", Root: r1}, {Name: "r2", Root: r2}}, ReloadDebounce: -1}
	m := mastertest.Open(t, opts)
	if s := m.Definitions().Suite("ts"); s == nil || s.Repo != r2 {
		t.Fatalf("ts from r2 not loaded: %+v", m.LastReload())
	}
	// r1 (searched first) gets a suite of the same name.
	write(filepath.Join(r1, "test-suites", "dup", "test_suite.py"), suite("from_r1"))
	write(filepath.Join(r1, "test-suites", "dup", "tc", "from_r1", "run.sh"), "#!/bin/bash\n")
	rep := m.Catalog.Reload(context.Background())
	if s := m.Definitions().Suite("ts"); s == nil || s.Repo != r2 || s.Tests[0].Name != "from_r2" {
		t.Errorf("the loaded suite was replaced: %+v", s)
	}
	var blamed []string
	for _, e := range rep.Errors {
		blamed = append(blamed, e.Repo+":"+e.File+": "+e.Message)
	}
	if len(rep.Errors) != 1 || rep.Errors[0].Repo != "r1" || rep.Errors[0].File != "test-suites/dup/test_suite.py" ||
		!strings.Contains(rep.Errors[0].Message, "already used by "+filepath.Join(r2, "test-suites/ts/test_suite.py")+", which was loaded before") {
		t.Errorf("errors: %q", blamed)
	}
	if !strings.Contains(logs.String(), `msg="definition error" repo=r1 file=test-suites/dup/test_suite.py`) {
		t.Error("the error is not logged with the repository's name")
	}
	m.Close()

	// A fresh start: the first repository wins.
	m = mastertest.Open(t, opts)
	defer m.Close()
	if s := m.Definitions().Suite("ts"); s == nil || s.Repo != r1 {
		t.Errorf("fresh start: ts from %v, want r1", s)
	}
}
