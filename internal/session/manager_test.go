package session_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/faults"
	"github.com/xrdtest/xrdtest/internal/session"
	"github.com/xrdtest/xrdtest/internal/session/sessiontest"
	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/store/sqlite/sqlitetest"
)

// sessionRuns returns the stages session id ran.
func sessionRuns(h *sessiontest.Harness, id int64) []sessiontest.Run {
	return slices.DeleteFunc(h.Slaves.Runs(), func(r sessiontest.Run) bool { return r.Cmd.Session != id })
}

// stillQueued checks that session id is queued and ran nothing, a while
// after it was started: long enough for a session that is not held back
// to reach its slaves.
func stillQueued(t *testing.T, h *sessiontest.Harness, id int64) {
	t.Helper()
	time.Sleep(20 * time.Millisecond)
	s, err := h.Store.Session(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if s.State != store.SessionQueued || len(sessionRuns(h, id)) > 0 {
		t.Fatalf("session %d is %s and ran %d stages, want queued", id, s.State, len(sessionRuns(h, id)))
	}
}

// queuedBehind starts the suite "ts", held in its suite_init until
// release is closed, then "other" on the same machines, and checks that
// other is queued behind it.
func queuedBehind(t *testing.T) (h *sessiontest.Harness, first, second *store.Session, release chan struct{}) {
	t.Helper()
	other := testSuite()
	other.Name = "other"
	h = sessiontest.New(t, testSuite(), other)
	release = make(chan struct{})
	h.Slaves.On("m1", "suite_init", sessiontest.BlockUntil(release))
	first = h.Start("ts")
	h.Slaves.Await(t, sessiontest.Event{Kind: sessiontest.Started, Slave: "m1", Session: first.ID, Stage: "suite_init"})
	second = h.Start("other")
	stillQueued(t, h, second.ID)
	return h, first, second, release
}

// TestQueueSameMachines: a session waits until the session that holds
// its machines has ended, then runs.
func TestQueueSameMachines(t *testing.T) {
	h, first, second, release := queuedBehind(t)
	close(release)
	for _, id := range []int64{first.ID, second.ID} {
		if s := h.Wait(id); s.State != store.SessionPassed {
			t.Errorf("session %d: %s (%s)", id, s.State, s.Reason)
		}
	}
	firstRuns, secondRuns := sessionRuns(h, first.ID), sessionRuns(h, second.ID)
	if len(firstRuns) != 21 || len(secondRuns) != 21 { // 7 scripts (b:finalize has none) on 3 machines
		t.Fatalf("%d and %d stages ran, want 21 each", len(firstRuns), len(secondRuns))
	}
	lastEnd := slices.MaxFunc(firstRuns, func(a, b sessiontest.Run) int { return a.End - b.End })
	firstStart := slices.MinFunc(secondRuns, func(a, b sessiontest.Run) int { return a.Start - b.Start })
	if firstStart.Start < lastEnd.End {
		t.Errorf("session %d started %s on %s before session %d ended %s on %s", second.ID, firstStart.Cmd.StageName, firstStart.Slave,
			first.ID, lastEnd.Cmd.StageName, lastEnd.Slave)
	}
}

// TestDifferentMachinesInParallel: sessions on different machines do not
// wait for each other.
func TestDifferentMachinesInParallel(t *testing.T) {
	left, right := sessiontest.Suite("left", []string{"m1", "m2"}, "a"), sessiontest.Suite("right", []string{"m3", "m4"}, "a")
	h := sessiontest.New(t, left, right)
	release := make(chan struct{})
	h.Slaves.On("m1", "a:run", sessiontest.BlockUntil(release))
	l := h.Start("left")
	h.Slaves.Await(t, sessiontest.Event{Kind: sessiontest.Started, Slave: "m1", Stage: "a:run"})
	// Runs to its end while left is held in a:run.
	if r := h.Run("right"); r.State != store.SessionPassed {
		t.Errorf("right: %s (%s)", r.State, r.Reason)
	}
	close(release)
	if s := h.Wait(l.ID); s.State != store.SessionPassed {
		t.Errorf("left: %s (%s)", s.State, s.Reason)
	}
}

func TestCancelQueued(t *testing.T) {
	h, first, second, release := queuedBehind(t)
	if err := h.Manager.Cancel(second.ID); err != nil {
		t.Fatal(err)
	}
	if s := h.Wait(second.ID); s.State != store.SessionCancelled || s.Reason != "cancelled while queued" {
		t.Errorf("cancelled session: %s (%s)", s.State, s.Reason)
	}
	close(release)
	if s := h.Wait(first.ID); s.State != store.SessionPassed {
		t.Errorf("the session before: %s (%s)", s.State, s.Reason)
	}
	if n := len(sessionRuns(h, second.ID)); n > 0 {
		t.Errorf("the cancelled session ran %d stages", n)
	}
	// Only sessions under way can be cancelled.
	if err := h.Manager.Cancel(second.ID); !errors.Is(err, session.ErrNotRunning) {
		t.Errorf("cancel of an ended session: %v", err)
	}
	if err := h.Manager.Cancel(99); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("cancel of no session: %v", err)
	}
}

