package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/faults"
	"github.com/xrdtest/xrdtest/internal/hypervisor"
	"github.com/xrdtest/xrdtest/internal/store"
)

// Settings are the master-wide defaults of a session.
type Settings struct {
	StageTimeout time.Duration // when the suite sets none
	KillGrace    time.Duration // between TERM and KILL
	SlaveWait    time.Duration // how long a session waits for its slaves
	WebPort      int           // @port@
	WebProto     string        // @proto@
	LogMaxBytes  int64         // per collected log file, from its end (0: all)
	// MaxHold bounds how long a failed session is held in all (0:
	// DefaultMaxHold).
	MaxHold time.Duration
}

// Manager starts, runs, cancels and records sessions.
type Manager struct {
	Store store.Store
	// Slaves runs the stages and collects the logs.
	Slaves Slaves
	// Sync answers the scripts' `xrdtest sync` calls (nil: none); the
	// daemons pass it the calls, the sessions tell it their stages.
	Sync *SyncHub
	// Faults answers the scripts' `xrdtest fault` calls (nil: none), as
	// Sync does theirs.
	Faults *faults.Hub
	// Definitions returns the current definitions; a session keeps the
	// snapshot it started with.
	Definitions func() *definition.Set
	// Clusters brings the suites' clusters up and down (nil: the slaves
	// of physical machines connect by themselves).
	Clusters hypervisor.Backend
	// Endpoint is the master as cluster machines see it (port, CA pin).
	Endpoint hypervisor.MasterEndpoint
	// Tokens issues the machines' one-time enrollment tokens.
	Tokens   TokenIssuer
	Settings Settings
	Log      *slog.Logger
	// Changed is called when a session's record changed (live views).
	Changed func(session int64)
	// Ended is called once a session has ended and is fully recorded (the
	// scheduler's queue, alert mails).
	Ended func(s *store.Session, suite *definition.Suite)
	// ObserveStage, if set, is told of every stage a slave ran (metrics).
	ObserveStage func(kind StageKind, r *store.Result)
	// CaseEnded is called, in the session's goroutine, when a test case of
	// a running session has ended and its results are recorded (the CASE
	// alert mails); it must not block for long.
	CaseEnded func(s *store.Session, suite *definition.Suite, caseName string)
	// Clock dates what the sessions record and times the hold-back of
	// running results (nil: the real time).
	Clock Clock

	mu       sync.Mutex
	running  map[int64]*activeSession
	bySuite  map[string]int          // active sessions per suite
	reserved map[string]int64        // machine -> session holding it
	released chan struct{}           // closed and replaced when machines are released
	stopping map[string]string       // cluster -> who is stopping it (StopCluster)
	pending  map[*activeSession]bool // being recorded by Start
	wg       sync.WaitGroup
	closing  bool // Shutdown was called: no new sessions

}

type activeSession struct {
	cancel     chan struct{}
	cancelOnce sync.Once
	done       chan struct{}
	clusters   []string // the suite's clusters (StopCluster refuses them)
	retries    int      // of each failed case
	seed       int64    // of the fault schedule (0: the suite's)
	hold       *holdState
	// interrupt ends the session's context with errShutdown.
	interrupt context.CancelCauseFunc
}

// ErrBadRetries: more retries asked for than definition.MaxRetries.
var ErrBadRetries = errors.New("bad retries")

// ErrUnknownSuite is returned when starting a suite that is not loaded.
var ErrUnknownSuite = errors.New("unknown suite")

// ErrShuttingDown is returned when starting a session while the master
// shuts down.
var ErrShuttingDown = errors.New("the master is shutting down")

// errShutdown is the cause of the context of a session the master's
// shutdown interrupts: the session ends interrupted, not cancelled.
var errShutdown = errors.New("the master shut down")

func (m *Manager) init() {
	if m.running == nil {
		m.running = map[int64]*activeSession{}
		m.bySuite = map[string]int{}
		m.reserved = map[string]int64{}
		m.released = make(chan struct{})
		m.stopping = map[string]string{}
		m.pending = map[*activeSession]bool{}
	}
}

// Start queues a session of suite (only the given cases, in suite order,
// when cases is not empty) and runs it in the background.
func (m *Manager) Start(ctx context.Context, suiteName string, cases []string, triggeredBy string) (*store.Session, error) {
	return m.StartWith(ctx, suiteName, cases, triggeredBy, StartOptions{Retries: -1})
}

