// Package scheduler runs test suites on their schedules: APScheduler 2.0.3
// cron dicts parsed by package cron. One loop sleeps on an injected Clock
// until the earliest next run, starts the due suites through a Starter
// (the master's session manager) and computes their next runs.
//
// Semantics:
//   - Next runs are computed on the wall clock of Config.Location (the
//     master's local time), strictly after the fire time.
//   - Missed runs are coalesced: when the loop wakes up past several fire
//     times of a suite (the master slept, the clock jumped) the suite runs
//     once and the misses are logged. Unlike 2.0.3 there is no
//     misfire_grace_time: a late run still starts.
//   - Overlap: a fire while the same suite is still running is queued
//     (Overlap "queue", the default: at most ONE pending run per suite,
//     further fires are dropped with a log line; the pending run starts
//     once the running session has ended) or dropped (Overlap "skip").
//     Different suites run concurrently; the Manager serialises sessions
//     that share machines.
//   - A disabled suite (per-suite state, persisted in an EnableStore) and
//     all suites while Config.Enabled is false do not fire; their next
//     runs are still computed and listed by NextRuns.
package scheduler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/xrdtest/xrdtest/internal/api"

	"github.com/xrdtest/xrdtest/internal/definition"
)

// TriggeredBy is the triggeredBy of the sessions the scheduler starts.
const TriggeredBy = "schedule"

// DefaultRecheck is the default Config.Recheck.
const DefaultRecheck = 30 * time.Second

// maxMissCount bounds the counting of missed fire times after a long sleep.
const maxMissCount = 10000

// ErrUnknownSuite is returned by SetEnabled for a suite not loaded.
var ErrUnknownSuite = errors.New("unknown suite")

// Starter starts sessions; the master adapts its session Manager to it.
type Starter interface {
	// Start starts a session of suite (all cases when cases is empty).
	Start(ctx context.Context, suite string, cases []string, by string) (id int64, err error)
	// Running reports whether a session of suite was started and has not
	// ended yet (queued for machines counts as running).
	Running(suite string) bool
}

// EnableStore persists the per-suite enable state; store.Store satisfies it.
type EnableStore interface {
	SetSuiteEnabled(ctx context.Context, suite string, enabled bool) error
	// SuiteEnabled returns the recorded state; known is false when it was
	// never set (the suite is then enabled).
	SuiteEnabled(ctx context.Context, suite string) (enabled, known bool, err error)
}

// Overlap says what happens when a suite fires while it is still running.
type Overlap string

// Overlap policies.
const (
	OverlapQueue Overlap = "queue" // default: keep one pending run
	OverlapSkip  Overlap = "skip"  // drop the fire
)

// ParseOverlap parses a configuration value; "" is OverlapQueue.
func ParseOverlap(s string) (Overlap, error) {
	switch Overlap(s) {
	case "", OverlapQueue:
		return OverlapQueue, nil
	case OverlapSkip:
		return OverlapSkip, nil
	}
	return "", fmt.Errorf("invalid overlap policy %q (want queue or skip)", s)
}

// Config configures a Scheduler. Zero fields get defaults.
type Config struct {
	// Enabled is the [scheduler] enabled switch: false fires nothing.
	Enabled bool
	// Overlap: "" or "queue" (default), or "skip".
	Overlap Overlap
	// Clock defaults to RealClock.
	Clock Clock
	// Location is the master's local time zone, in which the cron
	// schedules are evaluated; nil means time.Local.
	Location *time.Location
	// Log defaults to a discarding logger.
	Log *slog.Logger
	// Recheck bounds how long a pending (queued) run waits before the
	// scheduler polls Starter.Running again when SessionEnded is not
	// called; 0 means DefaultRecheck.
	Recheck time.Duration
}

// NextRun is one line of NextRuns: a suite's next run, the API's wire
// type.
type NextRun = api.NextRun

type entry struct {
	suite   *definition.Suite
	next    time.Time // zero: never
	enabled bool
	pending bool
}

// Scheduler fires suites on their schedules. Its methods are safe for
// concurrent use; Run must be called once.
type Scheduler struct {
	cfg     Config
	starter Starter
	store   EnableStore
	log     *slog.Logger

	wake    chan struct{}      // buffered 1: state changed, re-plan
	syncReq chan chan struct{} // tests: run one iteration and reply

	mu      sync.Mutex
	entries map[string]*entry
}

