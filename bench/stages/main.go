// Command stages measures what a lock-step stage costs with many hosts on
// one machine, side by side in one run: bash's own start cost (the yard
// stick), then for each backend (local: slave processes; netns: hosts in
// namespaces of their own) and host count a real master and real slaves
// running a generated suite of 62 stages whose scripts are all
// `#!/bin/bash\ntrue`, and Ansible's time per task on as many hosts when
// ansible-playbook is installed (linear strategy, local connection, forks =
// hosts, the same script). It prints figures and their ratios to the
// floors; it asserts nothing, and fails only when a session does not pass.
//
//	go run ./bench/stages                      # as root for the netns rows
//	go run ./bench/stages -hosts 10 -backends local
//
// Figures per row:
//   - stage wall: the median over the session's stages of the time from a
//     stage's start to its end, as the master recorded them;
//   - floor: hosts x bash's start cost / CPUs, the least a stage can take
//     when every host starts one bash;
//   - CPU per host per stage: the CPU time of the master (this process)
//     and of every slave with its reaped children (the scripts' bash),
//     read from /proc before and after the session, divided by hosts x
//     stages.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xrdtest/xrdtest/bench/internal/benchkit"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/hypervisor/backends"
	"github.com/xrdtest/xrdtest/internal/hypervisor/netns"
	"github.com/xrdtest/xrdtest/internal/master"
	"github.com/xrdtest/xrdtest/internal/session"
	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/testutil"
)

// cases of the generated suite: 20 cases of 3 stages, with suite_init and
// suite_finalize 62 stages, every one dispatched to every host.
const cases = 20

