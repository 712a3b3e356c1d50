package daemons

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/xrdtest/xrdtest/internal/hypervisor"
	"github.com/xrdtest/xrdtest/internal/pki"
	"github.com/xrdtest/xrdtest/internal/protocol"
)

// Hypervisors starts clusters on the connected hypervisor daemons: it is
// the sessions' cluster backend when machines are virtual. A cluster goes
// to the hypervisor with the most free memory that can host it.
type Hypervisors struct {
	Registry *Registry
	// StartTimeout bounds a StartCluster command on the hypervisor.
	StartTimeout time.Duration

	mu     sync.Mutex
	placed map[string]placement // cluster -> where it runs
	waits  map[string]*commandWait
	nextID int
}

// commandWait follows one cluster command: progress is best effort (it
// may be dropped when nobody reads it), the end is never dropped.
type commandWait struct {
	progress chan *protocol.ClusterState
	done     chan *protocol.ClusterState
}

type placement struct {
	hypervisor string
	memKiB     int64
}

var _ hypervisor.Backend = (*Hypervisors)(nil)

func (h *Hypervisors) init() {
	if h.placed == nil {
		h.placed = map[string]placement{}
		h.waits = map[string]*commandWait{}
	}
}

// choose picks a connected hypervisor with room for need KiB, or explains
// why none fits.
func (h *Hypervisors) choose(cluster string, need int64) (*daemonConn, error) {
	conns := h.Registry.hypervisors()
	if len(conns) == 0 {
		return nil, fmt.Errorf("no hypervisor is connected to start cluster %s (start `xrdtest hypervisor` on a machine with libvirt)", cluster)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.init()
	var best *daemonConn
	var bestFree int64
	var report []string
	for _, c := range conns {
		free := h.freeLocked(c)
		report = append(report, fmt.Sprintf("%s has %d MiB free", c.id.Name, free>>10))
		if free >= need && (best == nil || free > bestFree) {
			best, bestFree = c, free
		}
	}
	if best == nil {
		slices.Sort(report)
		return nil, fmt.Errorf("no hypervisor has room for cluster %s, which needs %d MiB: %s", cluster, need>>10, strings.Join(report, "; "))
	}
	return best, nil
}

// freeLocked is a hypervisor's free memory less what was placed on it
// since it said (at connect time).
func (h *Hypervisors) freeLocked(c *daemonConn) int64 {
	free := c.hv.GetFreeMemoryKib()
	for _, p := range h.placed {
		if p.hypervisor == c.id.Name {
			free -= p.memKiB
		}
	}
	return free
}

// StartCluster asks a hypervisor to start the cluster and waits until it
// says the machines are starting.
func (h *Hypervisors) StartCluster(ctx context.Context, spec hypervisor.ClusterSpec) error {
	var need int64
	for _, host := range spec.Cluster.Hosts {
		need += int64(host.RAMKiB)
	}
	c, err := h.choose(spec.Cluster.Name, need)
	if err != nil {
		return err
	}
	body, err := hypervisor.EncodeCluster(spec.Cluster)
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.placed[spec.Cluster.Name] = placement{hypervisor: c.id.Name, memKiB: need}
	h.mu.Unlock()
	err = h.command(ctx, c, spec.Cluster.Name, func(id string) *protocol.MasterMessage {
		return &protocol.MasterMessage{Msg: &protocol.MasterMessage_StartCluster{StartCluster: &protocol.StartCluster{
			Id: id, ClusterJson: body, MasterPort: int32(spec.Master.Port), MasterWebPort: int32(spec.Master.WebPort), MasterIp: spec.Master.IP,
			CaFingerprint: spec.Master.Fingerprint.String(), Tokens: spec.Tokens}}}
	})
	if err != nil {
		h.mu.Lock()
		delete(h.placed, spec.Cluster.Name)
		h.mu.Unlock()
		return fmt.Errorf("hypervisor %s: %w", c.id.Name, err)
	}
	return nil
}

// StopCluster asks the hypervisor that runs the cluster to remove it.
func (h *Hypervisors) StopCluster(ctx context.Context, cluster string) error {
	h.mu.Lock()
	h.init()
	p, ok := h.placed[cluster]
	h.mu.Unlock()
	if !ok {
		return nil
	}
	c := h.Registry.daemon(pki.Identity{Role: pki.RoleHypervisor, Name: p.hypervisor})
	if c == nil {
		// No longer placed: when the hypervisor comes back with the
		// cluster, adopt finds no session using it and removes it.
		h.mu.Lock()
		if h.placed[cluster] == p {
			delete(h.placed, cluster)
		}
		h.mu.Unlock()
		if p.hypervisor == "" {
			return fmt.Errorf("the hypervisor that runs cluster %s has not reconnected since the master's restart: it cleans up when it does", cluster)
		}
		return fmt.Errorf("hypervisor %s, which runs cluster %s, is not connected: it cleans up when it reconnects", p.hypervisor, cluster)
	}
	err := h.command(ctx, c, cluster, func(id string) *protocol.MasterMessage {
		return &protocol.MasterMessage{Msg: &protocol.MasterMessage_StopCluster{StopCluster: &protocol.StopCluster{Id: id, Cluster: cluster}}}
	})
	if err == nil {
		h.mu.Lock()
		delete(h.placed, cluster)
		h.mu.Unlock()
	}
	return err
}

var _ hypervisor.FaultInjector = (*Hypervisors)(nil)

// SetFault asks the hypervisor that runs the cluster to set the fault.
func (h *Hypervisors) SetFault(ctx context.Context, cluster string, spec hypervisor.FaultSpec) (hypervisor.Fault, error) {
	c, err := h.runner(cluster)
	if err != nil {
		return hypervisor.Fault{}, err
	}
	id, err := h.ask(ctx, c, cluster, func(id string) *protocol.MasterMessage {
		return &protocol.MasterMessage{Msg: &protocol.MasterMessage_ClusterFault{ClusterFault: &protocol.ClusterFault{
			Id: id, Cluster: cluster, Set: strings.Fields(spec.String())}}}
	})
	if err != nil {
		return hypervisor.Fault{}, err
	}
	return hypervisor.Fault{ID: id, Spec: spec, Since: time.Now()}, nil
}

// HealFaults asks the hypervisor that runs the cluster to heal faults.
func (h *Hypervisors) HealFaults(ctx context.Context, cluster string, ids ...string) error {
	c, err := h.runner(cluster)
	if err != nil {
		return err
	}
	return h.command(ctx, c, cluster, func(id string) *protocol.MasterMessage {
		return &protocol.MasterMessage{Msg: &protocol.MasterMessage_ClusterFault{ClusterFault: &protocol.ClusterFault{
			Id: id, Cluster: cluster, Heal: ids, HealAll: len(ids) == 0}}}
	})
}

// Faults is not tracked here: the session's fault hub lists them.
func (h *Hypervisors) Faults(string) []hypervisor.Fault { return nil }

// runner is the connection of the hypervisor that runs cluster.
func (h *Hypervisors) runner(cluster string) (*daemonConn, error) {
	h.mu.Lock()
	h.init()
	p, ok := h.placed[cluster]
	h.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("cluster %s runs on no hypervisor", cluster)
	}
	c := h.Registry.daemon(pki.Identity{Role: pki.RoleHypervisor, Name: p.hypervisor})
	if c == nil {
		return nil, fmt.Errorf("hypervisor %s, which runs cluster %s, is not connected", p.hypervisor, cluster)
	}
	return c, nil
}

