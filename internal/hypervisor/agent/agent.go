// Package agent is the hypervisor daemon: it connects to the master like
// a slave does (enrollment, mutual TLS, reconnects) and starts and stops
// clusters through its backend (libvirt, netns or local processes) on
// command.
package agent

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/xrdtest/xrdtest/internal/daemonclient"
	"github.com/xrdtest/xrdtest/internal/hypervisor"
	"github.com/xrdtest/xrdtest/internal/pki"
	"github.com/xrdtest/xrdtest/internal/protocol"
)

// Config configures a hypervisor daemon.
type Config struct {
	Connection  daemonclient.Config // Role is set to hypervisor
	BackendName string              // "libvirt", "netns" or "local", for the master's display
	Backend     hypervisor.Backend
	Log         *slog.Logger
}

// Agent is a running hypervisor daemon.
type Agent struct {
	cfg    Config
	client *daemonclient.Client

	mu sync.Mutex
	// results holds the ends of commands the master may not have seen
	// (sent while disconnected): they are resent after a reconnect.
	results map[string]*protocol.ClusterState
	running map[string]bool // command ids in progress: a resend is ignored
}

// New returns an agent; Run starts it.
func New(cfg Config) *Agent {
	cfg.Connection.Role = pki.RoleHypervisor
	cfg.Connection.Log = cfg.Log
	return &Agent{cfg: cfg, client: daemonclient.New(cfg.Connection), results: map[string]*protocol.ClusterState{}, running: map[string]bool{}}
}

// Run serves the master until ctx ends or the master refuses the daemon.
func (a *Agent) Run(ctx context.Context) error { return a.client.Run(ctx, a) }

// capacityTimeout bounds the capacity query of a Hello.
const capacityTimeout = 10 * time.Second

// Hello reports the capacity and the clusters this hypervisor runs. A
// capacity that cannot be read is reported as zero: the master then
// places nothing here.
func (a *Agent) Hello(h *protocol.Hello) {
	ctx, cancel := context.WithTimeout(context.Background(), capacityTimeout)
	defer cancel()
	c, err := a.cfg.Backend.Capacity(ctx)
	if err != nil {
		a.cfg.Log.Warn("cannot read the capacity; reporting none", "err", err)
		c = hypervisor.Capacity{}
	}
	h.Hypervisor = &protocol.HypervisorInfo{Backend: a.cfg.BackendName, Clusters: a.cfg.Backend.Clusters(),
		MemoryKib: c.MemoryKiB, FreeMemoryKib: c.FreeMemoryKiB, Cpus: int32(c.CPUs)}
}

// Resends returns command ends the master has not acknowledged. The
// master ignores ends of commands it no longer waits for.
func (a *Agent) Resends() []*protocol.DaemonMessage {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*protocol.DaemonMessage
	for _, st := range a.results {
		out = append(out, &protocol.DaemonMessage{Msg: &protocol.DaemonMessage_ClusterState{ClusterState: st}})
	}
	clear(a.results)
	return out
}

// Handle runs the master's cluster commands.
func (a *Agent) Handle(ctx context.Context, m *protocol.MasterMessage) {
	switch m := m.Msg.(type) {
	case *protocol.MasterMessage_StartCluster:
		a.run(ctx, m.StartCluster.GetId(), func() (string, string, error) {
			c, err := hypervisor.DecodeCluster(m.StartCluster.GetClusterJson())
			if err != nil {
				return "", "", err
			}
			fp, err := pki.ParseFingerprint(m.StartCluster.GetCaFingerprint())
			if err != nil {
				return c.Name, "", err
			}
			spec := hypervisor.ClusterSpec{Cluster: c, Tokens: m.StartCluster.GetTokens(),
				Master: hypervisor.MasterEndpoint{Port: int(m.StartCluster.GetMasterPort()), WebPort: int(m.StartCluster.GetMasterWebPort()),
					IP: m.StartCluster.GetMasterIp(), Fingerprint: fp}}
			a.cfg.Log.Info("starting cluster", "cluster", c.Name, "hosts", len(c.Hosts))
			id := m.StartCluster.GetId()
			pctx := hypervisor.WithProgress(ctx, func(host, phase string) {
				a.client.Send(ctx, &protocol.DaemonMessage{Msg: &protocol.DaemonMessage_ClusterState{ClusterState: &protocol.ClusterState{
					Id: id, Cluster: c.Name, Host: host, Phase: phase}}})
			})
			return c.Name, "", a.cfg.Backend.StartCluster(pctx, spec)
		})
	case *protocol.MasterMessage_StopCluster:
		a.run(ctx, m.StopCluster.GetId(), func() (string, string, error) {
			a.cfg.Log.Info("stopping cluster", "cluster", m.StopCluster.GetCluster())
			return m.StopCluster.GetCluster(), "", a.cfg.Backend.StopCluster(ctx, m.StopCluster.GetCluster())
		})
	case *protocol.MasterMessage_ClusterFault:
		f := m.ClusterFault
		a.run(ctx, f.GetId(), func() (string, string, error) {
			fi, ok := a.cfg.Backend.(hypervisor.FaultInjector)
			if !ok {
				return f.GetCluster(), "", fmt.Errorf("this hypervisor's %s backend cannot set faults", a.cfg.BackendName)
			}
			if len(f.GetSet()) == 0 {
				return f.GetCluster(), "", fi.HealFaults(ctx, f.GetCluster(), f.GetHeal()...)
			}
			spec, err := hypervisor.ParseFault(f.GetSet())
			if err != nil {
				return f.GetCluster(), "", err
			}
			a.cfg.Log.Info("setting a fault", "cluster", f.GetCluster(), "fault", spec.String())
			fault, err := fi.SetFault(ctx, f.GetCluster(), spec)
			return f.GetCluster(), fault.ID, err
		})
	case *protocol.MasterMessage_Heartbeat, *protocol.MasterMessage_Ack:
	default:
		a.cfg.Log.Warn("unexpected message from the master")
	}
}

// run executes a command in the background and reports its end.
func (a *Agent) run(ctx context.Context, id string, f func() (cluster, result string, err error)) {
	a.mu.Lock()
	if a.running[id] {
		a.mu.Unlock()
		return
	}
	a.running[id] = true
	a.mu.Unlock()
	go func() {
		cluster, result, err := f()
		st := &protocol.ClusterState{Id: id, Cluster: cluster, Done: true, Result: result}
		if err != nil {
			st.Error = err.Error()
			a.cfg.Log.Error("cluster command failed", "cluster", cluster, "err", err)
		}
		a.mu.Lock()
		delete(a.running, id)
		a.results[id] = st
		a.mu.Unlock()
		a.client.Send(ctx, &protocol.DaemonMessage{Msg: &protocol.DaemonMessage_ClusterState{ClusterState: st}})
	}()
}