func main() {
	hostsFlag := flag.String("hosts", "1,10,50", "host counts, comma separated")
	backendsFlag := flag.String("backends", "local,netns", "backends, comma separated")
	forks := flag.Int("forks", 200, "runs of `bash -c :` timed for the yard stick")
	ansibleTasks := flag.Int("ansible-tasks", 4, "tasks of the Ansible playbook per host count (0: no Ansible)")
	binary := flag.String("binary", "", "run this xrdtest binary instead of building one (e.g. to profile it)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of this process (the master) to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	var hostCounts []int
	for _, s := range strings.Split(*hostsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fatal(fmt.Errorf("-hosts: %q is not a host count", s))
		}
		hostCounts = append(hostCounts, n)
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "xrdtest-bench-stages-")
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(dir)
	bin := *binary
	if bin == "" {
		bin = filepath.Join(dir, "xrdtest")
		progress("building xrdtest...")
		if err := benchkit.Build(ctx, bin, "bench/stages"); err != nil {
			fatal(err)
		}
	}
	script := filepath.Join(dir, "true.sh")
	if err := os.WriteFile(script, []byte("#!/bin/bash\ntrue\n"), 0o755); err != nil {
		fatal(err)
	}

	progress("timing %d runs of bash -c :...", *forks)
	bashWall, bashCPU, err := bashCost(*forks)
	if err != nil {
		fatal(err)
	}
	cpus := runtime.NumCPU()
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("%d CPUs, load %s at the start\n", cpus, strings.Join(strings.Fields(string(load))[:3], " "))
	fmt.Printf("bash start (os/exec of `bash -c :`, %d runs): %.2f ms wall (median), %.2f ms CPU each\n\n", *forks, ms(bashWall), ms(bashCPU))
	fmt.Printf("%-8s %5s %7s  %10s %10s %6s %10s %6s  %14s %6s %8s %6s  %6s %6s %7s  %12s %8s\n", "backend", "hosts", "stages",
		"stage wall", "floor", "ratio", "together", "ratio", "CPU/host/stage", "/bash", "together", "ratio", "master", "slave", "scripts", "ansible/task", "/xrdtest")
	together := map[int]bashRound{}
	best := map[int]measured{} // per host count, the lowest of the backends

	ansible := map[int]time.Duration{}
	ansibleWhy := ""
	if *ansibleTasks > 0 {
		if _, err := exec.LookPath("ansible-playbook"); err != nil {
			ansibleWhy = "ansible-playbook is not installed (Debian: apt-get install ansible-core)"
		}
	} else {
		ansibleWhy = "not run (-ansible-tasks 0)"
	}
	for _, be := range strings.Split(*backendsFlag, ",") {
		be = strings.TrimSpace(be)
		for _, n := range hostCounts {
			if be == backends.Netns {
				if err := netns.Check(); err != nil {
					fmt.Printf("%-8s %5d  not measured: %v\n", be, n, err)
					continue
				}
			}
			progress("%s with %d hosts...", be, n)
			r, err := row(ctx, dir, bin, be, n)
			if err != nil {
				fatal(fmt.Errorf("%s with %d hosts: %w", be, n, err))
			}
			// One bash per host, spread over the CPUs; a single host's
			// bash runs on one CPU.
			floor := max(bashWall, time.Duration(float64(n)*float64(bashWall)/float64(cpus)))
			per := func(d time.Duration) time.Duration { return time.Duration(float64(d) / float64(n*r.stages)) }
			cpu := per(r.cpu.total())
			tg, ok := together[n]
			if !ok {
				progress("timing %d runs of %d bash %s at once...", *forks/n+3, n, filepath.Base(script))
				if tg, err = bashTogether(n, *forks/n+3, script, false); err != nil {
					fatal(err)
				}
				together[n] = tg
			}
			ans, vs := "-", "-"
			if ansibleWhy == "" {
				t, ok := ansible[n]
				if !ok {
					progress("ansible with %d hosts, %d tasks...", n, *ansibleTasks)
					if t, err = ansibleTask(ctx, dir, script, n, *ansibleTasks); err != nil {
						fatal(fmt.Errorf("ansible with %d hosts: %w", n, err))
					}
					ansible[n] = t
				}
				ans, vs = fmt.Sprintf("%.0f ms", ms(t)), fmt.Sprintf("%.1fx", float64(t)/float64(r.wall))
			}
			b, seen := best[n]
			if !seen || r.wall < b.wall {
				b.wall = r.wall
			}
			if !seen || cpu < b.cpu {
				b.cpu = cpu
			}
			best[n] = b
			fmt.Printf("%-8s %5d %7d  %7.1f ms %7.1f ms %5.2fx %7.1f ms %5.2fx  %11.2f ms %5.2fx %5.2f ms %5.2fx  %6.2f %6.2f %7.2f  %12s %8s\n", be, n, r.stages,
				ms(r.wall), ms(floor), float64(r.wall)/float64(floor), ms(tg.wall), float64(r.wall)/float64(tg.wall),
				ms(cpu), float64(cpu)/float64(bashCPU), ms(tg.cpu), float64(cpu)/float64(tg.cpu),
				ms(per(r.cpu.self)), ms(per(r.cpu.slaves)), ms(per(r.cpu.scripts)), ans, vs)
		}
	}
	fmt.Println("\nratio: stage wall / floor (floor = hosts x bash start / CPUs, at least one bash start); /bash: CPU per host")
	fmt.Println("per stage / bash's CPU; together: as many `bash true.sh` as hosts started at once by one process, the wall")
	fmt.Println("time of such a round (median) and the CPU of one bash in it, and the stage's ratios to them (the same bash")
	fmt.Println("work a stage does, with nothing of xrdtest); master, slave, scripts: the CPU per host per stage (ms) of the master, of the slave")
	fmt.Println("processes themselves and of their reaped children (the scripts' bash);")
	fmt.Println("/xrdtest: Ansible's time per task / xrdtest's stage wall (the same script on as many hosts)")
	if ansibleWhy != "" {
		fmt.Println("ansible: " + ansibleWhy)
	}
	printTargets(hostCounts, best, together, bashWall, bashCPU, cpus, script, *forks)
}

