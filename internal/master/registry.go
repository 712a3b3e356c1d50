package master

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/xrdtest/xrdtest/internal/pki"
	"github.com/xrdtest/xrdtest/internal/protocol"
	"github.com/xrdtest/xrdtest/internal/store"
)

// DaemonInfo describes a connected daemon, for the API.
type DaemonInfo struct {
	Role     string    `json:"role"`
	Name     string    `json:"name"`
	Address  string    `json:"address"`
	Version  string    `json:"version"`
	Hostname string    `json:"hostname,omitempty"`
	Since    time.Time `json:"connected_since"`
	// Stage is the stage command the slave is running ("" when idle).
	Stage string `json:"stage,omitempty"`
}

// Registry knows the connected daemons and dispatches stages to slaves.
// It implements Dispatcher over the daemons' streams.
type Registry struct {
	mu      sync.Mutex
	daemons map[pki.Identity]*daemonConn
	// changed is closed and replaced at every connect and disconnect, so
	// waiters can select on it.
	changed chan struct{}
	// stageGrace bounds how long a cancelled stage may take to confirm.
	cancelWait time.Duration
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{daemons: map[pki.Identity]*daemonConn{}, changed: make(chan struct{}), cancelWait: 30 * time.Second}
}

var _ Dispatcher = (*Registry)(nil)

// add registers a connection; a daemon of the same role and name that is
// still connected is refused.
func (r *Registry) add(c *daemonConn) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.daemons[c.id]; ok {
		return fmt.Errorf("a %s named %s is already connected (from %s since %s)", c.id.Role, c.id.Name, old.addr, old.since.Format(time.RFC3339))
	}
	r.daemons[c.id] = c
	r.signal()
	return nil
}

func (r *Registry) remove(c *daemonConn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.daemons[c.id] == c {
		delete(r.daemons, c.id)
		r.signal()
	}
}

func (r *Registry) signal() {
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *Registry) slave(name string) *daemonConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.daemons[pki.Identity{Role: pki.RoleSlave, Name: name}]
}

// Daemons lists the connected daemons by role and name.
func (r *Registry) Daemons() []DaemonInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]DaemonInfo, 0, len(r.daemons))
	for _, c := range r.daemons {
		out = append(out, c.info())
	}
	slices.SortFunc(out, func(a, b DaemonInfo) int {
		if a.Role != b.Role {
			return compareStrings(a.Role, b.Role)
		}
		return compareStrings(a.Name, b.Name)
	})
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// WaitForSlaves waits until every named slave is connected and idle, or
// ctx ends; it returns the slaves still missing (connected but busy ones
// are named as such).
func (r *Registry) WaitForSlaves(ctx context.Context, names []string) []string {
	for {
		r.mu.Lock()
		var missing []string
		for _, n := range names {
			c := r.daemons[pki.Identity{Role: pki.RoleSlave, Name: n}]
			switch {
			case c == nil:
				missing = append(missing, n)
			case c.busy() != "":
				missing = append(missing, n+" (busy with "+c.busy()+")")
			}
		}
		changed := r.changed
		r.mu.Unlock()
		if len(missing) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return missing
		case <-changed:
		case <-time.After(time.Second): // busy slaves become idle without a connect event
		}
	}
}

// RunStage sends the stage to the slave and waits for its end.
func (r *Registry) RunStage(ctx context.Context, slave string, cmd StageCommand, out OutputSink) Outcome {
	c := r.slave(slave)
	sent := time.Now()
	if c == nil {
		return Outcome{Status: store.StatusLost, Start: sent, End: sent, Message: "slave not connected"}
	}
	w, err := c.startStage(cmd, out)
	if err != nil {
		return Outcome{Status: store.StatusFailed, Start: sent, End: time.Now(), Message: err.Error()}
	}
	defer c.endStage(cmd.ID)
	select {
	case d := <-w.done:
		return w.outcome(d, sent)
	case <-c.closed:
		return Outcome{Status: store.StatusLost, Start: w.startTime(sent), End: time.Now(), Message: "connection to the slave lost: " + c.closeReason()}
	case <-ctx.Done():
	}
	// Cancelled: ask the slave to stop the script (TERM, then KILL after
	// the grace) and wait for it to confirm.
	c.send(&protocol.MasterMessage{Msg: &protocol.MasterMessage_CancelStage{CancelStage: &protocol.CancelStage{Id: cmd.ID}}})
	timer := time.NewTimer(cmd.Grace + r.cancelWait)
	defer timer.Stop()
	select {
	case d := <-w.done:
		o := w.outcome(d, sent)
		if o.Status != store.StatusPassed && o.Status != store.StatusFailed {
			return o
		}
		o.Status, o.Message = store.StatusCancelled, "cancelled (the script ended on its own)"
		return o
	case <-c.closed:
	case <-timer.C:
	}
	return Outcome{Status: store.StatusCancelled, Start: w.startTime(sent), End: time.Now(), Message: "cancelled; the slave did not confirm"}
}
