// Command backends measures the hypervisor backends side by side, in one
// run, with real slaves and a real master: for each backend and cluster
// size, the time from StartCluster to every slave connected to the master
// (for netns also every host resolving every name of the cluster), and
// the StopCluster. Rows: netns with 8 and 64 hosts, local (slave
// processes) with 8 and 64, libvirt with 3 VMs. A row that cannot run here
// says why instead of figures. It prints figures; it asserts nothing, and
// fails only when a cluster does not come up.
//
//	go run ./bench/backends                                  # as root
//	bash scripts/libvirt-env.sh exec go run ./bench/backends # with the libvirt row
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/xrdtest/xrdtest/bench/internal/benchkit"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/hypervisor"
	"github.com/xrdtest/xrdtest/internal/hypervisor/backends"
	"github.com/xrdtest/xrdtest/internal/hypervisor/netns"
	"github.com/xrdtest/xrdtest/internal/image"
	"github.com/xrdtest/xrdtest/internal/master"
)

// row is one line of the table: a backend and a cluster size.
type row struct {
	key     string
	backend string
	hosts   int
}

var allRows = []row{
	{"netns8", backends.Netns, 8}, {"netns64", backends.Netns, 64},
	{"local8", backends.Local, 8}, {"local64", backends.Local, 64},
	{"libvirt3", backends.Libvirt, 3},
}

// timing is one start and stop of a cluster.
type timing struct {
	started   time.Duration // StartCluster returned
	connected time.Duration // every slave connected to the master
	resolved  time.Duration // netns: every host resolves every name
	up        time.Duration // both
	stop      time.Duration // StopCluster returned
}

func main() {
	runs := flag.Int("runs", 3, "starts and stops per netns and local row")
	vmRuns := flag.Int("vm-runs", 1, "starts and stops of the libvirt row")
	rowsFlag := flag.String("rows", "netns8,netns64,local8,local64,libvirt3", "the rows to run, comma separated")
	timeout := flag.Duration("timeout", 5*time.Minute, "how long one cluster may take to come up")
	flag.Parse()
	want := map[string]bool{}
	for _, k := range strings.Split(*rowsFlag, ",") {
		want[strings.TrimSpace(k)] = true
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "xrdtest-bench-backends-")
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(dir)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	bin := filepath.Join(dir, "xrdtest")
	progress("building xrdtest...")
	if err := benchkit.Build(ctx, bin, "bench/backends"); err != nil {
		fatal(err)
	}
	m, err := master.Open(ctx, master.Options{StateDir: filepath.Join(dir, "master"), DaemonAddr: "127.0.0.1:0",
		WebAddr: "127.0.0.1:0", Log: log})
	if err != nil {
		fatal(err)
	}
	sctx, stopServe := context.WithCancel(ctx)
	served := make(chan struct{})
	go func() { defer close(served); m.Serve(sctx) }()
	defer func() { stopServe(); <-served }()

	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("%d CPUs, load %s at the start; real slaves (enrollment with one-time tokens, mutual TLS) to one master\n\n",
		runtime.NumCPU(), strings.Join(strings.Fields(string(load))[:3], " "))
	fmt.Printf("%-8s %5s %4s  %-24s %-24s %-24s %-24s %s\n", "backend", "hosts", "runs",
		"StartCluster returns", "all slaves connected", "names resolve (netns)", "up (both)", "StopCluster")
	seq := 0
	var notes []string
	for _, r := range allRows {
		if !want[r.key] {
			continue
		}
		n := *runs
		if r.backend == backends.Libvirt {
			n = *vmRuns
		}
		var ts []timing
		be, why := openRow(ctx, r, dir, bin, m, log)
		if be != nil && be.Libvirt != nil {
			notes = append(notes, fmt.Sprintf("libvirt: domain type %s (qemu = TCG, no KVM), 160 MiB guests booting the slave image", be.Libvirt.DomainType()))
		}
		for i := 0; be != nil && i < n; i++ {
			seq++
			t, err := once(ctx, be, r, seq, m, *timeout)
			if err != nil {
				fatal(fmt.Errorf("%s with %d hosts: %w", r.backend, r.hosts, err))
			}
			ts = append(ts, t)
		}
		if be != nil {
			be.close()
		}
		if why != "" {
			fmt.Printf("%-8s %5d %4s  not measured: %s\n", r.backend, r.hosts, "-", why)
			continue
		}
		col := func(f func(timing) time.Duration) string { return summarize(ts, f) }
		resolved := "-"
		if r.backend == backends.Netns {
			resolved = col(func(t timing) time.Duration { return t.resolved })
		}
		fmt.Printf("%-8s %5d %4d  %-24s %-24s %-24s %-24s %s\n", r.backend, r.hosts, len(ts),
			col(func(t timing) time.Duration { return t.started }), col(func(t timing) time.Duration { return t.connected }),
			resolved, col(func(t timing) time.Duration { return t.up }), col(func(t timing) time.Duration { return t.stop }))
	}
	fmt.Println("\nmean (min-max) over the runs; every time from the StartCluster call, the stop from the StopCluster call")
	for _, n := range notes {
		fmt.Println(n)
	}
}