func TestCancelWhileWaitingForSlaves(t *testing.T) {
	h := sessiontest.New(t, testSuite())
	h.Slaves.Disconnect("m3")
	s := h.Start("ts")
	h.Slaves.Await(t, sessiontest.Event{Kind: sessiontest.Waiting})
	if err := h.Manager.Cancel(s.ID); err != nil {
		t.Fatal(err)
	}
	if s := h.Wait(s.ID); s.State != store.SessionCancelled || s.Reason != "cancelled while waiting for slaves" {
		t.Errorf("%s (%s)", s.State, s.Reason)
	}
	if runs := h.Slaves.Runs(); len(runs) > 0 {
		t.Errorf("%d stages ran", len(runs))
	}
}

// TestWaitForSlaves: a session waits, bounded by SlaveWait, for every
// machine to connect; a slave that comes late is waited for, one that
// never comes fails the session naming it.
func TestWaitForSlaves(t *testing.T) {
	t.Run("late", func(t *testing.T) {
		h := sessiontest.New(t, testSuite())
		h.Slaves.Disconnect("m3")
		s := h.Start("ts")
		h.Slaves.Await(t, sessiontest.Event{Kind: sessiontest.Waiting})
		h.Slaves.Connect("m3")
		if s := h.Wait(s.ID); s.State != store.SessionPassed {
			t.Errorf("%s (%s)", s.State, s.Reason)
		}
		if evs := h.Events(s.ID); !slices.Contains(evs, "slave: m3: slave connected") {
			t.Errorf("events %q", evs)
		}
	})
	t.Run("never", func(t *testing.T) {
		h := sessiontest.New(t, testSuite())
		h.Manager.Settings.SlaveWait = 20 * time.Millisecond
		h.Slaves.Disconnect("m3")
		s := h.Run("ts")
		if s.State != store.SessionFailed || s.Reason != "slaves not connected and idle after 20ms: m3" {
			t.Errorf("%s (%s)", s.State, s.Reason)
		}
		if runs := h.Slaves.Runs(); len(runs) > 0 {
			t.Errorf("%d stages ran", len(runs))
		}
	})
}