// StartOptions are the options of a session asked for.
type StartOptions struct {
	// Retries is how many times a failed case runs again; negative: the
	// suite's ts.retries.
	Retries int
	// Seed seeds the suite's fault schedule instead of its ts.faults seed
	// (0: that one).
	Seed int64
	// Hold holds the session at its first failed stage for that long
	// (0: the suite's ts.hold_on_failure; see hold.go).
	Hold time.Duration
}

// StartWith is Start with options.
func (m *Manager) StartWith(ctx context.Context, suiteName string, cases []string, triggeredBy string, opts StartOptions) (*store.Session, error) {
	m.mu.Lock()
	closing := m.closing
	m.mu.Unlock()
	if closing {
		return nil, ErrShuttingDown
	}
	defs := m.Definitions()
	suite := defs.Suite(suiteName)
	if suite == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownSuite, suiteName)
	}
	var runCases []string
	for _, tc := range suite.Tests {
		if len(cases) == 0 || slices.Contains(cases, tc.Name) {
			runCases = append(runCases, tc.Name)
		}
	}
	for _, c := range cases {
		if !slices.Contains(runCases, c) {
			return nil, unknownCase(suite, c)
		}
	}
	// Registered as starting before it is recorded: StopCluster, which
	// checks the other way, cannot slip in between.
	if opts.Retries > definition.MaxRetries {
		return nil, fmt.Errorf("%w: at most %d retries, not %d", ErrBadRetries, definition.MaxRetries, opts.Retries)
	}
	retries := suite.Retries
	if opts.Retries >= 0 {
		retries = opts.Retries
	}
	if opts.Hold < 0 || opts.Hold > m.maxHold() {
		return nil, fmt.Errorf("%w: a session may be held from 0 to %s (the master's max_hold), not %s", ErrBadHold, m.maxHold(), opts.Hold)
	}
	hold, holdNote := m.holdFor(opts.Hold, suite.HoldOnFailure)
	a := &activeSession{cancel: make(chan struct{}), done: make(chan struct{}), clusters: suite.Clusters, retries: retries, seed: opts.Seed,
		hold: newHoldState(hold)}
	if err := m.addPending(a); err != nil {
		return nil, err
	}
	s := &store.Session{Suite: suite.Name, State: store.SessionQueued, Machines: suite.Machines, Cases: runCases, TriggeredBy: triggeredBy,
		RepoRevision: defs.Revision(suite)}
	if err := m.Store.CreateSession(ctx, s); err != nil {
		m.mu.Lock()
		delete(m.pending, a)
		m.mu.Unlock()
		return nil, fmt.Errorf("cannot record the session: %w", err)
	}
	ectx, interrupt := context.WithCancelCause(context.WithoutCancel(ctx))
	a.interrupt = interrupt
	m.mu.Lock()
	delete(m.pending, a)
	if m.closing {
		m.mu.Unlock()
		interrupt(errShutdown)
		m.finish(ctx, s, store.SessionInterrupted, errShutdown.Error()+" before the session started")
		return nil, ErrShuttingDown
	}
	m.running[s.ID] = a
	m.bySuite[suite.Name]++
	// Under the lock that Shutdown takes to set closing: its Wait sees
	// every session it did not refuse.
	m.wg.Add(1)
	m.mu.Unlock()
	m.event(ctx, s.ID, "queued", fmt.Sprintf("session of %s queued by %s", suite.Name, triggeredBy))
	if holdNote != "" {
		m.event(ctx, s.ID, "hold", holdNote)
	}
	snapshot := *s
	m.goRun(ectx, interrupt, &snapshot, suite, a, func() bool { return m.execute(ectx, &snapshot, suite, defs, a) })
	return s, nil
}

// goRun carries out session s in the background with f, which reports
// whether the session ended (false: it stays held for the next master).
func (m *Manager) goRun(ctx context.Context, interrupt context.CancelCauseFunc, s *store.Session, suite *definition.Suite, a *activeSession, f func() bool) {
	go func() {
		defer m.wg.Done()
		defer close(a.done)
		ended := f()
		interrupt(nil)
		m.mu.Lock()
		delete(m.running, s.ID)
		m.bySuite[suite.Name]--
		m.mu.Unlock()
		if ended && m.Ended != nil {
			m.Ended(s, suite)
		}
	}()
}

// Running reports whether a session of the suite is queued or running.
func (m *Manager) Running(suite string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bySuite[suite] > 0
}

// ErrNotRunning is returned when cancelling a session that has ended.
var ErrNotRunning = errors.New("not running")

