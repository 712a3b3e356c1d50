// Command vms measures how long VM clusters take to come up through the
// libvirt backend: from the start request to every slave connected to the
// master, for 1, 4 and 8 VMs started in parallel, and 8 started one after
// another. It prints figures; it asserts nothing.
//
// It needs the private libvirtd of scripts/libvirt-env.sh and runs itself
// inside its network namespace, where the VMs reach the master through
// their network's gateway:
//
//	bash scripts/libvirt-env.sh exec go run ./bench/vms
//	go run ./bench/vms
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/xrdtest/xrdtest/bench/internal/benchkit"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/hypervisor"
	"github.com/xrdtest/xrdtest/internal/hypervisor/libvirt"
	"github.com/xrdtest/xrdtest/internal/hypervisor/libvirt/lvxml"
	"github.com/xrdtest/xrdtest/internal/image"
	"github.com/xrdtest/xrdtest/internal/master"
)

func main() {
	ramMiB := flag.Int("ram", 160, "guest RAM in MiB")
	timeout := flag.Duration("timeout", 5*time.Minute, "how long to wait for the slaves of one round")
	rounds := flag.String("rounds", "1,4,8,seq8", "the rounds to run, comma separated: 1, 4, 8 (VMs in parallel), seq8 (8 one after another)")
	keep := flag.String("consoles", "", "copy the guests' serial console logs into this folder")
	flag.Parse()
	uri, pool := os.Getenv("XRDTEST_LIBVIRT_URI"), benchkit.EnvOr("XRDTEST_LIBVIRT_POOL", "xrdtest")
	if uri == "" {
		fatal("XRDTEST_LIBVIRT_URI is not set: run it as bash scripts/libvirt-env.sh exec go run ./bench/vms")
	}
	if os.Getenv("XRDTEST_BENCH_IN_NETNS") == "" {
		// Re-run inside the namespace of the private libvirtd.
		self, err := os.Executable()
		if err != nil {
			fatal(err.Error())
		}
		cmd := exec.Command("ip", append([]string{"netns", "exec", benchkit.EnvOr("XRDTEST_LIBVIRT_NETNS", "xrdtest-lv"), self}, os.Args[1:]...)...)
		cmd.Env = append(os.Environ(), "XRDTEST_BENCH_IN_NETNS=1")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			os.Exit(1)
		}
		return
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "xrdtest-bench-vms-")
	if err != nil {
		fatal(err.Error())
	}
	defer os.RemoveAll(dir)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	fmt.Println("building the slave image...")
	img, err := image.Build(ctx, image.Options{OutDir: filepath.Join(dir, "image")})
	if err != nil {
		fatal("image: " + err.Error())
	}
	lb, err := libvirt.New(ctx, libvirt.Config{URI: uri, Pool: pool, StateDir: filepath.Join(dir, "libvirt")}, log)
	if err != nil {
		fatal("libvirt: " + err.Error())
	}
	defer lb.Close()
	defer lb.Purge(ctx)
	if err := lb.InstallImage(ctx, "xrdtest-bench.qcow2", img.Kernel, img.Initrd); err != nil {
		fatal(err.Error())
	}
	m, err := master.Open(ctx, master.Options{StateDir: filepath.Join(dir, "master"), DaemonAddr: "0.0.0.0:0", WebAddr: "127.0.0.1:0", Log: log})
	if err != nil {
		fatal(err.Error())
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan struct{})
	go func() { defer close(served); m.Serve(sctx) }()
	defer func() { stop(); <-served }()

	// up starts the clusters (all at once), waits for all their slaves and
	// returns the time from the first request; the clusters are stopped
	// afterwards.
	seq := 0
	qemuTotal := map[string]time.Duration{} // the QEMU CPU time of each round
	up := func(name string, sizes []int, sequential bool) (_ time.Duration, guest string, _ error) {
		var clusters []*definition.Cluster
		for _, n := range sizes {
			seq++
			clusters = append(clusters, cluster(fmt.Sprintf("cluster_b%d", seq), seq, n, *ramMiB))
		}
		defer func() {
			for _, c := range clusters {
				lb.StopCluster(ctx, c.Name)
			}
		}()
		// The guests' own view: their uptime when /init started the slave
		// (boot CPU), read from their consoles, and the CPU time their QEMU
		// processes used so far (less sensitive to other load than wall
		// time).
		defer func() {
			var doms []string
			for _, c := range clusters {
				for _, h := range c.Hosts {
					doms = append(doms, lvxml.DomainName(c.Name, h.Name))
				}
			}
			if cpu, n := qemuCPU(doms); n > 0 {
				guest = fmt.Sprintf("QEMU CPU %.1f s per VM; ", cpu.Seconds()/float64(n))
				qemuTotal[name] = cpu
			}
			var ups []float64
			for _, c := range clusters {
				for _, h := range c.Hosts {
					console := lb.ConsoleLog(c.Name, h.Name)
					if *keep != "" {
						if b, err := os.ReadFile(console); err == nil {
							os.MkdirAll(*keep, 0o755)
							os.WriteFile(filepath.Join(*keep, filepath.Base(console)), b, 0o644)
						}
					}
					if u, ok := slaveStartUptime(console); ok {
						ups = append(ups, u)
					}
				}
			}
			guest += "guest uptime at slave start: " + summarize(ups)
		}()
		start := time.Now()
		wait := func(c *definition.Cluster) error {
			var names []string
			for _, h := range c.Hosts {
				names = append(names, h.Name)
			}
			wctx, cancel := context.WithTimeout(ctx, *timeout)
			defer cancel()
			if missing := m.Registry.WaitForSlaves(wctx, names, nil); len(missing) > 0 {
				return fmt.Errorf("slaves never connected: %v (consoles in %s)", missing, filepath.Join(dir, "libvirt", "console"))
			}
			return nil
		}
		for _, c := range clusters {
			spec := hypervisor.ClusterSpec{Cluster: c, Master: m.Manager.Endpoint, Tokens: map[string]string{}}
			for _, h := range c.Hosts {
				spec.Tokens[h.Name] = m.Manager.Tokens.Issue(h.Name)
			}
			if err := lb.StartCluster(ctx, spec); err != nil {
				return 0, "", err
			}
			if sequential {
				if err := wait(c); err != nil {
					return 0, "", err
				}
			}
		}
		if !sequential {
			for _, c := range clusters {
				if err := wait(c); err != nil {
					return 0, "", err
				}
			}
		}
		return time.Since(start), "", nil
	}

	fmt.Printf("domain type %s, %d MiB per VM\n\n", lb.DomainType(), *ramMiB)
	fmt.Printf("%-28s %s\n", "start", "request -> all slaves connected")
	results := map[string]time.Duration{}
	want := map[string]bool{}
	for _, r := range strings.Split(*rounds, ",") {
		want[strings.TrimSpace(r)] = true
	}
	for _, r := range []struct {
		key, name  string
		sizes      []int
		sequential bool
	}{
		{"1", "1 VM", []int{1}, false},
		{"4", "4 VMs in parallel", []int{4}, false},
		{"8", "8 VMs in parallel", []int{8}, false},
		{"seq8", "8 VMs one after another", []int{1, 1, 1, 1, 1, 1, 1, 1}, true},
	} {
		if !want[r.key] {
			continue
		}
		d, guest, err := up(r.name, r.sizes, r.sequential)
		if err != nil {
			fatal(r.name + ": " + err.Error())
		}
		results[r.name] = d
		fmt.Printf("%-28s %6.1f s   (%s)\n", r.name, d.Seconds(), guest)
	}
	if len(results) < 4 {
		return
	}
	ratio := results["8 VMs in parallel"].Seconds() / results["8 VMs one after another"].Seconds()
	verdict := "met"
	if ratio > 0.5 {
		verdict = "NOT met"
	}
	fmt.Printf("\nparallel(8) / sequential(8) = %.2f (target <= 0.50: %s)\n", ratio, verdict)
	// The 8 parallel guests cannot come up before their QEMU processes got
	// the CPU time they used, spread over every core: with CPU-bound boots
	// (TCG) that bounds the ratio from below, whatever the scheduling.
	if cpu := qemuTotal["8 VMs in parallel"]; cpu > 0 {
		floor := cpu.Seconds() / float64(runtime.NumCPU())
		fmt.Printf("CPU floor: the 8 parallel guests used %.1f s of QEMU CPU = %.1f s on %d cores at best, %.2f of sequential(8)\n",
			cpu.Seconds(), floor, runtime.NumCPU(), floor/results["8 VMs one after another"].Seconds())
	}
}

