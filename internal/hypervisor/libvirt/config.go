package libvirt

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/digitalocean/go-libvirt/socket"
	"github.com/digitalocean/go-libvirt/socket/dialers"
)

// DefaultURI is the libvirt URI used when Config.URI is empty.
const DefaultURI = "qemu:///system"

// DefaultSocket is the socket of the system libvirtd.
const DefaultSocket = "/run/libvirt/libvirt-sock"

// DefaultPool is the storage pool used when Config.Pool is empty.
const DefaultPool = "default"

// Phases reported through Config.Progress, in this order per host.
const (
	PhasePreparing = "preparing" // volumes: boot overlay, data disks
	PhaseDefining  = "defining"  // domain being defined
	PhaseBooting   = "booting"   // domain started; the guest is booting
)

// Config says which libvirtd to use and where the backend keeps its state.
type Config struct {
	// URI of the libvirtd: qemu:///system (the default), or
	// qemu+unix:///system?socket=PATH for a daemon on another socket.
	// Only local unix sockets are supported: data disks are formatted by
	// running mkfs.ext4 on the volume files, so the backend must run on the
	// hypervisor host.
	URI string
	// Pool is the storage pool holding the boot images; the backend also
	// creates its volumes there. Default "default".
	Pool string
	// ForceTCG makes domains type "qemu" (TCG) even where KVM is offered.
	// Without it the type is "kvm" when libvirtd offers KVM and the CPU
	// shows vmx or svm (a /dev/kvm without them was seen to hang guests).
	ForceTCG bool
	// StateDir holds state.json (everything the backend created) and
	// console/<domain>.log (each guest's serial console). Required.
	StateDir string
	// ExtraKernelArgs are appended to the kernel command line of guests
	// booted directly from a kernel (e.g. "loglevel=7").
	ExtraKernelArgs []string
	// Progress, when set, is called as each host moves through the
	// phases PhasePreparing, PhaseDefining and PhaseBooting. It is called
	// from several goroutines at once.
	Progress func(host, phase string)
	// Dialer overrides the connection made from URI (tests).
	Dialer socket.Dialer
	// DialTimeout bounds the connection to libvirtd; default 15 s.
	DialTimeout time.Duration
	// Mkfs is the command that formats a data disk, the volume path
	// appended; default mkfs.ext4 -F -q.
	Mkfs []string
}

func (c *Config) setDefaults() error {
	if c.URI == "" {
		c.URI = DefaultURI
	}
	if c.Pool == "" {
		c.Pool = DefaultPool
	}
	if c.StateDir == "" {
		return errors.New("libvirt backend: Config.StateDir is required")
	}
	abs, err := filepath.Abs(c.StateDir)
	if err != nil {
		return fmt.Errorf("libvirt backend: state dir: %w", err)
	}
	c.StateDir = abs
	if c.DialTimeout == 0 {
		c.DialTimeout = 15 * time.Second
	}
	if len(c.Mkfs) == 0 {
		c.Mkfs = []string{"mkfs.ext4", "-F", "-q"}
	}
	return nil
}

// Endpoint is a parsed libvirt URI: the socket to dial and the URI the
// daemon is asked to open over it.
type Endpoint struct {
	Socket string
	// Remote is the URI sent to the daemon (no transport, no socket).
	Remote string
}

// ParseURI accepts qemu:///system and qemu+unix:///system with an optional
// socket=PATH query parameter; other transports, hosts and the session
// daemon are refused with a reason.
func ParseURI(s string) (Endpoint, error) {
	if s == "" {
		s = DefaultURI
	}
	u, err := url.Parse(s)
	if err != nil {
		return Endpoint{}, fmt.Errorf("libvirt URI %q: %w", s, err)
	}
	driver, transport, _ := strings.Cut(u.Scheme, "+")
	if driver != "qemu" {
		return Endpoint{}, fmt.Errorf("libvirt URI %q: driver %q is not supported, want qemu", s, driver)
	}
	if transport != "" && transport != "unix" {
		return Endpoint{}, fmt.Errorf("libvirt URI %q: transport %q is not supported, want a local unix socket (qemu:///system or qemu+unix:///system?socket=PATH)", s, transport)
	}
	if u.Host != "" {
		return Endpoint{}, fmt.Errorf("libvirt URI %q: remote host %q is not supported: the backend must run on the hypervisor host", s, u.Host)
	}
	if u.Path != "/system" {
		return Endpoint{}, fmt.Errorf("libvirt URI %q: path %q is not supported, want /system (networks need the system daemon)", s, u.Path)
	}
	ep := Endpoint{Socket: DefaultSocket, Remote: "qemu:///system"}
	for k, v := range u.Query() {
		switch k {
		case "socket":
			if len(v) != 1 || !filepath.IsAbs(v[0]) {
				return Endpoint{}, fmt.Errorf("libvirt URI %q: socket must be one absolute path", s)
			}
			ep.Socket = filepath.Clean(v[0])
		default:
			return Endpoint{}, fmt.Errorf("libvirt URI %q: parameter %q is not supported (only socket)", s, k)
		}
	}
	return ep, nil
}

func (c *Config) dialer() (socket.Dialer, string, error) {
	ep, err := ParseURI(c.URI)
	if err != nil {
		return nil, "", err
	}
	if c.Dialer != nil {
		return c.Dialer, ep.Remote, nil
	}
	return dialers.NewLocal(dialers.WithSocket(ep.Socket), dialers.WithLocalTimeout(c.DialTimeout)), ep.Remote, nil
}