// New returns a Scheduler with no suites; call SetSuites and Run.
func New(cfg Config, st Starter, enabled EnableStore) *Scheduler {
	if cfg.Clock == nil {
		cfg.Clock = RealClock{}
	}
	if cfg.Location == nil {
		cfg.Location = time.Local
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Recheck <= 0 {
		cfg.Recheck = DefaultRecheck
	}
	if cfg.Overlap == "" {
		cfg.Overlap = OverlapQueue
	}
	if cfg.Overlap != OverlapQueue && cfg.Overlap != OverlapSkip {
		cfg.Log.Warn("scheduler: unknown overlap policy, using queue", "overlap", string(cfg.Overlap))
		cfg.Overlap = OverlapQueue
	}
	return &Scheduler{
		cfg:     cfg,
		starter: st,
		store:   enabled,
		log:     cfg.Log,
		wake:    make(chan struct{}, 1),
		syncReq: make(chan chan struct{}),
		entries: map[string]*entry{},
	}
}

func (s *Scheduler) now() time.Time { return s.cfg.Clock.Now().In(s.cfg.Location) }

// nextAfter is the suite's first fire time strictly after t (zero: never).
func (s *Scheduler) nextAfter(su *definition.Suite, t time.Time) time.Time {
	if su.Cron == nil {
		return time.Time{}
	}
	return su.Cron.Next(t.In(s.cfg.Location))
}

func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func sameSchedule(a, b *definition.Suite) bool {
	if a.Cron == nil || b.Cron == nil {
		return a.Cron == b.Cron
	}
	return a.Cron == b.Cron || a.Cron.String() == b.Cron.String()
}

// SetSuites (re)loads the suites. Suites that stay keep their enable
// state, pending run and (if their schedule is unchanged) next run; new
// suites and changed schedules get their next run computed from now, new
// suites read their enable state from the EnableStore; removed suites stop
// (a pending run of theirs is dropped).
func (s *Scheduler) SetSuites(suites []*definition.Suite) {
	s.mu.Lock()
	var fresh []string
	for _, su := range suites {
		if _, ok := s.entries[su.Name]; !ok {
			fresh = append(fresh, su.Name)
		}
	}
	s.mu.Unlock()

	// Read the store without holding the lock.
	stored := map[string]bool{}
	for _, name := range fresh {
		stored[name] = s.loadEnabled(name)
	}

	s.mu.Lock()
	now := s.now()
	entries := make(map[string]*entry, len(suites))
	for _, su := range suites {
		if e, ok := s.entries[su.Name]; ok {
			if !sameSchedule(e.suite, su) {
				e.next = s.nextAfter(su, now)
				s.log.Info("scheduler: schedule changed", "suite", su.Name, "next", e.next)
			}
			e.suite = su
			entries[su.Name] = e
			continue
		}
		en, ok := stored[su.Name]
		if !ok { // added between the two locked sections
			en = true
		}
		entries[su.Name] = &entry{suite: su, next: s.nextAfter(su, now), enabled: en}
	}
	for name, e := range s.entries {
		if _, ok := entries[name]; !ok {
			s.log.Info("scheduler: suite removed", "suite", name, "pending_dropped", e.pending)
		}
	}
	s.entries = entries
	s.mu.Unlock()
	s.poke()
}

func (s *Scheduler) loadEnabled(name string) bool {
	if s.store == nil {
		return true
	}
	en, known, err := s.store.SuiteEnabled(context.Background(), name)
	if err != nil {
		s.log.Error("scheduler: cannot read suite enable state, assuming enabled", "suite", name, "err", err)
		return true
	}
	return !known || en
}

// SetEnabled enables or disables a suite and persists the choice. A
// disabled suite does not fire and loses its pending run; a re-enabled one
// next fires at its first fire time after now.
func (s *Scheduler) SetEnabled(ctx context.Context, suite string, on bool) error {
	s.mu.Lock()
	_, ok := s.entries[suite]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownSuite, suite)
	}
	if s.store != nil {
		if err := s.store.SetSuiteEnabled(ctx, suite, on); err != nil {
			return fmt.Errorf("cannot record the state of suite %s: %w", suite, err)
		}
	}
	s.mu.Lock()
	if e, ok := s.entries[suite]; ok && e.enabled != on {
		e.enabled = on
		if on {
			e.next = s.nextAfter(e.suite, s.now())
		} else {
			e.pending = false
		}
		s.log.Info("scheduler: suite enable state changed", "suite", suite, "enabled", on, "next", e.next)
	}
	s.mu.Unlock()
	s.poke()
	return nil
}

// SessionEnded tells the scheduler that a session of suite ended, so a
// pending run starts without waiting for the Recheck poll. Call it once
// Starter.Running(suite) reports false.
func (s *Scheduler) SessionEnded(suite string) { s.poke() }

// NextRuns lists the suites by next fire time (never-firing ones last),
// then name.
func (s *Scheduler) NextRuns() []NextRun {
	s.mu.Lock()
	out := make([]NextRun, 0, len(s.entries))
	for name, e := range s.entries {
		out = append(out, NextRun{Suite: name, Next: e.next, Enabled: s.cfg.Enabled && e.enabled, SuiteEnabled: e.enabled, Pending: e.pending})
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b NextRun) int {
		switch {
		case a.Next.IsZero() != b.Next.IsZero():
			if a.Next.IsZero() {
				return 1
			}
			return -1
		case !a.Next.Equal(b.Next):
			return a.Next.Compare(b.Next)
		}
		return cmp.Compare(a.Suite, b.Suite)
	})
	return out
}

