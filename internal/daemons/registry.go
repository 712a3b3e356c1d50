package daemons

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/xrdtest/xrdtest/internal/api"

	"github.com/xrdtest/xrdtest/internal/session"

	"github.com/xrdtest/xrdtest/internal/pki"
	"github.com/xrdtest/xrdtest/internal/protocol"
	"github.com/xrdtest/xrdtest/internal/store"
)

// DaemonInfo describes a connected daemon and HypervisorInfo a connected
// hypervisor: the API's wire types.
type (
	DaemonInfo     = api.DaemonInfo
	HypervisorInfo = api.HypervisorView
)

// Registry knows the connected daemons and dispatches stages to slaves.
// It implements session.Dispatcher over the daemons' streams.
type Registry struct {
	mu      sync.Mutex
	daemons map[pki.Identity]*daemonConn
	// pending holds the stage commands in flight, by slave and id. They
	// belong to the slave, not to a connection: a slave that reconnects
	// within the grace period carries on with them.
	pending map[string]map[string]*stageWait
	// gone records when a slave with pending stages disconnected.
	gone map[string]time.Time
	// changed is closed and replaced at every connect and disconnect, so
	// waiters can select on it.
	changed chan struct{}
	// cancelWait bounds how long a cancelled stage may take to confirm.
	cancelWait time.Duration
	// Grace is how long a disconnected slave may take to come back before
	// its stages are lost.
	Grace time.Duration
	// sync answers the scripts' `xrdtest sync` calls.
	sync SyncHandler
	// faults answers their `xrdtest fault` calls.
	faults FaultHandler
	// hv places clusters on the connected hypervisors (nil: the master
	// starts no clusters).
	hv *Hypervisors
}

// SyncHandler answers the scripts' `xrdtest sync` calls (session.SyncHub):
// respond is called once, with "" when the call completed or the reason
// it failed.
type SyncHandler interface {
	Request(session int64, slave, id, op, name string, count int64, timeout time.Duration, respond func(string))
}

// FaultHandler answers the scripts' `xrdtest fault` calls
// (faults.Hub): id identifies the call across resends.
type FaultHandler interface {
	Fault(ctx context.Context, session int64, slave, id string, args []string) (string, error)
}

// DefaultGrace is the default reconnect grace period.
const DefaultGrace = 10 * time.Second

// RegistryConfig configures a Registry.
type RegistryConfig struct {
	// Sync answers the scripts' sync calls (nil: they fail).
	Sync SyncHandler
	// Faults answers their fault calls (nil: they fail).
	Faults FaultHandler
	// Grace is how long a disconnected slave may take to come back before
	// its stages are lost (0: DefaultGrace).
	Grace time.Duration
	// Hypervisors makes the registry place clusters on the connected
	// hypervisor daemons (Registry.Hypervisors).
	Hypervisors bool
}

// NewRegistry returns an empty registry.
func NewRegistry(cfg RegistryConfig) *Registry {
	r := &Registry{daemons: map[pki.Identity]*daemonConn{}, pending: map[string]map[string]*stageWait{},
		gone: map[string]time.Time{}, changed: make(chan struct{}), cancelWait: 30 * time.Second,
		Grace: cmp.Or(cfg.Grace, DefaultGrace), sync: cfg.Sync, faults: cfg.Faults}
	if cfg.Hypervisors {
		r.hv = &Hypervisors{Registry: r}
	}
	return r
}

// Hypervisors is the cluster provider over the connected hypervisor
// daemons, or nil when the registry was made without it.
func (r *Registry) Hypervisors() *Hypervisors { return r.hv }

var _ session.Dispatcher = (*Registry)(nil)

// add registers a connection; a daemon of the same role and name that is
// still connected is refused.
func (r *Registry) add(c *daemonConn) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.daemons[c.id]; ok {
		return fmt.Errorf("a %s named %s is already connected (from %s since %s)", c.id.Role, c.id.Name, old.addr, old.since.Format(time.RFC3339))
	}
	r.daemons[c.id] = c
	delete(r.gone, c.id.Name)
	r.signal()
	return nil
}

func (r *Registry) remove(c *daemonConn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.daemons[c.id] == c {
		delete(r.daemons, c.id)
		if len(r.pending[c.id.Name]) > 0 {
			r.gone[c.id.Name] = time.Now()
		}
		r.signal()
	}
}

func (r *Registry) addPending(slave string, w *stageWait) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pending[slave] == nil {
		r.pending[slave] = map[string]*stageWait{}
	}
	if _, dup := r.pending[slave][w.cmd.ID]; dup {
		return fmt.Errorf("stage %s is already running on %s", w.cmd.ID, slave)
	}
	r.pending[slave][w.cmd.ID] = w
	return nil
}