// cluster makes a cluster of n VMs of the bench image on its own /24.
func cluster(name string, net3, n, ramMiB int) *definition.Cluster {
	prefix := fmt.Sprintf("10.96.%d.", net3)
	c := &definition.Cluster{Name: name, Network: definition.Network{Name: name + "_net", IP: prefix + "1", Netmask: "255.255.255.0",
		DHCPRange: [2]string{prefix + "100", prefix + "200"}, BridgeName: fmt.Sprintf("xrdbench%d", net3)}}
	for i := 1; i <= n; i++ {
		c.Hosts = append(c.Hosts, &definition.Host{
			Name: fmt.Sprintf("b%d-%d.bench.test", net3, i), IP: prefix + fmt.Sprint(10+i),
			MAC: fmt.Sprintf("52:54:00:96:%02x:%02x", net3, i), RAMKiB: uint64(ramMiB) << 10, Arch: "x86_64",
			BootImage: "xrdtest-bench.qcow2", CacheBootImage: false, Aliases: []string{}, Disks: []definition.Disk{},
			UUID: fmt.Sprintf("00000000-0000-5000-8000-%012x", net3*100+i),
		})
	}
	return c
}

// slaveStartUptime reads the guest's uptime at the start of its slave from
// its console log ("xrdtest-init [12.34]: starting: xrdtest slave ...").
func slaveStartUptime(console string) (float64, bool) {
	b, err := os.ReadFile(console)
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "xrdtest-init ["); ok && strings.Contains(line, "]: starting: xrdtest") {
			if v, err := strconv.ParseFloat(rest[:strings.IndexByte(rest, ']')], 64); err == nil {
				return v, true
			}
		}
	}
	return 0, false
}