// Placements maps each cluster started on a hypervisor to its name.
func (h *Hypervisors) Placements() map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]string, len(h.placed))
	for cl, p := range h.placed {
		out[cl] = p.hypervisor
	}
	return out
}

// Running reports whether cluster was started on a hypervisor and not
// stopped since.
func (h *Hypervisors) Running(cluster string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.placed[cluster]
	return ok
}

// Clusters lists the clusters started on hypervisors and not stopped since.
func (h *Hypervisors) Clusters() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Collect(maps.Keys(h.placed))
}

// Capacity sums the capacities the connected hypervisors reported, less
// the memory of the clusters placed on them since.
func (h *Hypervisors) Capacity(ctx context.Context) (hypervisor.Capacity, error) {
	conns := h.Registry.hypervisors()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.init()
	var c hypervisor.Capacity
	for _, conn := range conns {
		c.MemoryKiB += conn.hv.GetMemoryKib()
		c.FreeMemoryKiB += max(h.freeLocked(conn), 0)
		c.CPUs += int(conn.hv.GetCpus())
	}
	return c, nil
}

// command sends a cluster command and waits for its end, passing progress on.
func (h *Hypervisors) command(ctx context.Context, c *daemonConn, cluster string, msg func(id string) *protocol.MasterMessage) error {
	_, err := h.ask(ctx, c, cluster, msg)
	return err
}