func (r *Registry) removePending(slave, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.pending[slave], id)
	if len(r.pending[slave]) == 0 {
		delete(r.pending, slave)
		delete(r.gone, slave)
	}
}

func (r *Registry) pendingStage(slave, id string) *stageWait {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pending[slave][id]
}

// busyLocked names the stage a slave runs, for people ("" when idle).
func (r *Registry) busyLocked(slave string) string {
	var d DaemonInfo
	r.setStageLocked(&d, slave)
	if d.Stage == "" {
		return ""
	}
	return fmt.Sprintf("%s of session %d", d.Stage, d.Session)
}

// setStageLocked fills in the stage the slave runs: its name and where it
// is, not the command's id ("7/2/host"), which means nothing to people.
func (r *Registry) setStageLocked(d *DaemonInfo, slave string) {
	for _, w := range r.pending[slave] {
		d.Stage, d.Session, d.StageIndex = w.cmd.StageName, w.cmd.Session, w.cmd.Stage
		return
	}
}

// resume runs when a slave (re)connects: commands it does not hold are
// sent again (they were lost with the old connection); stages it holds
// that no session waits for (left by a master that restarted, or by a
// session that ended) are cancelled, so nothing runs twice or forever.
func (r *Registry) resume(c *daemonConn, held []*protocol.HeldStage) {
	known := map[string]bool{}
	for _, h := range held {
		known[h.GetId()] = true
	}
	r.mu.Lock()
	var resend []session.StageCommand
	for id, w := range r.pending[c.id.Name] {
		if !known[id] {
			resend = append(resend, w.cmd)
		}
	}
	var orphans []*protocol.HeldStage
	for _, h := range held {
		if r.pending[c.id.Name][h.GetId()] == nil {
			orphans = append(orphans, h)
		}
	}
	r.mu.Unlock()
	for _, cmd := range resend {
		c.log.Info("resending a stage command lost with the previous connection", "id", cmd.ID)
		c.send(runStageMessage(cmd))
	}
	for _, h := range orphans {
		if h.GetFinished() {
			c.send(ackMessage(h.GetId(), 0, true))
			continue
		}
		c.log.Warn("cancelling a stage no session waits for (left by a previous master or session)", "id", h.GetId())
		c.send(&protocol.MasterMessage{Msg: &protocol.MasterMessage_CancelStage{CancelStage: &protocol.CancelStage{Id: h.GetId()}}})
	}
}

func (r *Registry) signal() {
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *Registry) slave(name string) *daemonConn {
	return r.daemon(pki.Identity{Role: pki.RoleSlave, Name: name})
}

func (r *Registry) daemon(id pki.Identity) *daemonConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.daemons[id]
}

// hypervisors lists the connected hypervisors by name.
func (r *Registry) hypervisors() []*daemonConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*daemonConn
	for id, c := range r.daemons {
		if id.Role == pki.RoleHypervisor {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b *daemonConn) int { return strings.Compare(a.id.Name, b.id.Name) })
	return out
}

