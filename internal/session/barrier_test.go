package session_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/session"
	"github.com/xrdtest/xrdtest/internal/session/sessiontest"
	"github.com/xrdtest/xrdtest/internal/store"
)

// testSuite has two cases, a and b, on three machines; every script does
// something except b's finalize, which is absent.
func testSuite() *definition.Suite {
	return &definition.Suite{
		Name:       "ts",
		Machines:   []string{"m1", "m2", "m3"},
		Initialize: sessiontest.Script("echo init @slavename@"),
		Finalize:   sessiontest.Script("echo fin"),
		Tests: []definition.TestCase{
			{Name: "a", Init: sessiontest.Script("true"), Run: sessiontest.Script("true"), Finalize: sessiontest.Script("true")},
			{Name: "b", Init: sessiontest.Script("true"), Run: sessiontest.Script("true")},
		},
	}
}

// on is a rule of the simulated slaves: steps for a stage on a slave.
type on struct {
	slave, stage string
	steps        []sessiontest.Step
}

func rule(slave, stage string, steps ...sessiontest.Step) on { return on{slave, stage, steps} }

// harnessWith is a harness of the suite whose slaves follow the rules.
func harnessWith(t *testing.T, suite *definition.Suite, rules []on) *sessiontest.Harness {
	t.Helper()
	h := sessiontest.New(t, suite)
	for _, r := range rules {
		h.Slaves.On(r.slave, r.stage, r.steps...)
	}
	return h
}