// qemuCPU sums the CPU time (user + system) of the QEMU processes running
// the domains, found by their -name guest=DOMAIN argument; n is how many
// were found.
func qemuCPU(domains []string) (total time.Duration, n int) {
	want := map[string]bool{}
	for _, d := range domains {
		want["guest="+d] = true
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		cmd, err := os.ReadFile(filepath.Join(p, "cmdline"))
		if err != nil || !strings.Contains(string(cmd), "qemu-system") {
			continue
		}
		found := false
		for _, arg := range strings.Split(string(cmd), "\x00") {
			name, _, _ := strings.Cut(arg, ",") // guest=NAME,debug-threads=on
			found = found || want[name]
		}
		if !found {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(p, "stat"))
		if err != nil {
			continue
		}
		// Fields after the command name in parentheses: utime and stime are
		// the 14th and 15th of the whole line, in clock ticks (100 Hz).
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(ut+st) * 10 * time.Millisecond
		n++
	}
	return total, n
}

// summarize prints the mean and range of some seconds.
func summarize(v []float64) string {
	if len(v) == 0 {
		return "unknown"
	}
	lo, hi, sum := v[0], v[0], 0.0
	for _, x := range v {
		lo, hi, sum = min(lo, x), max(hi, x), sum+x
	}
	return fmt.Sprintf("mean %.1f s, %.1f-%.1f s over %d", sum/float64(len(v)), lo, hi, len(v))
}

func fatal(msg string) {
	fmt.Fprintln(os.Stderr, "bench/vms:", msg)
	os.Exit(1)
}
