package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/store"
)

// caseSession records a session of suite with a suite_init stage and the
// init and run stages of case c on two slaves; fail names the slave whose
// run fails (with fingerprint fp), "" for none.
func caseSession(t *testing.T, s store.Store, suite string, state store.SessionState, created time.Time, rev, fail, fp string) *store.Session {
	t.Helper()
	se := mustCreate(t, s, &store.Session{Suite: suite, State: state, Created: created, RepoRevision: rev,
		Machines: []string{"a.xrd.test", "b.xrd.test"}, Cases: []string{"c"}})
	for i, st := range []*store.Stage{
		{SessionID: se.ID, Index: 0, Name: "suite_init"},
		{SessionID: se.ID, Index: 1, Name: "c:init", Case: "c"},
		{SessionID: se.ID, Index: 2, Name: "c:run", Case: "c"},
	} {
		if err := s.PutStage(ctx, st); err != nil {
			t.Fatal(err)
		}
		for _, slave := range []string{"b.xrd.test", "a.xrd.test"} {
			r := &store.Result{SessionID: se.ID, Stage: i, Slave: slave, Status: store.StatusPassed, ExitCode: intp(0)}
			if i == 2 && slave == fail {
				r.Status, r.ExitCode, r.Fingerprint = store.StatusFailed, intp(3), fp
			}
			if err := s.PutResult(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	return se
}

// day is d days after tm(0, 0): the sessions of the case tests are a day
// apart.
func day(d int) time.Time { return tm(0, 0).Add(time.Duration(d) * 24 * time.Hour) }

func testCaseResults(t *testing.T, open func(*testing.T) store.Store) {
	s := open(t)
	s1 := caseSession(t, s, "s", store.SessionPassed, day(0), "r1", "", "")
	s2 := caseSession(t, s, "s", store.SessionFailed, day(1), "r1", "a.xrd.test", "fp1")
	s3 := caseSession(t, s, "s", store.SessionCancelled, day(2), "r2", "", "")
	caseSession(t, s, "s", store.SessionRunning, day(3), "r2", "", "")    // unfinished: never read
	caseSession(t, s, "other", store.SessionPassed, day(2), "r2", "", "") // another suite
	tests := []struct {
		name   string
		from   time.Time
		newest int
		want   []int64
	}{
		{"newest only", time.Time{}, 2, []int64{s3.ID, s2.ID}},
		{"since only", day(1), 0, []int64{s3.ID, s2.ID}},
		{"union", day(2), 2, []int64{s3.ID, s2.ID}},
		{"union reaches further", day(0), 1, []int64{s3.ID, s2.ID, s1.ID}},
		{"all", time.Time{}, 50, []int64{s3.ID, s2.ID, s1.ID}},
		{"none", time.Time{}, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.CaseResults(ctx, "s", "", tc.from, tc.newest)
			if err != nil {
				t.Fatal(err)
			}
			// Two case stages on two slaves per session.
			if len(got) != 4*len(tc.want) {
				t.Fatalf("got %d results, want %d", len(got), 4*len(tc.want))
			}
			for i, c := range got {
				if c.Session != tc.want[i/4] {
					t.Errorf("result %d: session %d, want %d", i, c.Session, tc.want[i/4])
				}
			}
		})
	}
	got, err := s.CaseResults(ctx, "s", "", time.Time{}, 50)
	if err != nil {
		t.Fatal(err)
	}
	// One case only: c's, none of another.
	if only, err := s.CaseResults(ctx, "s", "c", time.Time{}, 50); err != nil || len(only) != len(got) {
		t.Errorf("case c: %d results (%v), want %d", len(only), err, len(got))
	}
	if none, err := s.CaseResults(ctx, "s", "nope", time.Time{}, 50); err != nil || len(none) != 0 {
		t.Errorf("case nope: %d results (%v), want none", len(none), err)
	}
	// s2's: stage order, then insertion order (b before a); the stage
	// names and exit codes of the failures only.
	want := []store.CaseResult{
		{Session: s2.ID, Created: day(1).UTC(), Revision: "r1", Case: "c", StageIndex: 1, Slave: "b.xrd.test", Status: store.StatusPassed},
		{Session: s2.ID, Created: day(1).UTC(), Revision: "r1", Case: "c", StageIndex: 1, Slave: "a.xrd.test", Status: store.StatusPassed},
		{Session: s2.ID, Created: day(1).UTC(), Revision: "r1", Case: "c", StageIndex: 2, Slave: "b.xrd.test", Status: store.StatusPassed},
		{Session: s2.ID, Created: day(1).UTC(), Revision: "r1", Case: "c", StageIndex: 2, Stage: "c:run", Slave: "a.xrd.test", Status: store.StatusFailed, ExitCode: intp(3), Fingerprint: "fp1"},
	}
	for i := range want {
		if d := diff(&want[i], &got[4+i]); d != "" {
			t.Errorf("result %d: %s", 4+i, d)
		}
	}
}

func testFingerprints(t *testing.T, open func(*testing.T) store.Store) {
	s := open(t)
	s1 := caseSession(t, s, "s", store.SessionFailed, day(0), "r1", "a.xrd.test", "fp1")
	s2 := caseSession(t, s, "s", store.SessionFailed, day(1), "r1", "b.xrd.test", "fp1")
	s3 := caseSession(t, s, "s", store.SessionFailed, day(2), "r1", "b.xrd.test", "fp2")
	// A second failure of fp1 in s2, on a, in another stage: an update,
	// so the sample (the last inserted) stays s2's run on b.
	if err := s.PutResult(ctx, &store.Result{SessionID: s2.ID, Stage: 1, Slave: "a.xrd.test", Status: store.StatusFailed, Fingerprint: "fp1"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ id, text string }{{"fp1", "c:run: exit 3\nboom ünï"}, {"fp1", "second text ignored"}} {
		if err := s.PutFingerprint(ctx, p.id, p.text); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Fingerprints(ctx, []string{"fp2", "fp1", "unknown", "", "fp1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Fingerprint{
		{ID: "fp1", Text: "c:run: exit 3\nboom ünï", Count: 3, Sessions: 2,
			First: store.SessionRef{ID: s1.ID, Created: day(0).UTC()}, Last: store.SessionRef{ID: s2.ID, Created: day(1).UTC()},
			Hosts: []string{"a.xrd.test", "b.xrd.test"}, Sample: store.FailureRef{Session: s2.ID, Stage: 2, Slave: "b.xrd.test"}},
		{ID: "fp2", Count: 1, Sessions: 1,
			First: store.SessionRef{ID: s3.ID, Created: day(2).UTC()}, Last: store.SessionRef{ID: s3.ID, Created: day(2).UTC()},
			Hosts: []string{"b.xrd.test"}, Sample: store.FailureRef{Session: s3.ID, Stage: 2, Slave: "b.xrd.test"}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d fingerprints, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if d := diff(want[i], got[i]); d != "" {
			t.Errorf("fingerprint %s: %s", want[i].ID, d)
		}
	}
	if got, err := s.Fingerprints(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("no ids: %v, %v", got, err)
	}
}

func testQuarantines(t *testing.T, open func(*testing.T) store.Store) {
	s := open(t)
	q := func(suite, c, reason string, until int) store.Quarantine {
		return store.Quarantine{Suite: suite, Case: c, Reason: reason, Until: tm(until, 0).UTC(), By: "alice", Since: tm(0, 5).UTC()}
	}
	for _, x := range []store.Quarantine{q("s", "b", "flaky disk ünï", 60), q("s", "a", "x", 10), q("t", "a", "y", 10), q("s", "a", "replaced", 20)} {
		if err := s.SetQuarantine(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		suite string
		want  []store.Quarantine
	}{
		{"s", []store.Quarantine{q("s", "a", "replaced", 20), q("s", "b", "flaky disk ünï", 60)}},
		{"", []store.Quarantine{q("s", "a", "replaced", 20), q("s", "b", "flaky disk ünï", 60), q("t", "a", "y", 10)}},
		{"none", nil},
	}
	for _, tc := range tests {
		got, err := s.Quarantines(ctx, tc.suite)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(tc.want) {
			t.Fatalf("suite %q: %+v, want %+v", tc.suite, got, tc.want)
		}
		for i := range got {
			if d := diff(tc.want[i], got[i]); d != "" {
				t.Errorf("suite %q, %d: %s", tc.suite, i, d)
			}
		}
	}
	if err := s.EndQuarantine(ctx, "s", "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.EndQuarantine(ctx, "s", "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ending it again: %v, want ErrNotFound", err)
	}
	if got, _ := s.Quarantines(ctx, "s"); len(got) != 1 || got[0].Case != "b" {
		t.Errorf("after the end: %+v", got)
	}
	if err := s.SetQuarantine(ctx, store.Quarantine{Suite: "s", Case: "c"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("no dates: %v, want ErrInvalid", err)
	}
}
