package agent

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"

	"github.com/xrdtest/xrdtest/internal/hypervisor"
	"github.com/xrdtest/xrdtest/internal/protocol"
)

// listed is a backend that runs the clusters it lists and reports a
// fixed capacity or error.
type listed struct {
	clusters []string
	capacity hypervisor.Capacity
	err      error
}

func (b listed) StartCluster(context.Context, hypervisor.ClusterSpec) error {
	return errors.ErrUnsupported
}
func (b listed) StopCluster(context.Context, string) error             { return errors.ErrUnsupported }
func (b listed) Clusters() []string                                    { return b.clusters }
func (b listed) Running(c string) bool                                 { return slices.Contains(b.clusters, c) }
func (b listed) Capacity(context.Context) (hypervisor.Capacity, error) { return b.capacity, b.err }

// TestHello: the hello carries the backend's name, clusters and capacity;
// a capacity that cannot be read is reported as none.
func TestHello(t *testing.T) {
	for _, tt := range []struct {
		name    string
		backend listed
		want    *protocol.HypervisorInfo
	}{
		{"capacity", listed{clusters: []string{"c1", "c2"}, capacity: hypervisor.Capacity{MemoryKiB: 8 << 20, FreeMemoryKiB: 5 << 20, CPUs: 4}},
			&protocol.HypervisorInfo{Backend: "fake", Clusters: []string{"c1", "c2"}, MemoryKib: 8 << 20, FreeMemoryKib: 5 << 20, Cpus: 4}},
		{"capacity error", listed{clusters: []string{"c1"}, capacity: hypervisor.Capacity{MemoryKiB: 1, FreeMemoryKiB: 1, CPUs: 1}, err: errors.New("libvirtd away")},
			&protocol.HypervisorInfo{Backend: "fake", Clusters: []string{"c1"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := New(Config{BackendName: "fake", Backend: tt.backend, Log: slog.New(slog.NewTextHandler(t.Output(), nil))})
			var h protocol.Hello
			a.Hello(&h)
			got := h.GetHypervisor()
			if got.GetBackend() != tt.want.Backend || !slices.Equal(got.GetClusters(), tt.want.Clusters) || got.GetMemoryKib() != tt.want.MemoryKib ||
				got.GetFreeMemoryKib() != tt.want.FreeMemoryKib || got.GetCpus() != tt.want.Cpus {
				t.Errorf("hello %v, want %v", got, tt.want)
			}
		})
	}
}
