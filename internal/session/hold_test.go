package session_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/session"
	"github.com/xrdtest/xrdtest/internal/session/sessiontest"
	"github.com/xrdtest/xrdtest/internal/store"
)

// awaitState waits until session id is in state.
func awaitState(t *testing.T, st store.Store, id int64, state store.SessionState) *store.Session {
	t.Helper()
	var s *store.Session
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		var err error
		if s, err = st.Session(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		if s.State == state {
			return s
		}
	}
	t.Fatalf("session %d is %s, want %s", id, s.State, state)
	return nil
}

// ranStage reports whether session id dispatched a stage named stage.
func ranStage(h *sessiontest.Harness, id int64, stage string) bool {
	return slices.ContainsFunc(sessionRuns(h, id), func(r sessiontest.Run) bool { return r.Cmd.StageName == stage })
}

// startHeld starts a session of testSuite held for an hour at its first
// failure, a:run on m2, and waits until it is held.
func startHeld(t *testing.T, h *sessiontest.Harness) *store.Session {
	t.Helper()
	h.Slaves.On("m2", "a:run", sessiontest.Exit(4))
	s, err := h.Manager.StartWith(context.Background(), "ts", nil, "test", session.StartOptions{Retries: -1, Hold: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	held := awaitState(t, h.Store, s.ID, store.SessionHeld)
	if want := sessiontest.Epoch.Add(time.Hour); !held.HoldUntil.Equal(want) {
		t.Errorf("held until %v, want %v", held.HoldUntil, want)
	}
	if ranStage(h, s.ID, "a:finalize") {
		t.Fatal("a:finalize ran before the hold ended")
	}
	return held
}

// heldOutcome is what every way out of the hold gives: the session goes
// on as it would have, a's finalize and the rest run.
var heldOutcome = []string{
	"suite_init: passed passed passed", "a:init: passed passed passed", "a:run: passed failed passed", "a:finalize: passed passed passed",
	"b:init: passed passed passed", "b:run: passed passed passed", "b:finalize: passed passed passed", "suite_finalize: passed passed passed"}

// TestHold: a session asked to hold stops at its first failure, before
// any finalize, and goes on as it would have once released, at its
// deadline or when cancelled.
func TestHold(t *testing.T) {
	t.Run("released", func(t *testing.T) {
		h := sessiontest.New(t, testSuite())
		s := startHeld(t, h)
		if err := h.Manager.Release(context.Background(), s.ID, "user alice"); err != nil {
			t.Fatal(err)
		}
		wantOutcome(t, h, s.ID, store.SessionFailed, "a:run failed on m2 (exit 4)", heldOutcome)
		evs := strings.Join(h.Events(s.ID), "\n")
		for _, want := range []string{"hold: held after a:run failed: the cluster stays up until 2026-01-01T01:00:00Z (xrdtest hold release 1)",
			"hold: hold ended, released by user alice: the session goes on"} {
			if !strings.Contains(evs, want) {
				t.Errorf("no event %q in\n%s", want, evs)
			}
		}
		if got, _ := h.Store.Session(context.Background(), s.ID); !got.HoldUntil.IsZero() {
			t.Errorf("an ended session keeps its hold deadline %v", got.HoldUntil)
		}
		if err := h.Manager.Release(context.Background(), s.ID, "user alice"); !errors.Is(err, session.ErrNotHeld) ||
			err.Error() != "session 1 is not held (it is failed)" {
			t.Errorf("second release: %v", err)
		}
	})
	t.Run("deadline, extended", func(t *testing.T) {
		h := sessiontest.New(t, testSuite())
		h.Manager.Settings.MaxHold = 2 * time.Hour
		s := startHeld(t, h)
		until, err := h.Manager.Extend(context.Background(), s.ID, 30*time.Minute, "user bob")
		if err != nil || !until.Equal(sessiontest.Epoch.Add(90*time.Minute)) {
			t.Fatalf("extend: %v %v", until, err)
		}
		if got := awaitState(t, h.Store, s.ID, store.SessionHeld); !got.HoldUntil.Equal(until) {
			t.Errorf("recorded deadline %v, want %v", got.HoldUntil, until)
		}
		_, err = h.Manager.Extend(context.Background(), s.ID, time.Hour, "user bob")
		if !errors.Is(err, session.ErrBadHold) || !strings.Contains(err.Error(), "may be held until 2026-01-01T02:00:00Z at the latest (max_hold 2h0m0s") {
			t.Errorf("extend past max_hold: %v", err)
		}
		// The old deadline no longer ends the hold; the new one does.
		h.Clock.Advance(time.Hour)
		time.Sleep(20 * time.Millisecond)
		if ranStage(h, s.ID, "a:finalize") {
			t.Fatal("the hold ended at its old deadline")
		}
		h.Clock.Advance(30 * time.Minute)
		wantOutcome(t, h, s.ID, store.SessionFailed, "a:run failed on m2 (exit 4)", heldOutcome)
		if evs := h.Events(s.ID); !slices.Contains(evs, "hold: hold ended, released by the deadline: the session goes on") ||
			!slices.Contains(evs, "hold: hold extended by 30m0s to 2026-01-01T01:30:00Z by user bob") {
			t.Errorf("events %q", evs)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		h := sessiontest.New(t, testSuite())
		s := startHeld(t, h)
		if err := h.Manager.Cancel(s.ID); err != nil {
			t.Fatal(err)
		}
		wantOutcome(t, h, s.ID, store.SessionCancelled, "cancelled; a:run failed on m2 (exit 4)", []string{
			"suite_init: passed passed passed", "a:init: passed passed passed", "a:run: passed failed passed", "a:finalize: passed passed passed",
			"b:init: skipped skipped skipped", "b:run: skipped skipped skipped", "b:finalize: skipped skipped skipped", "suite_finalize: passed passed passed"})
	})
	t.Run("only once, retries after it", func(t *testing.T) {
		suite := testSuite()
		suite.Retries = 1
		suite.HoldOnFailure = time.Hour
		h := sessiontest.New(t, suite)
		h.Slaves.On("m2", "a:run", sessiontest.Exit(4))
		h.Slaves.On("m2", "a:run#2", sessiontest.Exit(5))
		s := h.Start("ts")
		awaitState(t, h.Store, s.ID, store.SessionHeld)
		if err := h.Manager.Release(context.Background(), s.ID, "test"); err != nil {
			t.Fatal(err)
		}
		// The second failure does not hold again.
		wantOutcome(t, h, s.ID, store.SessionFailed, "a:run failed on m2 (exit 4); a:run#2 failed on m2 (exit 5)", []string{
			"suite_init: passed passed passed", "a:init: passed passed passed", "a:run: passed failed passed", "a:finalize: passed passed passed",
			"a:init#2: passed passed passed", "a:run#2: passed failed passed", "a:finalize#2: passed passed passed",
			"b:init: passed passed passed", "b:run: passed passed passed", "b:finalize: passed passed passed", "suite_finalize: passed passed passed"})
	})
	t.Run("a passing session does not hold", func(t *testing.T) {
		h := sessiontest.New(t, testSuite())
		s, err := h.Manager.StartWith(context.Background(), "ts", nil, "test", session.StartOptions{Retries: -1, Hold: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if s = h.Wait(s.ID); s.State != store.SessionPassed {
			t.Errorf("%s (%s)", s.State, s.Reason)
		}
	})
}

// TestHoldBadInput: holds out of bounds and actions on sessions that are
// not held are refused, and change nothing.
func TestHoldBadInput(t *testing.T) {
	h := sessiontest.New(t, testSuite())
	ctx := context.Background()
	for _, d := range []time.Duration{-time.Second, session.DefaultMaxHold + time.Second} {
		if _, err := h.Manager.StartWith(ctx, "ts", nil, "test", session.StartOptions{Retries: -1, Hold: d}); !errors.Is(err, session.ErrBadHold) {
			t.Errorf("hold %s: %v", d, err)
		}
	}
	if _, n, _ := h.Store.Sessions(ctx, store.Filter{}); n != 0 {
		t.Errorf("%d sessions recorded by refused starts", n)
	}
	if err := h.Manager.Release(ctx, 42, "test"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("release of no session: %v", err)
	}
	release := make(chan struct{})
	h.Slaves.On("m1", "suite_init", sessiontest.BlockUntil(release))
	s := h.Start("ts")
	h.Slaves.Await(t, sessiontest.Event{Kind: sessiontest.Started, Slave: "m1", Stage: "suite_init"})
	if _, err := h.Manager.Extend(ctx, s.ID, time.Hour, "test"); !errors.Is(err, session.ErrNotHeld) || err.Error() != "session 1 is not held (it is running)" {
		t.Errorf("extend of a running session: %v", err)
	}
	close(release)
	if s = h.Wait(s.ID); s.State != store.SessionPassed {
		t.Errorf("%s (%s)", s.State, s.Reason)
	}
	// A suite's hold longer than the master's max_hold is cut to it.
	suite := testSuite()
	suite.HoldOnFailure = 10 * time.Hour
	h = sessiontest.New(t, suite)
	h.Slaves.On("m1", "b:init", sessiontest.Exit(1))
	s = h.Start("ts")
	if got := awaitState(t, h.Store, s.ID, store.SessionHeld); !got.HoldUntil.Equal(sessiontest.Epoch.Add(session.DefaultMaxHold)) {
		t.Errorf("held until %v", got.HoldUntil)
	}
	if evs := h.Events(s.ID); !slices.Contains(evs, "hold: ts.hold_on_failure 10h0m0s cut to the master's max_hold 4h0m0s") {
		t.Errorf("events %q", evs)
	}
	if err := h.Manager.Release(ctx, s.ID, "test"); err != nil {
		t.Fatal(err)
	}
	h.Wait(s.ID)
}

// TestHoldMasterRestart: a master that shuts down leaves a held session
// held, its cluster up; the next master keeps the hold and its deadline,
// the machines and the cluster, and once released the session goes on
// from the stage after its failure.
func TestHoldMasterRestart(t *testing.T) {
	suite := testSuite()
	suite.Clusters = []string{"c1"}
	h := sessiontest.New(t, suite)
	clusters := h.UseClusters(cluster("c1", "m1", "m2", "m3"))
	s := startHeld(t, h)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !h.Manager.Shutdown(ctx) {
		t.Fatal("the shutdown did not end")
	}
	if got := awaitState(t, h.Store, s.ID, store.SessionHeld); !got.HoldUntil.Equal(sessiontest.Epoch.Add(time.Hour)) {
		t.Errorf("after the shutdown: held until %v", got.HoldUntil)
	}
	if !clusters.Running("c1") {
		t.Fatal("the shutdown stopped the held session's cluster")
	}

	// The next master, on the same history; the slaves are still there.
	old := h.Manager
	h.Manager = &session.Manager{Store: h.Store, Slaves: h.Slaves, Sync: h.Hub, Clock: h.Clock, Definitions: old.Definitions,
		Clusters: clusters, Tokens: old.Tokens, Settings: old.Settings, Log: old.Log}
	if ids, err := h.Store.InterruptUnfinished(context.Background(), "restart"); err != nil || len(ids) != 0 {
		t.Fatalf("InterruptUnfinished interrupted %v (%v)", ids, err)
	}
	keep, err := h.Manager.ResumeHeld(context.Background())
	if err != nil || !slices.Equal(keep, []string{"c1"}) {
		t.Fatalf("ResumeHeld: %v %v", keep, err)
	}
	// Held still: the machines and the cluster are the session's.
	other, err := h.Manager.Start(context.Background(), "ts", nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	stillQueued(t, h, other.ID)
	if err := h.Manager.StopCluster(context.Background(), "c1", "test"); !errors.Is(err, session.ErrClusterInUse) {
		t.Errorf("stop of the held cluster: %v", err)
	}
	if until, err := h.Manager.Extend(context.Background(), s.ID, time.Hour, "test"); err != nil || !until.Equal(sessiontest.Epoch.Add(2*time.Hour)) {
		t.Errorf("extend after the restart: %v %v", until, err)
	}
	h.Clock.Advance(2 * time.Hour)
	wantOutcome(t, h, s.ID, store.SessionFailed, "a:run failed on m2 (exit 4)", heldOutcome)
	if evs := h.Events(s.ID); !slices.Contains(evs, "hold: still held after the master's restart, until 2026-01-01T01:00:00Z") {
		t.Errorf("events %q", evs)
	}
	if n := len(slices.DeleteFunc(sessionRuns(h, s.ID), func(r sessiontest.Run) bool { return r.Cmd.StageName != "a:run" })); n != 3 {
		t.Errorf("a:run ran %d times, want 3 (once per machine)", n)
	}
	if other = h.Wait(other.ID); other.State != store.SessionFailed || other.Reason != "a:run failed on m2 (exit 4)" {
		t.Errorf("the next session: %s (%s)", other.State, other.Reason)
	}
}
