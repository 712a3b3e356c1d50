package main

import (
	"context"
	"fmt"
	"io"

	"github.com/xrdtest/xrdtest/internal/config"
	"github.com/xrdtest/xrdtest/internal/daemonproc"
	"github.com/xrdtest/xrdtest/internal/hypervisor/agent"
	"github.com/xrdtest/xrdtest/internal/hypervisor/backends"
	"github.com/xrdtest/xrdtest/internal/image"
)

// runHypervisor is `xrdtest hypervisor`: the daemon.
func runHypervisor(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newDaemonCommand("hypervisor", "usage: xrdtest hypervisor [-c FILE] [--master HOST:PORT] [options]\n       xrdtest hypervisor purge [-c FILE]\n       xrdtest hypervisor install-image [-c FILE] --image DIR [--name VOLUME]\n\nRuns the hypervisor daemon: connects to the master and starts and stops the\nsuites' clusters on command. The first start enrolls with the connection\ntoken ([test_master] connection_passwd, or XRDTEST_TOKEN) and the master's CA\nfingerprint. purge removes the cached volumes xrdtest created (boot image\ncopies and data disks kept across runs); install-image puts an image made by\n`xrdtest image build` into the storage pool as a boot image.", stdout, stderr)
	df := addDaemonFlags(c.FlagSet, "hypervisor", config.DefaultHypervisorFile, "key, certificate and cluster records")
	backend := c.String("backend", "", "libvirt, local or netns ([hypervisor] backend)")
	if code, ok := c.parse(args); !ok {
		return code
	}
	cfg := config.DefaultHypervisor()
	load := func() error {
		return df.load(cfg, config.DefaultHypervisorFile, map[string]string{"hypervisor.backend": *backend}, stderr)
	}
	proc, code, ok := c.start(load, &cfg.Daemon)
	if !ok {
		return code
	}
	defer proc.Close()
	proc.HandleHangups(ctx, nil)
	log := proc.Log
	conn, err := daemonConnection(cfg.TestMaster, cfg.Hypervisor.Name, cfg.Hypervisor.StateDir)
	if err != nil {
		return c.fail(2, "%v", err)
	}
	be, err := backends.Open(ctx, cfg.Hypervisor.Backend, backends.Settings{StateDir: cfg.Hypervisor.StateDir, MasterAddr: conn.Master,
		LibvirtURI: cfg.Libvirt.URI, Pool: cfg.VirtualMachines.StoragePool, ForceTCG: cfg.Libvirt.ForceTCG, Log: log})
	if err != nil {
		return c.fail(1, "%v", err)
	}
	defer be.Close()
	a := agent.New(agent.Config{Connection: conn, BackendName: be.Name, Backend: be, Log: log.With("hypervisor", conn.Name)})
	if err := a.Run(ctx); err != nil {
		log.Error("hypervisor stopped", "err", err)
		return c.fail(1, "%v", err)
	}
	// The libvirt backend's VMs outlive the daemon: its state file lists
	// them, and when the daemon is back the master re-adopts those its
	// sessions still use and has the others stopped (a restart or upgrade
	// of the hypervisor does not end the sessions). The local backend's
	// slaves are child processes it cannot take over again: stop them.
	if be.Name == backends.Local {
		for _, c := range be.Clusters() {
			be.StopCluster(context.WithoutCancel(ctx), c)
		}
	} else if cl := be.Clusters(); len(cl) > 0 {
		log.Info("clusters left running for the master to re-adopt", "clusters", cl)
	}
	return 0
}

// hypervisorToolUsages are the usages of the maintenance subcommands,
// which work on the libvirt backend directly.
var hypervisorToolUsages = map[string]string{
	"purge":         "usage: xrdtest hypervisor purge [-c FILE]\n\nRemoves the cached volumes xrdtest created in the configured libvirt (boot\nimage copies and data disks kept across runs).",
	"install-image": "usage: xrdtest hypervisor install-image [-c FILE] --image DIR [--name VOLUME]\n\nPuts an image made by `xrdtest image build` into the configured libvirt's\nstorage pool as a boot image.",
}

// runHypervisorPurge is `xrdtest hypervisor purge`.
func runHypervisorPurge(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runHypervisorTool(ctx, "purge", args, stdout, stderr)
}

// runHypervisorInstallImage is `xrdtest hypervisor install-image`.
func runHypervisorInstallImage(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runHypervisorTool(ctx, "install-image", args, stdout, stderr)
}

// runHypervisorTool runs `xrdtest hypervisor purge|install-image` against
// the configured libvirt.
func runHypervisorTool(ctx context.Context, tool string, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("hypervisor "+tool, hypervisorToolUsages[tool], stdout, stderr)
	file := fs.String("c", "", "configuration `file` (default "+config.DefaultHypervisorFile+" when it exists; \"none\": no file)")
	var sets setFlags
	fs.Var(&sets, "set", "override a key: `section.key=value` (repeatable)")
	imageDir := fs.String("image", "", "install-image: the image `DIR` (vmlinuz, initrd.img)")
	name := fs.String("name", "xrdtest-slave.qcow2", "install-image: the boot image `volume` name definitions use")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "xrdtest hypervisor %s: "+format+"\n", append([]any{tool}, a...)...)
		return code
	}
	cfg := config.DefaultHypervisor()
	if err := loadDaemonConfig(cfg, *file, config.DefaultHypervisorFile, sets, nil, stderr); err != nil {
		return fail(2, "configuration: %v", err)
	}
	log, err := daemonproc.NewLogger(stderr, string(cfg.Daemon.LogLevel), cfg.Daemon.LogFormat)
	if err != nil {
		return fail(2, "%v", err)
	}
	be, err := backends.Open(ctx, backends.Libvirt, backends.Settings{StateDir: cfg.Hypervisor.StateDir,
		LibvirtURI: cfg.Libvirt.URI, Pool: cfg.VirtualMachines.StoragePool, ForceTCG: cfg.Libvirt.ForceTCG, Log: log})
	if err != nil {
		return fail(1, "%v", err)
	}
	defer be.Close()
	lb := be.Libvirt
	switch tool {
	case "purge":
		if err := lb.Purge(ctx); err != nil {
			return fail(1, "%v", err)
		}
		fmt.Fprintln(stdout, "cached volumes removed")
	case "install-image":
		if *imageDir == "" {
			return fail(2, "--image DIR is required")
		}
		kernel, initrd, err := image.Files(*imageDir)
		if err != nil {
			return fail(1, "--image %s: %v", *imageDir, err)
		}
		if err := lb.InstallImage(ctx, *name, kernel, initrd); err != nil {
			return fail(1, "%v", err)
		}
		fmt.Fprintf(stdout, "installed %s into pool %s\n", *name, cfg.VirtualMachines.StoragePool)
	}
	return 0
}
