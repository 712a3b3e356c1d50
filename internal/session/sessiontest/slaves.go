package sessiontest

import (
	"context"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/session"
	"github.com/xrdtest/xrdtest/internal/store"
)

// Slaves is a session.Slaves of simulated slaves: each stage runs the
// Steps the rules of On and OnFunc give it (by default it passes), and
// everything they do is recorded as Events, numbered in order.
//
// Set the exported fields before the first session starts.
type Slaves struct {
	// Hub answers the stages' sync calls (Barrier, Signal, WaitSignals),
	// as the master's daemons pass them on; nil: the calls fail.
	Hub *session.SyncHub
	// Clock dates the outcomes and times Grace (nil: the real time).
	Clock session.Clock
	// Grace is how long a slave that disconnected during a stage may take
	// to come back before the stage is lost, as daemons.Registry's grace
	// (0: DefaultGrace).
	Grace time.Duration
	// SyncTimeout goes with every sync call (0: none).
	SyncTimeout time.Duration

	mu      sync.Mutex
	slaves  map[string]*simSlave
	rules   []rule
	logs    map[string]map[string]string // slave -> path -> content
	events  []Event
	runs    []Run
	changed chan struct{} // closed and replaced at every event
}

// DefaultGrace is the reconnect grace of Slaves whose Grace is 0.
const DefaultGrace = 10 * time.Second

var _ session.Slaves = (*Slaves)(nil)

type simSlave struct {
	connected bool
	busy      string // "<stage> of session <n>" while it runs one
}

// rule gives the steps of a stage it matches, nil for one it does not.
type rule func(slave string, cmd session.StageCommand) []Step

// NewSlaves returns simulated slaves with the given names, connected and
// idle. Others connect with Connect.
func NewSlaves(names ...string) *Slaves {
	s := &Slaves{slaves: map[string]*simSlave{}, logs: map[string]map[string]string{}, changed: make(chan struct{})}
	for _, n := range names {
		s.slaves[n] = &simSlave{connected: true}
	}
	return s
}

// On makes the stages whose name matches stage, on the slaves whose name
// matches slave, run steps; both are path.Match patterns ("*": any). A
// rule given later wins over an earlier one.
func (s *Slaves) On(slave, stage string, steps ...Step) {
	own := append([]Step{}, steps...) // not nil, even without steps: a match
	s.OnFunc(func(sl string, cmd session.StageCommand) []Step {
		if ok, _ := path.Match(slave, sl); !ok {
			return nil
		}
		if ok, _ := path.Match(stage, cmd.StageName); !ok {
			return nil
		}
		return own
	})
}

// OnFunc adds a rule as a func: it returns the steps of a stage, or nil
// to leave it to the rules given before.
func (s *Slaves) OnFunc(f func(slave string, cmd session.StageCommand) []Step) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = append(s.rules, f)
}

// Connect connects a slave (a new one, or one that disconnected).
func (s *Slaves) Connect(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sl := s.slaves[name]
	if sl == nil {
		sl = &simSlave{}
		s.slaves[name] = sl
	}
	if !sl.connected {
		sl.connected = true
		s.recordLocked(Event{Kind: Connected, Slave: name})
	}
}

// Disconnect drops a slave's connection. A stage it runs goes on to its
// next step only once the slave is back (Connect) within Grace; if not,
// the stage is lost.
func (s *Slaves) Disconnect(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sl := s.slaves[name]; sl != nil && sl.connected {
		sl.connected = false
		s.recordLocked(Event{Kind: Disconnected, Slave: name})
	}
}

// SetLogs gives the log files CollectLogs finds on a slave, by path;
// a path not given is missing there.
func (s *Slaves) SetLogs(slave string, files map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logs[slave] = files
}

func (s *Slaves) now() time.Time {
	if s.Clock == nil {
		return time.Now()
	}
	return s.Clock.Now()
}

func (s *Slaves) afterFunc(d time.Duration, f func()) session.Timer {
	if s.Clock == nil {
		return time.AfterFunc(d, f)
	}
	return s.Clock.AfterFunc(d, f)
}