// TestFailureSemantics: the failure rules of DEFINITIONS.md d, one row
// each, through the whole Manager.
func TestFailureSemantics(t *testing.T) {
	const P, F, S, L, C = "passed", "failed", "skipped", "lost", "cancelled"
	row := func(stage string, st ...string) string { return stage + ": " + strings.Join(st, " ") }
	tests := []struct {
		name       string
		rules      []on
		cancelAt   string // the stage during which the user cancels the session
		wantState  store.SessionState
		wantReason string
		want       []string
	}{
		{"all pass", nil, "", store.SessionPassed, "", []string{
			row("suite_init", P, P, P), row("a:init", P, P, P), row("a:run", P, P, P), row("a:finalize", P, P, P),
			row("b:init", P, P, P), row("b:run", P, P, P), row("b:finalize", P, P, P), row("suite_finalize", P, P, P)}},
		{"suite init fails on one machine: every case skipped, suite finalize runs",
			[]on{rule("m2", "suite_init", sessiontest.Exit(3))}, "", store.SessionFailed, "suite_init failed on m2 (exit 3)", []string{
				row("suite_init", P, F, P), row("a:init", S, S, S), row("a:run", S, S, S), row("a:finalize", S, S, S),
				row("b:init", S, S, S), row("b:run", S, S, S), row("b:finalize", S, S, S), row("suite_finalize", P, P, P)}},
		{"case init fails: its run skipped, its finalize and the next case run",
			[]on{rule("m3", "a:init", sessiontest.Exit(1))}, "", store.SessionFailed, "a:init failed on m3 (exit 1)", []string{
				row("suite_init", P, P, P), row("a:init", P, P, F), row("a:run", S, S, S), row("a:finalize", P, P, P),
				row("b:init", P, P, P), row("b:run", P, P, P), row("b:finalize", P, P, P), row("suite_finalize", P, P, P)}},
		{"the last case's init fails: its run skipped, its finalize and suite finalize run (no hang)",
			[]on{rule("m1", "b:init", sessiontest.Exit(2))}, "", store.SessionFailed, "b:init failed on m1 (exit 2)", []string{
				row("suite_init", P, P, P), row("a:init", P, P, P), row("a:run", P, P, P), row("a:finalize", P, P, P),
				row("b:init", F, P, P), row("b:run", S, S, S), row("b:finalize", P, P, P), row("suite_finalize", P, P, P)}},
		{"run and finalize failures are recorded and the session goes on",
			[]on{rule("m1", "a:run", sessiontest.Exit(1)), rule("m2", "a:finalize", sessiontest.Exit(2))}, "", store.SessionFailed,
			"a:run failed on m1 (exit 1); a:finalize failed on m2 (exit 2)", []string{
				row("suite_init", P, P, P), row("a:init", P, P, P), row("a:run", F, P, P), row("a:finalize", P, F, P),
				row("b:init", P, P, P), row("b:run", P, P, P), row("b:finalize", P, P, P), row("suite_finalize", P, P, P)}},
		{"a suite finalize failure fails the session",
			[]on{rule("m3", "suite_finalize", sessiontest.Exit(5))}, "", store.SessionFailed, "suite_finalize failed on m3 (exit 5)", []string{
				row("suite_init", P, P, P), row("a:init", P, P, P), row("a:run", P, P, P), row("a:finalize", P, P, P),
				row("b:init", P, P, P), row("b:run", P, P, P), row("b:finalize", P, P, P), row("suite_finalize", P, P, F)}},
		{"timeout fails the session",
			[]on{rule("m1", "b:run", sessiontest.TimeOut())}, "", store.SessionFailed, "b:run failed on m1 (timeout)", []string{
				row("suite_init", P, P, P), row("a:init", P, P, P), row("a:run", P, P, P), row("a:finalize", P, P, P),
				row("b:init", P, P, P), row("b:run", "timeout", P, P), row("b:finalize", P, P, P), row("suite_finalize", P, P, P)}},
		{"a lost slave: the current case's finalize and suite finalize run on the others, later cases skipped",
			[]on{rule("m2", "a:run", sessiontest.Vanish())}, "", store.SessionFailed, "a:run: slave lost: m2", []string{
				row("suite_init", P, P, P), row("a:init", P, P, P), row("a:run", P, L, P), row("a:finalize", P, S, P),
				row("b:init", S, S, S), row("b:run", S, S, S), row("b:finalize", S, S, S), row("suite_finalize", P, S, P)}},
		{"a slave lost in a case init: its run skipped, its finalize runs on the others",
			[]on{rule("m2", "a:init", sessiontest.Vanish())}, "", store.SessionFailed, "a:init: slave lost: m2", []string{
				row("suite_init", P, P, P), row("a:init", P, L, P), row("a:run", S, S, S), row("a:finalize", P, S, P),
				row("b:init", S, S, S), row("b:run", S, S, S), row("b:finalize", S, S, S), row("suite_finalize", P, S, P)}},
		{"a slave lost in suite init: every case skipped, suite finalize runs on the others",
			[]on{rule("m3", "suite_init", sessiontest.Vanish())}, "", store.SessionFailed, "suite_init: slave lost: m3", []string{
				row("suite_init", P, P, L), row("a:init", S, S, S), row("a:run", S, S, S), row("a:finalize", S, S, S),
				row("b:init", S, S, S), row("b:run", S, S, S), row("b:finalize", S, S, S), row("suite_finalize", P, P, S)}},
		{"cancelled in a case's run: its finalize and suite finalize run, later cases skipped",
			[]on{rule("*", "a:run", sessiontest.Hang())}, "a:run", store.SessionCancelled, "cancelled", []string{
				row("suite_init", P, P, P), row("a:init", P, P, P), row("a:run", C, C, C), row("a:finalize", P, P, P),
				row("b:init", S, S, S), row("b:run", S, S, S), row("b:finalize", S, S, S), row("suite_finalize", P, P, P)}},
		{"cancelled in suite init: every case skipped, suite finalize runs",
			[]on{rule("*", "suite_init", sessiontest.Hang())}, "suite_init", store.SessionCancelled, "cancelled", []string{
				row("suite_init", C, C, C), row("a:init", S, S, S), row("a:run", S, S, S), row("a:finalize", S, S, S),
				row("b:init", S, S, S), row("b:run", S, S, S), row("b:finalize", S, S, S), row("suite_finalize", P, P, P)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := harnessWith(t, testSuite(), tt.rules)
			s := h.Start("ts")
			if tt.cancelAt != "" {
				h.Slaves.Await(t, sessiontest.Event{Kind: sessiontest.Started, Stage: tt.cancelAt})
				if err := h.Manager.Cancel(s.ID); err != nil {
					t.Fatal(err)
				}
			}
			s = wantOutcome(t, h, s.ID, tt.wantState, tt.wantReason, tt.want)
		})
	}
}

