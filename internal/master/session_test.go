package master_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/master/mastertest"
	"github.com/xrdtest/xrdtest/internal/testutil"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/master"
	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/store/pgtest"
	"github.com/xrdtest/xrdtest/internal/store/sqlite/sqlitetest"
)

var (
	hosts    = []string{"h1.xrd.test", "h2.xrd.test"}
	twoHosts = testutil.ClusterDef("cluster_t", "10.1.0", "i.img", "1024", hosts...)
)

// masterWithRepo opens a master on state (reused across restarts) with a
// repository holding twoHosts and the suite "ts" whose run.sh is given.
func masterWithRepo(t *testing.T, state, run string, slaveWait time.Duration) *master.Master {
	t.Helper()
	return masterWithRepoOpts(t, state, run, slaveWait)
}

// masterWithRepoOpts is masterWithRepo with options changed by set.
func masterWithRepoOpts(t *testing.T, state, run string, slaveWait time.Duration, set ...func(*master.Options)) *master.Master {
	t.Helper()
	repo := filepath.Join(state, "..", "repo-"+filepath.Base(state))
	files := map[string]string{
		"clusters/cluster_t.py":        twoHosts,
		"test-suites/ts/test_suite.py": "def getTestSuite():\n    ts = TestSuite('ts')\n    ts.clusters = ['cluster_t']\n    ts.tests = ['c']\n    ts.schedule = dict(hour='1')\n    ts.initialize = '#!/bin/bash\\necho init'\n    return ts\n",
		"test-suites/ts/tc/c/run.sh":   run,
	}
	testutil.WriteFiles(t, repo, files)
	opts := master.Options{
		StateDir: state, Token: token, Log: logger(), Repos: []definition.Repo{{Root: repo}}, Settings: mastertest.Settings(slaveWait),
		Heartbeat: 200 * time.Millisecond, HeartbeatTimeout: 2 * time.Second,
	}
	for _, f := range set {
		f(&opts)
	}
	return mastertest.Open(t, opts)
}

func TestSessionFailsNamingAbsentSlaves(t *testing.T) {
	m := masterWithRepo(t, t.TempDir(), "#!/bin/bash\n", 500*time.Millisecond)
	defer mastertest.Serve(m)()
	defer runAgents(t, m, "h1.xrd.test")()
	waitConnected(t, m, "h1.xrd.test")
	s := mastertest.StartSession(t, m, "ts")
	s, err := m.Manager.Wait(context.Background(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if s.State != store.SessionFailed || !strings.Contains(s.Reason, "slaves not connected and idle after 500ms: h2.xrd.test") || strings.Contains(s.Reason, "h1") {
		t.Errorf("session %s: %q", s.State, s.Reason)
	}
}

func TestCancelRunningScript(t *testing.T) {
	m := masterWithRepo(t, t.TempDir(), "#!/bin/bash\necho started\nsleep 600\n", 10*time.Second)
	defer mastertest.Serve(m)()
	defer runAgents(t, m, hosts...)()
	ctx := context.Background()
	s := mastertest.StartSession(t, m, "ts")
	// Cancel once the run stage is under way on both.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		d, _ := store.Detail(ctx, m.Store, s.ID)
		running := 0
		for _, st := range d.Stages {
			for _, r := range st.Results {
				if st.Name == "c:run" && r.Status == store.StatusRunning && r.OutputBytes == 0 {
					running++
				}
			}
		}
		if running == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the run stage never started")
		}
	}
	start := time.Now()
	if err := m.Manager.Cancel(s.ID); err != nil {
		t.Fatal(err)
	}
	s, err := m.Manager.Wait(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("cancel took %s", took)
	}
	d, _ := store.Detail(ctx, m.Store, s.ID)
	if s.State != store.SessionCancelled {
		t.Errorf("state %s", s.State)
	}
	for _, st := range d.Stages {
		for _, r := range st.Results {
			want := store.StatusPassed
			if st.Name == "c:run" {
				want = store.StatusCancelled
			}
			if r.Status != want {
				t.Errorf("%s on %s: %s, want %s", st.Name, r.Slave, r.Status, want)
			}
		}
	}
}

func TestHistorySurvivesRestart(t *testing.T) { testHistorySurvivesRestart(t, "") }

// TestHistorySurvivesRestartPostgres: the same with the history in
// PostgreSQL; the outputs stay files in the state folder, and there is no
// SQLite database.
func TestHistorySurvivesRestartPostgres(t *testing.T) {
	state := testHistorySurvivesRestart(t, pgtest.Database(t))
	if _, err := os.Stat(filepath.Join(state, "history", "history.db")); !os.IsNotExist(err) {
		t.Errorf("history.db with the history in PostgreSQL: %v", err)
	}
}

