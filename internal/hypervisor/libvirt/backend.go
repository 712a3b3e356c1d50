package libvirt

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket"
	"libvirt.org/go/libvirtxml"

	"github.com/xrdtest/xrdtest/internal/hypervisor"
	"github.com/xrdtest/xrdtest/internal/hypervisor/libvirt/lvxml"
)

// Backend starts clusters as libvirt domains on isolated libvirt networks.
type Backend struct {
	cfg        Config
	log        *slog.Logger
	dialer     socket.Dialer
	remote     string
	stateFile  string
	lock       *os.File
	domainType string
	// cpuMode is the guest CPU's mode ("" : libvirt's default model).
	cpuMode string
	st      *stateStore

	connMu sync.Mutex
	lv     *libvirt.Libvirt

	clMu    sync.Mutex
	clLocks map[string]*sync.Mutex
}

var _ hypervisor.Backend = (*Backend)(nil)

// New connects to libvirtd, picks the domain type (kvm when the daemon
// offers it and ForceTCG is off, else qemu), checks the pool, and takes
// the state dir for itself (a lock file: one backend per state dir).
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Backend, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	dialer, remote, err := cfg.dialer()
	if err != nil {
		return nil, err
	}
	// 0755: a system libvirtd runs qemu as another user, which must reach
	// the console logs.
	if err := os.MkdirAll(filepath.Join(cfg.StateDir, "console"), 0o755); err != nil {
		return nil, fmt.Errorf("libvirt backend: state dir: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(cfg.StateDir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("libvirt backend: state dir: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("libvirt backend: state dir %s is in use by another xrdtest hypervisor: %w", cfg.StateDir, err)
	}
	b := &Backend{
		cfg:       cfg,
		log:       log,
		dialer:    dialer,
		remote:    remote,
		stateFile: filepath.Join(cfg.StateDir, StateFileName),
		lock:      lock,
		clLocks:   map[string]*sync.Mutex{},
	}
	fail := func(err error) (*Backend, error) {
		b.Close()
		return nil, err
	}
	if b.st, err = loadState(b.stateFile); err != nil {
		return fail(fmt.Errorf("libvirt backend: %w", err))
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	l, err := b.conn()
	if err != nil {
		return fail(err)
	}
	caps, err := l.ConnectGetDomainCapabilities(nil, nil, nil, nil, 0)
	if err != nil {
		return fail(fmt.Errorf("libvirt backend: domain capabilities: %w", err))
	}
	var dc libvirtxml.DomainCaps
	if err := dc.Unmarshal(caps); err != nil {
		return fail(fmt.Errorf("libvirt backend: domain capabilities: %w", err))
	}
	b.domainType = "qemu"
	switch {
	case dc.Domain != "kvm" || cfg.ForceTCG:
	case !cpuHasVirt(cpuinfoPath):
		// Seen on a VM host that hands out /dev/kvm without nested
		// virtualisation: libvirt offers kvm, and the guests then spin
		// without ever reaching their first console line.
		b.log.Warn("libvirt offers KVM but the CPU shows no vmx/svm flag; using TCG (domain type qemu)", "cpuinfo", cpuinfoPath)
	default:
		b.domainType = "kvm"
	}
	if b.domainType == "qemu" && dc.Domain != "qemu" {
		// The capabilities asked for were those of KVM.
		caps, err := l.ConnectGetDomainCapabilities(nil, nil, nil, libvirt.OptString{"qemu"}, 0)
		if err != nil {
			return fail(fmt.Errorf("libvirt backend: domain capabilities of TCG: %w", err))
		}
		dc = libvirtxml.DomainCaps{}
		if err := dc.Unmarshal(caps); err != nil {
			return fail(fmt.Errorf("libvirt backend: domain capabilities of TCG: %w", err))
		}
	}
	b.cpuMode = cpuMode(b.domainType, dc)
	if _, err := b.pool(l); err != nil {
		return fail(err)
	}
	b.healLeftoverFaults()
	b.log.Info("libvirt backend ready", "uri", cfg.URI, "pool", cfg.Pool, "domain_type", b.domainType, "cpu_mode", cmp.Or(b.cpuMode, "default"),
		"kvm_offered", dc.Domain == "kvm", "state", b.stateFile)
	return b, nil
}

// cpuMode is the guests' CPU mode for domains of domainType, given the
// capabilities libvirt reports for that type: "" is libvirt's default
// model (qemu64), on which the slave's TLS and the guest kernel's crypto
// run in software. A TCG guest gets "maximum", every feature TCG emulates
// (AES-NI among them): it boots and enrolls with a fifth less CPU time. A
// KVM guest gets "host-passthrough", the host's own CPU: nothing to
// migrate here, so nothing is lost by tying guests to it.
func cpuMode(domainType string, dc libvirtxml.DomainCaps) string {
	want := "maximum"
	if domainType == "kvm" {
		want = "host-passthrough"
	}
	if dc.CPU != nil {
		for _, m := range dc.CPU.Modes {
			if m.Name == want && m.Supported == "yes" {
				return want
			}
		}
	}
	return ""
}

// Close disconnects from libvirtd and releases the state dir. Running
// clusters keep running; a new backend on the same state dir takes them
// over (see Leftovers and Cleanup).
func (b *Backend) Close() error {
	b.connMu.Lock()
	var err error
	if b.lv != nil && b.lv.IsConnected() {
		err = b.lv.Disconnect()
	}
	b.lv = nil
	b.connMu.Unlock()
	if b.lock != nil {
		syscall.Flock(int(b.lock.Fd()), syscall.LOCK_UN)
		b.lock.Close()
		b.lock = nil
	}
	return err
}

// DomainType is "kvm" or "qemu" (TCG): the type of the domains the
// backend defines.
func (b *Backend) DomainType() string { return b.domainType }

// StateFile is the path of the state file, also named in the metadata
// of every domain and network the backend creates.
func (b *Backend) StateFile() string { return b.stateFile }

// ConsoleLog is the serial console log of a host's domain.
func (b *Backend) ConsoleLog(cluster, host string) string {
	return filepath.Join(b.cfg.StateDir, lvxml.ConsoleFile(lvxml.DomainName(cluster, host)))
}

// Capacity is the hypervisor host's memory, free memory and CPUs, as
// libvirtd reports them.
func (b *Backend) Capacity(ctx context.Context) (hypervisor.Capacity, error) {
	l, err := b.conn()
	if err != nil {
		return hypervisor.Capacity{}, err
	}
	_, memKiB, cpus, _, _, _, _, _, err := l.NodeGetInfo()
	if err != nil {
		return hypervisor.Capacity{}, fmt.Errorf("node info: %w", err)
	}
	free, err := l.NodeGetFreeMemory()
	if err != nil {
		return hypervisor.Capacity{}, fmt.Errorf("node free memory: %w", err)
	}
	return hypervisor.Capacity{MemoryKiB: int64(memKiB), FreeMemoryKiB: int64(free / 1024), CPUs: int(cpus)}, nil
}

// cpuinfoPath is read by cpuHasVirt; the backend runs on the hypervisor
// host (local socket only), so this is the CPU the guests get.
var cpuinfoPath = "/proc/cpuinfo"

// cpuHasVirt reports whether the CPU flags include vmx or svm; an
// unreadable file counts as yes (trust libvirt).
func cpuHasVirt(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return true
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(k) != "flags" {
			continue
		}
		for _, f := range strings.Fields(v) {
			if f == "vmx" || f == "svm" {
				return true
			}
		}
		return false
	}
	return true
}

