package session

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/store"
)

// fakeStep is how the fake dispatcher plays one stage on one slave.
type fakeStep struct {
	exit   int
	status store.Status // overrides: lost, timeout
	sleep  time.Duration
}

// fakeDispatcher is the in-memory transport: it records when each stage
// ran on each slave.
type fakeDispatcher struct {
	steps map[string]fakeStep // "slave stage" -> step; absent: exit 0
	// onStart is called when a stage starts (e.g. to cancel the session).
	onStart func(slave, stage string)

	mu   sync.Mutex
	runs []fakeRun
}

type fakeRun struct {
	slave, stage string
	start, end   time.Time
	script       string
}

func (f *fakeDispatcher) RunStage(ctx context.Context, slave string, cmd StageCommand, out OutputSink) Outcome {
	if f.onStart != nil {
		f.onStart(slave, cmd.StageName)
	}
	step := f.steps[slave+" "+cmd.StageName]
	start := time.Now()
	_ = out.Append(1, []byte("output of "+cmd.StageName+" on "+slave+"\n"))
	status := store.StatusPassed
	select {
	case <-time.After(step.sleep):
	case <-ctx.Done():
		status = store.StatusCancelled
	}
	end := time.Now()
	f.mu.Lock()
	f.runs = append(f.runs, fakeRun{slave, cmd.StageName, start, end, cmd.Script})
	f.mu.Unlock()
	code := step.exit
	switch {
	case status == store.StatusCancelled:
		return Outcome{Status: status, Start: start, End: end}
	case step.status != "":
		return Outcome{Status: step.status, Start: start, End: end}
	case code != 0:
		return Outcome{Status: store.StatusFailed, ExitCode: &code, Start: start, End: end}
	}
	return Outcome{Status: store.StatusPassed, ExitCode: &code, Start: start, End: end}
}

func script(s string) *definition.Script { return &definition.Script{Text: "#!/bin/bash\n" + s + "\n"} }

// testSuite has two cases, a and b, on three machines; every script does
// something except b's finalize, which is absent.
func testSuite() *definition.Suite {
	return &definition.Suite{
		Name:       "ts",
		Machines:   []string{"m1", "m2", "m3"},
		Initialize: script("echo init @slavename@"),
		Finalize:   script("echo fin"),
		Tests: []definition.TestCase{
			{Name: "a", Init: script("true"), Run: script("true"), Finalize: script("true")},
			{Name: "b", Init: script("true"), Run: script("true")},
		},
	}
}

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// runSession runs the plan of suite with disp and returns the state, the
// reason and a compact matrix "stage: m1 m2 m3" of statuses.
func runSession(t *testing.T, suite *definition.Suite, disp Dispatcher, cancel chan struct{}) (store.SessionState, string, []string) {
	t.Helper()
	state, reason, matrix, _ := runSessionCtx(t, context.Background(), suite, disp, cancel)
	return state, reason, matrix
}

