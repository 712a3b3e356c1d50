// Package backends opens a hypervisor backend by its name, for the
// commands that take the name from a flag or a configuration file (the
// hypervisor daemon, quickstart). It is the one list of backends.
package backends

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/xrdtest/xrdtest/internal/hypervisor"
	"github.com/xrdtest/xrdtest/internal/hypervisor/libvirt"
	"github.com/xrdtest/xrdtest/internal/hypervisor/local"
	"github.com/xrdtest/xrdtest/internal/hypervisor/netns"
)

// The backends' names.
const (
	Local   = "local"   // slaves as processes on this machine
	Libvirt = "libvirt" // VMs
	Netns   = "netns"   // hosts in namespaces of their own on this machine
)

// Names lists the backends Open knows.
var Names = []string{Local, Libvirt, Netns}

// ErrUnknown is returned by Open for a name not in Names.
var ErrUnknown = errors.New("unknown backend")

// Settings is what Open needs; each backend takes its part.
type Settings struct {
	// StateDir holds the backends' files: machines/ (local: the slaves'
	// folders and logs), libvirt/ (libvirt: state file, console logs) and
	// netns/ (netns: the clusters' folders).
	StateDir string
	// MasterAddr (local, netns) is where the slaves reach the master; ""
	// means this machine at the port each cluster's spec names. netns
	// takes its host only: the port is always the spec's.
	MasterAddr string
	// Binary (local, netns) is the xrdtest executable the slaves run; ""
	// means this one.
	Binary string
	// LibvirtURI, Pool and ForceTCG (libvirt): see libvirt.Config.
	LibvirtURI string
	Pool       string
	ForceTCG   bool
	Log        *slog.Logger
}

// Backend is a backend opened by Open.
type Backend struct {
	hypervisor.Backend
	// Name is the backend's name, one of Names.
	Name string
	// Libvirt is the libvirt backend when Name is Libvirt, for its own
	// operations (boot images, cached volumes); nil otherwise.
	Libvirt *libvirt.Backend
}

var _ hypervisor.FaultInjector = (*Backend)(nil)

// SetFault sets a fault through the backend, or says it cannot.
func (b *Backend) SetFault(ctx context.Context, cluster string, spec hypervisor.FaultSpec) (hypervisor.Fault, error) {
	fi, ok := b.Backend.(hypervisor.FaultInjector)
	if !ok {
		return hypervisor.Fault{}, fmt.Errorf("the %s backend cannot set faults", b.Name)
	}
	return fi.SetFault(ctx, cluster, spec)
}

// HealFaults heals faults through the backend; one that sets none has
// none to heal.
func (b *Backend) HealFaults(ctx context.Context, cluster string, ids ...string) error {
	if fi, ok := b.Backend.(hypervisor.FaultInjector); ok {
		return fi.HealFaults(ctx, cluster, ids...)
	}
	return nil
}

// Faults lists the faults on through the backend.
func (b *Backend) Faults(cluster string) []hypervisor.Fault {
	if fi, ok := b.Backend.(hypervisor.FaultInjector); ok {
		return fi.Faults(cluster)
	}
	return nil
}

// Close releases what Open took (libvirt: the connection and the state
// dir's lock). Running clusters are left as they are.
func (b *Backend) Close() error {
	if b.Libvirt != nil {
		return b.Libvirt.Close()
	}
	return nil
}

// Open returns the backend called name. Errors name the backend: an
// unknown name (ErrUnknown, listing Names), "libvirt: " and why libvirtd
// cannot be used, or "netns backend: " and what the machine lacks.
func Open(ctx context.Context, name string, s Settings) (*Backend, error) {
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	switch name {
	case Local:
		bin := s.Binary
		if bin == "" {
			var err error
			if bin, err = os.Executable(); err != nil {
				return nil, fmt.Errorf("local: cannot find the xrdtest binary: %w", err)
			}
		}
		return &Backend{Name: name, Backend: &local.Backend{Binary: bin, Dir: filepath.Join(s.StateDir, "machines"),
			MasterAddr: s.MasterAddr, Log: s.Log}}, nil
	case Netns:
		bin := s.Binary
		if bin == "" {
			var err error
			if bin, err = os.Executable(); err != nil {
				return nil, fmt.Errorf("netns: cannot find the xrdtest binary: %w", err)
			}
		}
		host := ""
		if s.MasterAddr != "" {
			if h, _, err := net.SplitHostPort(s.MasterAddr); err == nil {
				host = h
			}
		}
		nb, err := netns.New(netns.Config{StateDir: filepath.Join(s.StateDir, "netns"), Binary: bin, MasterHost: host, Log: s.Log})
		if err != nil {
			return nil, err
		}
		return &Backend{Name: name, Backend: nb}, nil
	case Libvirt:
		lb, err := libvirt.New(ctx, libvirt.Config{URI: s.LibvirtURI, Pool: s.Pool, ForceTCG: s.ForceTCG,
			StateDir: filepath.Join(s.StateDir, "libvirt")}, s.Log)
		if err != nil {
			return nil, fmt.Errorf("libvirt: %w", err)
		}
		return &Backend{Name: name, Backend: lb, Libvirt: lb}, nil
	}
	return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknown, name, strings.Join(Names, ", "))
}