// conn returns the connection, dialling again if it was lost.
func (b *Backend) conn() (*libvirt.Libvirt, error) {
	b.connMu.Lock()
	defer b.connMu.Unlock()
	if b.lv != nil && b.lv.IsConnected() {
		return b.lv, nil
	}
	l := libvirt.NewWithDialer(b.dialer)
	if err := l.ConnectToURI(libvirt.ConnectURI(b.remote)); err != nil {
		return nil, fmt.Errorf("connect to libvirt at %s: %w", b.cfg.URI, err)
	}
	b.lv = l
	return l, nil
}

func (b *Backend) lockCluster(name string) func() {
	b.clMu.Lock()
	m := b.clLocks[name]
	if m == nil {
		m = &sync.Mutex{}
		b.clLocks[name] = m
	}
	b.clMu.Unlock()
	m.Lock()
	return m.Unlock
}

func (b *Backend) progress(ctx context.Context, host, phase string) {
	if b.cfg.Progress != nil {
		b.cfg.Progress(host, phase)
	}
	hypervisor.ReportProgress(ctx, host, phase)
}

// poolInfo is the storage pool the backend works in.
type poolInfo struct {
	ref  libvirt.StoragePool
	path string
}

// pool looks the pool up and requires it to be running and file based
// (dir, fs or netfs): overlays, kernels and mkfs need file paths.
func (b *Backend) pool(l *libvirt.Libvirt) (poolInfo, error) {
	p, err := l.StoragePoolLookupByName(b.cfg.Pool)
	if err != nil {
		return poolInfo{}, fmt.Errorf("storage pool %s: %w", b.cfg.Pool, err)
	}
	if active, err := l.StoragePoolIsActive(p); err != nil {
		return poolInfo{}, fmt.Errorf("storage pool %s: %w", b.cfg.Pool, err)
	} else if active == 0 {
		return poolInfo{}, fmt.Errorf("storage pool %s is not active (virsh pool-start %s)", b.cfg.Pool, b.cfg.Pool)
	}
	s, err := l.StoragePoolGetXMLDesc(p, 0)
	if err != nil {
		return poolInfo{}, fmt.Errorf("storage pool %s: %w", b.cfg.Pool, err)
	}
	var x libvirtxml.StoragePool
	if err := x.Unmarshal(s); err != nil {
		return poolInfo{}, fmt.Errorf("storage pool %s: %w", b.cfg.Pool, err)
	}
	switch x.Type {
	case "dir", "fs", "netfs":
	default:
		return poolInfo{}, fmt.Errorf("storage pool %s is of type %q; the libvirt backend needs a file based pool (dir, fs or netfs)", b.cfg.Pool, x.Type)
	}
	pi := poolInfo{ref: p}
	if x.Target != nil {
		pi.path = x.Target.Path
	}
	return pi, nil
}