// Run is the scheduling loop; it returns when ctx is done.
func (s *Scheduler) Run(ctx context.Context) {
	if !s.cfg.Enabled {
		s.log.Info("scheduler: disabled, scheduled suites will not run")
	}
	var reply chan struct{}
	for {
		deadline, timed := s.iterate(ctx)
		if reply != nil {
			close(reply)
			reply = nil
		}
		var timer <-chan time.Time
		if timed {
			// Measured again: time passed while iterate started sessions.
			timer = s.cfg.Clock.After(deadline.Sub(s.cfg.Clock.Now()))
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-timer:
		case reply = <-s.syncReq:
		}
	}
}

// sync makes Run do one full iteration at the clock's current time and
// waits for it (for tests). It returns false if ctx ends first.
func (s *Scheduler) sync(ctx context.Context) bool {
	done := make(chan struct{})
	select {
	case s.syncReq <- done:
	case <-ctx.Done():
		return false
	}
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

// action is what one iteration does for one suite, decided under the lock
// and carried out without it.
type action struct {
	name       string
	e          *entry
	tryPending bool      // a pending run may start
	fire       bool      // a fire time is due
	fireTime   time.Time // the (latest) fire time due
}

// iterate fires what is due and returns when to wake up (timed false:
// only when woken).
func (s *Scheduler) iterate(ctx context.Context) (deadline time.Time, timed bool) {
	s.mu.Lock()
	now := s.now()
	var acts []action
	for name, e := range s.entries {
		active := s.cfg.Enabled && e.enabled
		a := action{name: name, e: e, tryPending: active && e.pending}
		if !e.next.IsZero() && !now.Before(e.next) {
			a.fireTime, a.fire = s.advance(name, e, now, active), active
		}
		if !active {
			e.pending = false
		}
		if a.tryPending || a.fire {
			acts = append(acts, a)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(acts, func(a, b action) int { return cmp.Compare(a.name, b.name) })

	for _, a := range acts {
		s.carryOut(ctx, a)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var earliest time.Time
	pending := false
	for _, e := range s.entries {
		pending = pending || e.pending
		if !e.next.IsZero() && (earliest.IsZero() || e.next.Before(earliest)) {
			earliest = e.next
		}
	}
	deadline, timed = earliest, !earliest.IsZero()
	if recheck := now.Add(s.cfg.Recheck); pending && (!timed || deadline.After(recheck)) {
		deadline, timed = recheck, true
	}
	return deadline, timed
}

// advance moves e.next past now and returns the latest fire time that was
// due; the earlier ones are missed (coalesced) and logged. Called with
// s.mu held and e.next due.
func (s *Scheduler) advance(name string, e *entry, now time.Time, active bool) time.Time {
	first := e.next
	last := first
	missed := 0
	next := s.nextAfter(e.suite, first)
	for !next.IsZero() && !next.After(now) {
		if missed == maxMissCount {
			next = s.nextAfter(e.suite, now)
			missed = -1 // too many to count
			break
		}
		missed++
		last = next
		next = s.nextAfter(e.suite, next)
	}
	e.next = next
	if active && missed != 0 {
		// 2.0.3 with coalesce=True: several due run times, one run.
		s.log.Warn("scheduler: missed fire times coalesced into one run", "suite", name,
			"first_missed", first, "missed", missed, "late_by", now.Sub(last))
	}
	return last
}

// carryOut starts a pending run and/or handles a due fire for one suite.
func (s *Scheduler) carryOut(ctx context.Context, a action) {
	pending := a.tryPending
	if pending && !s.starter.Running(a.name) {
		s.start(ctx, a.name, "pending run", time.Time{})
		pending = false
	}
	if a.fire {
		if s.starter.Running(a.name) {
			switch {
			case s.cfg.Overlap == OverlapSkip:
				s.log.Warn("scheduler: suite still running, fire skipped", "suite", a.name, "fire_time", a.fireTime)
			case pending:
				s.log.Warn("scheduler: suite still running and a run already queued, fire dropped", "suite", a.name, "fire_time", a.fireTime)
			default:
				s.log.Info("scheduler: suite still running, run queued", "suite", a.name, "fire_time", a.fireTime)
				pending = true
			}
		} else {
			s.start(ctx, a.name, "scheduled run", a.fireTime)
		}
	}
	s.mu.Lock()
	if s.entries[a.name] == a.e && a.e.enabled && s.cfg.Enabled {
		a.e.pending = pending
	}
	s.mu.Unlock()
}

func (s *Scheduler) start(ctx context.Context, name, what string, fireTime time.Time) {
	id, err := s.starter.Start(ctx, name, nil, TriggeredBy)
	if err != nil {
		s.log.Error("scheduler: cannot start suite", "suite", name, "run", what, "err", err)
		return
	}
	if fireTime.IsZero() { // a queued run: its fire time was logged when it was queued
		s.log.Info("scheduler: suite started", "suite", name, "run", what, "session", id)
		return
	}
	s.log.Info("scheduler: suite started", "suite", name, "run", what, "session", id, "fire_time", fireTime)
}