func testHistorySurvivesRestart(t *testing.T, url string) (state string) {
	state = filepath.Join(t.TempDir(), "state")
	db := func(o *master.Options) { o.Database = url }
	m := masterWithRepoOpts(t, state, "#!/bin/bash\necho 'kept across restarts'\n", 10*time.Second, db)
	stopServe := mastertest.Serve(m)
	stopAgents := runAgents(t, m, hosts...)
	ctx := context.Background()
	s := mastertest.StartSession(t, m, "ts")
	s, err := m.Manager.Wait(ctx, s.ID)
	if err != nil || s.State != store.SessionPassed {
		t.Fatalf("session: %v %+v", err, s)
	}
	fp := m.CA.Fingerprint()
	stopAgents()
	stopServe()

	m = masterWithRepoOpts(t, state, "#!/bin/bash\n", 10*time.Second, db)
	defer m.Close()
	if m.CA.Fingerprint() != fp {
		t.Errorf("the CA changed across a restart")
	}
	d, err := store.Detail(ctx, m.Store, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.State != store.SessionPassed || len(d.Stages) != 5 {
		t.Fatalf("after restart: %s, %d stages", d.State, len(d.Stages))
	}
	rc, err := m.Store.OpenOutput(s.ID, 2, "h2.xrd.test")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b := make([]byte, 100)
	n, _ := rc.Read(b)
	if string(b[:n]) != "kept across restarts\n" {
		t.Errorf("output after restart: %q", b[:n])
	}
	if _, err := os.Stat(filepath.Join(state, "history", "outputs", fmt.Sprint(s.ID), "2", "h2.xrd.test.out")); err != nil {
		t.Errorf("the output is not a file in the state folder: %v", err)
	}
	return state
}

// A master killed within runningDelay of a dispatch leaves no result for
// the slaves of that stage: the next master records them as cancelled,
// like the running ones, and leaves the other stages alone.
func TestInterruptedStageWithoutResults(t *testing.T) {
	ctx := context.Background()
	state := filepath.Join(t.TempDir(), "state")
	st := sqlitetest.Open(t, filepath.Join(state, "history"))
	t0 := time.Now().Add(-time.Minute)
	s := &store.Session{Suite: "ts", State: store.SessionRunning, Machines: []string{"h1.xrd.test", "h2.xrd.test"}, Started: t0}
	if err := st.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	code := 0
	for _, stg := range []*store.Stage{
		{SessionID: s.ID, Index: 0, Name: "suite_init", Started: t0, Ended: t0.Add(time.Second)},
		{SessionID: s.ID, Index: 1, Name: "c:init", Case: "c", Started: t0.Add(2 * time.Second)},
	} {
		if err := st.PutStage(ctx, stg); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.PutResults(ctx, []*store.Result{
		{SessionID: s.ID, Stage: 0, Slave: "h1.xrd.test", Status: store.StatusPassed, ExitCode: &code, Start: t0, End: t0.Add(time.Second)},
		{SessionID: s.ID, Stage: 0, Slave: "h2.xrd.test", Status: store.StatusPassed, ExitCode: &code, Start: t0, End: t0.Add(time.Second)},
		{SessionID: s.ID, Stage: 1, Slave: "h2.xrd.test", Status: store.StatusRunning, Start: t0.Add(2 * time.Second)},
	}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	m := masterWithRepo(t, state, "#!/bin/bash\n", 10*time.Second)
	defer m.Close()
	d, err := store.Detail(ctx, m.Store, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.State != store.SessionInterrupted || len(d.Stages) != 2 {
		t.Fatalf("after restart: %s, %d stages", d.State, len(d.Stages))
	}
	for _, r := range d.Stages[0].Results {
		if r.Status != store.StatusPassed {
			t.Errorf("suite_init on %s: %s, want passed (untouched)", r.Slave, r.Status)
		}
	}
	got := map[string]store.Status{}
	for _, r := range d.Stages[1].Results {
		got[r.Slave] = r.Status
		if !strings.HasPrefix(r.Message, "interrupted") {
			t.Errorf("c:init on %s: message %q", r.Slave, r.Message)
		}
	}
	if len(got) != 2 || got["h1.xrd.test"] != store.StatusCancelled || got["h2.xrd.test"] != store.StatusCancelled {
		t.Errorf("c:init results after restart: %v, want both cancelled", got)
	}
}

// A stage's start is the slave's: dated back from its StageStarted for a
// stage that runs longer than the slave's startedDelay, from its end by
// its duration for a shorter one, which sends no StageStarted.
func TestStageStartDated(t *testing.T) {
	m := masterWithRepo(t, t.TempDir(), "#!/bin/bash\nsleep 0.4\necho late\n", 10*time.Second)
	defer mastertest.Serve(m)()
	defer runAgents(t, m, hosts...)()
	ctx := context.Background()
	s := mastertest.StartSession(t, m, "ts")
	s, err := m.Manager.Wait(ctx, s.ID)
	if err != nil || s.State != store.SessionPassed {
		t.Fatalf("session: %v %+v", err, s)
	}
	d, err := store.Detail(ctx, m.Store, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range d.Stages {
		for _, r := range st.Results {
			if r.Start.Before(st.Started) || r.End.Before(r.Start) || st.Ended.Before(r.End) {
				t.Errorf("%s on %s: stage %s..%s, result %s..%s, want nested", st.Name, r.Slave,
					st.Started.Format("15:04:05.000000"), st.Ended.Format("15:04:05.000000"), r.Start.Format("15:04:05.000000"), r.End.Format("15:04:05.000000"))
			}
			took := r.End.Sub(r.Start)
			switch st.Name {
			case "c:run": // sleep 0.4: StageStarted after startedDelay, dated back
				if took < 400*time.Millisecond || took > 5*time.Second {
					t.Errorf("c:run on %s took %s, want sleep 0.4 and little more", r.Slave, took)
				}
			case "suite_init": // echo init: no StageStarted, dated from its end
				if took > 5*time.Second {
					t.Errorf("suite_init on %s took %s", r.Slave, took)
				}
			}
		}
	}
}