// Cancel cancels a queued or running session: the running stage is
// stopped, finalize stages still run. A session that does not exist is
// store.ErrNotFound, one that has ended ErrNotRunning.
func (m *Manager) Cancel(id int64) error {
	m.mu.Lock()
	a := m.running[id]
	m.mu.Unlock()
	if a == nil {
		// A lookup by id: quick, and the callers have no deadline to give.
		s, err := m.Store.Session(context.Background(), id)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no session %d: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("session %d is %w (it is %s)", id, ErrNotRunning, s.State)
	}
	a.cancelOnce.Do(func() { close(a.cancel) })
	return nil
}

// Wait waits until the session has ended and returns its record.
func (m *Manager) Wait(ctx context.Context, id int64) (*store.Session, error) {
	m.mu.Lock()
	a := m.running[id]
	m.mu.Unlock()
	if a != nil {
		select {
		case <-a.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return m.Store.Session(ctx, id)
}

// Shutdown refuses new sessions and interrupts the running ones: their
// current stage is cancelled on the slaves (TERM, then KILL after the
// grace), what they reported so far is recorded, the stages left are
// recorded skipped and the sessions end interrupted; nothing of them runs
// again. It waits for them, bounded by ctx, and reports whether all ended
// (those that did not are marked interrupted at the next start).
func (m *Manager) Shutdown(ctx context.Context) bool {
	m.mu.Lock()
	m.closing = true
	var ids []int64
	for id, a := range m.running {
		ids = append(ids, id)
		a.interrupt(errShutdown)
	}
	m.mu.Unlock()
	if len(ids) > 0 {
		slices.Sort(ids)
		m.Log.Info("master shutting down: interrupting the sessions", "sessions", ids)
	}
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

func (m *Manager) event(ctx context.Context, id int64, kind, msg string) {
	if err := m.Store.AddEvent(context.WithoutCancel(ctx), store.Event{Session: id, Kind: kind, Message: msg}); err != nil {
		m.Log.Error("cannot record event", "session", id, "err", err)
	}
	m.notify(id)
}

func (m *Manager) notify(id int64) {
	if m.Changed != nil {
		m.Changed(id)
	}
}

func (m *Manager) update(ctx context.Context, s *store.Session) {
	if err := m.Store.UpdateSession(context.WithoutCancel(ctx), s); err != nil {
		m.Log.Error("cannot record session", "session", s.ID, "err", err)
	}
	m.notify(s.ID)
}

// finish records the final state of a session.
func (m *Manager) finish(ctx context.Context, s *store.Session, state store.SessionState, reason string) {
	s.State, s.Reason, s.Ended = state, reason, m.clock().Now()
	m.update(ctx, s)
	msg := string(state)
	if reason != "" {
		msg += ": " + reason
	}
	m.event(ctx, s.ID, "finished", msg)
	m.Log.Info("session finished", "session", s.ID, "suite", s.Suite, "state", state, "reason", reason)
}

// execute carries out session s: it queues it until its machines are
// free, starts its clusters, waits for the slaves and runs the stages. It
// reports whether the session ended: false when the master shut down while
// it was held (its cluster is left up for the next master, ResumeHeld).
func (m *Manager) execute(ctx context.Context, s *store.Session, suite *definition.Suite, defs *definition.Set, a *activeSession) bool {
	log := m.Log.With("session", s.ID, "suite", s.Suite)
	// Queued: wait until no other session holds these machines.
	if err := m.reserve(ctx, s.ID, s.Machines, a.cancel); err != nil {
		if ctx.Err() != nil {
			m.finish(ctx, s, store.SessionInterrupted, errShutdown.Error()+" before the session started")
			return true
		}
		m.finish(ctx, s, store.SessionCancelled, "cancelled while queued")
		return true
	}
	defer m.release(s.ID)

	clusters, hosts := suiteClusters(defs, suite)
	keep := false // the clusters outlive a session held at the master's shutdown
	if m.Clusters != nil {
		for i, c := range clusters {
			m.event(ctx, s.ID, "cluster", "starting cluster "+c.Name)
			spec := hypervisor.ClusterSpec{Cluster: c, Master: m.Endpoint, Tokens: map[string]string{}}
			for _, h := range c.Hosts {
				spec.Tokens[h.Name] = m.Tokens.Issue(h.Name)
			}
			pctx := hypervisor.WithProgress(ctx, func(host, phase string) {
				m.event(ctx, s.ID, "cluster", fmt.Sprintf("%s: %s", host, phase))
			})
			if err := m.Clusters.StartCluster(pctx, spec); err != nil {
				m.stopClusters(ctx, clusters[:i+1], log)
				if ctx.Err() != nil {
					m.finish(ctx, s, store.SessionInterrupted, fmt.Sprintf("%v while starting cluster %s", errShutdown, c.Name))
					return true
				}
				m.finish(ctx, s, store.SessionFailed, fmt.Sprintf("cannot start cluster %s: %v", c.Name, err))
				return true
			}
		}
		defer func() {
			if !keep {
				m.stopClusters(ctx, clusters, log)
			}
		}()
	}
	if !m.waitSlaves(ctx, s, a) {
		return true
	}
	s.State, s.Started = store.SessionRunning, m.clock().Now()
	m.update(ctx, s)
	m.event(ctx, s.ID, "started", "all slaves connected: "+strings.Join(s.Machines, ", "))
	r, p := m.engine(ctx, s, suite, hosts, clusters, a, log)
	r.hold = m.holder(s, a)
	state, reason := r.run(ctx, p, 0)
	keep = state == store.SessionHeld
	return m.conclude(ctx, s, suite, state, reason, log)
}

// suiteClusters returns the suite's clusters and their hosts by name.
func suiteClusters(defs *definition.Set, suite *definition.Suite) ([]*definition.Cluster, map[string]*definition.Host) {
	clusters := make([]*definition.Cluster, 0, len(suite.Clusters))
	hosts := map[string]*definition.Host{}
	for _, name := range suite.Clusters {
		if c := defs.Cluster(name); c != nil {
			clusters = append(clusters, c)
			for _, h := range c.Hosts {
				hosts[h.Name] = h
			}
		}
	}
	return clusters, hosts
}

// waitSlaves waits, bounded by Settings.SlaveWait, for every machine of s
// to be connected and idle. When they are not, it ends the session and
// returns false.
func (m *Manager) waitSlaves(ctx context.Context, s *store.Session, a *activeSession) bool {
	waitCtx, stop := context.WithTimeout(ctx, m.Settings.SlaveWait)
	go func() {
		select {
		case <-a.cancel:
			stop()
		case <-waitCtx.Done():
		}
	}()
	missing := m.Slaves.WaitForSlaves(waitCtx, s.Machines, func(slave string) {
		m.event(ctx, s.ID, "slave", slave+": slave connected")
	})
	stop()
	if len(missing) == 0 {
		return true
	}
	if ctx.Err() != nil {
		m.finish(ctx, s, store.SessionInterrupted, errShutdown.Error()+" while waiting for slaves")
		return false
	}
	select {
	case <-a.cancel:
		m.finish(ctx, s, store.SessionCancelled, "cancelled while waiting for slaves")
	default:
		m.finish(ctx, s, store.SessionFailed, fmt.Sprintf("slaves not connected and idle after %s: %s", m.Settings.SlaveWait, strings.Join(missing, ", ")))
	}
	return false
}

// engine makes the barrier engine of session s and its progress at the
// start, and opens the session's scope in the fault hub.
func (m *Manager) engine(ctx context.Context, s *store.Session, suite *definition.Suite, hosts map[string]*definition.Host,
	clusters []*definition.Cluster, a *activeSession, log *slog.Logger) (*barrierEngine, *progress) {
	timeout := m.Settings.StageTimeout
	if suite.StageTimeout > 0 {
		timeout = time.Duration(suite.StageTimeout * float64(time.Second))
	}
	sched := suite.Faults
	if sched != nil && a.seed != 0 {
		over := *sched
		over.Seed = a.seed
		sched = &over
	}
	m.beginFaults(ctx, s.ID, clusters, sched)
	r := &barrierEngine{
		store: m.Store, disp: m.Slaves, log: log, session: s, suite: suite, hosts: hosts,
		stages: plan(suite, s.Cases), webPort: m.Settings.WebPort, webProto: m.Settings.WebProto,
		timeout: timeout, grace: m.Settings.KillGrace, cancelReq: a.cancel, changed: m.Changed, clock: m.clock(),
		sync: m.Sync, faults: m.Faults, observe: m.ObserveStage,
	}
	if m.CaseEnded != nil {
		r.caseEnded = func(c string) { m.CaseEnded(s, suite, c) }
	}
	// The quarantines in force as the session starts hold for all of it.
	quarantined := map[string]store.Quarantine{}
	if qs, err := m.Store.Quarantines(ctx, suite.Name); err != nil {
		log.Error("cannot read the quarantined cases: none is", "err", err)
	} else {
		now := m.clock().Now()
		for _, q := range qs {
			if q.Until.After(now) {
				quarantined[q.Case] = q
				m.event(ctx, s.ID, "quarantine", fmt.Sprintf("case %s quarantined until %s by %s: %s", q.Case, q.Until.Format(time.RFC3339), q.By, q.Reason))
			}
		}
	}
	return r, newProgress(r.stages, a.retries, quarantined)
}

// conclude collects the logs of a session whose stages ended and records
// its end; a session left held (the master shuts down) is not ended: it
// returns false.
func (m *Manager) conclude(ctx context.Context, s *store.Session, suite *definition.Suite, state store.SessionState, reason string, log *slog.Logger) bool {
	if state == store.SessionHeld {
		return false
	}
	if ctx.Err() != nil {
		if len(suite.Logs) > 0 {
			m.event(ctx, s.ID, "logs", "logs not collected: "+errShutdown.Error())
		}
	} else {
		m.collectLogs(ctx, s, suite, log)
	}
	m.finish(ctx, s, state, reason)
	return true
}

// beginFaults opens the session's scope in the fault hub: its clusters'
// hosts, and the backend that sets faults on them or why none can.
func (m *Manager) beginFaults(ctx context.Context, id int64, clusters []*definition.Cluster, sched *definition.FaultSchedule) {
	if m.Faults == nil {
		return
	}
	inj, _ := m.Clusters.(hypervisor.FaultInjector)
	why := ""
	switch {
	case m.Clusters == nil:
		why = "this master starts no clusters ([session] start_clusters = 0): their machines are not its to break"
	case inj == nil:
		why = "the clusters' backend cannot set faults"
	}
	m.Faults.Begin(id, inj, why, clusters, sched, func(msg string) { m.event(ctx, id, "fault", msg) })
}

func (m *Manager) stopClusters(ctx context.Context, clusters []*definition.Cluster, log *slog.Logger) {
	sctx := context.WithoutCancel(ctx)
	if ctx.Err() != nil {
		// Shutting down: bounded. A hypervisor removes what is left when
		// it reconnects to the next master (no session uses it then).
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(sctx, 10*time.Second)
		defer cancel()
	}
	for _, c := range clusters {
		m.revokeTokens(c)
		if err := m.Clusters.StopCluster(sctx, c.Name); err != nil {
			log.Error("cannot stop cluster", "cluster", c.Name, "err", err)
		}
	}
}

// collectLogs fetches the suite's log files from every slave still
// connected. Missing files are recorded as events, not failures.
func (m *Manager) collectLogs(ctx context.Context, s *store.Session, suite *definition.Suite, log *slog.Logger) {
	if len(suite.Logs) == 0 {
		return
	}
	var wg sync.WaitGroup
	for _, slave := range s.Machines {
		paths := make([]string, len(suite.Logs))
		for i, p := range suite.Logs {
			paths[i] = strings.ReplaceAll(p, "@slavename@", slave)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			open := func(path string) (io.WriteCloser, error) { return m.Store.LogWriter(s.ID, slave, path) }
			id := fmt.Sprintf("%d/logs/%s", s.ID, slave)
			if err := m.Slaves.CollectLogs(ctx, slave, id, paths, m.Settings.LogMaxBytes, open); err != nil {
				// A host that never wrote a log (a client without the
				// servers' logs) is normal: an event, not a warning.
				log.Info("log collection incomplete", "slave", slave, "err", err)
				m.event(ctx, s.ID, "logs", fmt.Sprintf("logs of %s: %v", slave, err))
			}
		}()
	}
	wg.Wait()
}

// reserve waits until none of the machines is held by another session,
// then holds them all for session id.
func (m *Manager) reserve(ctx context.Context, id int64, machines []string, cancel <-chan struct{}) error {
	for {
		m.mu.Lock()
		m.init()
		free := true
		for _, h := range machines {
			if holder, ok := m.reserved[h]; ok && holder != id {
				free = false
			}
		}
		if free {
			for _, h := range machines {
				m.reserved[h] = id
			}
			m.mu.Unlock()
			return nil
		}
		released := m.released
		m.mu.Unlock()
		select {
		case <-released:
		case <-cancel:
			return errors.New("cancelled")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (m *Manager) release(id int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for h, holder := range m.reserved {
		if holder == id {
			delete(m.reserved, h)
		}
	}
	close(m.released)
	m.released = make(chan struct{})
}

// InProgress counts the sessions the manager is carrying out (queued or
// running).
func (m *Manager) InProgress() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.running) + len(m.pending)
}

// revokeTokens spends the unused enrollment tokens of c's machines: the
// cluster is stopping, none of them is to enroll any more.
func (m *Manager) revokeTokens(c *definition.Cluster) {
	if m.Tokens == nil || c == nil {
		return
	}
	names := make([]string, len(c.Hosts))
	for i, h := range c.Hosts {
		names[i] = h.Name
	}
	m.Tokens.Revoke(names...)
}
