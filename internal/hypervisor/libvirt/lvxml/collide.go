package lvxml

import (
	"errors"
	"fmt"
	"strings"

	"libvirt.org/go/libvirtxml"
)

// ExistingNetwork is a network already defined in libvirt.
type ExistingNetwork struct {
	XML    *libvirtxml.Network
	Active bool
}

// CollisionError says why a cluster's network cannot be created beside
// the networks libvirt already has. It wraps ErrNetworkCollision.
type CollisionError struct {
	Network  string   // the network that was to be created
	Problems []string // one sentence per colliding network
}

func (e *CollisionError) Error() string {
	return fmt.Sprintf("network %s collides with existing libvirt networks: %s", e.Network, strings.Join(e.Problems, "; "))
}

func (e *CollisionError) Unwrap() error { return ErrNetworkCollision }

// CheckCollisions finds what keeps want from being created: a network of
// the same name, a network (active or not) with the same bridge, or an
// active network whose subnet overlaps want's.
func CheckCollisions(want *libvirtxml.Network, existing []ExistingNetwork) error {
	var problems []string
	var wantBridge string
	if want.Bridge != nil {
		wantBridge = want.Bridge.Name
	}
	for _, e := range existing {
		x := e.XML
		if x.Name == want.Name {
			problems = append(problems, fmt.Sprintf("a network named %s already exists", x.Name))
			continue
		}
		if wantBridge != "" && x.Bridge != nil && x.Bridge.Name == wantBridge {
			problems = append(problems, fmt.Sprintf("network %s already uses bridge %s", x.Name, wantBridge))
		}
		if !e.Active {
			continue
		}
		for _, wip := range want.IPs {
			wp, ok := prefixOf(wip)
			if !ok {
				continue
			}
			for _, xip := range x.IPs {
				xp, ok := prefixOf(xip)
				if ok && wp.Overlaps(xp) {
					problems = append(problems, fmt.Sprintf("active network %s has subnet %s, which overlaps %s", x.Name, xp, wp))
				}
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return &CollisionError{Network: want.Name, Problems: problems}
}

// ErrNetworkCollision: the cluster's network would clash with one libvirt
// already has (name, bridge or subnet). The libvirt backend returns it
// (as libvirt.ErrNetworkCollision) wrapped in a *CollisionError.
var ErrNetworkCollision = errors.New("network collision")