func (s *Slaves) grace() time.Duration {
	if s.Grace == 0 {
		return DefaultGrace
	}
	return s.Grace
}

// recordLocked appends an event; s.mu is held.
func (s *Slaves) recordLocked(e Event) int {
	e.Seq = len(s.events) + 1
	s.events = append(s.events, e)
	close(s.changed)
	s.changed = make(chan struct{})
	return e.Seq
}

func (s *Slaves) record(e Event) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recordLocked(e)
}

// WaitForSlaves implements session.Slaves: it returns once every named
// slave is connected and idle, or, when ctx ends, those that are not.
func (s *Slaves) WaitForSlaves(ctx context.Context, names []string, connected func(slave string)) []string {
	s.record(Event{Kind: Waiting, Detail: strings.Join(names, " ")})
	return session.AwaitSlaves(ctx, names, connected, func(names []string) ([]session.SlaveState, <-chan struct{}) {
		s.mu.Lock()
		defer s.mu.Unlock()
		out := make([]session.SlaveState, len(names))
		for i, n := range names {
			if sl := s.slaves[n]; sl != nil {
				out[i] = session.SlaveState{Connected: sl.connected, Busy: sl.busy}
			}
		}
		return out, s.changed
	}, 0)
}

// RunStage implements session.Dispatcher: it plays the stage's steps.
func (s *Slaves) RunStage(ctx context.Context, slave string, cmd session.StageCommand, out session.OutputSink) session.Outcome {
	start := s.now()
	s.mu.Lock()
	sl := s.slaves[slave]
	if sl == nil || !sl.connected {
		// As daemons.Registry: a command for a slave that is not there.
		o := session.Outcome{Status: store.StatusLost, Start: start, End: start, Message: "slave " + slave + " not connected"}
		s.recordLocked(Event{Kind: Ended, Slave: slave, Session: cmd.Session, Stage: cmd.StageName, Status: o.Status, Detail: o.Message})
		s.mu.Unlock()
		return o
	}
	sl.busy = fmt.Sprintf("%s of session %d", cmd.StageName, cmd.Session)
	var steps []Step
	for _, r := range slices.Backward(s.rules) {
		if steps = r(slave, cmd); steps != nil {
			break
		}
	}
	seq := s.recordLocked(Event{Kind: Started, Slave: slave, Session: cmd.Session, Stage: cmd.StageName})
	s.mu.Unlock()

	r := &stageRun{s: s, ctx: ctx, slave: slave, cmd: cmd, out: out, start: start}
	o := r.play(steps)

	s.mu.Lock()
	defer s.mu.Unlock()
	sl.busy = ""
	end := s.recordLocked(Event{Kind: Ended, Slave: slave, Session: cmd.Session, Stage: cmd.StageName, Status: o.Status, Detail: o.Message})
	s.runs = append(s.runs, Run{Slave: slave, Cmd: cmd, Start: seq, End: end, Outcome: o})
	return o
}

// CollectLogs implements session.Slaves with the files of SetLogs: each
// at most maxBytes from its end (0: all). Missing files and a slave that
// is not connected are errors, as from daemons.Registry.
func (s *Slaves) CollectLogs(ctx context.Context, slave, id string, paths []string, maxBytes int64, open func(path string) (io.WriteCloser, error)) error {
	s.mu.Lock()
	sl, files := s.slaves[slave], s.logs[slave]
	up := sl != nil && sl.connected
	s.recordLocked(Event{Kind: LogsCollected, Slave: slave, Detail: strings.Join(paths, " ")})
	s.mu.Unlock()
	if !up {
		return fmt.Errorf("slave %s is not connected", slave)
	}
	var errs []string
	for _, p := range paths {
		content, ok := files[p]
		if !ok {
			errs = append(errs, p+": no such file or directory")
			continue
		}
		if maxBytes > 0 && int64(len(content)) > maxBytes {
			content = content[int64(len(content))-maxBytes:]
		}
		if err := writeFile(open, p, content); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", p, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%v", errs)
	}
	return nil
}

