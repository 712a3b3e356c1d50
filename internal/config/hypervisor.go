package config

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/xrdtest/xrdtest/internal/config/ini"
)

// DefaultHypervisorFile is where the original framework looked for the
// hypervisor configuration.
const DefaultHypervisorFile = "/etc/XrdTest/XrdTestHypervisor.conf"

// DefaultStoragePool is the libvirt pool used when storage_pool is unset.
const DefaultStoragePool = "default"

// Hypervisor is the hypervisor daemon's configuration
// (XrdTestHypervisor.conf).
//
// Original keys:
//
//	[test_master]      ip, port (20000), connection_passwd
//	[virtual_machines] emulator_path (ignored, with a warning: libvirt
//	                   chooses the emulator), storage_pool (the libvirt pool
//	                   holding the boot images; unset or empty: "default", with
//	                   a warning)
//	[security]         certfile, keyfile
//	[daemon]           pid_file_path, log_file_path, log_level (INFO)
//
// Keys added by xrdtest (see testdata/hypervisor-full.conf):
//
//	[test_master] ca_fingerprint, ca_file: how to trust the master (see TestMaster)
//	[hypervisor]  name (empty: the caller uses the host name)
//	              state_dir (/var/lib/xrdtest/hypervisor)
//	[libvirt]     uri (qemu:///system)
//	              force_tcg (0): software emulation even where KVM exists
//
// Relative paths are resolved against the directory of the file that sets
// them.
type Hypervisor struct {
	TestMaster      TestMaster
	VirtualMachines VirtualMachines
	Hypervisor      HypervisorSection
	Libvirt         Libvirt
	Security        Security
	Daemon          Daemon

	keys keyRecord
}

// VirtualMachines is the hypervisor's [virtual_machines] section.
type VirtualMachines struct {
	// EmulatorPath: emulator_path, read but ignored.
	EmulatorPath string
	// StoragePool: storage_pool, the libvirt storage pool holding the
	// boot images (default "default").
	StoragePool string
}

// HypervisorSection is the hypervisor's [hypervisor] section (new).
type HypervisorSection struct {
	// Name: name, the hypervisor's identity. Empty: the caller uses the
	// host name.
	Name string
	// StateDir: state_dir (default /var/lib/xrdtest/hypervisor): enrolled
	// key and certificate, VM records.
	StateDir string
	// Backend: backend (new), "libvirt" (default: VMs), "local" (the
	// hosts run as local slave processes: tests, demos) or "netns" (each
	// host in namespaces of its own on this machine; root).
	Backend string
}

// Libvirt is the hypervisor's [libvirt] section (new).
type Libvirt struct {
	// URI: uri (default qemu:///system).
	URI string
	// ForceTCG: force_tcg (default 0), run VMs with software emulation
	// even where KVM is available.
	ForceTCG bool
}

// DefaultHypervisor returns the hypervisor configuration with every
// default. The master's ip has no default.
func DefaultHypervisor() *Hypervisor {
	return &Hypervisor{
		TestMaster:      TestMaster{Port: 20000},
		VirtualMachines: VirtualMachines{StoragePool: DefaultStoragePool},
		Hypervisor:      HypervisorSection{StateDir: "/var/lib/xrdtest/hypervisor", Backend: "libvirt"},
		Libvirt:         Libvirt{URI: "qemu:///system"},
		Daemon:          defaultDaemon(),
	}
}

// LoadHypervisor returns the defaults merged with the file at path,
// validated; see LoadMaster.
func LoadHypervisor(path string) (*Hypervisor, []Warning, error) {
	return loadValidated(DefaultHypervisor(), path)
}

// Load merges the INI file at path into h; see Master.Load. A file
// without storage_pool gives a warning.
func (h *Hypervisor) Load(path string) ([]Warning, error) { return load(h, path) }

// Merge merges a parsed file into h.
func (h *Hypervisor) Merge(f *ini.File) ([]Warning, error) {
	warns, err := h.table().merge(f, knownSections("test_master", "virtual_machines", "hypervisor", "libvirt", "security", "daemon"))
	if e, ok := f.Raw("virtual_machines", "storage_pool"); (!ok && h.Source("virtual_machines.storage_pool").IsDefault()) || (ok && e.Value == "") {
		src := Source{File: f.Name}
		if s := f.Section("virtual_machines"); s != nil {
			src.Line = s.Line
		}
		warns = append(warns, Warning{Source: src, Section: "virtual_machines", Key: "storage_pool",
			Msg: fmt.Sprintf("not set: using the libvirt storage pool %q", h.VirtualMachines.StoragePool)})
	}
	return warns, err
}

// Set sets one key ("section.key"); see Master.Set.
func (h *Hypervisor) Set(key, value, source string) error {
	_, err := h.table().set(key, value, source)
	return err
}

// Override is Set.
func (h *Hypervisor) Override(key, value, source string) error { return h.Set(key, value, source) }

// Source returns where the value of key ("section.key") came from.
func (h *Hypervisor) Source(key string) Source { return h.table().source(key) }

// Settings returns every key with its value (secrets redacted) and source.
func (h *Hypervisor) Settings() []Setting { return h.table().settings() }

// Validate checks the whole configuration; see Master.Validate.
func (h *Hypervisor) Validate() error {
	t := h.table()
	errs := t.validateTestMaster(h.TestMaster)
	if strings.TrimSpace(h.VirtualMachines.StoragePool) == "" {
		errs = append(errs, t.invalid("virtual_machines", "storage_pool", "empty: want a libvirt storage pool name"))
	}
	if h.Hypervisor.Name != "" && strings.ContainsAny(h.Hypervisor.Name, " \t\n/") {
		errs = append(errs, t.invalid("hypervisor", "name", "must not contain spaces or '/'"))
	}
	if h.Hypervisor.StateDir == "" {
		errs = append(errs, t.invalid("hypervisor", "state_dir", "empty"))
	}
	if h.Libvirt.URI == "" {
		errs = append(errs, t.invalid("libvirt", "uri", "empty"))
	}
	errs = append(errs, t.validateDaemon(h.Daemon))
	return Join(errs...)
}

func (h *Hypervisor) table() *table {
	emulator := strField("virtual_machines", "emulator_path", &h.VirtualMachines.EmulatorPath)
	emulator.ignored = "ignored: libvirt chooses the emulator (KVM, or TCG where KVM is missing or [libvirt] force_tcg = 1)"
	return newTable(&h.keys,
		testMasterFields(&h.TestMaster),
		[]field{
			emulator,
			{section: "virtual_machines", key: "storage_pool",
				set: func(v string, _ Source) error {
					h.VirtualMachines.StoragePool = cmp.Or(strings.TrimSpace(v), DefaultStoragePool)
					return nil
				},
				show: func() string { return h.VirtualMachines.StoragePool }},
			strField("hypervisor", "name", &h.Hypervisor.Name),
			pathField("hypervisor", "state_dir", &h.Hypervisor.StateDir),
			choiceField("hypervisor", "backend", &h.Hypervisor.Backend, "libvirt", "local", "netns"),
			strField("libvirt", "uri", &h.Libvirt.URI),
			switchField("libvirt", "force_tcg", &h.Libvirt.ForceTCG),
		},
		securityFields(&h.Security),
		daemonFields(&h.Daemon))
}
