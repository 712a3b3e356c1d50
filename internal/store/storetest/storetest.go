// Package storetest is the behaviour test suite shared by the implementations
// of store.Store, and the benchmark they share (BenchSessions100k).
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/store"
)

// Places gives each test its own place for a store (a folder, a
// database...): the one newPlace makes on the test's first call, the same
// on the next, as Run's reopening needs.
func Places[P any](newPlace func(t *testing.T) P) func(t *testing.T) P {
	var mu sync.Mutex
	places := map[*testing.T]P{}
	return func(t *testing.T) P {
		mu.Lock()
		p, ok := places[t]
		mu.Unlock()
		if !ok {
			p = newPlace(t)
			mu.Lock()
			places[t] = p
			mu.Unlock()
		}
		return p
	}
}

// Run runs the suite. Each subtest calls open with its own t; open must
// return a Store whose data is private to that t, and calling open again
// with the same t (after the first store was closed) must reopen the same
// data: that is how restarts of the master are tested. Run closes every
// store it opens.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	o := func(t *testing.T) store.Store {
		t.Helper()
		s := open(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}
	tests := []struct {
		name string
		fn   func(*testing.T, func(*testing.T) store.Store)
	}{
		{"SessionRoundTrip", testSessionRoundTrip},
		{"SessionDefaults", testSessionDefaults},
		{"UpdateSession", testUpdateSession},
		{"NotFound", testNotFound},
		{"Stages", testStages},
		{"Results", testResults},
		{"ResultReader", testResultReader},
		{"Filter", testFilter},
		{"Stats", testStats},
		{"InterruptUnfinished", testInterruptUnfinished},
		{"SuiteEnabled", testSuiteEnabled},
		{"Events", testEvents},
		{"Reopen", testReopen},
		{"ConcurrentWrites", testConcurrentWrites},
		{"OutputSeq", testOutputSeq},
		{"OutputReadWhileWriting", testOutputReadWhileWriting},
		{"OutputConcurrentTail", testOutputConcurrentTail},
		{"OutputLarge", testOutputLarge},
		{"Logs", testLogs},
		{"Names", testNames},
		{"InvalidArguments", testInvalidArguments},
		{"FreeTextBytes", testFreeTextBytes},
		{"IDsAboveFiles", testIDsAboveFiles},
		{"Prune", testPrune},
		{"PruneOutputs", testPruneOutputs},
		{"PruneBatchesWhileRunning", testPruneBatchesWhileRunning},
		{"CaseResults", testCaseResults},
		{"Fingerprints", testFingerprints},
		{"Quarantines", testQuarantines},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, o) })
	}
}

var ctx = context.Background()

// zone makes sure times are not stored in their location.
var zone = time.FixedZone("UTC+05:30", 5*3600+1800)

func tm(min int, nsec int) time.Time {
	return time.Date(2026, 3, 4, 5, 0, 0, 0, zone).Add(time.Duration(min)*time.Minute + time.Duration(nsec))
}

func intp(i int) *int { return &i }

// diff compares two values of the same struct type field by field, times
// with Equal (and the read one, b, must be in UTC); "" when equal.
func diff(a, b any) string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	if va.Kind() == reflect.Pointer {
		if va.IsNil() || vb.IsNil() {
			if va.IsNil() != vb.IsNil() {
				return fmt.Sprintf("want %v, got %v", a, b)
			}
			return ""
		}
		va, vb = va.Elem(), vb.Elem()
	}
	var out []string
	for i := range va.NumField() {
		name := va.Type().Field(i).Name
		fa, fb := va.Field(i).Interface(), vb.Field(i).Interface()
		if ta, ok := fa.(time.Time); ok {
			tb := fb.(time.Time)
			if !ta.Equal(tb) {
				out = append(out, fmt.Sprintf("%s: want %v, got %v", name, ta, tb))
			} else if !tb.IsZero() && tb.Location() != time.UTC {
				out = append(out, fmt.Sprintf("%s: location %v, want UTC", name, tb.Location()))
			}
			continue
		}
		if !reflect.DeepEqual(fa, fb) {
			out = append(out, fmt.Sprintf("%s: want %#v, got %#v", name, fa, fb))
		}
	}
	return strings.Join(out, "; ")
}

func mustCreate(t *testing.T, s store.Store, se *store.Session) *store.Session {
	t.Helper()
	if err := s.CreateSession(ctx, se); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return se
}

func fullSession() *store.Session {
	return &store.Session{
		Suite:        "dataserver_ünïcödé_测试",
		State:        store.SessionFailed,
		Reason:       "slaves not connected after 5m0s: a.xrd.test, b.xrd.test ✗",
		Machines:     []string{"a.xrd.test", "b.xrd.test", "ç.xrd.test"},
		Cases:        []string{"basic", "Ω-case"},
		RepoRevision: "3e44039a",
		TriggeredBy:  "user alice",
		Created:      tm(0, 123456789),
		Started:      tm(1, 1),
		Ended:        tm(90, 999999999),
	}
}