// measured is what a stage cost: its wall time and CPU per host.
type measured struct{ wall, cpu time.Duration }

// stageTarget is the goal for 10 and 50 hosts: a stage's CPU per host at
// most this times bash's own start, its wall time at most this times the
// floor.
const stageTarget = 1.3

// printTargets prints the targets for the best backend of each host
// count beside what bash alone reaches on this machine (together: as many
// bash started at once as hosts, with nothing of xrdtest), then times bash
// alone on all CPUs and on one: the floor takes the CPUs to start
// processes as many times as fast as one as there are CPUs.
func printTargets(hostCounts []int, best map[int]measured, together map[int]bashRound, bashWall, bashCPU time.Duration, cpus int, script string, forks int) {
	fmt.Printf("\ntargets (CPU per host per stage <= %.1fx bash's start, stage wall <= %.1fx the floor), the best backend\n", stageTarget, stageTarget)
	fmt.Println("beside bash alone (`together`): what any tool that starts one bash per host and stage would pay here")
	for _, n := range hostCounts {
		b, ok := best[n]
		tg := together[n]
		if !ok || n < 10 {
			continue
		}
		floor := max(bashWall, time.Duration(float64(n)*float64(bashWall)/float64(cpus)))
		cpuX, cpuBash := float64(b.cpu)/float64(bashCPU), float64(tg.cpu)/float64(bashCPU)
		wallX, wallBash := float64(b.wall)/float64(floor), float64(tg.wall)/float64(floor)
		fmt.Printf("  %2d hosts  CPU  xrdtest %6.2f ms %5.2fx  bash alone %6.2f ms %5.2fx  %s\n", n, ms(b.cpu), cpuX, ms(tg.cpu), cpuBash, targetVerdict(cpuX, cpuBash))
		fmt.Printf("  %2d hosts  wall xrdtest %6.1f ms %5.2fx  bash alone %6.1f ms %5.2fx  %s\n", n, ms(b.wall), wallX, ms(tg.wall), wallBash, targetVerdict(wallX, wallBash))
		if cpus < 2 {
			continue
		}
		rounds := forks/n + 3
		progress("timing %d runs of %d bash %s at once on all CPUs and on one, alternately...", rounds, n, filepath.Base(script))
		all, one, err := bashScaling(n, rounds, script)
		if err != nil {
			fmt.Printf("  %2d hosts  bash on one CPU: not measured: %v\n", n, err)
			continue
		}
		fmt.Printf("  %2d hosts  bash alone, a round on all CPUs %.1f ms, on one %.1f ms: the %d CPUs start bash %.2fx as fast as one (the floor assumes %dx)\n",
			n, ms(all), ms(one), cpus, float64(one)/float64(all), cpus)
	}
}

// bashScaling times rounds of n `bash script` at once on all CPUs and on
// one, one after the other so that both see the same machine, and
// returns the median round of each.
func bashScaling(n, rounds int, script string) (all, one time.Duration, err error) {
	var walls [2][]time.Duration
	for range rounds {
		for i, oneCPU := range []bool{false, true} {
			r, err := bashTogether(n, 1, script, oneCPU)
			if err != nil {
				return 0, 0, err
			}
			walls[i] = append(walls[i], r.wall)
		}
	}
	for i := range walls {
		slices.Sort(walls[i])
	}
	return walls[0][rounds/2], walls[1][rounds/2], nil
}

// targetVerdict says whether xrdtest met the target, and whether bash
// alone would.
func targetVerdict(xrdtest, bashAlone float64) string {
	switch {
	case xrdtest <= stageTarget:
		return "ok"
	case bashAlone > stageTarget:
		return "MISSED, beyond reach here: bash alone is above the target"
	default:
		return "MISSED"
	}
}

// result is one row's session.
type result struct {
	stages int
	wall   time.Duration // median stage
	cpu    cpuSample     // master and slaves (with the scripts), during the stages
}

