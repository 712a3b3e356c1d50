package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/hypervisor"
	"github.com/xrdtest/xrdtest/internal/store"
)

// Holding a failed session: at its first failed stage, before any
// finalize, a session asked to hold (StartOptions.Hold, the suite's
// ts.hold_on_failure) waits with its cluster and everything running on
// it up, state held, until a user releases it (Release), its deadline
// passes (HoldUntil; Extend moves it, up to Settings.MaxHold from when it
// was held) or it is cancelled. Then it goes on as it would have:
// finalizes, logs, the cluster stopped. Its machines stay reserved and
// its clusters in use all along. A master that shuts down leaves a held
// session held; the next one goes on with it (ResumeHeld).

// DefaultMaxHold is Settings.MaxHold's default ([session] max_hold).
const DefaultMaxHold = 4 * time.Hour

// Errors of the hold actions; test them with errors.Is.
var (
	// ErrNotHeld: a release or extension of a session that is not held.
	ErrNotHeld = errors.New("not held")
	// ErrBadHold: a hold longer than Settings.MaxHold allows.
	ErrBadHold = errors.New("bad hold")
)

// holdEnd is how a hold ended.
type holdEnd int

const (
	holdReleased    holdEnd = iota // by a user or the deadline: go on
	holdCancelled                  // the session was cancelled: go on, cancelled
	holdInterrupted                // the master shuts down: stop, still held
)

// holdState is the hold of one session.
type holdState struct {
	mu       sync.Mutex
	duration time.Duration // asked for (0: no hold)
	held     bool
	since    time.Time // when it was held
	until    time.Time
	by       string        // who released it
	wake     chan struct{} // closed and replaced on a release or a new deadline
	// session is the session's record, which the session's goroutine
	// owns; while held, it is written under mu only (Extend writes it
	// too).
	session *store.Session
}

func newHoldState(d time.Duration) *holdState {
	return &holdState{duration: d, wake: make(chan struct{})}
}

// signal wakes the waiting session; h.mu is held.
func (h *holdState) signal() {
	close(h.wake)
	h.wake = make(chan struct{})
}

// maxHold is Settings.MaxHold or its default.
func (m *Manager) maxHold() time.Duration {
	if m.Settings.MaxHold > 0 {
		return m.Settings.MaxHold
	}
	return DefaultMaxHold
}

// holdFor is how long a session of a suite holding for asked (0: the
// suite's ts.hold_on_failure) holds at its first failure, bounded by
// MaxHold, with a note when the suite's value was cut.
func (m *Manager) holdFor(asked, suites time.Duration) (time.Duration, string) {
	if asked > 0 {
		return asked, ""
	}
	if suites > m.maxHold() {
		return m.maxHold(), fmt.Sprintf("ts.hold_on_failure %s cut to the master's max_hold %s", suites, m.maxHold())
	}
	return suites, ""
}

// holder returns the engine's hold of session s, nil when it does not
// hold.
func (m *Manager) holder(s *store.Session, a *activeSession) func(ctx context.Context, failed string) holdEnd {
	if a.hold.duration <= 0 {
		return nil
	}
	return func(ctx context.Context, failed string) holdEnd {
		now := m.clock().Now()
		h := a.hold
		h.mu.Lock()
		h.held, h.since, h.until, h.session = true, now, now.Add(h.duration), s
		until := h.until
		s.State, s.HoldUntil = store.SessionHeld, until
		m.update(ctx, s)
		h.mu.Unlock()
		m.event(ctx, s.ID, "hold", fmt.Sprintf("held after %s failed: the cluster stays up until %s (xrdtest hold release %d)",
			failed, until.Format(time.RFC3339), s.ID))
		m.Log.Info("session held", "session", s.ID, "failed", failed, "until", until)
		return m.awaitRelease(ctx, s, a)
	}
}

