package daemons

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/xrdtest/xrdtest/internal/hypervisor"
	"github.com/xrdtest/xrdtest/internal/pki"
	"github.com/xrdtest/xrdtest/internal/protocol"
)

func TestPlacement(t *testing.T) {
	r := NewRegistry(RegistryConfig{Hypervisors: true})
	h := r.Hypervisors()
	if _, err := h.choose("c1", 1); err == nil || !strings.Contains(err.Error(), "no hypervisor is connected") {
		t.Fatalf("none connected: %v", err)
	}
	for name, free := range map[string]int64{"hv-small": 1 << 20, "hv-big": 8 << 20} {
		id := pki.Identity{Role: pki.RoleHypervisor, Name: name}
		r.daemons[id] = &daemonConn{id: id, hv: &protocol.HypervisorInfo{FreeMemoryKib: free}, closed: make(chan struct{})}
	}
	// The one with the most room, counting what was already placed.
	// 3 GiB clusters: big (8 GiB) takes two, then small (1 GiB) has no
	// room and big has 2 GiB left.
	for i, want := range []string{"hv-big", "hv-big"} {
		c, err := h.choose("c", 3<<20)
		if err != nil {
			t.Fatalf("placement %d: %v", i, err)
		}
		if c.id.Name != want {
			t.Errorf("placement %d on %s, want %s", i, c.id.Name, want)
		}
		h.mu.Lock()
		h.placed[string(rune('a'+i))] = placement{hypervisor: c.id.Name, memKiB: 3 << 20}
		h.mu.Unlock()
	}
	// A 1 GiB cluster goes where most room is left: big (2 GiB).
	if c, err := h.choose("d", 1<<20); err != nil || c.id.Name != "hv-big" {
		t.Errorf("1 GiB cluster: %v %v", c, err)
	}
	_, err := h.choose("huge", 3<<20)
	if err == nil || err.Error() != "no hypervisor has room for cluster huge, which needs 3072 MiB: hv-big has 2048 MiB free; hv-small has 1024 MiB free" {
		t.Errorf("no room: %v", err)
	}
}

func TestAdoptAfterHypervisorRestart(t *testing.T) {
	r := NewRegistry(RegistryConfig{Hypervisors: true})
	h := r.Hypervisors()
	h.init()
	h.placed["live"] = placement{hypervisor: "hv1", memKiB: 1}
	h.placed["elsewhere"] = placement{hypervisor: "hv2", memKiB: 1}
	id := pki.Identity{Role: pki.RoleHypervisor, Name: "hv1"}
	c := &daemonConn{id: id, out: make(chan *protocol.MasterMessage, 8), closed: make(chan struct{}), log: discardLogger()}
	h.adopt(c, []string{"live", "orphan", "elsewhere"})
	var stopped []string
	for len(c.out) > 0 {
		m := <-c.out
		if s := m.GetStopCluster(); s != nil {
			stopped = append(stopped, s.GetCluster())
		}
	}
	// The live cluster of a session is adopted again; the others are
	// stopped (one placed on another hypervisor runs here, so it is stale).
	if strings.Join(stopped, ",") != "orphan,elsewhere" {
		t.Errorf("stopped %v, want orphan and elsewhere", stopped)
	}
}

