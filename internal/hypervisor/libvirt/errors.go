package libvirt

import (
	"errors"

	"github.com/xrdtest/xrdtest/internal/hypervisor/libvirt/lvxml"
)

// Sentinel errors; errors.Is works on what the backend returns.
var (
	// ErrNetworkCollision: the cluster's network would clash with one
	// libvirt already has (name, bridge or subnet).
	ErrNetworkCollision = lvxml.ErrNetworkCollision
	// ErrBootImageMissing: a host's boot image is not in the pool.
	ErrBootImageMissing = errors.New("boot image missing")
	// ErrNotOurs: an object the cluster needs exists and was not created
	// by this backend (no metadata or state record of ours); it is left
	// alone.
	ErrNotOurs = errors.New("object exists and was not created by xrdtest")
)

// CollisionError says why a cluster's network cannot be created beside
// the networks libvirt already has. It wraps ErrNetworkCollision.
type CollisionError = lvxml.CollisionError