// awaitRelease waits until the held session s is released, its deadline
// passes, it is cancelled or the master shuts down, and records it going
// on (state running again) unless the master shuts down.
func (m *Manager) awaitRelease(ctx context.Context, s *store.Session, a *activeSession) holdEnd {
	h := a.hold
	end, why := holdReleased, ""
	for why == "" {
		h.mu.Lock()
		until, wake, by := h.until, h.wake, h.by
		h.mu.Unlock()
		if by != "" {
			why = "released by " + by
			break
		}
		due := func() {
			h.mu.Lock()
			if h.until.Equal(until) && h.by == "" {
				h.by = "the deadline"
				h.signal()
			}
			h.mu.Unlock()
		}
		timer := m.clock().AfterFunc(until.Sub(m.clock().Now()), due)
		// A clock that moved on between Now and AfterFunc would set the
		// timer late: the deadline is absolute.
		if !m.clock().Now().Before(until) {
			due()
		}
		select {
		case <-wake:
		case <-a.cancel:
			end, why = holdCancelled, "cancelled"
		case <-ctx.Done():
			timer.Stop()
			m.Log.Info("the master shuts down: the held session stays held", "session", s.ID, "until", until)
			return holdInterrupted
		}
		timer.Stop()
	}
	h.mu.Lock()
	h.held = false
	s.State, s.HoldUntil = store.SessionRunning, time.Time{}
	m.update(ctx, s)
	h.mu.Unlock()
	m.event(ctx, s.ID, "hold", fmt.Sprintf("hold ended, %s: the session goes on", why))
	m.Log.Info("held session goes on", "session", s.ID, "why", why)
	return end
}

