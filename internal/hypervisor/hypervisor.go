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
