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
