package master_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	for p, c := range files {
		full := filepath.Join(repo, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	clock := scheduler.NewFakeClock(time.Date(2026, 11, 29, 10, 7, 0, 0, time.UTC))
	mails := &notify.Recorder{}
	m, err := master.Open(context.Background(), master.Options{
		StateDir: filepath.Join(dir, "state"), DaemonAddr: "127.0.0.1:0", WebAddr: "127.0.0.1:0", Token: token, Log: logger(),
		Repos:    []definition.Repo{{Root: repo}},
		Settings: master.SessionSettings{StageTimeout: time.Minute, KillGrace: time.Second, SlaveWait: 10 * time.Second},
		Schedule: scheduler.Config{Enabled: true, Clock: clock, Location: time.UTC},
		Notifier: mails, BaseURL: "https://xrdtest.example.org",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer serve(t, m)()
	for _, h := range []string{"h1.xrd.test", "h2.xrd.test"} {
		stop, errc := runAgent(t, m, agentConfig(t, m, h))
		defer func() { stop(); <-errc }()
		waitConnected(t, m, h)
	}
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
	m, err := master.Open(context.Background(), master.Options{
		StateDir: filepath.Join(dir, "state"), DaemonAddr: "127.0.0.1:0", WebAddr: "127.0.0.1:0", Log: logger(),
		Repos: []definition.Repo{{Root: repo}}, ReloadDebounce: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer serve(t, m)()
	cases := func() string {
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
	waitFor := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); cases() != want; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("cases %q, want %q", cases(), want)
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
	if cases() != "c,d" {
		t.Errorf("after a broken edit: cases %q, want the last good c,d", cases())
	}
	found := false
	for _, d := range m.Definitions().Diagnostics.Warnings() {
		found = found || strings.Contains(d.Message, "the last good definition is kept")
	}
	if !found {
		t.Errorf("no warning about the kept definition: %v", m.Definitions().Diagnostics)
	}
}