func TestNoOpStagesPassWithoutDispatch(t *testing.T) {
	h := sessiontest.New(t, testSuite())
	s := h.Run("ts")
	if s.State != store.SessionPassed {
		t.Fatalf("state %s", s.State)
	}
	for _, r := range h.Slaves.Runs() {
		if r.Cmd.StageName == "b:finalize" {
			t.Errorf("the absent b:finalize was dispatched to %s", r.Slave)
		}
	}
	if matrix := h.Matrix(s.ID); !slices.Contains(matrix, "b:finalize: passed passed passed") {
		t.Errorf("b:finalize not listed as passed: %v", matrix)
	}
	// A shebang-only script is a no-op too.
	suite := testSuite()
	suite.Tests[0].Init = &definition.Script{Text: "#!/bin/bash\n\n# nothing\n"}
	h = sessiontest.New(t, suite)
	h.Run("ts")
	for _, r := range h.Slaves.Runs() {
		if r.Cmd.StageName == "a:init" {
			t.Errorf("shebang-only a:init was dispatched")
		}
	}
}

func TestCancelRunsFinalizes(t *testing.T) {
	h := sessiontest.New(t, testSuite())
	h.Slaves.On("*", "a:run", sessiontest.Hang())
	s := h.Start("ts")
	h.Slaves.Await(t, sessiontest.Event{Kind: sessiontest.Started, Stage: "a:run"})
	if err := h.Manager.Cancel(s.ID); err != nil {
		t.Fatal(err)
	}
	s = h.Wait(s.ID)
	want := []string{"suite_init: passed passed passed", "a:init: passed passed passed", "a:run: cancelled cancelled cancelled",
		"a:finalize: passed passed passed", "b:init: skipped skipped skipped", "b:run: skipped skipped skipped",
		"b:finalize: skipped skipped skipped", "suite_finalize: passed passed passed"}
	if matrix := h.Matrix(s.ID); s.State != store.SessionCancelled || !slices.Equal(matrix, want) {
		t.Errorf("state %s, matrix:\n%s", s.State, strings.Join(matrix, "\n"))
	}
}

