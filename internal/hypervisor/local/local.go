// Package local is the hypervisor backend that runs a cluster's hosts as
// slave processes on this machine, each with its own state and work
// folder and, when run as root, its own UTS namespace so that `hostname`
// prints the host's short name as test scripts expect.
package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/hypervisor"
	"github.com/xrdtest/xrdtest/internal/pki"
	"github.com/xrdtest/xrdtest/internal/proctree"
)

// OriginalFunctionsPath is where the original framework's scripts source
// functions.sh from.
const OriginalFunctionsPath = "/etc/XrdTest/utils/functions.sh"

// Backend runs slaves as local processes.
type Backend struct {
	Binary string // the xrdtest executable
	Dir    string // <Dir>/<cluster>/<host>/{state,work,slave.log}, <Dir>/<cluster>/shared
	// MasterAddr is where the slaves reach the master; "" means this
	// machine (127.0.0.1) at the port the spec names.
	MasterAddr string
	// Token is the enrollment token used when the spec brings none; it is
	// passed in the environment, never in argv.
	Token string
	// Fingerprint pins the master's CA when the spec brings none.
	Fingerprint pki.Fingerprint
	Log         *slog.Logger
	// FunctionsPath is where the slaves install functions.sh; "" means
	// the original path when root, else <Dir>/functions.sh (scripts then
	// find it through $XRDTEST_FUNCTIONS).
	FunctionsPath string
	// StopGrace is how long a slave gets to stop after SIGTERM.
	StopGrace time.Duration

	// ops serialises StartCluster and StopCluster.
	ops      sync.Mutex
	clusters hypervisor.ClusterSet[[]*slaveProc]
}

var _ hypervisor.Backend = (*Backend)(nil)

type slaveProc struct {
	host string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// clusterMarker is put in every slave's environment; everything the slaves
// start inherits it, so StopCluster can find leftovers (services a test
// started in the background) and stop them too. It names the cluster's
// folder, not just the cluster: two local backends on one machine (two
// quickstarts, test runs side by side) may run clusters of the same name.
func (b *Backend) clusterMarker(cluster string) string {
	dir := filepath.Join(b.Dir, cluster)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return "XRDTEST_LOCAL_CLUSTER=" + dir
}

func (b *Backend) functionsPath() string {
	switch {
	case b.FunctionsPath != "":
		return b.FunctionsPath
	case os.Geteuid() == 0:
		return OriginalFunctionsPath
	}
	return filepath.Join(b.Dir, "functions.sh")
}

// StartCluster starts one slave process per host.
func (b *Backend) StartCluster(ctx context.Context, spec hypervisor.ClusterSpec) error {
	c := spec.Cluster
	b.ops.Lock()
	defer b.ops.Unlock()
	if b.Running(c.Name) {
		return fmt.Errorf("start cluster %s: %w; stop it first", c.Name, hypervisor.ErrAlreadyStarted)
	}
	master := b.MasterAddr
	if master == "" {
		master = net.JoinHostPort("127.0.0.1", strconv.Itoa(spec.Master.Port))
	}
	shared := filepath.Join(b.Dir, c.Name, "shared")
	if err := os.MkdirAll(shared, 0o755); err != nil {
		return err
	}
	var procs []*slaveProc
	fail := func(host string, err error) error {
		b.stopProcs(context.WithoutCancel(ctx), c.Name, procs)
		return fmt.Errorf("host %s: %w", host, err)
	}
	for _, h := range c.Hosts {
		if err := ctx.Err(); err != nil {
			return fail(h.Name, err)
		}
		token, fp := spec.Credentials(h.Name, b.Token, b.Fingerprint)
		hypervisor.ReportProgress(ctx, h.Name, "starting its slave process")
		p, err := b.startSlave(c, h, master, shared, token, fp)
		if err != nil {
			return fail(h.Name, err)
		}
		procs = append(procs, p)
	}
	b.clusters.Put(c.Name, procs)
	b.Log.Info("local cluster started", "cluster", c.Name, "hosts", len(procs))
	return nil
}

func (b *Backend) startSlave(c *definition.Cluster, h *definition.Host, master, shared, token string, fp pki.Fingerprint) (*slaveProc, error) {
	dir := filepath.Join(b.Dir, c.Name, h.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	sp := hypervisor.SlaveProcess{Binary: b.Binary, Master: master, Host: h.Name, Dir: dir, Log: filepath.Join(dir, "slave.log"),
		Functions: b.functionsPath(), Token: token, Fingerprint: fp, Env: []string{"XRDTEST_SHARED=" + shared, b.clusterMarker(c.Name)},
		Attr: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}}
	if os.Geteuid() == 0 {
		// Its own host name: the slave sets it inside the new namespace.
		short, _, _ := strings.Cut(h.Name, ".")
		sp.Args = []string{"--hostname", short}
		sp.Attr.Cloneflags = syscall.CLONE_NEWUTS
	}
	cmd, err := sp.Start()
	if err != nil {
		return nil, err
	}
	p := &slaveProc{host: h.Name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
		if p.err != nil {
			b.Log.Warn("local slave exited", "host", h.Name, "err", p.err, "log", sp.Log)
		}
	}()
	return p, nil
}

// Clusters lists the clusters running here.
func (b *Backend) Clusters() []string { return b.clusters.Names() }

// Running reports whether the cluster runs here.
func (b *Backend) Running(cluster string) bool { return b.clusters.Has(cluster) }

// Capacity reports this machine's memory and CPUs.
func (b *Backend) Capacity(context.Context) (hypervisor.Capacity, error) {
	return hypervisor.MachineCapacity()
}

// StopCluster stops the cluster's slaves (TERM, then KILL after
// StopGrace, or as soon as ctx ends: it never gives up) and whatever their
// scripts left running; a cluster not running here has only the latter.
func (b *Backend) StopCluster(ctx context.Context, cluster string) error {
	b.ops.Lock()
	defer b.ops.Unlock()
	procs, _ := b.clusters.Take(cluster)
	return b.stopProcs(ctx, cluster, procs)
}

func (b *Backend) stopProcs(ctx context.Context, cluster string, procs []*slaveProc) error {
	grace := b.StopGrace
	if grace == 0 {
		grace = 10 * time.Second
	}
	for _, p := range procs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	// Once the grace period is over, or the caller cannot wait (ctx
	// ended), the slaves left are killed without waiting; only the first
	// is an error.
	killing := false
	var late error
	var errs []error
	for _, p := range procs {
		if !killing {
			select {
			case <-p.done:
				continue
			case <-timer.C:
				killing, late = true, fmt.Errorf("did not stop within %s: killed", grace)
			case <-ctx.Done():
				killing = true
			}
		}
		select {
		case <-p.done:
			continue
		default:
		}
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		if late != nil {
			errs = append(errs, fmt.Errorf("slave %s %w", p.host, late))
		}
	}
	if n := proctree.KillMarked(b.clusterMarker(cluster), 2*time.Second); n > 0 {
		b.Log.Info("stopped processes left by the cluster's scripts", "cluster", cluster, "processes", n)
	}
	if len(procs) > 0 {
		b.Log.Info("local cluster stopped", "cluster", cluster)
	}
	return errors.Join(errs...)
}