// rowBackend is a backend opened for a row, and what closes it.
type rowBackend struct {
	*backends.Backend
	closers []func()
}

func (b *rowBackend) close() {
	for i := len(b.closers) - 1; i >= 0; i-- {
		b.closers[i]()
	}
}

// openRow opens the row's backend, or says why it cannot run here.
func openRow(ctx context.Context, r row, dir, bin string, m *master.Master, log *slog.Logger) (*rowBackend, string) {
	s := backends.Settings{StateDir: filepath.Join(dir, r.key), Binary: bin, Log: log}
	switch r.backend {
	case backends.Netns:
		if err := netns.Check(); err != nil {
			return nil, err.Error()
		}
	case backends.Libvirt:
		s.LibvirtURI, s.Pool = os.Getenv("XRDTEST_LIBVIRT_URI"), benchkit.EnvOr("XRDTEST_LIBVIRT_POOL", "xrdtest")
		if s.LibvirtURI == "" {
			return nil, "no private libvirtd: XRDTEST_LIBVIRT_URI is not set (run it as bash scripts/libvirt-env.sh exec go run ./bench/backends)"
		}
	}
	be, err := backends.Open(ctx, r.backend, s)
	if err != nil {
		return nil, err.Error()
	}
	rb := &rowBackend{Backend: be, closers: []func(){func() { be.Close() }}}
	if be.Libvirt == nil {
		return rb, ""
	}
	// The VMs: the slave image in the pool, and the master's ports at
	// their network's gateway, which lives in the private libvirtd's
	// network namespace (VMs, bridges, addresses: all inside it).
	rb.closers = append(rb.closers, func() { be.Libvirt.Purge(context.WithoutCancel(ctx)) })
	progress("building the slave image...")
	img, err := image.Build(ctx, image.Options{OutDir: filepath.Join(dir, "image"), Log: io.Discard})
	if err == nil {
		err = be.Libvirt.InstallImage(ctx, "xrdtest-bench.qcow2", img.Kernel, img.Initrd)
	}
	if err == nil {
		// The VMs reach master.xrd.test at their network's gateway in
		// the private libvirtd's namespace: its ports, relayed to the
		// master on this machine's loopback.
		var fwd *netns.Forwarder
		fwd, err = netns.Forward(benchkit.EnvOr("XRDTEST_LIBVIRT_NETNS", "xrdtest-lv"), "", "127.0.0.1",
			[]int{m.Manager.Endpoint.Port, m.Manager.Endpoint.WebPort}, slog.New(slog.DiscardHandler))
		if err == nil {
			rb.closers = append(rb.closers, fwd.Close)
		}
	}
	if err != nil {
		rb.close()
		return nil, err.Error()
	}
	return rb, ""
}