// Daemons lists the connected daemons by role and name.
func (r *Registry) Daemons() []DaemonInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]DaemonInfo, 0, len(r.daemons))
	for _, c := range r.daemons {
		info := c.info()
		r.setStageLocked(&info, c.id.Name)
		out = append(out, info)
	}
	for name, since := range r.gone {
		info := DaemonInfo{Role: api.RoleSlave, Name: name, Since: since, State: api.DaemonDisconnected}
		r.setStageLocked(&info, name)
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b DaemonInfo) int {
		if a.Role != b.Role {
			return strings.Compare(string(a.Role), string(b.Role))
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// WaitForSlaves implements session.Slaves (session.AwaitSlaves): every
// named slave connected and idle, or those that are not when ctx ends.
func (r *Registry) WaitForSlaves(ctx context.Context, names []string, connected func(string)) []string {
	return session.AwaitSlaves(ctx, names, connected, func(names []string) ([]session.SlaveState, <-chan struct{}) {
		r.mu.Lock()
		defer r.mu.Unlock()
		out := make([]session.SlaveState, len(names))
		for i, n := range names {
			out[i] = session.SlaveState{Connected: r.daemons[pki.Identity{Role: pki.RoleSlave, Name: n}] != nil, Busy: r.busyLocked(n)}
		}
		return out, r.changed
	}, time.Second)
}

// RunStage sends the stage to the slave and waits for its end. A slave
// whose connection drops has Grace to come back and carry on; after that
// the stage is lost, naming the slave.
func (r *Registry) RunStage(ctx context.Context, slave string, cmd session.StageCommand, out session.OutputSink) session.Outcome {
	sent := time.Now()
	w := &stageWait{cmd: cmd, sink: out, done: make(chan *protocol.StageDone, 1)}
	if err := r.addPending(slave, w); err != nil {
		return session.Outcome{Status: store.StatusFailed, Start: sent, End: time.Now(), Message: err.Error()}
	}
	defer r.removePending(slave, cmd.ID)
	c := r.slave(slave)
	if c == nil {
		return session.Outcome{Status: store.StatusLost, Start: sent, End: sent, Message: "slave " + slave + " not connected"}
	}
	c.send(runStageMessage(cmd))
	cancelled := ctx.Done()
	var confirmTimeout <-chan time.Time
	// The slave enforces the stage timeout; this bound only guards against
	// a slave that never reports.
	var overdue <-chan time.Time
	if cmd.Timeout > 0 {
		t := time.NewTimer(cmd.Timeout + cmd.Grace + r.cancelWait)
		defer t.Stop()
		overdue = t.C
	}
	for {
		select {
		case <-overdue:
			c.send(cancelMessage(cmd.ID))
			return session.Outcome{Status: store.StatusTimeout, Start: w.startTime(sent), End: time.Now(),
				Message: fmt.Sprintf("the slave did not report the end of the stage within its timeout %s", cmd.Timeout)}
		case d := <-w.done:
			o := w.outcome(d, sent)
			if confirmTimeout != nil && (o.Status == store.StatusPassed || o.Status == store.StatusFailed) {
				o.Status, o.Message = store.StatusCancelled, "cancelled (the script ended on its own)"
			}
			return o
		case <-c.closed:
			reason := c.closeReason()
			if c = r.awaitReconnect(slave, c, r.Grace); c == nil {
				return session.Outcome{Status: store.StatusLost, Start: w.startTime(sent), End: time.Now(),
					Message: fmt.Sprintf("slave %s lost: disconnected (%s) and not back within %s", slave, reason, r.Grace)}
			}
			if confirmTimeout != nil {
				c.send(cancelMessage(cmd.ID))
			}
		case <-cancelled:
			// Ask the slave to stop the script (TERM, then KILL after the
			// grace) and wait for it to confirm.
			cancelled = nil
			c.send(cancelMessage(cmd.ID))
			confirmTimeout = time.After(cmd.Grace + r.cancelWait)
		case <-confirmTimeout:
			return session.Outcome{Status: store.StatusCancelled, Start: w.startTime(sent), End: time.Now(), Message: "cancelled; the slave did not confirm"}
		}
	}
}

// awaitReconnect waits up to grace for the slave to connect again and
// returns its new connection, or nil.
func (r *Registry) awaitReconnect(slave string, old *daemonConn, grace time.Duration) *daemonConn {
	timer := time.NewTimer(grace)
	defer timer.Stop()
	for {
		r.mu.Lock()
		c := r.daemons[pki.Identity{Role: pki.RoleSlave, Name: slave}]
		changed := r.changed
		r.mu.Unlock()
		if c != nil && c != old {
			return c
		}
		select {
		case <-changed:
		case <-timer.C:
			return nil
		}
	}
}

func runStageMessage(cmd session.StageCommand) *protocol.MasterMessage {
	return &protocol.MasterMessage{Msg: &protocol.MasterMessage_RunStage{RunStage: &protocol.RunStage{
		Id: cmd.ID, Session: cmd.Session, Stage: int32(cmd.Stage), StageName: cmd.StageName,
		Script: cmd.Script, Env: cmd.Env, TimeoutMs: cmd.Timeout.Milliseconds(), KillGraceMs: cmd.Grace.Milliseconds(),
	}}}
}

func cancelMessage(id string) *protocol.MasterMessage {
	return &protocol.MasterMessage{Msg: &protocol.MasterMessage_CancelStage{CancelStage: &protocol.CancelStage{Id: id}}}
}

func ackMessage(id string, seq uint64, done bool) *protocol.MasterMessage {
	return &protocol.MasterMessage{Msg: &protocol.MasterMessage_Ack{Ack: &protocol.Ack{Id: id, Seq: seq, Done: done}}}
}

// Changed returns a channel closed at the next connect or disconnect of
// a daemon.
func (r *Registry) Changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

// HypervisorInfos lists the connected hypervisors by name, each with the
// clusters placed on it (cluster -> hypervisor).
func (r *Registry) HypervisorInfos(placed map[string]string) []HypervisorInfo {
	out := []HypervisorInfo{}
	for _, c := range r.hypervisors() {
		h := HypervisorInfo{DaemonInfo: c.info(), Backend: c.hv.GetBackend(), MemoryKiB: c.hv.GetMemoryKib(),
			FreeMemoryKiB: c.hv.GetFreeMemoryKib(), CPUs: int(c.hv.GetCpus()), Clusters: []string{}}
		for cl, hv := range placed {
			if hv == c.id.Name {
				h.Clusters = append(h.Clusters, cl)
			}
		}
		slices.Sort(h.Clusters)
		out = append(out, h)
	}
	return out
}
