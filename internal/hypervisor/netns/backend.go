package netns

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xrdtest/xrdtest/internal/hypervisor"
	"github.com/xrdtest/xrdtest/internal/hypervisor/netns/holder"
	"github.com/xrdtest/xrdtest/internal/pki"
)

// Config configures a Backend.
type Config struct {
	// StateDir holds <cluster>/: the cluster's state file, its DNS
	// server's files (net/), one folder per host (its /etc files, private
	// folders, enter script, the slave's state and work folders) and
	// shared/. Required.
	StateDir string
	// Binary is the xrdtest executable: the hosts' holders run
	// `Binary __netns-host`, the slaves `Binary slave ...`.
	Binary string
	// MasterHost is where this machine reaches the master ("" =
	// 127.0.0.1): the slaves connect there, and master.xrd.test's ports
	// inside the hosts (the spec's Master.Port and Master.WebPort) are
	// relayed there.
	MasterHost string
	// PrivateDirs are the folders each host has its own copy of; nil
	// means DefaultPrivateDirs.
	PrivateDirs []string
	// Token and Fingerprint stand in for a spec's missing token and CA
	// fingerprint, as with the local backend.
	Token       string
	Fingerprint pki.Fingerprint
	// FunctionsPath is where the slaves install functions.sh ("" =
	// the original path, /etc/XrdTest/utils/functions.sh).
	FunctionsPath string
	// StopGrace is how long slaves get to stop after SIGTERM (0 = 10 s).
	StopGrace time.Duration
	Log       *slog.Logger
}

// Backend runs clusters in network namespaces; see the package doc.
type Backend struct {
	cfg Config
	// ops serialises StartCluster and StopCluster.
	ops      sync.Mutex
	clusters hypervisor.ClusterSet[*cluster]
}

var _ hypervisor.Backend = (*Backend)(nil)

// cluster is a running cluster.
type cluster struct {
	name   string
	n      naming
	dir    string
	hosts  []*host
	ctl    cgroup // the DNS server and the slaves
	fwd    *Forwarder
	slaves []*slave

	faultMu sync.Mutex    // one fault change at a time
	faults  []faultRecord // on now, oldest first
}

type slave struct {
	host string
	pid  int
	done chan struct{} // nil for an adopted slave
}

// Check reports what this machine lacks for the backend, naming it: root,
// namespaces, iproute2, nsenter, dnsmasq, a cgroup memory controller.
func Check() error {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (it creates namespaces, mounts and cgroups)")
	}
	for _, ns := range []string{"net", "mnt", "pid", "uts", "ipc"} {
		if _, err := os.Stat("/proc/self/ns/" + ns); err != nil {
			missing = append(missing, ns+" namespaces (kernel support)")
		}
	}
	for _, prog := range []string{"ip", "nsenter", "dnsmasq"} {
		if _, err := exec.LookPath(prog); err != nil {
			missing = append(missing, prog+" (apt-get install iproute2 util-linux dnsmasq-base)")
		}
	}
	if !cgroupV2() {
		if _, err := os.Stat(filepath.Join(cgroupRoot, "memory", "cgroup.procs")); err != nil {
			missing = append(missing, "a cgroup memory controller (v1 at /sys/fs/cgroup/memory, or v2)")
		}
	}
	if len(missing) == 0 {
		missing = probe()
	}
	if len(missing) > 0 {
		return fmt.Errorf("netns backend: this machine lacks %s", strings.Join(missing, ", "))
	}
	return nil
}

// probe tries what a start does, where files alone cannot tell (a
// container may deny it to root): new namespaces of every kind, and a
// cgroup with a memory limit.
func probe() []string {
	var missing []string
	if out, err := exec.Command("unshare", "--net", "--mount", "--uts", "--ipc", "--pid", "--fork", "true").CombinedOutput(); err != nil {
		missing = append(missing, fmt.Sprintf("the right to make namespaces (unshare: %v: %s)", err, strings.TrimSpace(string(out))))
	}
	cg, err := newCgroup(fmt.Sprintf("%sprobe-%d", nsPrefix, os.Getpid()), 64<<20)
	if err != nil {
		missing = append(missing, fmt.Sprintf("a cgroup it may make and limit (%v)", err))
	} else if err := cg.remove(time.Second); err != nil {
		missing = append(missing, fmt.Sprintf("a cgroup it may remove (%v)", err))
	}
	return missing
}

