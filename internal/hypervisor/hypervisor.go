// Package hypervisor defines how the master gets a cluster's machines: a
// Backend starts and stops them. Implementations: local (slaves as local
// processes: quickstart, tests) and libvirt (VMs).
package hypervisor

import (
	"context"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/pki"
)

// ClusterSpec is what a backend needs to start a cluster.
type ClusterSpec struct {
	Cluster *definition.Cluster
	// Master says how the machines reach and trust the master.
	Master MasterEndpoint
	// Tokens holds a one-time enrollment token per host name: each slave
	// enrolls with its own, bound to its name.
	Tokens map[string]string
}

// MasterEndpoint is the master as the cluster's machines see it.
type MasterEndpoint struct {
	// Port is the master's daemon port.
	Port int
	// IP is the address master.xrd.test resolves to in the cluster's
	// network; "" means the network's gateway (a master listening there).
	IP string
	// Fingerprint pins the master's CA.
	Fingerprint pki.Fingerprint
}

// Backend brings a cluster's machines up and down. StartCluster returns
// once the machines are starting; their slaves then connect to the master
// by themselves. StopCluster removes what StartCluster created and is
// safe to call for a cluster that never started.
type Backend interface {
	StartCluster(ctx context.Context, spec ClusterSpec) error
	StopCluster(ctx context.Context, cluster string) error
}

type progressKey struct{}

// WithProgress returns a context whose StartCluster calls report per-host
// progress (defining, booting...) to f. The master records it in the
// session's events; a hypervisor daemon relays it to the master.
func WithProgress(ctx context.Context, f func(host, phase string)) context.Context {
	return context.WithValue(ctx, progressKey{}, f)
}

// ReportProgress reports a host's progress to whoever asked for it with
// WithProgress; it does nothing otherwise. Safe from several goroutines
// when f is.
func ReportProgress(ctx context.Context, host, phase string) {
	if f, ok := ctx.Value(progressKey{}).(func(host, phase string)); ok && f != nil {
		f(host, phase)
	}
}