// ask is command, answering also what the command's end says (a fault's
// id).
func (h *Hypervisors) ask(ctx context.Context, c *daemonConn, cluster string, msg func(id string) *protocol.MasterMessage) (string, error) {
	h.mu.Lock()
	h.init()
	h.nextID++
	id := fmt.Sprintf("cluster/%s/%d/%d", cluster, time.Now().UnixNano(), h.nextID)
	w := &commandWait{progress: make(chan *protocol.ClusterState, 256), done: make(chan *protocol.ClusterState, 1)}
	h.waits[id] = w
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.waits, id)
		h.mu.Unlock()
	}()
	if !c.send(msg(id)) {
		return "", fmt.Errorf("connection lost")
	}
	timeout := h.StartTimeout
	if timeout == 0 {
		timeout = 10 * time.Minute
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case st := <-w.progress:
			hypervisor.ReportProgress(ctx, st.GetHost(), st.GetPhase())
		case st := <-w.done:
			if st.GetError() != "" {
				return "", fmt.Errorf("%s", st.GetError())
			}
			return st.GetResult(), nil
		case <-c.closed:
			return "", fmt.Errorf("connection to the hypervisor lost: %s", c.closeReason())
		case <-timer.C:
			return "", fmt.Errorf("no answer within %s", timeout)
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// clusterState routes a hypervisor's report to the command waiting for it.
func (h *Hypervisors) clusterState(st *protocol.ClusterState) {
	h.mu.Lock()
	w := h.waits[st.GetId()]
	h.mu.Unlock()
	if w == nil {
		return
	}
	ch := w.progress
	if st.GetDone() {
		ch = w.done
	}
	select {
	case ch <- st:
	default:
	}
}

// Keep marks clusters in use before their hypervisors connect: a
// restarted master's held sessions (session.Manager.ResumeHeld) still
// use them, so the hypervisor that comes back with one keeps it instead of
// removing it.
func (h *Hypervisors) Keep(clusters ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.init()
	for _, cl := range clusters {
		if _, ok := h.placed[cl]; !ok {
			h.placed[cl] = placement{}
		}
	}
}

// adopt runs when a hypervisor connects with the clusters it runs: those
// placed on it (a session still uses them) are adopted again, the others
// (left by a crash of the master or of a session) are removed.
func (h *Hypervisors) adopt(c *daemonConn, clusters []string) {
	for _, cl := range clusters {
		h.mu.Lock()
		h.init()
		p, ok := h.placed[cl]
		h.mu.Unlock()
		if ok && p.hypervisor == "" {
			// Kept for a held session by a master that restarted: the
			// memory it uses is no longer in the free memory reported.
			h.mu.Lock()
			h.placed[cl] = placement{hypervisor: c.id.Name}
			h.mu.Unlock()
			c.log.Info("cluster of a held session adopted", "cluster", cl)
			continue
		}
		if ok && p.hypervisor == c.id.Name {
			c.log.Info("cluster re-adopted after the hypervisor reconnected", "cluster", cl)
			continue
		}
		c.log.Warn("removing a cluster no session uses", "cluster", cl)
		h.mu.Lock()
		h.nextID++
		id := fmt.Sprintf("cleanup/%s/%d", cl, h.nextID)
		h.mu.Unlock()
		c.send(&protocol.MasterMessage{Msg: &protocol.MasterMessage_StopCluster{StopCluster: &protocol.StopCluster{Id: id, Cluster: cl}}})
	}
}