// once starts a cluster of the row on be, waits until it is up, and stops
// it.
func once(ctx context.Context, be *rowBackend, r row, seq int, m *master.Master, timeout time.Duration) (t timing, err error) {
	c := cluster(r, seq)
	spec := hypervisor.ClusterSpec{Cluster: c, Master: m.Manager.Endpoint, Tokens: map[string]string{}}
	var names []string
	for _, h := range c.Hosts {
		spec.Tokens[h.Name] = m.Manager.Tokens.Issue(h.Name)
		names = append(names, h.Name)
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t0 := time.Now()
	if err := be.StartCluster(wctx, spec); err != nil {
		return t, err
	}
	defer func() {
		t1 := time.Now()
		if serr := be.StopCluster(context.WithoutCancel(ctx), c.Name); serr != nil && err == nil {
			err = serr
		}
		t.stop = time.Since(t1)
	}()
	t.started = time.Since(t0)
	var wg sync.WaitGroup
	var rerr error
	if nb, ok := be.Backend.Backend.(*netns.Backend); ok {
		wg.Go(func() {
			rerr = resolveEverywhere(wctx, nb, c)
			t.resolved = time.Since(t0)
		})
	}
	if missing := m.Registry.WaitForSlaves(wctx, names, nil); len(missing) > 0 {
		return t, fmt.Errorf("slaves never connected: %v", missing)
	}
	t.connected = time.Since(t0)
	wg.Wait()
	if rerr != nil {
		return t, rerr
	}
	t.up = max(t.connected, t.resolved)
	return t, nil
}

// resolveEverywhere has every host resolve every name of the cluster
// (hosts, the alias, master.xrd.test) until all do.
func resolveEverywhere(ctx context.Context, nb *netns.Backend, c *definition.Cluster) error {
	names := []string{netns.MasterName, "pool.xrd.test"}
	for _, h := range c.Hosts {
		names = append(names, h.Name)
	}
	errs := make([]error, len(c.Hosts))
	var wg sync.WaitGroup
	for i, h := range c.Hosts {
		wg.Go(func() {
			for {
				cmd, err := nb.HostCommand(c.Name, h.Name, "getent", append([]string{"ahostsv4"}, names...)...)
				if err != nil {
					errs[i] = err
					return
				}
				// getent exits 0 only when every name resolved.
				out, err := cmd.CombinedOutput()
				if err == nil {
					return
				}
				select {
				case <-ctx.Done():
					errs[i] = fmt.Errorf("%s does not resolve every name: %v: %s", h.Name, err, out)
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// cluster is the row's cluster for run seq, with names of its own (a
// slave's name is taken while it is connected): the netns and local ones
// on one /16 with half the hosts behind pool.xrd.test, the libvirt one on
// a /24 of its own with the slave image.
func cluster(r row, seq int) *definition.Cluster {
	name := fmt.Sprintf("bench%d", seq)
	c := &definition.Cluster{Name: name, Network: definition.Network{Name: name + "_net", IP: "10.9.0.1", Netmask: "255.255.0.0"}}
	if r.backend == backends.Libvirt {
		net3 := 100 + seq%100
		c.Network = definition.Network{Name: name + "_net", IP: fmt.Sprintf("10.96.%d.1", net3), Netmask: "255.255.255.0",
			DHCPRange: [2]string{fmt.Sprintf("10.96.%d.100", net3), fmt.Sprintf("10.96.%d.200", net3)}, BridgeName: fmt.Sprintf("xrdbb%d", net3)}
	}
	for i := range r.hosts {
		h := &definition.Host{Name: fmt.Sprintf("h%d.%s.xrd.test", i, name), IP: fmt.Sprintf("10.9.%d.%d", 1+i/200, 10+i%200),
			RAMKiB: 256 << 10, Aliases: []string{}, Disks: []definition.Disk{}}
		if i%2 == 1 {
			h.Aliases = []string{"pool.xrd.test"}
		}
		if r.backend == backends.Libvirt {
			net3 := 100 + seq%100
			h.IP = fmt.Sprintf("10.96.%d.%d", net3, 10+i)
			h.MAC = fmt.Sprintf("52:54:00:97:%02x:%02x", net3, i)
			h.RAMKiB, h.Arch, h.BootImage = 160<<10, "x86_64", "xrdtest-bench.qcow2"
			h.UUID = fmt.Sprintf("00000000-0000-5000-8001-%012x", seq*100+i)
		}
		c.Hosts = append(c.Hosts, h)
	}
	return c
}

// summarize prints the mean and range of one figure over the runs.
func summarize(ts []timing, f func(timing) time.Duration) string {
	if len(ts) == 0 {
		return "-"
	}
	lo, hi, sum := f(ts[0]), f(ts[0]), time.Duration(0)
	for _, t := range ts {
		lo, hi, sum = min(lo, f(t)), max(hi, f(t)), sum+f(t)
	}
	if len(ts) == 1 {
		return secs(sum)
	}
	return fmt.Sprintf("%s (%s-%s)", secs(sum/time.Duration(len(ts))), secs(lo), secs(hi))
}

func secs(d time.Duration) string {
	if d < 10*time.Second {
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

func progress(msg string) { fmt.Fprintln(os.Stderr, msg) }

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench/backends:", err)
	os.Exit(1)
}
