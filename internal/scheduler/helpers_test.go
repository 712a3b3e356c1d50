package scheduler

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/cron"
	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/testutil"
)

// loc is the master's local time in the tests: UTC+1, no DST.
var loc = time.FixedZone("UTC+1", 3600)

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04:05", s, loc)
	if err != nil {
		panic(err)
	}
	return t
}

func suite(t *testing.T, name string, fields map[string]string) *definition.Suite {
	t.Helper()
	sc, err := cron.Parse(fields)
	if err != nil {
		t.Fatalf("cron.Parse(%v): %v", fields, err)
	}
	return &definition.Suite{Name: name, Cron: sc}
}

type startRec struct {
	Suite string
	At    time.Time
}

// fakeStarter records starts; a started session "runs" until end is called
// when keepRunning is set.
type fakeStarter struct {
	clk         Clock
	mu          sync.Mutex
	keepRunning bool
	running     map[string]bool
	starts      []startRec
	failNext    map[string]error
	id          int64
}

func (f *fakeStarter) Start(_ context.Context, suite string, cases []string, by string) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if by != TriggeredBy || len(cases) != 0 {
		panic("unexpected Start arguments")
	}
	if err := f.failNext[suite]; err != nil {
		delete(f.failNext, suite)
		return 0, err
	}
	if f.running == nil {
		f.running = map[string]bool{}
	}
	if f.keepRunning {
		if f.running[suite] {
			panic("Start while running: " + suite)
		}
		f.running[suite] = true
	}
	f.starts = append(f.starts, startRec{suite, f.clk.Now().In(loc)})
	f.id++
	return f.id, nil
}

func (f *fakeStarter) Running(suite string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.running[suite]
}

func (f *fakeStarter) end(suite string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.running, suite)
}

func (f *fakeStarter) fail(suite string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failNext == nil {
		f.failNext = map[string]error{}
	}
	f.failNext[suite] = err
}

func (f *fakeStarter) started() []startRec {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]startRec(nil), f.starts...)
}

type fakeStore struct {
	mu sync.Mutex
	m  map[string]bool
}

func (s *fakeStore) SetSuiteEnabled(_ context.Context, suite string, enabled bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]bool{}
	}
	s.m[suite] = enabled
	return nil
}

func (s *fakeStore) SuiteEnabled(_ context.Context, suite string) (bool, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	en, ok := s.m[suite]
	return en, ok, nil
}

// syncBuf is a log sink the scheduler writes while the test reads.
type syncBuf struct{ testutil.SyncBuffer }

func (b *syncBuf) count(sub string) int { return strings.Count(b.String(), sub) }

type harness struct {
	t     *testing.T
	clk   *FakeClock
	st    *fakeStarter
	store *fakeStore
	logs  *syncBuf
	s     *Scheduler
	stop  func()
}

type opts struct {
	disabled bool // global [scheduler] enabled = 0
	overlap  Overlap
	store    *fakeStore
	recheck  time.Duration
}

func newHarness(t *testing.T, start time.Time, o opts, suites ...*definition.Suite) *harness {
	t.Helper()
	h := &harness{t: t, clk: NewFakeClock(start), logs: &syncBuf{}, store: o.store}
	if h.store == nil {
		h.store = &fakeStore{}
	}
	h.st = &fakeStarter{clk: h.clk}
	h.start(o, suites...)
	return h
}

// start creates and runs a new Scheduler on the harness' clock, starter
// and store (stopping the previous one).
func (h *harness) start(o opts, suites ...*definition.Suite) {
	h.t.Helper()
	if h.stop != nil {
		h.stop()
	}
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.s = New(Config{Enabled: !o.disabled, Overlap: o.overlap, Clock: h.clk, Location: loc, Log: log, Recheck: o.recheck}, h.st, h.store)
	h.s.SetSuites(suites)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.s.Run(ctx) }()
	h.stop = func() { cancel(); <-done }
	h.t.Cleanup(func() {
		if h.stop != nil {
			h.stop()
			h.stop = nil
		}
	})
	h.sync()
}

// sync waits until the loop has handled everything due at the clock's time.
func (h *harness) sync() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !h.s.sync(ctx) {
		h.t.Fatal("scheduler loop did not answer")
	}
}

func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	h.clk.Advance(d)
	h.sync()
}

func (h *harness) advanceTo(t time.Time) {
	h.t.Helper()
	h.clk.Set(t)
	h.sync()
}

func (h *harness) next(suite string) NextRun {
	h.t.Helper()
	for _, nr := range h.s.NextRuns() {
		if nr.Suite == suite {
			return nr
		}
	}
	h.t.Fatalf("suite %s not in NextRuns", suite)
	return NextRun{}
}

func (h *harness) wantStarts(want ...startRec) {
	h.t.Helper()
	got := h.st.started()
	if len(got) != len(want) {
		h.t.Fatalf("starts = %v, want %v", got, want)
	}
	for i := range got {
		if got[i].Suite != want[i].Suite || !got[i].At.Equal(want[i].At) {
			h.t.Fatalf("starts = %v, want %v", got, want)
		}
	}
}

var errBoom = errors.New("boom")
