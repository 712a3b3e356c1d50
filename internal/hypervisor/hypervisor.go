// Package hypervisor defines how the master gets a cluster's machines: a
// Backend starts and stops them. Implementations: local (slaves as local
// processes: quickstart, tests) and, later, libvirt (VMs).
package hypervisor

import (
	"context"

	"github.com/xrdtest/xrdtest/internal/definition"
)

// Backend brings a cluster's machines up and down. StartCluster returns
// once the machines are starting; their slaves then connect to the master
// by themselves. StopCluster removes what StartCluster created and is
// safe to call for a cluster that never started.
type Backend interface {
	StartCluster(ctx context.Context, c *definition.Cluster) error
	StopCluster(ctx context.Context, c *definition.Cluster) error
}