func testSessionRoundTrip(t *testing.T, open func(*testing.T) store.Store) {
	s := open(t)
	want := fullSession()
	mustCreate(t, s, want)
	if want.ID <= 0 {
		t.Fatalf("ID = %d, want > 0", want.ID)
	}
	got, err := s.Session(ctx, want.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(want, got); d != "" {
		t.Error(d)
	}
	// Empty lists and zero times.
	sparse := mustCreate(t, s, &store.Session{Suite: "s", State: store.SessionQueued, Created: tm(2, 0)})
	if sparse.ID <= want.ID {
		t.Errorf("IDs not increasing: %d then %d", want.ID, sparse.ID)
	}
	got, err = s.Session(ctx, sparse.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(sparse, got); d != "" {
		t.Error(d)
	}
	if !got.Started.IsZero() || !got.Ended.IsZero() || got.Machines != nil || got.Cases != nil {
		t.Errorf("sparse session read back as %+v", got)
	}
}

func testSessionDefaults(t *testing.T, open func(*testing.T) store.Store) {
	s := open(t)
	before := time.Now()
	se := mustCreate(t, s, &store.Session{Suite: "s"})
	if se.State != store.SessionQueued {
		t.Errorf("State = %q, want queued", se.State)
	}
	if se.Created.Before(before.Add(-time.Second)) || se.Created.After(time.Now().Add(time.Second)) {
		t.Errorf("Created = %v, want about now", se.Created)
	}
	got, err := s.Session(ctx, se.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(se, got); d != "" {
		t.Error(d)
	}
}

func testUpdateSession(t *testing.T, open func(*testing.T) store.Store) {
	s := open(t)
	se := mustCreate(t, s, &store.Session{Suite: "s", Machines: []string{"a"}, Created: tm(0, 0)})
	other := mustCreate(t, s, &store.Session{Suite: "other", Created: tm(1, 0)})
	upd := fullSession()
	upd.ID = se.ID
	if err := s.UpdateSession(ctx, upd); err != nil {
		t.Fatal(err)
	}
	got, err := s.Session(ctx, se.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(upd, got); d != "" {
		t.Error(d)
	}
	// Back to zero times and empty lists; a zero Created keeps the stored one.
	upd2 := &store.Session{ID: se.ID, Suite: "s", State: store.SessionRunning}
	if err := s.UpdateSession(ctx, upd2); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Session(ctx, se.ID)
	upd2.Created = upd.Created
	if d := diff(upd2, got); d != "" {
		t.Error(d)
	}
	if got, _ := s.Session(ctx, other.ID); got.Suite != "other" {
		t.Errorf("other session changed: %+v", got)
	}
	err = s.UpdateSession(ctx, &store.Session{ID: 9999, Suite: "x", State: store.SessionPassed})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateSession(missing) = %v, want ErrNotFound", err)
	}
}

func testNotFound(t *testing.T, open func(*testing.T) store.Store) {
	s := open(t)
	if _, err := s.Session(ctx, 42); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Session(42) = %v, want ErrNotFound", err)
	}
	if err := s.PutStage(ctx, &store.Stage{SessionID: 42, Name: "suite_init"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PutStage(missing session) = %v, want ErrNotFound", err)
	}
	if err := s.PutResult(ctx, &store.Result{SessionID: 42, Slave: "a", Status: store.StatusPending}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PutResult(missing session) = %v, want ErrNotFound", err)
	}
	if err := s.AddEvent(ctx, store.Event{Session: 42, Kind: "k"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AddEvent(missing session) = %v, want ErrNotFound", err)
	}
	if _, err := s.LogWriter(42, "a", "/var/log/x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LogWriter(missing session) = %v, want ErrNotFound", err)
	}
	if _, err := s.OpenOutput(42, 0, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("OpenOutput(missing) = %v, want ErrNotFound", err)
	}
	if _, err := s.OpenLog(42, "a", "/var/log/x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("OpenLog(missing) = %v, want ErrNotFound", err)
	}
	for name, f := range map[string]func() (int, error){
		"Stages":  func() (int, error) { l, err := s.Stages(ctx, 42); return len(l), err },
		"Results": func() (int, error) { l, err := s.Results(ctx, 42); return len(l), err },
		"Events":  func() (int, error) { l, err := s.Events(ctx, 42); return len(l), err },
		"Logs":    func() (int, error) { l, err := s.Logs(ctx, 42); return len(l), err },
	} {
		if n, err := f(); n != 0 || err != nil {
			t.Errorf("%s(missing session) = %d items, %v; want none, nil", name, n, err)
		}
	}
}

func testStages(t *testing.T, open func(*testing.T) store.Store) {
	s := open(t)
	se := mustCreate(t, s, &store.Session{Suite: "s"})
	other := mustCreate(t, s, &store.Session{Suite: "s"})
	want := []*store.Stage{
		{SessionID: se.ID, Index: 0, Name: "suite_init", Started: tm(0, 1), Ended: tm(1, 2)},
		{SessionID: se.ID, Index: 1, Name: "ünï:init", Case: "ünï", Started: tm(1, 3)},
		{SessionID: se.ID, Index: 2, Name: "ünï:run", Case: "ünï"},
	}
	for _, i := range []int{2, 0, 1} {
		if err := s.PutStage(ctx, want[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutStage(ctx, &store.Stage{SessionID: other.ID, Index: 0, Name: "suite_init"}); err != nil {
		t.Fatal(err)
	}
	// Upsert.
	want[1] = &store.Stage{SessionID: se.ID, Index: 1, Name: "ünï:init", Case: "ünï", Started: tm(1, 3), Ended: tm(2, 4)}
	if err := s.PutStage(ctx, want[1]); err != nil {
		t.Fatal(err)
	}
	got, err := s.Stages(ctx, se.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d stages, want %d", len(got), len(want))
	}
	for i := range want {
		if d := diff(want[i], got[i]); d != "" {
			t.Errorf("stage %d: %s", i, d)
		}
	}
}

func testResults(t *testing.T, open func(*testing.T) store.Store) {
	s := open(t)
	se := mustCreate(t, s, &store.Session{Suite: "s"})
	other := mustCreate(t, s, &store.Session{Suite: "s"})
	r := func(stage int, slave string, st store.Status, code *int, msg string) *store.Result {
		return &store.Result{SessionID: se.ID, Stage: stage, Slave: slave, Status: st, ExitCode: code,
			Start: tm(stage, 10+stage), End: tm(stage+1, 20+stage), Message: msg,
			Script: "#!/bin/sh\necho 'ünïcödé' \"$HOST\"\nexit 1\n", OutputBytes: int64(stage) * 1000}
	}
	// Stage 1 inserted first; at stage 0, b before a.
	puts := []*store.Result{
		r(1, "b.xrd.test", store.StatusRunning, nil, ""),
		r(0, "b.xrd.test", store.StatusPassed, intp(0), ""),
		r(0, "a.xrd.test", store.StatusTimeout, nil, "killed after stage timeout 1m0s"),
		r(1, "a.xrd.test", store.StatusFailed, intp(-1), "ünï"),
		r(0, "c.xrd.test", store.StatusLost, nil, "slave lost"),
	}
	puts[3].Fingerprint = "0123456789abcdef"
	for _, p := range puts {
		if err := s.PutResult(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutResult(ctx, &store.Result{SessionID: other.ID, Slave: "a.xrd.test", Status: store.StatusPending}); err != nil {
		t.Fatal(err)
	}
	// Upsert keeps the position, replaces every field.
	upd := r(0, "b.xrd.test", store.StatusFailed, intp(137), "exit 137")
	upd.Start, upd.End, upd.Script, upd.OutputBytes = time.Time{}, time.Time{}, "", 0
	if err := s.PutResult(ctx, upd); err != nil {
		t.Fatal(err)
	}
	upd2 := r(1, "b.xrd.test", store.StatusPassed, intp(0), "")
	if err := s.PutResult(ctx, upd2); err != nil {
		t.Fatal(err)
	}
	want := []*store.Result{upd, puts[2], puts[4], upd2, puts[3]}
	got, err := s.Results(ctx, se.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d results, want %d", len(got), len(want))
	}
	for i := range want {
		if d := diff(want[i], got[i]); d != "" {
			t.Errorf("result %d: %s", i, d)
		}
	}
	if got[0].ExitCode == nil || *got[0].ExitCode != 137 || got[1].ExitCode != nil {
		t.Errorf("exit codes: %v %v", got[0].ExitCode, got[1].ExitCode)
	}
}

func testFilter(t *testing.T, open func(*testing.T) store.Store) {
	s := open(t)
	states := []store.SessionState{store.SessionPassed, store.SessionFailed, store.SessionCancelled, store.SessionRunning}
	var all []*store.Session
	for i := range 40 {
		se := &store.Session{
			Suite:   []string{"alpha", "beta", "gamma"}[i%3],
			State:   states[i%len(states)],
			Created: tm(i/2, 0), // pairs share Created: ties are broken by ID
		}
		mustCreate(t, s, se)
		all = append(all, se)
	}
	// Newest first: by Created, then by ID.
	slices.SortFunc(all, func(a, b *store.Session) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return int(b.ID - a.ID)
	})
	match := func(f store.Filter) []int64 {
		var ids []int64
		for _, se := range all {
			if (f.Suite == "" || se.Suite == f.Suite) &&
				(len(f.States) == 0 || slices.Contains(f.States, se.State)) &&
				(f.From.IsZero() || !se.Created.Before(f.From)) &&
				(f.To.IsZero() || se.Created.Before(f.To)) {
				ids = append(ids, se.ID)
			}
		}
		return ids
	}
	filters := []store.Filter{
		{},
		{Suite: "beta"},
		{Suite: "nope"},
		{States: []store.SessionState{store.SessionFailed}},
		{States: []store.SessionState{store.SessionFailed, store.SessionRunning}},
		{Suite: "alpha", States: []store.SessionState{store.SessionPassed, store.SessionCancelled}},
		{From: tm(5, 0), To: tm(12, 0)},
		{From: tm(5, 1)},
		{To: tm(3, 0)},
		{Suite: "gamma", States: []store.SessionState{store.SessionRunning, store.SessionFailed}, From: tm(2, 0), To: tm(18, 0)},
	}
	for _, f := range filters {
		want := match(f)
		name := fmt.Sprintf("%+v", f)
		// Everything at once.
		got, total, err := s.Sessions(ctx, f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if ids := idsOf(got); !slices.Equal(ids, want) || total != len(want) {
			t.Errorf("%s: got %v (total %d), want %v (total %d)", name, ids, total, want, len(want))
		}
		// Page by page.
		for _, limit := range []int{1, 3, 7, 100} {
			var paged []int64
			for off := 0; off < len(want)+limit; off += limit {
				f.Limit, f.Offset = limit, off
				got, total, err := s.Sessions(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				if total != len(want) {
					t.Errorf("%s: total %d, want %d", name, total, len(want))
				}
				if len(got) > limit {
					t.Errorf("%s limit %d offset %d: %d sessions", name, limit, off, len(got))
				}
				paged = append(paged, idsOf(got)...)
			}
			if !slices.Equal(paged, want) {
				t.Errorf("%s limit %d: pages give %v, want %v", name, limit, paged, want)
			}
		}
	}
	// The rows are complete.
	got, _, err := s.Sessions(ctx, store.Filter{Limit: 1})
	if err != nil || len(got) != 1 {
		t.Fatalf("Sessions(Limit 1) = %v, %v", got, err)
	}
	if d := diff(all[0], got[0]); d != "" {
		t.Error(d)
	}
}

func testStats(t *testing.T, open func(*testing.T) store.Store) {
	s := open(t)
	day := time.Date(2026, 5, 10, 0, 0, 0, 0, time.UTC)
	mk := func(created time.Time, state store.SessionState, dur time.Duration) {
		se := &store.Session{Suite: "s", State: state, Created: created}
		if dur > 0 {
			se.Started = created.Add(time.Second)
			se.Ended = se.Started.Add(dur)
		}
		mustCreate(t, s, se)
	}
	mk(day.Add(-time.Nanosecond), store.SessionPassed, time.Hour) // before the window
	mk(day, store.SessionPassed, 10*time.Second)                  // first instant: in
	mk(day.Add(23*time.Hour), store.SessionFailed, 20*time.Second)
	mk(day.Add(25*time.Hour), store.SessionPassed, 30*time.Second)
	mk(day.Add(25*time.Hour), store.SessionRunning, 0) // unfinished: no duration
	mk(day.Add(26*time.Hour), store.SessionCancelled, 0)
	mk(day.Add(48*time.Hour), store.SessionPassed, time.Hour) // the end is excluded

	st, err := s.Stats(ctx, day.In(zone), day.Add(48*time.Hour))
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if st.Sessions != 5 {
		t.Errorf("Sessions = %d, want 5", st.Sessions)
	}
	wantStates := map[store.SessionState]int{store.SessionPassed: 2, store.SessionFailed: 1, store.SessionRunning: 1, store.SessionCancelled: 1}
	if !reflect.DeepEqual(st.ByState, wantStates) {
		t.Errorf("ByState = %v, want %v", st.ByState, wantStates)
	}
	if st.MeanDurationNs != 20*time.Second {
		t.Errorf("MeanDuration = %v, want 20s (of the three finished sessions with times)", st.MeanDurationNs)
	}
	if r, ok := st.PassRate(); !ok || r < 0.666 || r > 0.667 {
		t.Errorf("PassRate = %v, %v, want 2/3", r, ok)
	}
	if len(st.PerDay) != 2 {
		t.Fatalf("PerDay = %+v, want 2 days", st.PerDay)
	}
	for i, want := range []struct {
		day      time.Time
		sessions int
		passed   int
	}{{day, 2, 1}, {day.Add(24 * time.Hour), 3, 1}} {
		got := st.PerDay[i]
		if !got.Day.Equal(want.day) || got.Day.Location() != time.UTC || got.Sessions != want.sessions || got.ByState[store.SessionPassed] != want.passed {
			t.Errorf("PerDay[%d] = %+v, want day %v with %d sessions, %d passed", i, got, want.day, want.sessions, want.passed)
		}
	}

	empty, err := s.Stats(ctx, day.Add(-48*time.Hour), day.Add(-24*time.Hour))
	if err != nil {
		t.Fatalf("Stats of an empty window: %v", err)
	}
	if empty.Sessions != 0 || len(empty.PerDay) != 0 || empty.MeanDurationNs != 0 {
		t.Errorf("empty window: %+v", empty)
	}
	if _, ok := empty.PassRate(); ok {
		t.Error("PassRate of an empty window is ok")
	}
	if _, err := s.Stats(ctx, day, day); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Stats of an empty range: err = %v, want ErrInvalid", err)
	}
}

func idsOf(l []*store.Session) []int64 {
	var ids []int64
	for _, se := range l {
		ids = append(ids, se.ID)
	}
	return ids
}

func testInterruptUnfinished(t *testing.T, open func(*testing.T) store.Store) {
	s := open(t)
	ended := tm(50, 0)
	var sessions []*store.Session
	for _, st := range []store.SessionState{store.SessionQueued, store.SessionPassed, store.SessionRunning,
		store.SessionFailed, store.SessionCancelled, store.SessionInterrupted, store.SessionRunning, store.SessionHeld} {
		se := &store.Session{Suite: "s", State: st, Created: tm(0, 0), Reason: "old"}
		if st == store.SessionPassed || len(sessions) == 6 {
			se.Ended = ended
		}
		// A held session outlives the master's restart, its deadline
		// with it.
		if st == store.SessionHeld {
			se.HoldUntil = tm(90, 0)
		}
		sessions = append(sessions, mustCreate(t, s, se))
	}
	before := time.Now()
	ids, err := s.InterruptUnfinished(ctx, "master restarted")
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{sessions[0].ID, sessions[2].ID, sessions[6].ID}
	if !slices.Equal(ids, want) {
		t.Errorf("InterruptUnfinished = %v, want %v", ids, want)
	}
	for i, se := range sessions {
		got, err := s.Session(ctx, se.ID)
		if err != nil {
			t.Fatal(err)
		}
		evs, err := s.Events(ctx, se.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(want, se.ID) {
			if d := diff(se, got); d != "" {
				t.Errorf("session %d (%s) changed: %s", i, se.State, d)
			}
			if len(evs) != 0 {
				t.Errorf("session %d: events %v", i, evs)
			}
			continue
		}
		if got.State != store.SessionInterrupted || got.Reason != "master restarted" {
			t.Errorf("session %d: state %q reason %q", i, got.State, got.Reason)
		}
		if i == 6 {
			if !got.Ended.Equal(ended) {
				t.Errorf("session %d: Ended %v, want kept %v", i, got.Ended, ended)
			}
		} else if got.Ended.Before(before.Add(-time.Second)) || got.Ended.After(time.Now().Add(time.Second)) {
			t.Errorf("session %d: Ended %v, want about now", i, got.Ended)
		}
		if len(evs) != 1 || evs[0].Kind != "state" || evs[0].Message != "interrupted: master restarted" {
			t.Errorf("session %d: events %+v", i, evs)
		}
	}
	if ids, err := s.InterruptUnfinished(ctx, "again"); err != nil || len(ids) != 0 {
		t.Errorf("second InterruptUnfinished = %v, %v; want none", ids, err)
	}
}

func testSuiteEnabled(t *testing.T, open func(*testing.T) store.Store) {
	s := open(t)
	check := func(suite string, wantEnabled, wantKnown bool) {
		t.Helper()
		enabled, known, err := s.SuiteEnabled(ctx, suite)
		if err != nil || enabled != wantEnabled || known != wantKnown {
			t.Errorf("SuiteEnabled(%q) = %v, %v, %v; want %v, %v", suite, enabled, known, err, wantEnabled, wantKnown)
		}
	}
	check("a", false, false)
	for _, v := range []bool{false, true, true, false, true} {
		if err := s.SetSuiteEnabled(ctx, "a", v); err != nil {
			t.Fatal(err)
		}
		check("a", v, true)
	}
	if err := s.SetSuiteEnabled(ctx, "ünï", false); err != nil {
		t.Fatal(err)
	}
	check("ünï", false, true)
	check("a", true, true)
	check("b", false, false)
}

func testEvents(t *testing.T, open func(*testing.T) store.Store) {
	s := open(t)
	se := mustCreate(t, s, &store.Session{Suite: "s"})
	other := mustCreate(t, s, &store.Session{Suite: "s"})
	want := []store.Event{
		{Session: se.ID, Time: tm(5, 1), Kind: "state", Message: "running"},
		{Session: se.ID, Time: tm(1, 2), Kind: "slave", Message: "a.xrd.test connected ✓"}, // earlier time, added later
		{Session: other.ID, Time: tm(2, 0), Kind: "state", Message: "other"},
		{Session: se.ID, Kind: "state", Message: "failed"},
	}
	before := time.Now()
	for _, e := range want {
		if err := s.AddEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Events(ctx, se.ID)
	if err != nil {
		t.Fatal(err)
	}
	want = slices.Delete(want, 2, 3)
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d", len(got), len(want))
	}
	for i := range 2 {
		if d := diff(want[i], got[i]); d != "" {
			t.Errorf("event %d: %s", i, d)
		}
	}
	if e := got[2]; e.Kind != "state" || e.Message != "failed" ||
		e.Time.Before(before.Add(-time.Second)) || e.Time.After(time.Now().Add(time.Second)) {
		t.Errorf("event with zero time read back as %+v", e)
	}
}

// testReopen writes one of everything, closes the store, reopens it and
// reads everything back.
func testReopen(t *testing.T, open func(*testing.T) store.Store) {
	s := open(t)
	se := mustCreate(t, s, fullSession())
	running := mustCreate(t, s, &store.Session{Suite: "s", State: store.SessionRunning, Created: tm(3, 0)})
	st := &store.Stage{SessionID: se.ID, Index: 0, Name: "suite_init", Started: tm(0, 5), Ended: tm(1, 6)}
	res := &store.Result{SessionID: se.ID, Stage: 0, Slave: "a.xrd.test", Status: store.StatusPassed,
		ExitCode: intp(0), Start: tm(0, 7), End: tm(1, 8), Script: "true", OutputBytes: 5}
	ev := store.Event{Session: se.ID, Time: tm(0, 9), Kind: "state", Message: "running"}
	if err := s.PutStage(ctx, st); err != nil {
		t.Fatal(err)
	}
	if err := s.PutResult(ctx, res); err != nil {
		t.Fatal(err)
	}
	if err := s.AddEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSuiteEnabled(ctx, "s", false); err != nil {
		t.Fatal(err)
	}
	w, err := s.OutputWriter(se.ID, 0, "a.xrd.test")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append(1, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	writeLog(t, s, se.ID, "a.xrd.test", "/var/log/xrootd.log", "log content")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t)
	got, err := s.Session(ctx, se.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(se, got); d != "" {
		t.Error(d)
	}
	if stages, err := s.Stages(ctx, se.ID); err != nil || len(stages) != 1 || diff(st, stages[0]) != "" {
		t.Errorf("Stages after reopen = %v, %v", stages, err)
	}
	if results, err := s.Results(ctx, se.ID); err != nil || len(results) != 1 || diff(res, results[0]) != "" {
		t.Errorf("Results after reopen = %v, %v", results, err)
	}
	if evs, err := s.Events(ctx, se.ID); err != nil || len(evs) != 1 || diff(ev, evs[0]) != "" {
		t.Errorf("Events after reopen = %v, %v", evs, err)
	}
	if enabled, known, err := s.SuiteEnabled(ctx, "s"); enabled || !known || err != nil {
		t.Errorf("SuiteEnabled after reopen = %v, %v, %v", enabled, known, err)
	}
	if got := readOutput(t, s, se.ID, 0, "a.xrd.test"); got != "hello" {
		t.Errorf("output after reopen = %q", got)
	}
	if logs, err := s.Logs(ctx, se.ID); err != nil || len(logs) != 1 ||
		logs[0] != (store.LogFile{Slave: "a.xrd.test", Path: "/var/log/xrootd.log", Size: 11, Complete: true}) {
		t.Errorf("Logs after reopen = %+v, %v", logs, err)
	}
	if got := readLog(t, s, se.ID, "a.xrd.test", "/var/log/xrootd.log"); got != "log content" {
		t.Errorf("log after reopen = %q", got)
	}
	// The restarted master interrupts what the dead one left running.
	if ids, err := s.InterruptUnfinished(ctx, "master restarted"); err != nil || !slices.Equal(ids, []int64{running.ID}) {
		t.Errorf("InterruptUnfinished after reopen = %v, %v", ids, err)
	}
	// IDs are not reused.
	next := mustCreate(t, s, &store.Session{Suite: "s"})
	if next.ID <= running.ID {
		t.Errorf("new ID %d after reopen, want > %d", next.ID, running.ID)
	}
}

// testConcurrentWrites hammers the store from several goroutines.
func testConcurrentWrites(t *testing.T, open func(*testing.T) store.Store) {
	s := open(t)
	se := mustCreate(t, s, &store.Session{Suite: "s", State: store.SessionRunning})
	const workers, n = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*n*4)
	for w := range workers {
		wg.Go(func() {
			slave := fmt.Sprintf("slave%d", w)
			for i := range n {
				if err := s.PutResult(ctx, &store.Result{SessionID: se.ID, Stage: i, Slave: slave, Status: store.StatusPassed}); err != nil {
					errs <- err
				}
				if err := s.AddEvent(ctx, store.Event{Session: se.ID, Kind: "k", Message: slave}); err != nil {
					errs <- err
				}
				if _, err := s.Results(ctx, se.ID); err != nil {
					errs <- err
				}
				if _, err := s.Session(ctx, se.ID); err != nil {
					errs <- err
				}
				if w == 0 {
					if err := s.CreateSession(ctx, &store.Session{Suite: "other"}); err != nil {
						errs <- err
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if rs, _ := s.Results(ctx, se.ID); len(rs) != workers*n {
		t.Errorf("%d results, want %d", len(rs), workers*n)
	}
	if evs, _ := s.Events(ctx, se.ID); len(evs) != workers*n {
		t.Errorf("%d events, want %d", len(evs), workers*n)
	}
}

func readOutput(t *testing.T, s store.Store, session int64, stage int, slave string) string {
	t.Helper()
	r, err := s.OpenOutput(session, stage, slave)
	if err != nil {
		t.Fatalf("OpenOutput(%d, %d, %q): %v", session, stage, slave, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func readLog(t *testing.T, s store.Store, session int64, slave, path string) string {
	t.Helper()
	r, err := s.OpenLog(session, slave, path)
	if err != nil {
		t.Fatalf("OpenLog(%d, %q, %q): %v", session, slave, path, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeLog(t *testing.T, s store.Store, session int64, slave, path, content string) {
	t.Helper()
	w, err := s.LogWriter(session, slave, path)
	if err != nil {
		t.Fatalf("LogWriter(%d, %q, %q): %v", session, slave, path, err)
	}
	if _, err := io.WriteString(w, content); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func testOutputSeq(t *testing.T, open func(*testing.T) store.Store) {
	s := open(t)
	w, err := s.OutputWriter(1, 3, "a.xrd.test")
	if err != nil {
		t.Fatal(err)
	}
	step := func(seq uint64, p string, wantErr error) {
		t.Helper()
		err := w.Append(seq, []byte(p))
		if wantErr == nil && err != nil || wantErr != nil && !errors.Is(err, wantErr) {
			t.Errorf("Append(%d, %q) = %v, want %v", seq, p, err, wantErr)
		}
	}
	if w.NextSeq() != 1 || w.Bytes() != 0 {
		t.Errorf("new writer: NextSeq %d, Bytes %d", w.NextSeq(), w.Bytes())
	}
	step(1, "one,", nil)
	step(2, "two,", nil)
	step(1, "one,", nil) // resends after a reconnect
	step(2, "TWO,", nil)
	step(4, "four,", store.ErrOutputGap)
	step(0, "zero,", store.ErrInvalid)
	step(3, "", nil) // an empty chunk is a chunk
	step(4, "four", nil)
	step(4, "four", nil)
	if w.NextSeq() != 5 || w.Bytes() != int64(len("one,two,four")) {
		t.Errorf("NextSeq %d, Bytes %d", w.NextSeq(), w.Bytes())
	}
	if got := readOutput(t, s, 1, 3, "a.xrd.test"); got != "one,two,four" {
		t.Errorf("output %q", got)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	step(5, "late", store.ErrClosed)
	if got := readOutput(t, s, 1, 3, "a.xrd.test"); got != "one,two,four" {
		t.Errorf("output %q", got)
	}
	// An output is written once.
	if _, err := s.OutputWriter(1, 3, "a.xrd.test"); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second OutputWriter = %v, want fs.ErrExist", err)
	}
	// Other stage, other slave: other files.
	for _, k := range []struct {
		stage int
		slave string
	}{{4, "a.xrd.test"}, {3, "b.xrd.test"}} {
		w, err := s.OutputWriter(1, k.stage, k.slave)
		if err != nil {
			t.Fatal(err)
		}
		text := fmt.Sprint(k)
		if err := w.Append(1, []byte(text)); err != nil {
			t.Fatal(err)
		}
		w.Close()
		if got := readOutput(t, s, 1, k.stage, k.slave); got != text {
			t.Errorf("output %v = %q", k, got)
		}
	}
}

// testOutputReadWhileWriting checks that every Append is visible at once
// to a reader; before the first chunk there is no output to open.
func testOutputReadWhileWriting(t *testing.T, open func(*testing.T) store.Store) {
	s := open(t)
	w, err := s.OutputWriter(7, 0, "a.xrd.test")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := s.OpenOutput(7, 0, "a.xrd.test"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("output before its first chunk: %v, want ErrNotFound", err)
	}
	if err := w.Append(1, nil); err != nil { // an empty first chunk creates the file
		t.Fatal(err)
	}
	r, err := s.OpenOutput(7, 0, "a.xrd.test")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var want, got []byte
	buf := make([]byte, 100)
	for seq := uint64(2); seq <= 50; seq++ {
		chunk := []byte(strings.Repeat(fmt.Sprintf("line %d ✓\n", seq), int(seq%5)))
		if err := w.Append(seq, chunk); err != nil {
			t.Fatal(err)
		}
		want = append(want, chunk...)
		for {
			n, err := r.Read(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("after chunk %d the reader has %d bytes, want %d", seq, len(got), len(want))
		}
	}
	// Seek works too.
	if _, err := r.Seek(5, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(rest, want[5:]) {
		t.Errorf("after Seek(5): %d bytes, %v", len(rest), err)
	}
}

// testOutputConcurrentTail appends from one goroutine while another one
// tails the file.
func testOutputConcurrentTail(t *testing.T, open func(*testing.T) store.Store) {
	s := open(t)
	w, err := s.OutputWriter(8, 1, "b.xrd.test")
	if err != nil {
		t.Fatal(err)
	}
	const chunks = 500
	chunk := func(i int) []byte { return fmt.Appendf(nil, "%06d:%s\n", i, strings.Repeat("x", i%97)) }
	var want []byte
	for i := 1; i <= chunks; i++ {
		want = append(want, chunk(i)...)
	}
	done := make(chan error, 1)
	go func() {
		defer close(done)
		for i := 1; i <= chunks; i++ {
			if err := w.Append(uint64(i), chunk(i)); err != nil {
				done <- err
				return
			}
			if i%50 == 0 {
				_, _ = w.Bytes(), w.NextSeq() // concurrent with the reader's progress
				runtime.Gosched()
			}
		}
		done <- w.Close()
	}()
	// The file appears with the first chunk.
	var r io.ReadSeekCloser
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if r, err = s.OpenOutput(8, 1, "b.xrd.test"); err == nil {
			break
		}
		if !errors.Is(err, store.ErrNotFound) || time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	defer r.Close()
	var got []byte
	buf := make([]byte, 333)
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < len(want) && time.Now().Before(deadline) {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			time.Sleep(100 * time.Microsecond)
		} else if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(want, got) {
			t.Fatalf("reader got bytes that were not written (at %d)", len(got))
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("tail read %d bytes, want %d", len(got), len(want))
	}
}

// testOutputLarge writes 64 MiB in 256 KiB chunks (with resends) and reads
// them back; the heap must stay small all along.
func testOutputLarge(t *testing.T, open func(*testing.T) store.Store) {
	if testing.Short() {
		t.Skip("64 MiB output in -short mode")
	}
	s := open(t)
	const (
		chunkSize = 256 << 10
		total     = 64 << 20
		bound     = 16 << 20
	)
	rng := rand.New(rand.NewPCG(1, 2))
	base := make([]byte, chunkSize)
	for i := 0; i < len(base); i += 8 {
		binary.LittleEndian.PutUint64(base[i:], rng.Uint64())
	}
	chunk := make([]byte, chunkSize)
	fill := func(seq uint64) []byte {
		copy(chunk, base)
		binary.BigEndian.PutUint64(chunk, seq) // chunks differ: order matters for the hash
		return chunk
	}

	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	heap0 := ms.HeapInuse
	var peak uint64
	sample := func() {
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
	}

	w, err := s.OutputWriter(9, 2, "big.xrd.test")
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	for seq := uint64(1); seq <= total/chunkSize; seq++ {
		p := fill(seq)
		h.Write(p)
		if err := w.Append(seq, p); err != nil {
			t.Fatal(err)
		}
		if seq%16 == 0 {
			if err := w.Append(seq-3, fill(seq-3)); err != nil { // a resend, ignored
				t.Fatal(err)
			}
			sample()
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Bytes() != total {
		t.Errorf("Bytes() = %d, want %d", w.Bytes(), total)
	}
	sum := h.Sum(nil)

	r, err := s.OpenOutput(9, 2, "big.xrd.test")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h.Reset()
	buf := make([]byte, 64<<10)
	var n int64
	for {
		k, err := r.Read(buf)
		h.Write(buf[:k])
		n += int64(k)
		if n%(4<<20) < int64(k) {
			sample()
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	sample()
	if n != total {
		t.Errorf("read %d bytes, want %d", n, total)
	}
	if !bytes.Equal(h.Sum(nil), sum) {
		t.Error("sha256 of the output read back differs from what was written")
	}
	if peak > heap0 && peak-heap0 > bound {
		t.Errorf("heap in use grew by %d MiB writing and reading 64 MiB, want < %d MiB",
			(peak-heap0)>>20, bound>>20)
	}
	t.Logf("heap in use: %d KiB before, peak %d KiB", heap0>>10, peak>>10)
}

func testLogs(t *testing.T, open func(*testing.T) store.Store) {
	s := open(t)
	se := mustCreate(t, s, &store.Session{Suite: "s"})
	other := mustCreate(t, s, &store.Session{Suite: "s"})
	writeLog(t, s, se.ID, "b.xrd.test", "/var/log/xrootd/xrootd.log", "b xrootd")
	writeLog(t, s, se.ID, "a.xrd.test", "/var/log/xrootd/cmsd.log", "a cmsd ünï")
	writeLog(t, s, se.ID, "a.xrd.test", "/var/log/xrootd/xrootd.log", "a xrootd")
	writeLog(t, s, other.ID, "a.xrd.test", "/var/log/xrootd/xrootd.log", "other")

	// In progress: listed, not complete.
	w, err := s.LogWriter(se.ID, "c.xrd.test", "relative/log.txt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, "partial"); err != nil {
		t.Fatal(err)
	}
	logs, err := s.Logs(ctx, se.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) != 4 || logs[3].Slave != "c.xrd.test" || logs[3].Complete {
		t.Errorf("Logs while writing = %+v", logs)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("late")); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
	// Collected again: replaced.
	writeLog(t, s, se.ID, "b.xrd.test", "/var/log/xrootd/xrootd.log", "b xrootd, again")

	want := []store.LogFile{
		{Slave: "a.xrd.test", Path: "/var/log/xrootd/cmsd.log", Size: int64(len("a cmsd ünï")), Complete: true},
		{Slave: "a.xrd.test", Path: "/var/log/xrootd/xrootd.log", Size: 8, Complete: true},
		{Slave: "b.xrd.test", Path: "/var/log/xrootd/xrootd.log", Size: 15, Complete: true},
		{Slave: "c.xrd.test", Path: "relative/log.txt", Size: 7, Complete: true},
	}
	logs, err = s.Logs(ctx, se.ID)
	if err != nil || !slices.Equal(logs, want) {
		t.Errorf("Logs = %+v, %v; want %+v", logs, err, want)
	}
	for _, l := range want {
		r, err := s.OpenLog(se.ID, l.Slave, l.Path)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := r.Seek(0, io.SeekEnd); err != nil || n != l.Size {
			t.Errorf("%+v: Seek(0, End) = %d, %v", l, n, err)
		}
		r.Close()
	}
	if got := readLog(t, s, se.ID, "b.xrd.test", "/var/log/xrootd/xrootd.log"); got != "b xrootd, again" {
		t.Errorf("replaced log = %q", got)
	}
	if got := readLog(t, s, other.ID, "a.xrd.test", "/var/log/xrootd/xrootd.log"); got != "other" {
		t.Errorf("other session's log = %q", got)
	}
}

// evilNames are slave names and paths that would escape or clash if used
// as file names.
var evilNames = []string{
	"../../x", "..", ".", "/", "//", "a/b", "a%2Fb", "a_b", "a\\b", "a\x00b", "/../../etc/passwd",
	"../../../../../../../../../../x", "-rf", "~", "a~b", ".hidden", "ünïcödé/日本", " ",
	strings.Repeat("long/", 300) + "1", strings.Repeat("long/", 300) + "2", strings.Repeat("%", 300),
	"CON", "A.XRD.TEST", "a.xrd.test",
}

// testNames writes outputs and logs under hostile names: each must get its
// own file, and read back.
func testNames(t *testing.T, open func(*testing.T) store.Store) {
	s := open(t)
	se := mustCreate(t, s, &store.Session{Suite: "s"})
	content := func(i, j int) string { return fmt.Sprintf("content %d %d", i, j) }
	for i, slave := range evilNames {
		w, err := s.OutputWriter(se.ID, 0, slave)
		if err != nil {
			t.Fatalf("OutputWriter(%q): %v", slave, err)
		}
		if err := w.Append(1, []byte(content(i, -1))); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for i, slave := range evilNames[:4] {
		for j, path := range evilNames {
			writeLog(t, s, se.ID, slave, path, content(i, j))
		}
	}
	for i, slave := range evilNames {
		if got := readOutput(t, s, se.ID, 0, slave); got != content(i, -1) {
			t.Errorf("output of slave %q = %q, want %q", slave, got, content(i, -1))
		}
	}
	var want []store.LogFile
	for i, slave := range evilNames[:4] {
		for j, path := range evilNames {
			c := content(i, j)
			if got := readLog(t, s, se.ID, slave, path); got != c {
				t.Errorf("log %q of slave %q = %q, want %q", path, slave, got, c)
			}
			want = append(want, store.LogFile{Slave: slave, Path: path, Size: int64(len(c)), Complete: true})
		}
	}
	slices.SortFunc(want, func(a, b store.LogFile) int {
		if c := strings.Compare(a.Slave, b.Slave); c != 0 {
			return c
		}
		return strings.Compare(a.Path, b.Path)
	})
	logs, err := s.Logs(ctx, se.ID)
	if err != nil || !slices.Equal(logs, want) {
		t.Errorf("Logs = %v, %v; want %v", logs, err, want)
	}
}

func testInvalidArguments(t *testing.T, open func(*testing.T) store.Store) {
	s := open(t)
	se := mustCreate(t, s, &store.Session{Suite: "s"})
	if _, err := s.OutputWriter(se.ID, 0, ""); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("OutputWriter(empty slave) = %v", err)
	}
	if _, err := s.OutputWriter(se.ID, -1, "a"); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("OutputWriter(stage -1) = %v", err)
	}
	if _, err := s.OutputWriter(0, 0, "a"); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("OutputWriter(session 0) = %v", err)
	}
	if _, err := s.OpenOutput(se.ID, -1, "a"); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("OpenOutput(stage -1) = %v", err)
	}
	if _, err := s.LogWriter(se.ID, "a", ""); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("LogWriter(empty path) = %v", err)
	}
	if _, err := s.LogWriter(se.ID, "", "/x"); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("LogWriter(empty slave) = %v", err)
	}
	if err := s.PutStage(ctx, &store.Stage{SessionID: se.ID, Index: -1}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("PutStage(index -1) = %v", err)
	}
	if err := s.PutResult(ctx, &store.Result{SessionID: se.ID, Stage: -1, Slave: "a"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("PutResult(stage -1) = %v", err)
	}
	far := &store.Session{Suite: "s", Created: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if err := s.CreateSession(ctx, far); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("CreateSession(year 3000) = %v", err)
	}
}

// testFreeTextBytes checks that free-form text (reasons, scripts,
// messages) round-trips whatever its bytes: NUL, invalid UTF-8.
func testFreeTextBytes(t *testing.T, open func(*testing.T) store.Store) {
	s := open(t)
	odd := "a\x00b\xff\xfe\xc3(é\n"
	se := mustCreate(t, s, &store.Session{Suite: "s", State: store.SessionCancelled, Reason: "cancelled: " + odd})
	got, err := s.Session(ctx, se.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Reason != se.Reason {
		t.Errorf("Reason = %q, want %q", got.Reason, se.Reason)
	}
	r := &store.Result{SessionID: se.ID, Slave: "a.xrd.test", Status: store.StatusFailed, Message: odd, Script: "echo '" + odd + "'"}
	if err := s.PutResult(ctx, r); err != nil {
		t.Fatal(err)
	}
	if rs, err := s.Results(ctx, se.ID); err != nil || len(rs) != 1 || rs[0].Message != r.Message || rs[0].Script != r.Script {
		t.Errorf("Results = %+v, %v; want message %q, script %q", rs, err, r.Message, r.Script)
	}
	if err := s.AddEvent(ctx, store.Event{Session: se.ID, Kind: "log", Message: odd}); err != nil {
		t.Fatal(err)
	}
	if evs, err := s.Events(ctx, se.ID); err != nil || len(evs) != 1 || evs[0].Message != odd {
		t.Errorf("Events = %+v, %v; want message %q", evs, err, odd)
	}
}

// testIDsAboveFiles: a store opened on files left by another database (a
// switch from SQLite to PostgreSQL) numbers new sessions above them, so
// that they never meet old outputs and logs.
func testIDsAboveFiles(t *testing.T, open func(*testing.T) store.Store) {
	s := open(t)
	for _, id := range []int64{40, 7} {
		w, err := s.OutputWriter(id, 0, "a.xrd.test")
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Append(1, []byte("old")); err != nil {
			t.Fatal(err)
		}
		w.Close()
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t)
	se := mustCreate(t, s, &store.Session{Suite: "s"})
	if se.ID <= 40 {
		t.Errorf("new session %d, want > 40 (outputs of session 40 exist)", se.ID)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopening does not move the numbering back.
	s = open(t)
	if next := mustCreate(t, s, &store.Session{Suite: "s"}); next.ID <= se.ID {
		t.Errorf("session %d after reopening, want > %d", next.ID, se.ID)
	}
}

// pruneSetup creates 13 sessions a minute apart, each with a stage, two
// results, an event, an output and a log; 1 is queued, 4 running and 12
// held (the unfinished ones; 12 is created between 0 and 1), 10 is
// created at the same time as 9 (ties are broken by ID). It returns them
// by index.
func pruneSetup(t *testing.T, s store.Store) []*store.Session {
	t.Helper()
	var ss []*store.Session
	for i := range 13 {
		st := store.SessionPassed
		switch i {
		case 1:
			st = store.SessionQueued
		case 4:
			st = store.SessionRunning
		case 6:
			st = store.SessionFailed
		case 8:
			st = store.SessionInterrupted
		case 12:
			st = store.SessionHeld // unfinished, however old
		}
		created := tm(i, 0)
		switch i {
		case 10:
			created = tm(9, 0)
		case 12:
			created = tm(0, 5)
		}
		se := mustCreate(t, s, &store.Session{Suite: "s", State: st, Created: created})
		if err := s.PutStage(ctx, &store.Stage{SessionID: se.ID, Name: "suite_init"}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutResults(ctx, []*store.Result{
			{SessionID: se.ID, Slave: "a.xrd.test", Status: store.StatusPassed},
			{SessionID: se.ID, Slave: "b.xrd.test", Status: store.StatusPassed}}); err != nil {
			t.Fatal(err)
		}
		if err := s.AddEvent(ctx, store.Event{Session: se.ID, Kind: "state", Message: "x"}); err != nil {
			t.Fatal(err)
		}
		w, err := s.OutputWriter(se.ID, 0, "a.xrd.test")
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Append(1, []byte("output")); err != nil {
			t.Fatal(err)
		}
		w.Close()
		writeLog(t, s, se.ID, "a.xrd.test", "/var/log/x.log", "log")
		ss = append(ss, se)
	}
	return ss
}

// checkPruned checks that the sessions of ss at the indexes gone have
// left no trace, and that the others are whole.
func checkPruned(t *testing.T, s store.Store, ss []*store.Session, gone []int) {
	t.Helper()
	var wantIDs []int64
	for i := len(ss) - 1; i >= 0; i-- {
		se := ss[i]
		if slices.Contains(gone, i) {
			if _, err := s.Session(ctx, se.ID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("session %d: %v, want ErrNotFound", i, err)
			}
			st, _ := s.Stages(ctx, se.ID)
			rs, _ := s.Results(ctx, se.ID)
			evs, _ := s.Events(ctx, se.ID)
			logs, _ := s.Logs(ctx, se.ID)
			if len(st)+len(rs)+len(evs)+len(logs) != 0 {
				t.Errorf("session %d left %d stages, %d results, %d events, %d logs", i, len(st), len(rs), len(evs), len(logs))
			}
			if _, err := s.OpenOutput(se.ID, 0, "a.xrd.test"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("session %d: output %v, want ErrNotFound", i, err)
			}
			if _, err := s.OpenLog(se.ID, "a.xrd.test", "/var/log/x.log"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("session %d: log %v, want ErrNotFound", i, err)
			}
			continue
		}
		wantIDs = append(wantIDs, se.ID)
		checkKept(t, s, i, se, true)
	}
	// Sessions lists newest first: 11, 10, 9 (same Created as 10, lower ID)...
	slices.SortStableFunc(wantIDs, func(a, b int64) int {
		ca, cb := ss[slices.IndexFunc(ss, func(x *store.Session) bool { return x.ID == a })].Created,
			ss[slices.IndexFunc(ss, func(x *store.Session) bool { return x.ID == b })].Created
		if c := cb.Compare(ca); c != 0 {
			return c
		}
		return int(b - a)
	})
	got, total, err := s.Sessions(ctx, store.Filter{})
	if err != nil || total != len(wantIDs) || !slices.Equal(idsOf(got), wantIDs) {
		t.Errorf("Sessions after Prune = %v (total %d), %v; want %v", idsOf(got), total, err, wantIDs)
	}
}

// checkKept checks that session i of pruneSetup (se) has its rows and,
// if files, its output and log files; else that they are gone.
func checkKept(t *testing.T, s store.Store, i int, se *store.Session, files bool) {
	t.Helper()
	if got, err := s.Session(ctx, se.ID); err != nil || got.State != se.State {
		t.Errorf("session %d: %+v, %v", i, got, err)
	}
	rs, _ := s.Results(ctx, se.ID)
	evs, _ := s.Events(ctx, se.ID)
	logs, _ := s.Logs(ctx, se.ID)
	if len(rs) != 2 || len(evs) != 1 || len(logs) != 1 {
		t.Errorf("session %d kept %d results, %d events, %d logs; want 2, 1, 1", i, len(rs), len(evs), len(logs))
	}
	if !files {
		_, outErr := s.OpenOutput(se.ID, 0, "a.xrd.test")
		_, logErr := s.OpenLog(se.ID, "a.xrd.test", "/var/log/x.log")
		if !errors.Is(outErr, store.ErrNotFound) || !errors.Is(logErr, store.ErrNotFound) {
			t.Errorf("session %d: output %v, log %v; want ErrNotFound", i, outErr, logErr)
		}
		return
	}
	if got := readOutput(t, s, se.ID, 0, "a.xrd.test"); got != "output" {
		t.Errorf("session %d: output %q", i, got)
	}
	if got := readLog(t, s, se.ID, "a.xrd.test", "/var/log/x.log"); got != "log" {
		t.Errorf("session %d: log %q", i, got)
	}
}

func testPrune(t *testing.T, open func(*testing.T) store.Store) {
	for _, tc := range []struct {
		name       string
		olderThan  time.Time
		keepNewest int
		gone       []int // indexes into pruneSetup's sessions
	}{
		{"no limits", time.Time{}, 0, nil},
		{"age", tm(3, 0), 0, []int{0, 2}},
		{"age at a creation time", tm(3, 1), 0, []int{0, 2, 3}},
		{"count, cut between equal times", time.Time{}, 2, []int{0, 2, 3, 5, 6, 7, 8, 9}},
		{"count above the total", time.Time{}, 100, nil},
		{"both, count prunes more", tm(2, 0), 5, []int{0, 2, 3, 5, 6}},
		{"both, age prunes more", tm(8, 0), 10, []int{0, 2, 3, 5, 6, 7}},
		{"everything finished", tm(100, 0), 0, []int{0, 2, 3, 5, 6, 7, 8, 9, 10, 11}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			ss := pruneSetup(t, s)
			n, err := s.Prune(ctx, tc.olderThan, tc.keepNewest)
			if err != nil || n != len(tc.gone) {
				t.Errorf("Prune = %d, %v; want %d", n, err, len(tc.gone))
			}
			checkPruned(t, s, ss, tc.gone)
			// Again: nothing more to do.
			if n, err := s.Prune(ctx, tc.olderThan, tc.keepNewest); err != nil || n != 0 {
				t.Errorf("second Prune = %d, %v; want 0", n, err)
			}
			// IDs of pruned sessions are not given again.
			if se := mustCreate(t, s, &store.Session{Suite: "s"}); se.ID <= ss[11].ID {
				t.Errorf("new session %d after Prune, want > %d", se.ID, ss[11].ID)
			}
		})
	}
	// A fingerprint whose failures were all pruned is forgotten: the next
	// failure like it records its text anew. One with failures left stays.
	t.Run("fingerprints", func(t *testing.T) {
		s := open(t)
		old := caseSession(t, s, "s", store.SessionFailed, tm(0, 0), "r1", "a.xrd.test", "fpgone")
		if err := s.PutResult(ctx, &store.Result{SessionID: old.ID, Stage: 1, Slave: "a.xrd.test", Status: store.StatusFailed, Fingerprint: "fpkept"}); err != nil {
			t.Fatal(err)
		}
		caseSession(t, s, "s", store.SessionFailed, tm(10, 0), "r1", "a.xrd.test", "fpkept")
		for _, id := range []string{"fpgone", "fpkept"} {
			if err := s.PutFingerprint(ctx, id, id+" first"); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := s.Prune(ctx, tm(5, 0), 0); err != nil || n != 1 {
			t.Fatalf("Prune = %d, %v", n, err)
		}
		again := caseSession(t, s, "s", store.SessionFailed, tm(20, 0), "r1", "a.xrd.test", "fpgone")
		for _, id := range []string{"fpgone", "fpkept"} {
			if err := s.PutFingerprint(ctx, id, id+" again"); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Fingerprints(ctx, []string{"fpgone", "fpkept"})
		if err != nil {
			t.Fatal(err)
		}
		texts := map[string]string{}
		for _, f := range got {
			texts[f.ID] = f.Text
		}
		if texts["fpgone"] != "fpgone again" || texts["fpkept"] != "fpkept first" {
			t.Errorf("texts after Prune: %q (session %d)", texts, again.ID)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		s := open(t)
		pruneSetup(t, s)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if n, err := s.Prune(cctx, tm(100, 0), 0); !errors.Is(err, context.Canceled) || n != 0 {
			t.Errorf("Prune(cancelled) = %d, %v", n, err)
		}
	})
}

// testPruneOutputs: the files of old finished sessions go, their rows
// stay; the files of the others stay.
func testPruneOutputs(t *testing.T, open func(*testing.T) store.Store) {
	s := open(t)
	ss := pruneSetup(t, s)
	// Before tm(5, 0): sessions 0 to 4, of which 1 is queued, 4 running.
	n, err := s.PruneOutputs(ctx, tm(5, 0))
	if err != nil || n != 3 {
		t.Errorf("PruneOutputs = %d, %v; want 3", n, err)
	}
	for i, se := range ss {
		checkKept(t, s, i, se, !slices.Contains([]int{0, 2, 3}, i))
	}
	if n, err := s.PruneOutputs(ctx, tm(5, 0)); err != nil || n != 0 {
		t.Errorf("second PruneOutputs = %d, %v; want 0", n, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if n, err := s.PruneOutputs(cctx, tm(100, 0)); !errors.Is(err, context.Canceled) || n != 0 {
		t.Errorf("PruneOutputs(cancelled) = %d, %v", n, err)
	}
	// Everything finished.
	if n, err := s.PruneOutputs(ctx, tm(100, 0)); err != nil || n != 7 {
		t.Errorf("PruneOutputs(all) = %d, %v; want 7", n, err)
	}
}

// testPruneBatchesWhileRunning prunes 250 sessions (several batches, one
// with more results than a batch deletes at once) while a running session
// keeps writing: its writes go on during the Prune, and it is left whole.
func testPruneBatchesWhileRunning(t *testing.T, open func(*testing.T) store.Store) {
	s := open(t)
	const old, bigResults = 250, 6000
	var big *store.Session
	for i := range old {
		se := mustCreate(t, s, &store.Session{Suite: "old", State: store.SessionPassed, Created: tm(i, 0)})
		n := 3
		if i == 100 {
			n, big = bigResults, se
		}
		rs := make([]*store.Result, n)
		for j := range rs {
			rs[j] = &store.Result{SessionID: se.ID, Stage: j / 100, Slave: fmt.Sprintf("s%04d", j), Status: store.StatusPassed}
		}
		if err := s.PutResults(ctx, rs); err != nil {
			t.Fatal(err)
		}
		if err := s.AddEvent(ctx, store.Event{Session: se.ID, Kind: "k", Message: "m"}); err != nil {
			t.Fatal(err)
		}
	}
	running := mustCreate(t, s, &store.Session{Suite: "new", State: store.SessionRunning, Created: tm(0, 0)})
	w, err := s.OutputWriter(running.ID, 0, "a.xrd.test")
	if err != nil {
		t.Fatal(err)
	}

	var writes, during, slowest atomic.Int64 // slowest: the longest write round, ns
	pruning := make(chan struct{})
	stop := make(chan struct{})
	errc := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		defer close(errc)
		for i := 0; ; i++ {
			select {
			case <-stop:
				errc <- w.Close()
				return
			default:
			}
			round := time.Now()
			if err := s.PutResult(ctx, &store.Result{SessionID: running.ID, Stage: i, Slave: "a.xrd.test", Status: store.StatusPassed}); err != nil {
				errc <- err
				return
			}
			if err := s.AddEvent(ctx, store.Event{Session: running.ID, Kind: "k", Message: fmt.Sprint(i)}); err != nil {
				errc <- err
				return
			}
			if err := w.Append(uint64(i+1), []byte("x")); err != nil {
				errc <- err
				return
			}
			writes.Add(1)
			if d := time.Since(round).Nanoseconds(); d > slowest.Load() {
				slowest.Store(d)
			}
			select {
			case <-pruning:
				during.Add(1)
			default:
			}
			if i == 0 {
				close(started)
			}
		}
	}()
	<-started
	close(pruning)
	t0 := time.Now()
	n, err := s.Prune(ctx, tm(1000, 0), 0)
	d := time.Since(t0)
	duringPrune := during.Load()
	close(stop)
	if werr := <-errc; werr != nil {
		t.Errorf("writes of the running session: %v", werr)
	}
	if err != nil || n != old {
		t.Fatalf("Prune = %d, %v; want %d", n, err, old)
	}
	round := time.Duration(slowest.Load())
	t.Logf("pruned %d sessions (%d results) in %v; the running session made %d writes meanwhile (its slowest round of writes: %v)",
		n, old*3+bigResults-3, d, duringPrune, round)
	// A prune shorter than two rounds of the writer's (a fast or a busy
	// machine) may well end between two of them; a longer one that let
	// none finish held the writes back.
	if duringPrune == 0 && d > 2*round {
		t.Errorf("the running session could not write while Prune ran (%v; a round of writes takes up to %v)", d, round)
	}
	if rs, _ := s.Results(ctx, big.ID); len(rs) != 0 {
		t.Errorf("the big session kept %d results", len(rs))
	}
	total := int(writes.Load())
	rs, err := s.Results(ctx, running.ID)
	if err != nil || len(rs) != total {
		t.Errorf("running session: %d results, %v; want %d", len(rs), err, total)
	}
	if evs, _ := s.Events(ctx, running.ID); len(evs) < total {
		t.Errorf("running session: %d events, want >= %d", len(evs), total)
	}
	if got := readOutput(t, s, running.ID, 0, "a.xrd.test"); len(got) < total {
		t.Errorf("running session: output of %d bytes, want >= %d", len(got), total)
	}
	if got, total, _ := s.Sessions(ctx, store.Filter{}); total != 1 || got[0].ID != running.ID {
		t.Errorf("after Prune: %v", idsOf(got))
	}
}