// row starts a master and a cluster of n hosts on the backend, runs the
// generated suite once and measures it.
func row(ctx context.Context, dir, bin, backend string, n int) (result, error) {
	rdir := filepath.Join(dir, fmt.Sprintf("%s%d", backend, n))
	repo := filepath.Join(rdir, "repo")
	if err := writeRepo(repo, n); err != nil {
		return result{}, err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	be, err := backends.Open(ctx, backend, backends.Settings{StateDir: filepath.Join(rdir, "backend"), Binary: bin, Log: log})
	if err != nil {
		return result{}, err
	}
	defer be.Close()
	m, err := master.Open(ctx, master.Options{StateDir: filepath.Join(rdir, "master"), DaemonAddr: "127.0.0.1:0", WebAddr: "127.0.0.1:0",
		Repos: []definition.Repo{{Root: repo}}, Clusters: be, Log: log,
		Settings: session.Settings{StageTimeout: time.Minute, KillGrace: time.Second, SlaveWait: 2 * time.Minute}})
	if err != nil {
		return result{}, err
	}
	defer m.Close()
	sctx, stop := context.WithCancel(ctx)
	served := make(chan struct{})
	go func() { defer close(served); m.Serve(sctx) }()
	defer func() { stop(); <-served }()

	// The CPU is sampled while suite_init and suite_finalize run, whose
	// scripts sleep a second (sampled 300 ms into it, once bash and
	// sleep have started): every slave is up then
	// (the cluster starts before the first stage and stops after the
	// last), and stages 1 to 60 ran in between. The session's record is
	// polled every 100 ms only: the polls are the master's CPU too.
	s, err := m.Manager.Start(ctx, "stages", nil, "bench")
	if err != nil {
		return result{}, err
	}
	first, last := 1, cases*3+1
	// The scan of /proc for the slaves is this process's CPU too: it
	// stays out of the window (before it at the start, after it at the
	// end).
	before, err := atStage(ctx, m, s.ID, first-1, rdir, true)
	if err != nil {
		return result{}, err
	}
	after, err := atStage(ctx, m, s.ID, last, rdir, false)
	if err != nil {
		return result{}, err
	}
	if _, err := m.Manager.Wait(ctx, s.ID); err != nil {
		return result{}, err
	}
	d, err := store.Detail(ctx, m.Store, s.ID)
	if err != nil {
		return result{}, err
	}
	if d.State != store.SessionPassed {
		return result{}, fmt.Errorf("session %d %s: %s", d.ID, d.State, d.Reason)
	}
	var walls []time.Duration
	for _, st := range d.Stages[first:last] {
		walls = append(walls, st.Ended.Sub(st.Started))
	}
	slices.Sort(walls)
	return result{stages: len(walls), wall: walls[len(walls)/2], cpu: cpuSample{self: after.self - before.self, slaves: after.slaves - before.slaves,
		scripts: after.scripts - before.scripts}}, nil
}

// atStage waits until stage index of session id has started and samples
// the CPU times then.
func atStage(ctx context.Context, m *master.Master, id int64, index int, rdir string, selfLast bool) (cpuSample, error) {
	for {
		stages, err := m.Store.Stages(ctx, id)
		if err != nil {
			return cpuSample{}, err
		}
		if len(stages) > index {
			time.Sleep(300 * time.Millisecond)
			return sample(rdir, selfLast), nil
		}
		s, err := m.Store.Session(ctx, id)
		if err != nil {
			return cpuSample{}, err
		}
		if s.State.Finished() {
			return cpuSample{}, fmt.Errorf("session %d %s before stage %d: %s", id, s.State, index, s.Reason)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// writeRepo writes a definitions repository in the original format:
// cluster_stages with n hosts and the suite "stages", every script
// `true`.
func writeRepo(repo string, n int) error {
	var hosts []string
	for i := range n {
		hosts = append(hosts, fmt.Sprintf("h%d.stages.xrd.test", i))
	}
	files := map[string]string{
		"clusters/cluster_stages.py": testutil.ClusterDef("cluster_stages", "10.31.0", "none.img", "262144", hosts...),
		"test-suites/stages/test_suite.py": fmt.Sprintf(`from XrdTest.TestUtils import TestSuite

def getTestSuite():
    ts = TestSuite('stages')
    ts.clusters = ['cluster_stages']
    ts.tests = [%s]
    ts.schedule = dict(hour='3')
    ts.initialize = 'file://wait.sh'
    ts.finalize = 'file://wait.sh'
    return ts
`, caseNames()),
		"test-suites/stages/true.sh": "#!/bin/bash\ntrue\n",
		// The CPU is read while suite_init and suite_finalize wait.
		"test-suites/stages/wait.sh": "#!/bin/bash\nsleep 1\n",
	}
	for i := range cases {
		for _, s := range []string{"init", "run", "finalize"} {
			files[fmt.Sprintf("test-suites/stages/tc/c%02d/%s.sh", i, s)] = "#!/bin/bash\ntrue\n"
		}
	}
	for p, c := range files {
		full := filepath.Join(repo, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func caseNames() string {
	var out []string
	for i := range cases {
		out = append(out, fmt.Sprintf("'c%02d'", i))
	}
	return strings.Join(out, ", ")
}

// cpuSample is the CPU time of this process (the master), of the slaves
// of a row and of their reaped children (the scripts).
type cpuSample struct {
	self, slaves, scripts time.Duration
}

func (s cpuSample) total() time.Duration { return s.self + s.slaves + s.scripts }

// sample reads the CPU times: this process's from getrusage (after the
// slaves' with selfLast, else before), the slaves' (the processes whose
// command line names the row's folder) from /proc/PID/stat, children
// included.
func sample(rdir string, selfLast bool) (s cpuSample) {
	if !selfLast {
		s.self = cpuTime(syscall.RUSAGE_SELF)
	} else {
		defer func() { s.self = cpuTime(syscall.RUSAGE_SELF) }()
	}
	entries, _ := os.ReadDir("/proc")
	tick := time.Second / 100 // USER_HZ
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !bytes.Contains(cmdline, []byte("\x00slave\x00")) || !bytes.Contains(cmdline, []byte(rdir)) {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// The fields after the command (which may hold spaces): utime is
		// the 14th field, stime, cutime, cstime follow.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
		field := func(i int) time.Duration {
			v, _ := strconv.ParseInt(f[i], 10, 64)
			return time.Duration(v) * tick
		}
		s.slaves += field(11) + field(12)
		s.scripts += field(13) + field(14)
	}
	return s
}

// cpuTime is the user and system time of who (syscall.RUSAGE_SELF or
// RUSAGE_CHILDREN: the reaped children).
func cpuTime(who int) time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(who, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// bashCost times n runs of `bash -c :` through os/exec: the median wall
// time and the mean CPU time of one (from the reaped children's rusage).
func bashCost(n int) (wall, cpu time.Duration, err error) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		return 0, 0, err
	}
	exec.Command(bash, "-c", ":").Run() // warm the page cache
	before := cpuTime(syscall.RUSAGE_CHILDREN)
	walls := make([]time.Duration, 0, n)
	for range n {
		t := time.Now()
		if err := exec.Command(bash, "-c", ":").Run(); err != nil {
			return 0, 0, err
		}
		walls = append(walls, time.Since(t))
	}
	used := cpuTime(syscall.RUSAGE_CHILDREN) - before
	slices.Sort(walls)
	return walls[n/2], used / time.Duration(n), nil
}

// bashRound is what starting as many bash as hosts at once costs.
type bashRound struct {
	wall time.Duration // a round, from the first start to the last exit (median)
	cpu  time.Duration // one bash (mean)
}

// bashTogether times rounds rounds of n `bash script` started at once
// from this process and waited for: a stage's bash work on n hosts with
// nothing of xrdtest around it. With oneCPU every bash runs on the first
// CPU this process may use: the CPUs' speed-up over one is what the
// floor's division by the CPU count assumes.
func bashTogether(n, rounds int, script string, oneCPU bool) (bashRound, error) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		return bashRound{}, err
	}
	if oneCPU {
		// A child inherits the affinity of the thread that forks it, and
		// Start forks on the calling goroutine's thread.
		runtime.LockOSThread()
		var all, one unix.CPUSet
		if err := unix.SchedGetaffinity(0, &all); err != nil {
			runtime.UnlockOSThread()
			return bashRound{}, err
		}
		cpu := 0
		for !all.IsSet(cpu) {
			cpu++
		}
		one.Set(cpu)
		if err := unix.SchedSetaffinity(0, &one); err != nil {
			runtime.UnlockOSThread()
			return bashRound{}, fmt.Errorf("pin to CPU %d: %w", cpu, err)
		}
		defer func() {
			// A thread still pinned stays with this goroutine rather
			// than go back to the runtime.
			if unix.SchedSetaffinity(0, &all) == nil {
				runtime.UnlockOSThread()
			}
		}()
	}
	before := cpuTime(syscall.RUSAGE_CHILDREN)
	walls := make([]time.Duration, 0, rounds)
	cmds := make([]*exec.Cmd, n)
	for range rounds {
		t := time.Now()
		for i := range cmds {
			cmds[i] = exec.Command(bash, script)
			if err := cmds[i].Start(); err != nil {
				return bashRound{}, err
			}
		}
		for _, c := range cmds {
			if err := c.Wait(); err != nil {
				return bashRound{}, err
			}
		}
		walls = append(walls, time.Since(t))
	}
	used := cpuTime(syscall.RUSAGE_CHILDREN) - before
	slices.Sort(walls)
	return bashRound{wall: walls[rounds/2], cpu: used / time.Duration(rounds*n)}, nil
}

// ansibleTask runs a playbook of tasks tasks, each the script on n hosts
// (local connection, forks = n, linear strategy, no facts) and returns the
// time per task.
func ansibleTask(ctx context.Context, dir, script string, n, tasks int) (time.Duration, error) {
	adir := filepath.Join(dir, fmt.Sprintf("ansible%d", n))
	if err := os.MkdirAll(adir, 0o755); err != nil {
		return 0, err
	}
	var inv strings.Builder
	inv.WriteString("[hosts]\n")
	for i := range n {
		fmt.Fprintf(&inv, "h%d ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n", i)
	}
	var pb strings.Builder
	pb.WriteString("- hosts: hosts\n  gather_facts: false\n  tasks:\n")
	for i := range tasks {
		fmt.Fprintf(&pb, "    - name: t%d\n      ansible.builtin.command: /bin/bash %s\n", i, script)
	}
	files := map[string]string{"inventory": inv.String(), "playbook.yml": pb.String()}
	for name, c := range files {
		if err := os.WriteFile(filepath.Join(adir, name), []byte(c), 0o644); err != nil {
			return 0, err
		}
	}
	cmd := exec.CommandContext(ctx, "ansible-playbook", "-i", "inventory", "-f", strconv.Itoa(n), "playbook.yml")
	cmd.Dir = adir
	cmd.Env = append(os.Environ(), "ANSIBLE_HOST_KEY_CHECKING=False", "ANSIBLE_RETRY_FILES_ENABLED=False",
		"ANSIBLE_LOCAL_TEMP="+filepath.Join(adir, "tmp"), "ANSIBLE_HOME="+filepath.Join(adir, "home"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t := time.Now()
	if err := cmd.Run(); err != nil {
		tail := out.Bytes()
		return 0, fmt.Errorf("ansible-playbook: %w\n%s", err, tail[max(len(tail)-2000, 0):])
	}
	return time.Since(t) / time.Duration(tasks), nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func progress(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench/stages:", err)
	os.Exit(1)
}