// TestKeepHeld: a restarted master keeps the clusters of its held
// sessions: the hypervisor that comes back with one keeps it and is known
// to run it; the others are removed as ever.
func TestKeepHeld(t *testing.T) {
	r := NewRegistry(RegistryConfig{Hypervisors: true})
	h := r.Hypervisors()
	h.Keep("held")
	if !h.Running("held") {
		t.Fatal("a kept cluster is not in use")
	}
	id := pki.Identity{Role: pki.RoleHypervisor, Name: "hv1"}
	c := &daemonConn{id: id, out: make(chan *protocol.MasterMessage, 8), closed: make(chan struct{}), log: discardLogger()}
	h.adopt(c, []string{"held", "orphan"})
	if len(c.out) != 1 || (<-c.out).GetStopCluster().GetCluster() != "orphan" {
		t.Error("want only the orphan removed")
	}
	h.mu.Lock()
	p := h.placed["held"]
	h.mu.Unlock()
	if p.hypervisor != "hv1" {
		t.Errorf("the held cluster is placed on %q, want hv1", p.hypervisor)
	}
	// Stopped before its hypervisor came back: it is no longer kept.
	h.Keep("gone")
	if err := h.StopCluster(t.Context(), "gone"); err == nil || !strings.Contains(err.Error(), "has not reconnected since the master's restart") {
		t.Errorf("stop of a kept cluster whose hypervisor is away: %v", err)
	}
	if h.Running("gone") {
		t.Error("still kept after its stop")
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// A session that ends while its hypervisor is away cannot stop its
// cluster; when the hypervisor comes back with it, no session uses it
// any more and it is removed, not re-adopted.
func TestStopWhileHypervisorAway(t *testing.T) {
	r := NewRegistry(RegistryConfig{Hypervisors: true})
	h := r.Hypervisors()
	h.init()
	h.placed["c1"] = placement{hypervisor: "hv1", memKiB: 1}
	err := h.StopCluster(t.Context(), "c1")
	if err == nil || !strings.Contains(err.Error(), "hypervisor hv1, which runs cluster c1, is not connected") {
		t.Fatalf("StopCluster with the hypervisor away: %v", err)
	}
	id := pki.Identity{Role: pki.RoleHypervisor, Name: "hv1"}
	c := &daemonConn{id: id, out: make(chan *protocol.MasterMessage, 8), closed: make(chan struct{}), log: discardLogger()}
	h.adopt(c, []string{"c1"})
	if len(c.out) != 1 || (<-c.out).GetStopCluster().GetCluster() != "c1" {
		t.Error("the cluster of the ended session was not removed when its hypervisor came back")
	}
}

func TestRunningClusters(t *testing.T) {
	h := NewRegistry(RegistryConfig{Hypervisors: true}).Hypervisors()
	if h.Running("c1") || len(h.Placements()) != 0 || len(h.Clusters()) != 0 {
		t.Fatal("a cluster runs on no hypervisor")
	}
	h.mu.Lock()
	h.init()
	h.placed["c1"] = placement{hypervisor: "hv1", memKiB: 1}
	h.mu.Unlock()
	if !h.Running("c1") || h.Running("c2") {
		t.Errorf("Running: c1 %v, c2 %v", h.Running("c1"), h.Running("c2"))
	}
	if p := h.Placements(); len(p) != 1 || p["c1"] != "hv1" {
		t.Errorf("Placements %v", p)
	}
	if cl := h.Clusters(); len(cl) != 1 || cl[0] != "c1" {
		t.Errorf("Clusters %v", cl)
	}
}

// TestCapacity: the connected hypervisors' capacities add up; the memory
// of the clusters placed since they said is no longer free, and a
// hypervisor overcommitted by placements counts as having none.
func TestCapacity(t *testing.T) {
	r := NewRegistry(RegistryConfig{Hypervisors: true})
	h := r.Hypervisors()
	if c, err := h.Capacity(t.Context()); err != nil || c != (hypervisor.Capacity{}) {
		t.Errorf("none connected: %+v %v", c, err)
	}
	for name, info := range map[string]*protocol.HypervisorInfo{
		"hv1": {MemoryKib: 4 << 20, FreeMemoryKib: 3 << 20, Cpus: 4},
		"hv2": {MemoryKib: 2 << 20, FreeMemoryKib: 1 << 20, Cpus: 2},
	} {
		id := pki.Identity{Role: pki.RoleHypervisor, Name: name}
		r.daemons[id] = &daemonConn{id: id, hv: info, closed: make(chan struct{})}
	}
	h.mu.Lock()
	h.init()
	h.placed["c1"] = placement{hypervisor: "hv1", memKiB: 1 << 20}
	h.placed["c2"] = placement{hypervisor: "hv2", memKiB: 2 << 20}
	h.mu.Unlock()
	want := hypervisor.Capacity{MemoryKiB: 6 << 20, FreeMemoryKiB: 2 << 20, CPUs: 6}
	if c, err := h.Capacity(t.Context()); err != nil || c != want {
		t.Errorf("Capacity %+v %v, want %+v", c, err, want)
	}
}
