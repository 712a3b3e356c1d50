package main

import (
	"context"
	"io"
	"time"

	"github.com/xrdtest/xrdtest/internal/quickstart"
)

// runQuickstart is `xrdtest quickstart`: its flags; package quickstart
// does the rest.
func runQuickstart(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("quickstart", "", stdout, stderr)
	defs := fs.String("defs", "examples", "the definitions repository `DIR`")
	var suiteNames listFlag
	fs.Var(&suiteNames, "suite", "run this `suite`; repeat it for several, run in the order given (default: every suite, one after another)")
	check := fs.Bool("check", false, "only say whether the backend (--backend, default netns) can run on this machine: exit 0, or 1 naming what it lacks")
	asJSON := fs.Bool("json", false, "print one JSON document instead of the summary")
	keep := fs.Bool("keep", false, "leave the master (and its API) running after the sessions")
	stateDir := fs.String("state-dir", "", "keep the master's state here (default: a new temporary folder)")
	slaveWait := fs.Duration("slave-wait", 0, "how long a session waits for its slaves (default 60s, 5m with libvirt)")
	backendName := fs.String("backend", "", "where the hosts run: netns (namespaces of their own: the default where this machine allows it), local (slave processes: the default otherwise) or libvirt (VMs)")
	libvirtURI := fs.String("libvirt-uri", "qemu:///system", "libvirt `URI` (qemu:///system or qemu+unix:///system?socket=PATH)")
	pool := fs.String("pool", "default", "libvirt storage `pool` holding the boot images")
	imageDir := fs.String("image", "", "an image `DIR` made by `xrdtest image build` (default: build one)")
	var packages listFlag
	fs.Var(&packages, "package", "with libvirt and no --image: put this Debian `package` and its dependencies into the image built (xrdtest image build --package); repeat it for several")
	hold := fs.Duration("hold", 0, "at a session's first failed stage, hold it before any finalize, its cluster up, for `DURATION` (e.g. 30m): quickstart prints how to reach it (xrdtest shell, xrdtest hold release)")
	stageTimeout := fs.Duration("stage-timeout", 10*time.Minute, "stage timeout when the suite sets none")
	logLevel := fs.String("log-level", "WARNING", "log level of the master (logs go to stderr)")
	seed := fs.Int64("seed", 0, "seed the suites' fault schedules (ts.faults) with `N`: the same seed, the same faults (default: each its own seed)")
	fs.usage = "usage: xrdtest quickstart [--defs DIR] [--suite NAME]... [--json] [--keep]\n                          [--hold DURATION] [--seed N]\n                          [--backend netns|local|libvirt]\n                          [--image DIR | --package NAME...]\n       xrdtest quickstart --check [--backend netns|local|libvirt]\n\nStarts a master and a hypervisor backend (netns: each host in network, mount,\nPID and UTS namespaces of its own, as root; local: one slave process per host;\nlibvirt: one VM per host, booting the slave image, built when --image is not\ngiven), runs the suites once and prints what happened on every stage and\nslave. Exits non-zero when a session did not pass."
	if code, ok := fs.parse(args); !ok {
		return code
	}
	return quickstart.Run(ctx, quickstart.Options{Defs: *defs, Suites: suiteNames, Check: *check, JSON: *asJSON, Keep: *keep,
		StateDir: *stateDir, SlaveWait: *slaveWait, Backend: *backendName, LibvirtURI: *libvirtURI, Pool: *pool, ImageDir: *imageDir,
		Packages: packages, Hold: *hold, Seed: *seed, StageTimeout: *stageTimeout, LogLevel: *logLevel, Version: version}, stdout, stderr)
}