// libvirt error helpers. Cleanup treats not-found as done.

func errCode(err error) (uint32, bool) {
	var e libvirt.Error
	if errors.As(err, &e) {
		return e.Code, true
	}
	return 0, false
}

func isNotFound(err error) bool {
	c, ok := errCode(err)
	if !ok {
		return false
	}
	switch libvirt.ErrorNumber(c) {
	case libvirt.ErrNoDomain, libvirt.ErrNoNetwork, libvirt.ErrNoStorageVol, libvirt.ErrNoStoragePool, libvirt.ErrNoDomainMetadata:
		return true
	}
	return false
}

// isNotRunning: destroying a domain that is shut off or a network that is
// inactive.
func isNotRunning(err error) bool {
	c, ok := errCode(err)
	return ok && libvirt.ErrorNumber(c) == libvirt.ErrOperationInvalid
}

func uuidString(u libvirt.UUID) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// domainOwner reads the backend's metadata of a domain; ok is false for a
// domain without it.
func domainOwner(l *libvirt.Libvirt, d libvirt.Domain) (lvxml.Owner, bool, error) {
	s, err := l.DomainGetMetadata(d, int32(libvirt.DomainMetadataElement), libvirt.OptString{lvxml.MetadataNS}, libvirt.DomainAffectCurrent)
	if err != nil {
		if isNotFound(err) {
			return lvxml.Owner{}, false, nil
		}
		return lvxml.Owner{}, false, err
	}
	o, ok := lvxml.ParseMetadataAnswer(s)
	return o, ok, nil
}

// networkOwner reads the backend's metadata of a network from its XML.
func networkOwner(x *libvirtxml.Network) (lvxml.Owner, bool) {
	if x.Metadata == nil {
		return lvxml.Owner{}, false
	}
	return lvxml.ParseOwner(x.Metadata.XML)
}

func (b *Backend) ours(o lvxml.Owner, ok bool) bool { return ok && o.State == b.stateFile }

// listNetworks returns every network with its XML and whether it is active.
func listNetworks(l *libvirt.Libvirt) ([]lvxml.ExistingNetwork, []libvirt.Network, error) {
	all, _, err := l.ConnectListAllNetworks(1, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("list networks: %w", err)
	}
	var out []lvxml.ExistingNetwork
	var refs []libvirt.Network
	for _, n := range all {
		s, err := l.NetworkGetXMLDesc(n, 0)
		if isNotFound(err) {
			continue // gone meanwhile
		}
		if err != nil {
			return nil, nil, fmt.Errorf("network %s: %w", n.Name, err)
		}
		x := &libvirtxml.Network{}
		if err := x.Unmarshal(s); err != nil {
			return nil, nil, fmt.Errorf("network %s: %w", n.Name, err)
		}
		active, err := l.NetworkIsActive(n)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("network %s: %w", n.Name, err)
		}
		out = append(out, lvxml.ExistingNetwork{XML: x, Active: active == 1})
		refs = append(refs, n)
	}
	return out, refs, nil
}

// ourDomain is a domain carrying the backend's metadata.
type ourDomain struct {
	ref   libvirt.Domain
	owner lvxml.Owner
}

// listOurDomains returns the domains whose metadata names our state file.
func (b *Backend) listOurDomains(l *libvirt.Libvirt) ([]ourDomain, error) {
	all, _, err := l.ConnectListAllDomains(1, 0)
	if err != nil {
		return nil, fmt.Errorf("list domains: %w", err)
	}
	var out []ourDomain
	for _, d := range all {
		o, ok, err := domainOwner(l, d)
		if err != nil {
			return nil, fmt.Errorf("domain %s: %w", d.Name, err)
		}
		if b.ours(o, ok) {
			out = append(out, ourDomain{ref: d, owner: o})
		}
	}
	slices.SortFunc(out, func(a, b ourDomain) int {
		if a.ref.Name < b.ref.Name {
			return -1
		}
		if a.ref.Name > b.ref.Name {
			return 1
		}
		return 0
	})
	return out, nil
}