// New checks the machine (Check), then adopts the clusters a previous
// backend with this StateDir left running, or removes those it cannot
// (a host or its DNS server gone).
func New(cfg Config) (*Backend, error) {
	if cfg.StateDir == "" {
		return nil, errors.New("netns backend: Config.StateDir is required")
	}
	abs, err := filepath.Abs(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	cfg.StateDir = abs
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.MasterHost == "" {
		cfg.MasterHost = "127.0.0.1"
	}
	if cfg.PrivateDirs == nil {
		cfg.PrivateDirs = DefaultPrivateDirs
	}
	if cfg.StopGrace == 0 {
		cfg.StopGrace = 10 * time.Second
	}
	if err := Check(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.StateDir, 0o755); err != nil {
		return nil, err
	}
	b := &Backend{cfg: cfg}
	b.recover()
	return b, nil
}

// state is what a cluster's state file records, for a backend started
// again after a crash.
type state struct {
	Name       string   `json:"name"`
	Hosts      []string `json:"hosts"`
	Addrs      []string `json:"addrs"` // the hosts', in order
	HolderPIDs []int    `json:"holder_pids"`
	SlavePIDs  []int    `json:"slave_pids"`
	Ports      []int    `json:"ports"`
	Addr       string   `json:"gateway"`
}

func (b *Backend) clusterDir(name string) string { return filepath.Join(b.cfg.StateDir, name) }
func stateFile(dir string) string                { return filepath.Join(dir, "cluster.json") }

// StartCluster builds the cluster: its network, DNS server, hosts and
// master.xrd.test relay, then starts one slave per host in the machine's
// network namespace, each running its stages inside its host.
func (b *Backend) StartCluster(ctx context.Context, spec hypervisor.ClusterSpec) (err error) {
	if spec.Cluster == nil {
		return fmt.Errorf("%w: the spec has no cluster", ErrInvalid)
	}
	name := spec.Cluster.Name
	b.ops.Lock()
	defer b.ops.Unlock()
	if b.Running(name) {
		return fmt.Errorf("start cluster %s: %w; stop it first", name, hypervisor.ErrAlreadyStarted)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(b.cfg.StateDir, &st); err != nil {
		return fmt.Errorf("start cluster %s: free space in %s: %w", name, b.cfg.StateDir, err)
	}
	p, err := newPlan(spec, st.Bavail*uint64(st.Bsize))
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start cluster %s: %w", name, err)
	}
	c := &cluster{name: name, n: newNaming(b.cfg.StateDir, name), dir: b.clusterDir(name)}
	defer func() {
		if err != nil {
			if uerr := b.teardown(context.WithoutCancel(ctx), c, false); uerr != nil {
				b.cfg.Log.Error("undoing a failed start", "cluster", name, "err", uerr)
			}
			err = fmt.Errorf("start cluster %s: %w", name, err)
		}
	}()
	// Leftovers of a start that crashed before it was recorded.
	if err := b.teardown(ctx, c, false); err != nil {
		return err
	}
	var ports []int
	for _, port := range []int{spec.Master.Port, spec.Master.WebPort} {
		if port > 0 && !slices.Contains(ports, port) {
			ports = append(ports, port)
		}
	}
	if err := b.build(ctx, c, p, spec, ports); err != nil {
		return err
	}
	b.clusters.Put(name, c)
	b.cfg.Log.Info("netns cluster started", "cluster", name, "hosts", len(c.hosts))
	return nil
}

func (b *Backend) build(ctx context.Context, c *cluster, p *plan, spec hypervisor.ClusterSpec, ports []int) error {
	netDir := filepath.Join(c.dir, "net")
	if err := os.MkdirAll(netDir, 0o755); err != nil {
		return err
	}
	if err := networkUp(ctx, c.n, p); err != nil {
		return err
	}
	var err error
	if c.ctl, err = newCgroup(c.n.prefix()+"ctl", 0); err != nil {
		return err
	}
	if err := startDNS(ctx, c.n, p, netDir, c.ctl); err != nil {
		return err
	}
	// The hosts see the cluster's folder, with the slaves' folders and
	// the binary they run (which the stages call for `xrdtest sync`),
	// even where a private folder covers it (a state folder under /tmp).
	keep := []string{c.dir}
	if err := linkBinary(b.cfg.Binary, c.binary()); err != nil {
		return err
	}
	// Hosts side by side, a few at a time: each start is mostly waiting
	// for its holder.
	c.hosts = make([]*host, len(p.hosts))
	errs := make([]error, len(p.hosts))
	var wg sync.WaitGroup
	limit := make(chan struct{}, max(2, runtime.NumCPU()*2))
	for i, hp := range p.hosts {
		hypervisor.ReportProgress(ctx, hp.name, "starting its namespaces")
		wg.Go(func() {
			limit <- struct{}{}
			defer func() { <-limit }()
			c.hosts[i], errs[i] = startHost(ctx, c.n, p, i, filepath.Join(c.dir, hp.name),
				append([]string{b.cfg.Binary}, holder.Command), b.cfg.PrivateDirs, keep)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if c.fwd, err = forward(c.n, p, b.cfg.MasterHost, ports, b.cfg.Log); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for i, hp := range p.hosts {
		hypervisor.ReportProgress(ctx, hp.name, "starting its slave")
		s, err := b.startSlave(c, c.hosts[i], spec)
		if err != nil {
			return fmt.Errorf("host %s: slave: %w", hp.name, err)
		}
		c.slaves = append(c.slaves, s)
	}
	return b.save(c, ports, p)
}

func (b *Backend) save(c *cluster, ports []int, p *plan) error {
	s := state{Name: c.name, Ports: ports, Addr: p.net.Addr().String()}
	for _, h := range c.hosts {
		s.Hosts = append(s.Hosts, h.name)
		s.Addrs = append(s.Addrs, h.addr)
		s.HolderPIDs = append(s.HolderPIDs, h.pid)
	}
	for _, sl := range c.slaves {
		s.SlavePIDs = append(s.SlavePIDs, sl.pid)
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := stateFile(c.dir) + ".new"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, stateFile(c.dir))
}

// startSlave starts host h's slave beside the host: in its mount, PID,
// UTS and IPC namespaces (it sees the host's files and processes, and
// starts a stage's bash with no exec before it), but in the machine's
// network namespace and the cluster's control cgroup, so that faults
// never cut its link to the master and a paused host does not freeze it
// (package inhost). The scripts enter the host's network namespace and
// cgroup as they start.
func (b *Backend) startSlave(c *cluster, h *host, spec hypervisor.ClusterSpec) (*slave, error) {
	sd := filepath.Join(h.dir, "slave")
	if err := os.MkdirAll(sd, 0o755); err != nil {
		return nil, err
	}
	join := filepath.Join(h.dir, "join.sh")
	if err := os.WriteFile(join, []byte(joinScript(h.name, h.cg)), 0o644); err != nil {
		return nil, err
	}
	via := filepath.Join(h.dir, "slave-enter")
	// Into the control cgroup before nsenter forks the slave: a slave
	// moved after its start could fork outside it.
	script := nsenterScript("Starts the slave of host "+h.name+" beside it: in the control cgroup, the host's namespaces but its network.",
		h.pid, c.ctl, "--mount --uts --ipc --pid", shellQuote(sd), `"$@"`)
	if err := os.WriteFile(via, []byte(script), 0o755); err != nil {
		return nil, err
	}
	token, fp := spec.Credentials(h.name, b.cfg.Token, b.cfg.Fingerprint)
	// No XRDTEST_SHARED: like VMs, hosts share nothing but their network.
	// /proc/1 is the host's holder in the host's PID namespace.
	cmd, err := hypervisor.SlaveProcess{Binary: c.binary(), Master: net.JoinHostPort(b.cfg.MasterHost, strconv.Itoa(spec.Master.Port)),
		Host: h.name, Dir: sd, Log: filepath.Join(h.dir, "slave.log"), Functions: cmp.Or(b.cfg.FunctionsPath, "/etc/XrdTest/utils/functions.sh"),
		Token: token, Fingerprint: fp, Args: []string{"--host-netns", "/proc/1/ns/net", "--host-join", join, "--sync-dir", sd},
		// Its own session and no parent-death signal: like the hosts, the
		// slaves outlive a crashed hypervisor, which adopts them again.
		Attr: &syscall.SysProcAttr{Setsid: true},
		Via:  []string{via},
	}.Start()
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	// nsenter forks the slave into the host's PID namespace and waits
	// for it: the slave is its one child.
	pid, err := onlyChild(cmd.Process.Pid, done, 10*time.Second)
	if err != nil {
		cmd.Process.Kill()
		log := filepath.Join(h.dir, "slave.log")
		data, _ := os.ReadFile(log)
		return nil, fmt.Errorf("%w: %s: %q", err, log, data[max(0, len(data)-300):])
	}
	return &slave{host: h.name, pid: pid, done: done}, nil
}

// binary is the xrdtest executable the cluster's slaves run, in its
// folder: a host sees it wherever the original is.
func (c *cluster) binary() string { return filepath.Join(c.dir, "xrdtest") }

// linkBinary makes file the executable bin: a hard link, or a copy where
// the two are on different file systems.
func linkBinary(bin, file string) (err error) {
	os.Remove(file)
	if os.Link(bin, file) == nil {
		return nil
	}
	src, err := os.Open(bin)
	if err != nil {
		return fmt.Errorf("the slaves' binary: %w", err)
	}
	defer src.Close()
	dst, err := os.OpenFile(file, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		return fmt.Errorf("the slaves' binary: %w", err)
	}
	_, err = io.Copy(dst, src)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(file)
		return fmt.Errorf("the slaves' binary: copy %s: %w", bin, err)
	}
	return nil
}

// onlyChild waits for process pid's first child and returns it; done is
// closed when pid has exited.
func onlyChild(pid int, done <-chan struct{}, wait time.Duration) (int, error) {
	file := fmt.Sprintf("/proc/%d/task/%d/children", pid, pid)
	deadline := time.Now().Add(wait)
	for {
		data, err := os.ReadFile(file)
		if f := strings.Fields(string(data)); err == nil && len(f) > 0 {
			return strconv.Atoi(f[0])
		}
		select {
		case <-done:
			return 0, errors.New("it exited at its start")
		default:
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("nsenter started no slave in %v", wait)
		}
		time.Sleep(time.Millisecond)
	}
}

// hostIndex is the index of the host called name, -1 if none.
func (c *cluster) hostIndex(name string) int {
	return slices.IndexFunc(c.hosts, func(h *host) bool { return h.name == name })
}

// enter is host i's enter script, from c.dir: a stop in progress clears
// the host's own dir.
func (c *cluster) enter(i int) string {
	return hostLayout(filepath.Join(c.dir, c.hosts[i].name)).enter()
}

// HostCommand returns a command that runs name with arg inside a host of
// a running cluster (its cgroup, then its namespaces), as the stages do:
// for tools that look into a host, and the bench that times names
// resolving in every host.
func (b *Backend) HostCommand(cluster, host, name string, arg ...string) (*exec.Cmd, error) {
	c, ok := b.clusters.Get(cluster)
	if !ok {
		return nil, fmt.Errorf("cluster %s is not running here", cluster)
	}
	i := c.hostIndex(host)
	if i < 0 {
		return nil, fmt.Errorf("cluster %s has no host %s", cluster, host)
	}
	return exec.Command(c.enter(i), append([]string{name}, arg...)...), nil
}

// Clusters lists the clusters running here.
func (b *Backend) Clusters() []string { return b.clusters.Names() }

// Running reports whether the cluster runs here.
func (b *Backend) Running(cluster string) bool { return b.clusters.Has(cluster) }

// Capacity reports this machine's memory and CPUs.
func (b *Backend) Capacity(context.Context) (hypervisor.Capacity, error) {
	return hypervisor.MachineCapacity()
}

// StopCluster ends the cluster: its slaves (TERM, KILL after StopGrace
// or at once when ctx ends), every process of its hosts, its DNS server
// and relay, and removes its namespaces, cgroups and folder. A cluster
// not running here has its leftovers removed, if any.
func (b *Backend) StopCluster(ctx context.Context, name string) error {
	b.ops.Lock()
	defer b.ops.Unlock()
	c, _ := b.clusters.Get(name)
	if c == nil {
		c = &cluster{name: name, n: newNaming(b.cfg.StateDir, name), dir: b.clusterDir(name)}
	}
	if err := b.teardown(ctx, c, true); err != nil {
		return fmt.Errorf("stop cluster %s: %w", name, err)
	}
	b.clusters.Take(name)
	return nil
}

// teardown removes everything of c, also what c does not know about
// (found by its names: namespaces, cgroups, its folder). graceful gives
// the slaves StopGrace to end.
func (b *Backend) teardown(ctx context.Context, c *cluster, graceful bool) error {
	c.fwd.Close()
	if graceful && len(c.slaves) > 0 {
		for _, s := range c.slaves {
			unix.Kill(s.pid, unix.SIGTERM)
		}
		timer := time.NewTimer(b.cfg.StopGrace)
		defer timer.Stop()
	wait:
		for _, s := range c.slaves {
			if s.done == nil {
				continue
			}
			select {
			case <-s.done:
			case <-timer.C:
				break wait
			case <-ctx.Done():
				break wait
			}
		}
	}
	var errs []error
	if len(c.ctl.dirs) > 0 {
		errs = append(errs, c.ctl.remove(5*time.Second))
	}
	for _, s := range c.slaves {
		if s.done != nil {
			<-s.done
		}
	}
	var wg sync.WaitGroup
	herrs := make([]error, len(c.hosts))
	for i, h := range c.hosts {
		if h != nil {
			wg.Go(func() { herrs[i] = h.stop(5 * time.Second) })
		}
	}
	wg.Wait()
	errs = append(errs, herrs...)
	// What no record names: a start that crashed, a backend that died.
	errs = append(errs, removeCgroups(c.n.prefix()))
	errs = append(errs, networkDown(context.WithoutCancel(ctx), c.n))
	if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// removeCgroups removes every cgroup whose name starts with prefix,
// killing what is in it.
func removeCgroups(prefix string) error {
	parents, err := cgroupParents()
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range parents {
		entries, _ := os.ReadDir(p)
		for _, e := range entries {
			if e.IsDir() && strings.HasPrefix(e.Name(), prefix) {
				errs = append(errs, cgroup{dirs: []string{filepath.Join(p, e.Name())}}.remove(5*time.Second))
			}
		}
	}
	return errors.Join(errs...)
}

// recover adopts the clusters in StateDir whose hosts, DNS server and
// slaves all still run, and removes the others.
func (b *Backend) recover() {
	entries, _ := os.ReadDir(b.cfg.StateDir)
	for _, e := range entries {
		dir := filepath.Join(b.cfg.StateDir, e.Name())
		data, err := os.ReadFile(stateFile(dir))
		var s state
		if err == nil {
			err = json.Unmarshal(data, &s)
		}
		if !e.IsDir() {
			continue
		}
		c := &cluster{name: e.Name(), n: newNaming(b.cfg.StateDir, e.Name()), dir: dir}
		if err == nil && s.Name == e.Name() {
			err = b.adopt(c, s)
		}
		if err == nil {
			b.clusters.Put(c.name, c)
			b.cfg.Log.Info("netns cluster adopted", "cluster", c.name, "hosts", len(c.hosts))
			continue
		}
		b.cfg.Log.Warn("removing a netns cluster left behind", "cluster", c.name, "why", err)
		if terr := b.teardown(context.Background(), c, false); terr != nil {
			b.cfg.Log.Error("removing a netns cluster left behind", "cluster", c.name, "err", terr)
		}
	}
}

// isDNS reports whether process pid is a DNS server (the control cgroup
// holds it, the slaves and the nsenters they were started through).
func isDNS(pid int) bool {
	name, err := comm(pid)
	return err == nil && name == "dnsmasq"
}

// comm is the name the kernel keeps for process pid (at most 15 bytes),
// which pkill -x matches.
func comm(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSuffix(string(b), "\n"), err
}

// adopt takes over a running cluster: its holders and slaves must live,
// in its cgroups; the relay (a socket of the dead backend) is made anew.
func (b *Backend) adopt(c *cluster, s state) error {
	parents, err := cgroupParents()
	if err != nil {
		return err
	}
	ctl := cgroup{}
	for _, p := range parents {
		ctl.dirs = append(ctl.dirs, filepath.Join(p, c.n.prefix()+"ctl"))
	}
	c.ctl = ctl
	if len(s.HolderPIDs) != len(s.Hosts) {
		return errors.New("the state file does not match")
	}
	// Every host first, gone or not: a teardown after a failed adoption
	// ends them by what is found here.
	var gone error
	for i, name := range s.Hosts {
		h := &host{name: name, dir: filepath.Join(c.dir, name), pid: s.HolderPIDs[i]}
		if i < len(s.Addrs) {
			h.addr = s.Addrs[i]
		}
		for _, p := range parents {
			h.cg.dirs = append(h.cg.dirs, filepath.Join(p, c.n.prefix()+fmt.Sprintf("h%d", i)))
		}
		if !slices.Contains(h.cg.pids(), h.pid) {
			// Its recorded PID may be another process's by now: the
			// removal goes by the host's cgroup only.
			h.pid = 0
			gone = cmp.Or(gone, fmt.Errorf("host %s is gone", name))
		}
		c.hosts = append(c.hosts, h)
	}
	if gone != nil {
		return gone
	}
	inCtl := ctl.pids()
	for _, pid := range s.SlavePIDs {
		if !slices.Contains(inCtl, pid) {
			// Not signalled by PID: it may be another process's.
			return fmt.Errorf("slave %d is gone", pid)
		}
		c.slaves = append(c.slaves, &slave{pid: pid})
	}
	if !slices.ContainsFunc(inCtl, isDNS) {
		return errors.New("the DNS server is gone")
	}
	gw, err := gatewayPrefix(s.Addr)
	if err != nil {
		return err
	}
	if c.fwd, err = forward(c.n, &plan{net: gw}, b.cfg.MasterHost, s.Ports, b.cfg.Log); err != nil {
		return err
	}
	b.healLeftovers(c)
	return nil
}