// runSessionCtx is runSession under ctx (the master's shutdown cancels
// it), also returning the session's record.
func runSessionCtx(t *testing.T, ctx context.Context, suite *definition.Suite, disp Dispatcher, cancel chan struct{}) (store.SessionState, string, []string, *store.SessionDetail) {
	t.Helper()
	st := openStore(t)
	s := &store.Session{Suite: suite.Name, Machines: suite.Machines, State: store.SessionRunning}
	if err := st.CreateSession(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if cancel == nil {
		cancel = make(chan struct{})
	}
	r := &barrierEngine{store: st, disp: disp, log: testLogger(t), session: s, suite: suite, stages: plan(suite, nil),
		timeout: time.Minute, grace: time.Second, cancelReq: cancel, clock: realClock{}, webPort: 8080, webProto: "http"}
	state, reason := r.run(ctx)
	d, err := store.Detail(context.Background(), st, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	var matrix []string
	for _, stg := range d.Stages {
		row := stg.Name + ":"
		for _, m := range suite.Machines {
			st := "?"
			for _, res := range stg.Results {
				if res.Slave == m {
					st = string(res.Status)
				}
			}
			row += " " + st
		}
		matrix = append(matrix, row)
	}
	return state, reason, matrix, d
}

func TestFailureSemantics(t *testing.T) {
	const P, F, S = "passed", "failed", "skipped"
	row := func(stage string, st ...string) string { return stage + ": " + strings.Join(st, " ") }
	tests := []struct {
		name       string
		steps      map[string]fakeStep
		wantState  store.SessionState
		wantReason string
		want       []string
	}{
		{"all pass", nil, store.SessionPassed, "", []string{
			row("suite_init", P, P, P), row("a:init", P, P, P), row("a:run", P, P, P), row("a:finalize", P, P, P),
			row("b:init", P, P, P), row("b:run", P, P, P), row("b:finalize", P, P, P), row("suite_finalize", P, P, P)}},
		{"suite init fails on one machine: every case skipped, suite finalize runs",
			map[string]fakeStep{"m2 suite_init": {exit: 3}}, store.SessionFailed, "suite_init failed on m2 (exit 3)", []string{
				row("suite_init", P, F, P), row("a:init", S, S, S), row("a:run", S, S, S), row("a:finalize", S, S, S),
				row("b:init", S, S, S), row("b:run", S, S, S), row("b:finalize", S, S, S), row("suite_finalize", P, P, P)}},
		{"case init fails: its run skipped, its finalize and the next case run",
			map[string]fakeStep{"m3 a:init": {exit: 1}}, store.SessionFailed, "a:init failed on m3 (exit 1)", []string{
				row("suite_init", P, P, P), row("a:init", P, P, F), row("a:run", S, S, S), row("a:finalize", P, P, P),
				row("b:init", P, P, P), row("b:run", P, P, P), row("b:finalize", P, P, P), row("suite_finalize", P, P, P)}},
		{"run and finalize failures are recorded and the session goes on",
			map[string]fakeStep{"m1 a:run": {exit: 1}, "m2 a:finalize": {exit: 2}}, store.SessionFailed, "a:run failed on m1 (exit 1); a:finalize failed on m2 (exit 2)", []string{
				row("suite_init", P, P, P), row("a:init", P, P, P), row("a:run", F, P, P), row("a:finalize", P, F, P),
				row("b:init", P, P, P), row("b:run", P, P, P), row("b:finalize", P, P, P), row("suite_finalize", P, P, P)}},
		{"timeout fails the session",
			map[string]fakeStep{"m1 b:run": {status: store.StatusTimeout}}, store.SessionFailed, "b:run failed on m1 (timeout)", []string{
				row("suite_init", P, P, P), row("a:init", P, P, P), row("a:run", P, P, P), row("a:finalize", P, P, P),
				row("b:init", P, P, P), row("b:run", "timeout", P, P), row("b:finalize", P, P, P), row("suite_finalize", P, P, P)}},
		{"a lost slave: the current case's finalize and suite finalize run on the others, later cases skipped",
			map[string]fakeStep{"m2 a:run": {status: store.StatusLost}}, store.SessionFailed, "a:run: slave lost: m2", []string{
				row("suite_init", P, P, P), row("a:init", P, P, P), row("a:run", P, "lost", P), row("a:finalize", P, S, P),
				row("b:init", S, S, S), row("b:run", S, S, S), row("b:finalize", S, S, S), row("suite_finalize", P, S, P)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			disp := &fakeDispatcher{steps: tt.steps}
			state, reason, matrix := runSession(t, testSuite(), disp, nil)
			if state != tt.wantState || reason != tt.wantReason {
				t.Errorf("state %s (%q), want %s (%q)", state, reason, tt.wantState, tt.wantReason)
			}
			if !slices.Equal(matrix, tt.want) {
				t.Errorf("matrix:\n%s\nwant:\n%s", strings.Join(matrix, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestNoOpStagesPassWithoutDispatch(t *testing.T) {
	disp := &fakeDispatcher{}
	state, _, matrix := runSession(t, testSuite(), disp, nil)
	if state != store.SessionPassed {
		t.Fatalf("state %s", state)
	}
	for _, r := range disp.runs {
		if r.stage == "b:finalize" {
			t.Errorf("the absent b:finalize was dispatched to %s", r.slave)
		}
	}
	if !slices.Contains(matrix, "b:finalize: passed passed passed") {
		t.Errorf("b:finalize not listed as passed: %v", matrix)
	}
	// A shebang-only script is a no-op too.
	s := testSuite()
	s.Tests[0].Init = &definition.Script{Text: "#!/bin/bash\n\n# nothing\n"}
	disp = &fakeDispatcher{}
	runSession(t, s, disp, nil)
	for _, r := range disp.runs {
		if r.stage == "a:init" {
			t.Errorf("shebang-only a:init was dispatched")
		}
	}
}

func TestCancelRunsFinalizes(t *testing.T) {
	cancel := make(chan struct{})
	var once sync.Once
	disp := &fakeDispatcher{
		steps: map[string]fakeStep{"m1 a:run": {sleep: time.Minute}, "m2 a:run": {sleep: time.Minute}, "m3 a:run": {sleep: time.Minute}},
		onStart: func(slave, stage string) {
			if stage == "a:run" {
				once.Do(func() { close(cancel) })
			}
		},
	}
	start := time.Now()
	state, _, matrix := runSession(t, testSuite(), disp, cancel)
	if time.Since(start) > 10*time.Second {
		t.Errorf("cancel took %s", time.Since(start))
	}
	want := []string{"suite_init: passed passed passed", "a:init: passed passed passed", "a:run: cancelled cancelled cancelled",
		"a:finalize: passed passed passed", "b:init: skipped skipped skipped", "b:run: skipped skipped skipped",
		"b:finalize: skipped skipped skipped", "suite_finalize: passed passed passed"}
	if state != store.SessionCancelled || !slices.Equal(matrix, want) {
		t.Errorf("state %s, matrix:\n%s", state, strings.Join(matrix, "\n"))
	}
}

// TestShutdownInterrupts: the master's shutdown cancels the running
// stage, records the stages left as skipped (no finalize runs: the
// shutdown is bounded) and ends the session interrupted, naming the stage.
func TestShutdownInterrupts(t *testing.T) {
	ctx, shutdown := context.WithCancelCause(context.Background())
	disp := &fakeDispatcher{
		steps: map[string]fakeStep{"m1 a:run": {sleep: time.Minute}, "m2 a:run": {sleep: time.Minute}, "m3 a:run": {exit: 4}},
		onStart: func(slave, stage string) {
			if stage == "a:run" && slave == "m1" {
				go func() { time.Sleep(50 * time.Millisecond); shutdown(errShutdown) }()
			}
		},
	}
	start := time.Now()
	state, reason, matrix, d := runSessionCtx(t, ctx, testSuite(), disp, nil)
	if time.Since(start) > 10*time.Second {
		t.Errorf("shutdown took %s", time.Since(start))
	}
	want := []string{"suite_init: passed passed passed", "a:init: passed passed passed", "a:run: cancelled cancelled failed",
		"a:finalize: skipped skipped skipped", "b:init: skipped skipped skipped", "b:run: skipped skipped skipped",
		"b:finalize: skipped skipped skipped", "suite_finalize: skipped skipped skipped"}
	if state != store.SessionInterrupted || !slices.Equal(matrix, want) {
		t.Errorf("state %s, matrix:\n%s", state, strings.Join(matrix, "\n"))
	}
	if reason != "the master shut down during a:run; a:run failed on m3 (exit 4)" {
		t.Errorf("reason %q", reason)
	}
	for _, st := range d.Stages {
		for _, r := range st.Results {
			if st.Name == "a:run" && r.Slave == "m1" && r.Message != "the master shut down" {
				t.Errorf("cancelled result's message %q", r.Message)
			}
			if st.Name == "a:finalize" && r.Message != "the master is shutting down" {
				t.Errorf("skipped result's message %q", r.Message)
			}
		}
	}
	for _, r := range disp.runs {
		if r.stage != "suite_init" && r.stage != "a:init" && r.stage != "a:run" {
			t.Errorf("%s dispatched to %s after the shutdown", r.stage, r.slave)
		}
	}
}

// TestBarrier: with deliberately slow members, no slave starts a stage
// before every slave has finished the previous one.
func TestBarrier(t *testing.T) {
	steps := map[string]fakeStep{}
	for i, stage := range []string{"suite_init", "a:init", "a:run", "a:finalize", "b:init", "b:run"} {
		steps[fmt.Sprintf("m%d %s", i%3+1, stage)] = fakeStep{sleep: 30 * time.Millisecond}
	}
	disp := &fakeDispatcher{steps: steps}
	state, _, _ := runSession(t, testSuite(), disp, nil)
	if state != store.SessionPassed {
		t.Fatalf("state %s", state)
	}
	order := map[string]int{}
	for _, p := range plan(testSuite(), nil) {
		order[p.name] = p.index
	}
	for _, a := range disp.runs {
		for _, b := range disp.runs {
			if order[b.stage] == order[a.stage]+1 && b.start.Before(a.end) {
				t.Errorf("%s started %s on %s before %s ended on %s", b.stage, b.start.Format("15:04:05.000"), b.slave, a.stage, a.slave)
			}
		}
	}
}

func TestTagsSubstitutedPerSlave(t *testing.T) {
	disp := &fakeDispatcher{}
	runSession(t, testSuite(), disp, nil)
	for _, r := range disp.runs {
		if r.stage == "suite_init" && r.script != "#!/bin/bash\necho init "+r.slave+"\n" {
			t.Errorf("script on %s = %q", r.slave, r.script)
		}
	}
}

func TestSubstitute(t *testing.T) {
	got := substitute("@slavename@ @port@ @proto@ @other@\n@diskmounts@", tagValues{slaveName: "a.xrd.test", webPort: 8080, webProto: "https",
		disks: []definition.Disk{{Name: "d", Device: "vdb", MountPoint: "/data"}}})
	want := "a.xrd.test 8080 https @other@\nmkdir -p '/data' && { mountpoint -q '/data' || mount -t ext4 -o user_xattr '/dev/vdb' '/data'; } && chown \"${XROOTD_USER}:${XROOTD_GROUP}\" '/data'"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := substitute("x @diskmounts@ y", tagValues{}); got != "x  y" {
		t.Errorf("no disks: %q", got)
	}
}