// heldSession returns the hold of session id, or an error saying why it
// is not held.
func (m *Manager) heldSession(ctx context.Context, id int64) (*holdState, error) {
	m.mu.Lock()
	a := m.running[id]
	m.mu.Unlock()
	if a != nil && a.hold != nil {
		a.hold.mu.Lock()
		held := a.hold.held && a.hold.by == ""
		a.hold.mu.Unlock()
		if held {
			return a.hold, nil
		}
	}
	s, err := m.Store.Session(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("no session %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("session %d is %w (it is %s)", id, ErrNotHeld, s.State)
}

// Release ends the hold of session id: it goes on as it would have
// (finalizes, logs, its cluster stopped). by names who asked.
func (m *Manager) Release(ctx context.Context, id int64, by string) error {
	h, err := m.heldSession(ctx, id)
	if err != nil {
		return err
	}
	h.mu.Lock()
	if h.by == "" {
		h.by = by
		h.signal()
	}
	h.mu.Unlock()
	return nil
}

// Extend moves the deadline of held session id by d; the session may not
// be held longer than Settings.MaxHold in all. It returns the new
// deadline.
func (m *Manager) Extend(ctx context.Context, id int64, d time.Duration, by string) (time.Time, error) {
	if d <= 0 {
		return time.Time{}, fmt.Errorf("%w: extend by a positive duration, not %s", ErrBadHold, d)
	}
	h, err := m.heldSession(ctx, id)
	if err != nil {
		return time.Time{}, err
	}
	h.mu.Lock()
	if !h.held || h.by != "" {
		h.mu.Unlock()
		return time.Time{}, fmt.Errorf("session %d is %w: it was released", id, ErrNotHeld)
	}
	until, latest := h.until.Add(d), h.since.Add(m.maxHold())
	if until.After(latest) {
		h.mu.Unlock()
		return time.Time{}, fmt.Errorf("%w: session %d may be held until %s at the latest (max_hold %s from %s), not %s",
			ErrBadHold, id, latest.Format(time.RFC3339), m.maxHold(), h.since.Format(time.RFC3339), until.Format(time.RFC3339))
	}
	h.until = until
	h.session.HoldUntil = until
	m.update(ctx, h.session)
	h.signal()
	h.mu.Unlock()
	m.event(ctx, id, "hold", fmt.Sprintf("hold extended by %s to %s by %s", d, until.Format(time.RFC3339), by))
	return until, nil
}

// ResumeHeld takes over the sessions a previous master left held: each
// stays held until its deadline (or a release, a cancel), its machines
// reserved and its clusters in use, then goes on as it would have, from
// the stage after its failure. Call it once, before the master serves
// and its scheduler runs. It returns the held sessions' clusters: a
// hypervisor that reconnects with them keeps them (daemons.Hypervisors.Keep).
func (m *Manager) ResumeHeld(ctx context.Context) ([]string, error) {
	held, _, err := m.Store.Sessions(ctx, store.Filter{States: []store.SessionState{store.SessionHeld}})
	if err != nil {
		return nil, fmt.Errorf("cannot read the held sessions: %w", err)
	}
	defs := m.Definitions()
	var keep []string
	for _, s := range held {
		suite := defs.Suite(s.Suite)
		if suite == nil {
			m.finish(ctx, s, store.SessionFailed, fmt.Sprintf("held when the master stopped, and its suite %s is no longer defined: it cannot go on", s.Suite))
			continue
		}
		since, err := m.heldSince(ctx, s)
		if err != nil {
			return nil, err
		}
		a := &activeSession{cancel: make(chan struct{}), done: make(chan struct{}), clusters: suite.Clusters, retries: suite.Retries,
			hold: newHoldState(s.HoldUntil.Sub(since))}
		a.hold.held, a.hold.since, a.hold.until, a.hold.session = true, since, s.HoldUntil, s
		ectx, interrupt := context.WithCancelCause(context.WithoutCancel(ctx))
		a.interrupt = interrupt
		m.mu.Lock()
		m.init()
		m.running[s.ID] = a
		m.bySuite[suite.Name]++
		for _, h := range s.Machines {
			m.reserved[h] = s.ID
		}
		m.wg.Add(1)
		m.mu.Unlock()
		keep = append(keep, suite.Clusters...)
		m.event(ctx, s.ID, "hold", fmt.Sprintf("still held after the master's restart, until %s", s.HoldUntil.Format(time.RFC3339)))
		m.Log.Info("held session taken over", "session", s.ID, "until", s.HoldUntil)
		m.goRun(ectx, interrupt, s, suite, a, func() bool { return m.resume(ectx, s, suite, defs, a) })
	}
	return keep, nil
}

// heldSince is when session s was held: its last hold event.
func (m *Manager) heldSince(ctx context.Context, s *store.Session) (time.Time, error) {
	evs, err := m.Store.Events(ctx, s.ID)
	if err != nil {
		return time.Time{}, fmt.Errorf("cannot read the events of held session %d: %w", s.ID, err)
	}
	since := s.Started
	for _, e := range evs {
		if e.Kind == "hold" && strings.HasPrefix(e.Message, "held after ") {
			since = e.Time
		}
	}
	return since, nil
}

// resume carries out a held session a previous master left: the rest of
// the hold, then its stages from the one after its failure. It reports
// whether the session ended, as execute does.
func (m *Manager) resume(ctx context.Context, s *store.Session, suite *definition.Suite, defs *definition.Set, a *activeSession) bool {
	log := m.Log.With("session", s.ID, "suite", s.Suite)
	defer m.release(s.ID)
	clusters, hosts := suiteClusters(defs, suite)
	keep := false
	if m.Clusters != nil {
		defer func() {
			if !keep {
				m.stopClusters(ctx, clusters, log)
			}
		}()
	}
	end := m.awaitRelease(ctx, s, a)
	if end == holdInterrupted {
		keep = true
		return false
	}
	if !m.waitSlaves(ctx, s, a) {
		return true
	}
	r, p := m.engine(ctx, s, suite, hosts, clusters, a, log)
	next, err := m.replay(ctx, s.ID, p)
	if err != nil {
		m.finish(ctx, s, store.SessionFailed, "cannot go on after the master's restart: "+err.Error())
		return true
	}
	if end == holdCancelled {
		p.cancel()
	}
	m.healLeftovers(ctx, s.ID, clusters, log)
	state, reason := r.run(ctx, p, next)
	keep = state == store.SessionHeld
	return m.conclude(ctx, s, suite, state, reason, log)
}

// replay rebuilds the progress of session id from its recorded stages.
func (m *Manager) replay(ctx context.Context, id int64, p *progress) (int, error) {
	d, err := store.Detail(ctx, m.Store, id)
	if err != nil {
		return 0, err
	}
	return p.replay(d.Stages)
}

// healLeftovers heals the faults a previous master left on the clusters
// of a session it held: nobody knows them any more, and the finalizes
// that follow expect none.
func (m *Manager) healLeftovers(ctx context.Context, id int64, clusters []*definition.Cluster, log *slog.Logger) {
	inj, ok := m.Clusters.(hypervisor.FaultInjector)
	if !ok {
		return
	}
	for _, c := range clusters {
		if err := inj.HealFaults(ctx, c.Name); err != nil {
			log.Warn("cannot heal the faults left on a held cluster", "cluster", c.Name, "err", err)
			m.event(ctx, id, "fault", fmt.Sprintf("cannot heal the faults left on cluster %s: %v", c.Name, err))
		}
	}
}