// TestShutdownInterrupts: the master's shutdown cancels the running
// stage, records the stages left as skipped (no finalize runs: the
// shutdown is bounded) and ends the session interrupted, naming the stage.
func TestShutdownInterrupts(t *testing.T) {
	suite := testSuite()
	suite.Logs = []string{"/var/log/x.log"}
	h := sessiontest.New(t, suite)
	h.Slaves.On("m[12]", "a:run", sessiontest.Hang())
	h.Slaves.On("m3", "a:run", sessiontest.Exit(4))
	s := h.Start("ts")
	h.Slaves.Await(t, sessiontest.Event{Kind: sessiontest.Started, Slave: "m1", Stage: "a:run"})
	h.Slaves.Await(t, sessiontest.Event{Kind: sessiontest.Started, Slave: "m2", Stage: "a:run"})
	h.Slaves.Await(t, sessiontest.Event{Kind: sessiontest.Ended, Slave: "m3", Stage: "a:run"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !h.Manager.Shutdown(ctx) {
		t.Fatal("Shutdown did not wait for the session")
	}
	s = h.Wait(s.ID)
	want := []string{"suite_init: passed passed passed", "a:init: passed passed passed", "a:run: cancelled cancelled failed",
		"a:finalize: skipped skipped skipped", "b:init: skipped skipped skipped", "b:run: skipped skipped skipped",
		"b:finalize: skipped skipped skipped", "suite_finalize: skipped skipped skipped"}
	if matrix := h.Matrix(s.ID); s.State != store.SessionInterrupted || !slices.Equal(matrix, want) {
		t.Errorf("state %s, matrix:\n%s", s.State, strings.Join(matrix, "\n"))
	}
	if s.Reason != "the master shut down during a:run; a:run failed on m3 (exit 4)" {
		t.Errorf("reason %q", s.Reason)
	}
	for _, st := range h.Detail(s.ID).Stages {
		for _, r := range st.Results {
			if st.Name == "a:run" && r.Slave == "m1" && r.Message != "the master shut down: cancelled" {
				t.Errorf("cancelled result's message %q", r.Message)
			}
			if st.Name == "a:finalize" && r.Message != "the master is shutting down" {
				t.Errorf("skipped result's message %q", r.Message)
			}
		}
	}
	for _, r := range h.Slaves.Runs() {
		if r.Cmd.StageName != "suite_init" && r.Cmd.StageName != "a:init" && r.Cmd.StageName != "a:run" {
			t.Errorf("%s dispatched to %s after the shutdown", r.Cmd.StageName, r.Slave)
		}
	}
	if evs := h.Events(s.ID); !slices.Contains(evs, "logs: logs not collected: the master shut down") {
		t.Errorf("events %q", evs)
	}
	for _, e := range h.Slaves.Events() {
		if e.Kind == sessiontest.LogsCollected {
			t.Errorf("logs collected after the shutdown: %s", e)
		}
	}
	if _, err := h.Manager.Start(context.Background(), "ts", nil, "test"); err != session.ErrShuttingDown {
		t.Errorf("Start after Shutdown: %v", err)
	}
}

// TestBarrier: with deliberately slow members, no slave starts a stage
// before every slave has finished the previous one.
func TestBarrier(t *testing.T) {
	h := sessiontest.New(t, testSuite())
	for i, stage := range []string{"suite_init", "a:init", "a:run", "a:finalize", "b:init", "b:run"} {
		h.Slaves.On([]string{"m1", "m2", "m3"}[i%3], stage, sessiontest.Sleep(10*time.Millisecond))
	}
	if s := h.Run("ts"); s.State != store.SessionPassed {
		t.Fatalf("state %s", s.State)
	}
	order := map[string]int{}
	for _, p := range session.Plan(testSuite(), nil) {
		order[p.Name] = p.Index
	}
	runs := h.Slaves.Runs()
	if len(runs) != 7*3 {
		t.Errorf("%d stages ran, want 21", len(runs))
	}
	for _, a := range runs {
		for _, b := range runs {
			if order[b.Cmd.StageName] == order[a.Cmd.StageName]+1 && b.Start < a.End {
				t.Errorf("%s started on %s before %s ended on %s", b.Cmd.StageName, b.Slave, a.Cmd.StageName, a.Slave)
			}
		}
	}
}

func TestTagsSubstitutedPerSlave(t *testing.T) {
	h := sessiontest.New(t, testSuite())
	h.Run("ts")
	n := 0
	for _, r := range h.Slaves.Runs() {
		if r.Cmd.StageName == "suite_init" {
			n++
			if r.Cmd.Script != "#!/bin/bash\necho init "+r.Slave+"\n" {
				t.Errorf("script on %s = %q", r.Slave, r.Cmd.Script)
			}
		}
	}
	if n != 3 {
		t.Errorf("suite_init ran on %d slaves, want 3", n)
	}
}

// TestRetries: a failed case runs again (init, run, finalize) as new
// stages, every attempt kept; passing on a retry passes the session with
// the case named flaky; failing every attempt fails it with each
// attempt's failure; no retry after a lost slave.
func TestRetries(t *testing.T) {
	const P, F, S, L = "passed", "failed", "skipped", "lost"
	row := func(stage string, st ...string) string { return stage + ": " + strings.Join(st, " ") }
	head := []string{row("suite_init", P, P, P), row("a:init", P, P, P)}
	tail := []string{row("b:init", P, P, P), row("b:run", P, P, P), row("b:finalize", P, P, P), row("suite_finalize", P, P, P)}
	tests := []struct {
		name       string
		suiteRetry int
		retries    int // StartOptions; -1: the suite's
		rules      []on
		wantState  store.SessionState
		wantReason string
		want       []string
	}{
		{"passes on the first retry", 2, -1, []on{rule("m2", "a:run", sessiontest.Exit(1))}, store.SessionPassed,
			"a passed on attempt 2, flaky (a:run failed on m2 (exit 1))",
			slices.Concat(head, []string{row("a:run", P, F, P), row("a:finalize", P, P, P),
				row("a:init#2", P, P, P), row("a:run#2", P, P, P), row("a:finalize#2", P, P, P)}, tail)},
		{"fails every attempt", 0, 1, []on{rule("m1", "a:run", sessiontest.Exit(1)), rule("m1", "a:run#2", sessiontest.Exit(2))}, store.SessionFailed,
			"a:run failed on m1 (exit 1); a:run#2 failed on m1 (exit 2)",
			slices.Concat(head, []string{row("a:run", F, P, P), row("a:finalize", P, P, P),
				row("a:init#2", P, P, P), row("a:run#2", F, P, P), row("a:finalize#2", P, P, P)}, tail)},
		{"no retries asked: as before", 2, 0, []on{rule("m1", "a:run", sessiontest.Exit(1))}, store.SessionFailed,
			"a:run failed on m1 (exit 1)",
			slices.Concat(head, []string{row("a:run", F, P, P), row("a:finalize", P, P, P)}, tail)},
		{"no retry after a lost slave", 2, -1, []on{rule("m3", "a:run", sessiontest.Vanish())}, store.SessionFailed,
			"a:run: slave lost: m3",
			slices.Concat(head, []string{row("a:run", P, P, L), row("a:finalize", P, P, S),
				row("b:init", S, S, S), row("b:run", S, S, S), row("b:finalize", S, S, S), row("suite_finalize", P, P, S)})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := testSuite()
			ts.Retries = tt.suiteRetry
			h := harnessWith(t, ts, tt.rules)
			s, err := h.Manager.StartWith(context.Background(), "ts", nil, "test", session.StartOptions{Retries: tt.retries})
			if err != nil {
				t.Fatal(err)
			}
			s = wantOutcome(t, h, s.ID, tt.wantState, tt.wantReason, tt.want)
			// Every stage recorded once, in execution order, the
			// retries with the case's name.
			for i, st := range h.Detail(s.ID).Stages {
				if st.Index != i || (strings.HasPrefix(st.Name, "a:") && st.Case != "a") {
					t.Errorf("stage %d: %+v", i, st.Stage)
				}
			}
		})
	}
	if _, err := sessiontest.New(t, testSuite()).Manager.StartWith(context.Background(), "ts", nil, "test", session.StartOptions{Retries: 11}); err == nil {
		t.Error("11 retries accepted")
	}
}

// TestQuarantine: a quarantined case still runs and its results are kept,
// but its failure leaves the session passed and sends no CASE mail; once
// the quarantine ends, it fails the session again.
func TestQuarantine(t *testing.T) {
	for _, tt := range []struct {
		name       string
		until      time.Duration // from now; 0: no quarantine
		wantState  store.SessionState
		wantReason string
		mailed     string // the cases CaseEnded was called for
	}{
		{"quarantined", time.Hour, store.SessionPassed, "a failed, quarantined until", "b"},
		{"the quarantine ended", -time.Minute, store.SessionFailed, "a:run failed on m1 (exit 1)", "a,b"},
		{"none", 0, store.SessionFailed, "a:run failed on m1 (exit 1)", "a,b"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := sessiontest.New(t, testSuite())
			var mu sync.Mutex
			var mailed []string
			h.Manager.CaseEnded = func(_ *store.Session, _ *definition.Suite, c string) {
				mu.Lock()
				defer mu.Unlock()
				mailed = append(mailed, c)
			}
			if tt.until != 0 {
				if err := h.Store.SetQuarantine(context.Background(), store.Quarantine{Suite: "ts", Case: "a", Reason: "disk flaps",
					Until: h.Clock.Now().Add(tt.until), By: "alice", Since: h.Clock.Now()}); err != nil {
					t.Fatal(err)
				}
			}
			h.Slaves.On("m1", "a:run", sessiontest.Exit(1))
			s := h.Run("ts")
			if s.State != tt.wantState || !strings.HasPrefix(s.Reason, tt.wantReason) {
				t.Errorf("state %s (%q), want %s (%q...)", s.State, s.Reason, tt.wantState, tt.wantReason)
			}
			if tt.wantState == store.SessionPassed && !strings.Contains(s.Reason, "by alice: disk flaps (a:run failed on m1 (exit 1))") {
				t.Errorf("reason %q", s.Reason)
			}
			// The failure is recorded all the same.
			if m := h.Matrix(s.ID); !slices.Contains(m, "a:run: failed passed passed") {
				t.Errorf("matrix %q", m)
			}
			mu.Lock()
			defer mu.Unlock()
			if strings.Join(mailed, ",") != tt.mailed {
				t.Errorf("CASE mails for %q, want %q", mailed, tt.mailed)
			}
		})
	}
}

// wantOutcome waits for session id and checks its state, reason and
// matrix of results.
func wantOutcome(t *testing.T, h *sessiontest.Harness, id int64, state store.SessionState, reason string, matrix []string) *store.Session {
	t.Helper()
	s := h.Wait(id)
	if s.State != state || s.Reason != reason {
		t.Errorf("state %s (%q), want %s (%q)", s.State, s.Reason, state, reason)
	}
	if got := h.Matrix(id); !slices.Equal(got, matrix) {
		t.Errorf("matrix:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(matrix, "\n"))
	}
	return s
}