// TestLostSlave: a slave lost in a case's run is named; the case's
// finalize and suite_finalize run on the others, the later cases are
// skipped, its logs cannot be collected, and the next session misses it.
func TestLostSlave(t *testing.T) {
	suite := testSuite()
	suite.Logs = []string{"/var/log/x.log"}
	h := sessiontest.New(t, suite)
	h.Manager.Settings.SlaveWait = 20 * time.Millisecond
	for _, m := range suite.Machines {
		h.Slaves.SetLogs(m, map[string]string{"/var/log/x.log": "log of " + m})
	}
	h.Slaves.On("m2", "a:run", sessiontest.Output("going\n"), sessiontest.Vanish())
	s := h.Run("ts")
	if s.State != store.SessionFailed || s.Reason != "a:run: slave lost: m2" {
		t.Errorf("%s (%s)", s.State, s.Reason)
	}
	want := []string{"suite_init: passed passed passed", "a:init: passed passed passed", "a:run: passed lost passed",
		"a:finalize: passed skipped passed", "b:init: skipped skipped skipped", "b:run: skipped skipped skipped",
		"b:finalize: skipped skipped skipped", "suite_finalize: passed skipped passed"}
	if m := h.Matrix(s.ID); !slices.Equal(m, want) {
		t.Errorf("matrix:\n%s\nwant\n%s", strings.Join(m, "\n"), strings.Join(want, "\n"))
	}
	for _, stg := range h.Detail(s.ID).Stages {
		for _, r := range stg.Results {
			if r.Slave == "m2" && stg.Name == "a:run" && (r.Status != store.StatusLost || !strings.Contains(r.Message, "slave m2 lost")) {
				t.Errorf("m2's a:run: %s %q", r.Status, r.Message)
			}
			if r.Slave == "m2" && stg.Index > 2 && r.Message != "the slave was lost earlier in the session" && r.Message != "slave lost: m2" {
				t.Errorf("m2's %s: %s %q", stg.Name, r.Status, r.Message)
			}
		}
	}
	var ran []string
	for _, r := range h.Slaves.Runs() {
		if r.Cmd.StageName == "a:finalize" || r.Cmd.StageName == "suite_finalize" {
			ran = append(ran, r.Cmd.StageName+" "+r.Slave)
		}
	}
	slices.Sort(ran)
	if want := []string{"a:finalize m1", "a:finalize m3", "suite_finalize m1", "suite_finalize m3"}; !slices.Equal(ran, want) {
		t.Errorf("finalizes ran: %q, want %q", ran, want)
	}
	if evs := h.Events(s.ID); !slices.Contains(evs, "logs: logs of m2: slave m2 is not connected") {
		t.Errorf("events %q", evs)
	}
	logs, err := h.Store.Logs(context.Background(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) != 2 {
		t.Errorf("logs %+v, want those of m1 and m3", logs)
	}
	if next := h.Run("ts"); next.State != store.SessionFailed || next.Reason != "slaves not connected and idle after 20ms: m2" {
		t.Errorf("next session: %s (%s)", next.State, next.Reason)
	}
}

// TestDisconnectDuringStage: a slave whose connection drops during a stage
// keeps it if it comes back within the grace; otherwise the stage is lost.
func TestDisconnectDuringStage(t *testing.T) {
	t.Run("back within the grace", func(t *testing.T) {
		h := sessiontest.New(t, testSuite())
		h.Slaves.On("m2", "a:run", sessiontest.Output("before\n"), sessiontest.Disconnect(), sessiontest.Reconnect(), sessiontest.Output("after\n"))
		s := h.Run("ts")
		if s.State != store.SessionPassed {
			t.Errorf("%s (%s)", s.State, s.Reason)
		}
		h.Slaves.Await(t, sessiontest.Event{Kind: sessiontest.Disconnected, Slave: "m2"})
		h.Slaves.Await(t, sessiontest.Event{Kind: sessiontest.Connected, Slave: "m2"})
		if out := output(t, h, s.ID, 2, "m2"); out != "before\nafter\n" {
			t.Errorf("m2's a:run output %q", out)
		}
	})
	t.Run("not back within the grace", func(t *testing.T) {
		h := sessiontest.New(t, testSuite())
		h.Slaves.On("m2", "a:run", sessiontest.Disconnect(), sessiontest.Output("never\n"))
		s := h.Start("ts")
		h.Slaves.Await(t, sessiontest.Event{Kind: sessiontest.Disconnected, Slave: "m2"})
		h.Clock.Advance(sessiontest.DefaultGrace)
		s = h.Wait(s.ID)
		if s.State != store.SessionFailed || s.Reason != "a:run: slave lost: m2" {
			t.Errorf("%s (%s)", s.State, s.Reason)
		}
		if m := h.Matrix(s.ID); !slices.Contains(m, "a:run: passed lost passed") || !slices.Contains(m, "suite_finalize: passed skipped passed") {
			t.Errorf("matrix %q", m)
		}
	})
}

func output(t *testing.T, h *sessiontest.Harness, id int64, stage int, slave string) string {
	t.Helper()
	f, err := h.Store.OpenOutput(id, stage, slave)
	if errors.Is(err, store.ErrNotFound) {
		return "" // nothing written
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSyncThroughHub: the scripts' sync calls reach the hub with the
// stage's members; a call that can never complete fails at once, naming
// the member that did not reach it, and fails its stage.
func TestSyncThroughHub(t *testing.T) {
	tests := []struct {
		name       string
		rules      []on
		wantRun    string // the a:run row of the matrix
		wantOutput string // in the a:run output of m1
		completes  bool   // the barrier completes
	}{
		{"every member reaches the barrier", []on{rule("*", "a:run", sessiontest.Output("x\n"), sessiontest.Barrier("ready"))},
			"a:run: passed passed passed", "x\n", true},
		{"a member ends without reaching it", []on{rule("m[12]", "a:run", sessiontest.Barrier("ready"))},
			"a:run: failed failed passed", "xrdtest sync barrier ready: barrier ready can never complete: m3 (finished its stage) did not reach it\n", false},
		{"a member is lost", []on{rule("m[12]", "a:run", sessiontest.Barrier("ready")), rule("m3", "a:run", sessiontest.Vanish())},
			"a:run: failed failed lost", "xrdtest sync barrier ready: barrier ready can never complete: m3 (lost) did not reach it\n", false},
		{"wait for the signals of the others", []on{rule("m1", "a:run", sessiontest.WaitSignals("go", 2)), rule("m[23]", "a:run", sessiontest.Signal("go"))},
			"a:run: passed passed passed", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := harnessWith(t, testSuite(), tt.rules)
			s := h.Run("ts")
			if m := h.Matrix(s.ID); !slices.Contains(m, tt.wantRun) {
				t.Errorf("matrix:\n%s\nwant %s", strings.Join(m, "\n"), tt.wantRun)
			}
			if out := output(t, h, s.ID, 2, "m1"); out != tt.wantOutput {
				t.Errorf("m1's output %q, want %q", out, tt.wantOutput)
			}
			if !tt.completes {
				return
			}
			// Every call was answered after the last member called.
			lastCall, firstAnswer := 0, 0
			for _, e := range h.Slaves.Events() {
				switch {
				case e.Kind == sessiontest.SyncCalled && strings.HasPrefix(e.Detail, "barrier "):
					lastCall = e.Seq
				case e.Kind == sessiontest.SyncAnswered && strings.HasPrefix(e.Detail, "barrier ") && firstAnswer == 0:
					firstAnswer = e.Seq
				}
			}
			if firstAnswer == 0 || firstAnswer < lastCall {
				t.Errorf("a barrier call was answered (#%d) before the last call (#%d)", firstAnswer, lastCall)
			}
		})
	}
}

// TestMasterRestart: a master killed in the middle of a session (its
// shutdown did not finish: a slave confirms nothing) leaves the session
// running in the history; the next start marks it interrupted and closes
// the results left open, whether the running stage was recorded yet
// (after runningDelay) or not.
func TestMasterRestart(t *testing.T) {
	for _, recorded := range []bool{false, true} {
		name := map[bool]string{false: "running stage not recorded yet", true: "running stage recorded"}[recorded]
		t.Run(name, func(t *testing.T) {
			h := sessiontest.New(t, testSuite())
			release := make(chan struct{})
			defer close(release)
			h.Slaves.On("m1", "a:run", sessiontest.BlockUntil(release))
			h.Slaves.On("m[23]", "a:run", sessiontest.Hang())
			s := h.Start("ts")
			for _, m := range []string{"m1", "m2", "m3"} {
				h.Slaves.Await(t, sessiontest.Event{Kind: sessiontest.Started, Slave: m, Stage: "a:run"})
			}
			if recorded {
				// The engine shows a stage running once it ran a second.
				h.Clock.Advance(time.Second)
				awaitResult(t, h.Store, s.ID, "a:run", "m1", store.StatusRunning)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			if h.Manager.Shutdown(ctx) {
				t.Fatal("the shutdown ended the session of a slave that confirms nothing")
			}

			// The next start of the master, on the same history.
			st := sqlitetest.Open(t, h.Dir)
			ids, err := st.InterruptUnfinished(context.Background(), "the master stopped while the session was queued or running")
			if err != nil || !slices.Equal(ids, []int64{s.ID}) {
				t.Fatalf("InterruptUnfinished: %v %v", ids, err)
			}
			session.CloseInterrupted(context.Background(), st, ids, sessiontest.Logger(t))
			d, err := store.Detail(context.Background(), st, s.ID)
			if err != nil {
				t.Fatal(err)
			}
			if d.State != store.SessionInterrupted || d.Reason != "the master stopped while the session was queued or running" {
				t.Errorf("%s (%s)", d.State, d.Reason)
			}
			want := []string{"suite_init: passed passed passed", "a:init: passed passed passed", "a:run: cancelled cancelled cancelled"}
			if m := sessiontest.Matrix(d); !slices.Equal(m, want) {
				t.Errorf("matrix:\n%s\nwant\n%s", strings.Join(m, "\n"), strings.Join(want, "\n"))
			}
			for _, r := range d.Stages[2].Results {
				if r.Slave == "m1" && r.Message != "interrupted: the master stopped during the stage" {
					t.Errorf("m1's a:run: %q", r.Message)
				}
			}
		})
	}
}

// awaitResult waits until the store has the result of a stage on a slave
// with status.
func awaitResult(t *testing.T, st store.Store, id int64, stage, slave string, status store.Status) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		d, err := store.Detail(context.Background(), st, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, stg := range d.Stages {
			for _, r := range stg.Results {
				if stg.Name == stage && r.Slave == slave && r.Status == status {
					return
				}
			}
		}
	}
	t.Fatalf("no %s result of %s on %s", status, stage, slave)
}

// TestLogCollection: after the session, the suite's logs are fetched from
// every slave (@slavename@ expanded, at most LogMaxBytes from the end);
// a missing file is an event, not a failure.
func TestLogCollection(t *testing.T) {
	suite := testSuite()
	suite.Logs = []string{"/var/log/@slavename@.log", "/tmp/core"}
	h := sessiontest.New(t, suite)
	h.Manager.Settings.LogMaxBytes = 4
	for _, m := range suite.Machines {
		h.Slaves.SetLogs(m, map[string]string{"/var/log/" + m + ".log": "head of " + m + " tail"})
	}
	s := h.Run("ts")
	if s.State != store.SessionPassed {
		t.Errorf("%s (%s)", s.State, s.Reason)
	}
	logs, err := h.Store.Logs(context.Background(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range logs {
		f, err := h.Store.OpenLog(s.ID, l.Slave, l.Path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(f)
		f.Close()
		got = append(got, l.Slave+" "+l.Path+" "+string(b))
	}
	slices.Sort(got)
	if want := []string{"m1 /var/log/m1.log tail", "m2 /var/log/m2.log tail", "m3 /var/log/m3.log tail"}; !slices.Equal(got, want) {
		t.Errorf("logs %q, want %q", got, want)
	}
	if evs := h.Events(s.ID); !slices.Contains(evs, "logs: logs of m2: [/tmp/core: no such file or directory]") {
		t.Errorf("events %q", evs)
	}
}

// TestStageCommand: what a slave is given to run a stage: the suite's
// stage timeout or else the master's, the kill grace, the environment.
func TestStageCommand(t *testing.T) {
	for _, tt := range []struct {
		suiteTimeout float64
		want         time.Duration
	}{{0, 3 * time.Minute}, {2.5, 2500 * time.Millisecond}} {
		suite := testSuite()
		suite.StageTimeout = tt.suiteTimeout
		h := sessiontest.New(t, suite)
		h.Manager.Settings.StageTimeout, h.Manager.Settings.KillGrace = 3*time.Minute, 7*time.Second
		s := h.Run("ts")
		for _, r := range h.Slaves.Runs() {
			if r.Cmd.Timeout != tt.want || r.Cmd.Grace != 7*time.Second {
				t.Errorf("suite timeout %v: %s on %s: timeout %s, grace %s", tt.suiteTimeout, r.Cmd.StageName, r.Slave, r.Cmd.Timeout, r.Cmd.Grace)
			}
			for _, env := range []string{"XRDTEST_SESSION=" + strconv.FormatInt(s.ID, 10), "XRDTEST_SUITE=ts", "XRDTEST_STAGE=" + r.Cmd.StageName,
				"XRDTEST_SLAVE=" + r.Slave} {
				if !slices.Contains(r.Cmd.Env, env) {
					t.Errorf("%s on %s: no %s in %q", r.Cmd.StageName, r.Slave, env, r.Cmd.Env)
				}
			}
		}
	}
}

func cluster(name string, hosts ...string) *definition.Cluster {
	c := &definition.Cluster{Name: name}
	for _, h := range hosts {
		c.Hosts = append(c.Hosts, &definition.Host{Name: h})
	}
	return c
}

// TestClusters: a session starts its suite's clusters before it waits
// for the slaves and stops them after its last stage; a cluster that
// cannot start fails the session, and the clusters started are stopped.
// A cluster in use cannot be stopped by hand.
func TestClusters(t *testing.T) {
	suite := testSuite()
	suite.Clusters = []string{"c1", "c2"}
	t.Run("started and stopped", func(t *testing.T) {
		h := sessiontest.New(t, suite)
		h.UseClusters(cluster("c1", "m1", "m2"), cluster("c2", "m3"))
		release := make(chan struct{})
		h.Slaves.On("m1", "suite_init", sessiontest.BlockUntil(release))
		s := h.Start("ts")
		h.Slaves.Await(t, sessiontest.Event{Kind: sessiontest.Started, Slave: "m1", Stage: "suite_init"})
		if err := h.Manager.StopCluster(context.Background(), "c2", "test"); !errors.Is(err, session.ErrClusterInUse) {
			t.Errorf("stop of a cluster in use: %v", err)
		}
		close(release)
		if s = h.Wait(s.ID); s.State != store.SessionPassed {
			t.Fatalf("%s (%s)", s.State, s.Reason)
		}
		var order []string
		for _, e := range h.Slaves.Events() {
			switch e.Kind {
			case sessiontest.ClusterStarted, sessiontest.ClusterStopped:
				order = append(order, string(e.Kind)+" "+e.Detail)
			case sessiontest.Started:
				if e.Stage == "suite_init" && e.Slave == "m1" {
					order = append(order, "suite_init")
				}
			case sessiontest.Ended:
				if e.Stage == "suite_finalize" && e.Slave == "m1" {
					order = append(order, "suite_finalize")
				}
			}
		}
		want := []string{"cluster started c1", "cluster started c2", "suite_init", "suite_finalize", "cluster stopped c1", "cluster stopped c2"}
		if !slices.Equal(order, want) {
			t.Errorf("order %q, want %q", order, want)
		}
		if evs := h.Events(s.ID); !slices.Contains(evs, "cluster: starting cluster c2") || !slices.Contains(evs, "cluster: m3: booting") {
			t.Errorf("events %q", evs)
		}
		// The stopped clusters' unused enrollment tokens are spent.
		for _, host := range []string{"m1", "m2", "m3"} {
			if !h.Manager.Tokens.(*sessiontest.Tokens).Revoked(host) {
				t.Errorf("the token of %s is still valid after its cluster stopped", host)
			}
		}
		if err := h.Manager.StopCluster(context.Background(), "c1", "test"); !errors.Is(err, session.ErrClusterNotRunning) {
			t.Errorf("stop of a stopped cluster: %v", err)
		}
	})
	t.Run("start fails", func(t *testing.T) {
		h := sessiontest.New(t, suite)
		h.UseClusters(cluster("c1", "m1", "m2"), cluster("c2", "m3")).FailStart("c2", errors.New("no hypervisor"))
		s := h.Run("ts")
		if s.State != store.SessionFailed || s.Reason != "cannot start cluster c2: no hypervisor" {
			t.Errorf("%s (%s)", s.State, s.Reason)
		}
		for _, c := range []string{"c1", "c2"} {
			h.Slaves.Await(t, sessiontest.Event{Kind: sessiontest.ClusterStopped, Detail: c})
		}
		if runs := h.Slaves.Runs(); len(runs) > 0 {
			t.Errorf("%d stages ran", len(runs))
		}
	})
}

// TestFaultScheduleSeed: a session's fault schedule uses the suite's seed,
// or the one it was started with, and says which; a backend that cannot
// set faults has each drawn fault recorded as not set.
func TestFaultScheduleSeed(t *testing.T) {
	suite := testSuite()
	suite.Clusters = []string{"c1"}
	suite.Faults = &definition.FaultSchedule{Seed: 5, Interval: 0.1, During: []string{"run"}, Kinds: []string{"pause"}}
	h := sessiontest.New(t, suite)
	h.UseClusters(cluster("c1", "m1", "m2", "m3"))
	h.Manager.Faults = faults.NewHub()
	for _, tt := range []struct {
		seed int64
		want string
	}{{0, "seed 5,"}, {42, "seed 42,"}} {
		s, err := h.Manager.StartWith(context.Background(), "ts", nil, "test", session.StartOptions{Retries: -1, Seed: tt.seed})
		if err != nil {
			t.Fatal(err)
		}
		if s = h.Wait(s.ID); s.State != store.SessionPassed {
			t.Fatalf("%s (%s)", s.State, s.Reason)
		}
		events := strings.Join(h.Events(s.ID), "\n")
		if !strings.Contains(events, "fault: fault schedule: "+tt.want) {
			t.Errorf("start seed %d: no %q in the events:\n%s", tt.seed, tt.want, events)
		}
	}
}