func writeFile(open func(string) (io.WriteCloser, error), p, content string) error {
	w, err := open(p)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, content); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// EventKind says what an Event records.
type EventKind string

// The kinds of Event.
const (
	Waiting        EventKind = "waiting"         // WaitForSlaves called; Detail: the names
	Connected      EventKind = "connected"       // a slave (re)connected
	Disconnected   EventKind = "disconnected"    // a slave's connection dropped
	Started        EventKind = "started"         // a stage started on a slave
	Ended          EventKind = "ended"           // it ended; Status, Detail: the outcome's message
	SyncCalled     EventKind = "sync"            // a stage made a sync call; Detail: "barrier NAME", ...
	SyncAnswered   EventKind = "synced"          // its answer; Detail: "barrier NAME: " + "ok" or why it failed
	LogsCollected  EventKind = "logs"            // CollectLogs called; Detail: the paths
	ClusterStarted EventKind = "cluster started" // Clusters.StartCluster called; Detail: the cluster
	ClusterStopped EventKind = "cluster stopped" // Clusters.StopCluster called; Detail: the cluster
)

// Event is one thing the simulated slaves did or had done to them.
type Event struct {
	Seq     int // from 1, in the order they happened
	Kind    EventKind
	Slave   string
	Session int64
	Stage   string // stage name
	Status  store.Status
	Detail  string
}

// matches reports whether e has every non-zero field of pattern.
func (e Event) matches(p Event) bool {
	return (p.Seq == 0 || p.Seq == e.Seq) && (p.Kind == "" || p.Kind == e.Kind) && (p.Slave == "" || p.Slave == e.Slave) &&
		(p.Session == 0 || p.Session == e.Session) && (p.Stage == "" || p.Stage == e.Stage) &&
		(p.Status == "" || p.Status == e.Status) && (p.Detail == "" || p.Detail == e.Detail)
}

func (e Event) String() string {
	s := fmt.Sprintf("#%d %s", e.Seq, e.Kind)
	for _, f := range []string{e.Slave, e.Stage, string(e.Status), e.Detail} {
		if f != "" {
			s += " " + f
		}
	}
	return s
}

// Events returns what happened so far, in order.
func (s *Slaves) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// Run is one stage a simulated slave ran.
type Run struct {
	Slave string
	Cmd   session.StageCommand
	// Start and End are the Seq of its Started and Ended events: a stage
	// that started after another ended has a Start above its End.
	Start, End int
	Outcome    session.Outcome
}

// Runs returns the stages run so far, in the order they ended.
func (s *Slaves) Runs() []Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.runs)
}

// awaitLimit bounds Await: far above what any wait of a passing test
// takes, so only a broken test reaches it.
const awaitLimit = 10 * time.Second

// Await waits until an event with every non-zero field of pattern has
// happened (before the call, too) and returns the first one. It fails the
// test if none comes within seconds.
func (s *Slaves) Await(t testing.TB, pattern Event) Event {
	t.Helper()
	return s.AwaitFunc(t, pattern.String(), func(e Event) bool { return e.matches(pattern) })
}

// AwaitFunc is Await with a predicate; what names it in the failure.
func (s *Slaves) AwaitFunc(t testing.TB, what string, match func(Event) bool) Event {
	t.Helper()
	limit := time.NewTimer(awaitLimit)
	defer limit.Stop()
	for seen := 0; ; {
		s.mu.Lock()
		events, changed := s.events[seen:], s.changed
		seen = len(s.events)
		s.mu.Unlock()
		for _, e := range events {
			if match(e) {
				return e
			}
		}
		select {
		case <-changed:
		case <-limit.C:
			t.Fatalf("no event %s within %s; events:\n%s", what, awaitLimit, s.describe())
		}
	}
}

func (s *Slaves) describe() string {
	var b strings.Builder
	for _, e := range s.Events() {
		fmt.Fprintln(&b, e)
	}
	return b.String()
}
