package main

import (
	"context"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/api"
	"github.com/xrdtest/xrdtest/internal/daemons"
	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/hypervisor/netns"
	"github.com/xrdtest/xrdtest/internal/master"
	"github.com/xrdtest/xrdtest/internal/master/mastertest"
	"github.com/xrdtest/xrdtest/internal/session"
	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/testutil"
)

// needNetns skips an end-to-end test in -short mode, and where this
// machine lacks what the netns backend needs unless run as root: root
// lacking it fails.
func needNetns(t *testing.T) {
	t.Helper()
	endToEnd(t)
	if err := netns.Check(); err != nil {
		if os.Geteuid() != 0 {
			t.Skip(err)
		}
		t.Fatal(err)
	}
}

// netnsCluster: four hosts, two of them behind one alias, a data disk on
// ds1, 128 MiB each.
var netnsCluster = testutil.ClusterHead("cluster_ns", "192.168.128", "none.img", "'131072'") + `    ds1 = Host('ds1.xrd.test', '192.168.128.11', aliases=['pool.xrd.test'])
    ds1.disks = [Disk('data', '64M', device='vdb', mountPoint='/data')]
    c.addHosts([Host('redir.xrd.test', '192.168.128.10'), ds1,
                Host('ds2.xrd.test', '192.168.128.12', aliases=['pool.xrd.test']), Host('client.xrd.test', '192.168.128.13')])
    return c
`

const netnsSuite = `
def getTestSuite():
    ts = TestSuite('isolation')
    ts.clusters = ['cluster_ns']
    ts.machines = ['redir', 'ds1', 'ds2', 'client']
    ts.tests = ['names', 'kill', 'cut']
    ts.initialize = 'file://suite_init.sh'
    ts.stage_timeout = 60
    ts.schedule = dict(hour='3')
    return ts
`

// netnsScripts: every host serves its short name on port 8000 from a
// daemon started in the background (double-forked) by the suite's init;
// the cases check names, disks, memory, pkill and a cut network.
var netnsScripts = map[string]string{
	"suite_init.sh": `set -e
mkdir -p /tmp/www; hostname > /tmp/www/index.html
setsid busybox httpd -f -p 8000 -h /tmp/www </dev/null >/dev/null 2>&1 &
sleep 0.2`,
	"tc/names/run.sh": `set -e
name=@slavename@
[ "$(hostname)" = "${name%%.*}" ] || { echo "hostname $(hostname)"; exit 1; }
[ "$(hostname -f)" = "$name" ] || { echo "hostname -f $(hostname -f)"; exit 1; }
for h in redir ds1.xrd.test ds2 client.xrd.test; do
  got=$(busybox wget -q -O - http://$h:8000/); [ "$got" = "${h%%.xrd.test}" ] || { echo "$h:8000 says $got"; exit 1; }
done
pool=$(getent ahostsv4 pool.xrd.test | awk '$2=="STREAM"{print $1}' | sort | xargs)
[ "$pool" = "192.168.128.11 192.168.128.12" ] || { echo "pool.xrd.test: $pool"; exit 1; }
getent hosts master.xrd.test >/dev/null
if [ "$(hostname)" = ds1 ]; then [ "$(findmnt -n -o FSTYPE /data)" = ext4 ]; else ! mountpoint -q /data; fi
# 300 MiB in a 128 MiB host: tail is killed
if head -c 300m /dev/zero | tail -c 300m >/dev/null; then echo "allocated past ramSize"; exit 1; fi
echo "names ok on $(hostname)"`,
	"tc/kill/init.sh": `[ "$(hostname)" != redir ] || pkill -f "busybox httpd"`,
	"tc/kill/run.sh":  `if [ "$(hostname)" = redir ]; then ! pgrep -f "busybox httpd"; else pgrep -f "busybox httpd" >/dev/null; fi`,
	"tc/cut/init.sh":  `[ "$(hostname)" != ds2 ] || ip link set eth0 down`,
	"tc/cut/run.sh": `set -e
xrdtest sync barrier after-cut
if [ "$(hostname)" = client ]; then ! busybox wget -q -T 2 -O - http://ds2:8000/ && busybox wget -q -O - http://ds1:8000/; fi
echo "cut ok on $(hostname)"`,
}

// TestQuickstartNetns runs a suite on the netns backend with real slaves:
// names, shared ports, pkill, disks, ramSize and a cut data network that
// leaves the slave and barriers working; afterwards nothing is left.
func TestQuickstartNetns(t *testing.T) {
	needNetns(t)
	defs := t.TempDir()
	files := map[string]string{"clusters/cluster_ns.py": netnsCluster, "test-suites/isolation/test_suite.py": netnsSuite}
	for p, s := range netnsScripts {
		files["test-suites/isolation/"+p] = "#!/bin/bash\n" + s + "\n"
	}
	testutil.WriteFiles(t, defs, files)
	state := t.TempDir()
	before := leftovers(t, state, "cluster_ns")
	code, s, stderr := quickstartNetns(t, defs, state)
	if code != 0 || s.State != "passed" {
		for _, st := range s.Stages {
			for _, r := range st.Results {
				t.Logf("%s %s %s: %s", st.Name, r.Slave, r.Status, r.Output)
			}
		}
		t.Fatalf("exit %d, session %s\nstderr:\n%s", code, s.State, stderr)
	}
	if after := leftovers(t, state, "cluster_ns"); after != before {
		t.Errorf("left after the quickstart: %s\nbefore: %s", after, before)
	}
}

// leftovers describes what the netns backend with state folder stateDir
// made for cluster and left: its namespaces and their mounts, loop devices
// on its files, other mounts of the machine, links of the root namespace,
// its cgroups, the processes in them or started from its folder, and httpd
// daemons. Only what it names counts: other tests make clusters meanwhile.
func leftovers(t *testing.T, stateDir, cluster string) string {
	t.Helper()
	prefix := netns.NamePrefix(filepath.Join(stateDir, "netns"), cluster)
	var ns []string
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			ns = append(ns, e.Name())
		}
	}
	loops := 0
	files, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	for _, f := range files {
		if b, _ := os.ReadFile(f); strings.HasPrefix(string(b), stateDir) {
			loops++
		}
	}
	mounts := 0
	info, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(info), "\n") {
		if line != "" && (!strings.Contains(line, " /run/netns/") || strings.Contains(line, " /run/netns/"+prefix)) {
			mounts++
		}
	}
	links, _ := net.Interfaces()
	var cgroups []string
	filepath.WalkDir("/sys/fs/cgroup", func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && strings.HasPrefix(d.Name(), prefix) {
			cgroups = append(cgroups, strings.TrimPrefix(path, "/sys/fs/cgroup/"))
			return fs.SkipDir
		}
		return nil
	})
	// The cluster's processes: in its cgroups (hosts, slaves, DNS server)
	// or started from its folder; not the hypervisor, which names only
	// stateDir.
	var procs []string
	clusterDir := filepath.Join(stateDir, "netns", cluster)
	pids, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range pids {
		cmdline, _ := os.ReadFile(p + "/cmdline")
		cg, _ := os.ReadFile(p + "/cgroup")
		if len(cmdline) > 0 && (strings.Contains(string(cmdline), clusterDir) || strings.Contains(string(cg), "/"+prefix)) {
			procs = append(procs, filepath.Base(p))
		}
	}
	httpd, _ := exec.Command("pgrep", "-f", "busybox httpd -f -p 8000").Output()
	return strings.Join([]string{"namespaces " + strings.Join(ns, ","), "loop devices " + strconv.Itoa(loops),
		"mounts " + strconv.Itoa(mounts), "root links " + strconv.Itoa(len(links)), "cgroups " + strings.Join(cgroups, ","),
		"processes " + strings.Join(procs, ","), "httpd " + strings.TrimSpace(string(httpd))}, "; ")
}

// TestHypervisorDaemonNetns: an `xrdtest hypervisor --backend netns`
// process starts the cluster a master places on it; the session runs in
// the hosts (own names, the other hosts by name, a file downloaded from
// master.xrd.test's web port as the original suites do) and the stop
// after it leaves no namespace.
func TestHypervisorDaemonNetns(t *testing.T) {
	needNetns(t)
	dir := t.TempDir()
	testutil.WriteFiles(t, filepath.Join(dir, "repo"), map[string]string{
		"clusters/cluster_e2e.py":      cluster3Netns,
		"test-suites/hv/test_suite.py": suiteDef("hv", "", "c"),
		"test-suites/hv/init.sh":       "#!/bin/bash\n",
		"test-suites/hv/payload.txt":   "payload of the master\n",
		"test-suites/hv/tc/c/run.sh": "#!/bin/bash\nset -e\n[ \"$(hostname -f)\" = @slavename@ ]\n" +
			"getent hosts s1 s2.xrd.test master.xrd.test >/dev/null\n" +
			"got=$(busybox wget -q -O - @proto@://master.xrd.test:@port@/downloadScript/test-suites/hv/payload.txt)\n" +
			"[ \"$got\" = \"payload of the master\" ] || { echo \"downloaded: $got\"; exit 1; }\n" +
			// A fault set through the hypervisor daemon, and healed.
			"if [ $(hostname) = s1 ]; then id=$(xrdtest fault isolate s2); ! busybox ping -c 1 -W 1 s2 >/dev/null\n" +
			"  xrdtest fault heal $id >/dev/null; busybox ping -c 1 -W 1 s2 >/dev/null; echo \"fault $id set and healed\" >&2; fi\n" +
			"echo run in $(hostname)\n",
	})
	hvState := filepath.Join(dir, "hv")
	before := leftovers(t, hvState, "cluster_e2e")
	logs := &syncBuffer{}
	opts := e2eOptions(dir, logs)
	opts.StartClusters = true
	m := mastertest.Start(t, opts)

	defer startHypervisorProc(t, m, "netns", hvState, logs)()
	d := mastertest.Run(t, m, "hv", time.Minute)
	if d.State != store.SessionPassed {
		t.Fatalf("session: %s %q", d.State, d.Reason)
	}
	if out, _ := readOutput(m.Store, d.ID, 2, "s3.xrd.test"); out != "run in s3\n" {
		t.Errorf("output %q", out)
	}
	if out, _ := readOutput(m.Store, d.ID, 2, "s1.xrd.test"); !regexp.MustCompile(`fault f[0-9a-f]+ set and healed\n`).MatchString(out) {
		t.Errorf("s1's output %q", out)
	}
	// The master stops the cluster after the session.
	for deadline := time.Now().Add(10 * time.Second); leftovers(t, hvState, "cluster_e2e") != before; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("left after the session: %s\nbefore: %s", leftovers(t, hvState, "cluster_e2e"), before)
		}
	}
}

// TestHypervisorNetnsKilled: the `xrdtest hypervisor --backend netns`
// process is killed with -9 while a session runs on its cluster. The
// hosts, their slaves (still connected on the connection they had) and
// the DNS server run on; started again on its state folder, the
// hypervisor adopts the cluster, the master re-adopts it, master.xrd.test
// answers again in the hosts, the session passes, and the stop after it
// leaves nothing: namespaces, links, mounts, loop devices, cgroups,
// processes.
func TestHypervisorNetnsKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	if err := netns.Check(); err != nil {
		if os.Geteuid() != 0 {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	// The stage waits for a file the test adds to the repository once the
	// cluster is adopted again, fetched through master.xrd.test's web port.
	testutil.WriteFiles(t, repo, map[string]string{
		"clusters/cluster_e2e.py": strings.NewReplacer("Host('s2.xrd.test', '10.99.0.12')", "s2", "    c.addHosts(",
			"    s2 = Host('s2.xrd.test', '10.99.0.12')\n    s2.disks = [Disk('data', '16M', device='vdb', mountPoint='/data')]\n    c.addHosts(").Replace(cluster3Netns),
		"test-suites/hvk/test_suite.py": suiteDef("hvk", "", "wait"),
		"test-suites/hvk/init.sh":       "#!/bin/bash\necho up on @slavename@\n",
		"test-suites/hvk/tc/wait/run.sh": "#!/bin/bash\n[ $(hostname) != s2 ] || findmnt -n /data >/dev/null || { echo no disk; exit 1; }\n" +
			"until got=$(busybox wget -q -O - @proto@://master.xrd.test:@port@/downloadScript/test-suites/hvk/go.txt 2>/dev/null); do sleep 0.2; done\n" +
			"echo \"$got on $(hostname)\"\n",
	})
	hvState := filepath.Join(dir, "hv")
	before := leftovers(t, hvState, "cluster_e2e")
	logs := &syncBuffer{}
	m, err := master.Open(context.Background(), master.Options{
		StateDir: filepath.Join(dir, "master"), DaemonAddr: "127.0.0.1:0", WebAddr: "127.0.0.1:0",
		Token: e2eToken, Repos: []definition.Repo{{Root: repo}}, StartClusters: true,
		Settings:  session.Settings{StageTimeout: time.Minute, KillGrace: time.Second, SlaveWait: 30 * time.Second},
		Heartbeat: testHeartbeat, HeartbeatTimeout: 5 * testHeartbeat, ReconnectGrace: testGrace,
		Log: slog.New(slog.NewTextHandler(logs, nil)), Version: "e2e",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.Serve(ctx) }()
	defer func() { cancel(); <-done }()

	hvLog := &syncBuffer{}
	hv := startHypervisorCmd(t, m, "netns", hvState, hvLog)
	defer func() {
		if hv.ProcessState == nil {
			hv.Process.Signal(os.Interrupt)
			hv.Wait()
		}
		if t.Failed() {
			t.Logf("master log:\n%s\nhypervisor log:\n%s", logs.String(), hvLog.String())
		}
	}()
	s, err := m.Manager.Start(context.Background(), "hvk", nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	slaves := func() map[string]time.Time {
		out := map[string]time.Time{}
		for _, d := range m.Registry.Daemons() {
			if d.Role == api.RoleSlave {
				out[d.Name] = d.Since
			}
		}
		return out
	}
	waitFor := func(d time.Duration, what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(d); !cond(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	waitFor(time.Minute, "the wait stage to run on the 3 hosts", func() bool {
		d, err := store.Detail(context.Background(), m.Store, s.ID)
		if err != nil || d.State.Finished() {
			t.Fatalf("session ended early: %v %+v", err, d.Session)
		}
		for _, st := range d.Stages {
			if st.Name == "wait:run" {
				return len(st.Results) == 3 && !slices.ContainsFunc(st.Results, func(r *store.Result) bool { return r.Status != store.StatusRunning })
			}
		}
		return false
	})
	connected := slaves()
	if len(connected) != 3 {
		t.Fatalf("slaves connected: %v", connected)
	}

	hv.Process.Signal(syscall.SIGKILL)
	hv.Wait()
	waitFor(20*time.Second, "the master to see the hypervisor gone", func() bool {
		return !slices.ContainsFunc(m.Registry.Daemons(), func(d daemons.DaemonInfo) bool { return d.Role == api.RoleHypervisor })
	})
	if left := leftovers(t, hvState, "cluster_e2e"); left == before {
		t.Fatal("the cluster did not outlive its killed hypervisor")
	} else {
		t.Logf("after the kill: %s", left)
	}
	hv = startHypervisorCmd(t, m, "netns", hvState, hvLog)
	waitFor(20*time.Second, "the re-adoption", func() bool {
		return strings.Contains(logs.String(), "cluster re-adopted after the hypervisor reconnected")
	})
	if !strings.Contains(hvLog.String(), "netns cluster adopted") {
		t.Error("the hypervisor did not say it adopted the cluster")
	}
	// The slaves never noticed: same connections as before the kill.
	if now := slaves(); !maps.Equal(now, connected) {
		t.Errorf("slaves after the restart %v, before %v", now, connected)
	}
	testutil.WriteFiles(t, repo, map[string]string{"test-suites/hvk/go.txt": "go\n"})
	wctx, wcancel := context.WithTimeout(context.Background(), time.Minute)
	defer wcancel()
	if _, err := m.Manager.Wait(wctx, s.ID); err != nil {
		t.Fatal(err)
	}
	d, err := store.Detail(wctx, m.Store, s.ID)
	if err != nil || d.State != store.SessionPassed {
		t.Fatalf("session: %v %s %q", err, d.State, d.Reason)
	}
	for _, st := range d.Stages {
		if out, _ := readOutput(m.Store, d.ID, st.Index, "s2.xrd.test"); st.Name == "wait:run" && out != "go on s2\n" {
			t.Errorf("output of wait:run on s2: %q", out)
		}
	}
	if strings.Contains(logs.String(), "removing a cluster no session uses") {
		t.Error("the cluster of the running session was removed")
	}
	// The master stops the cluster after the session: nothing is left,
	// the killed hypervisor's orphans included.
	for deadline := time.Now().Add(15 * time.Second); leftovers(t, hvState, "cluster_e2e") != before; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("left after the session: %s\nbefore: %s", leftovers(t, hvState, "cluster_e2e"), before)
		}
	}
	hv.Process.Signal(os.Interrupt)
	if err := hv.Wait(); err != nil {
		t.Errorf("hypervisor exit: %v", err)
	}
	if after := leftovers(t, hvState, "cluster_e2e"); after != before {
		t.Errorf("left after the hypervisor's stop: %s\nbefore: %s", after, before)
	}
}

// TestMasterKilledDuringFault: the master is killed (kill -9) while a
// fault (a pause) is on in a netns cluster of a hypervisor daemon;
// restarted, it interrupts the session and has the cluster, no session's
// now, removed by the hypervisor: the fault with it, nothing left.
func TestMasterKilledDuringFault(t *testing.T) {
	needNetns(t)
	dir := t.TempDir()
	files := e2eRepo(map[string]string{
		"mkf/test_suite.py": suiteDef("mkf", "", "hold"),
		"mkf/init.sh":       "#!/bin/bash\n",
		"mkf/tc/hold/run.sh": "#!/bin/bash\nset -e\n[ $(hostname) != s1 ] || echo \"paused: $(xrdtest fault pause s2)\"\n" +
			"xrdtest sync barrier paused\nsleep 600\n",
	})
	files["clusters/cluster_e2e.py"] = cluster3Netns
	testutil.WriteFiles(t, filepath.Join(dir, "repo"), files)
	hvState := filepath.Join(dir, "hv")
	before := leftovers(t, hvState, "cluster_e2e")
	m := startKillableMaster(t, dir, func(conf string) string {
		return strings.Replace(conf, "start_clusters = 0", "start_clusters = 1", 1)
	})
	self, _ := os.Executable()
	var hvLog syncBuffer
	fp := waitFingerprint(t, &m.log)
	hv := exec.Command(self, "hypervisor", "-c", "none", "--backend", "netns", "--master", m.daemonAddr(),
		"--name", "hv1", "--ca-fingerprint", fp, "--state-dir", hvState)
	hv.Env = append(os.Environ(), "XRDTEST_TEST_MAIN=1", "XRDTEST_TOKEN="+e2eToken)
	hv.Stdout, hv.Stderr = &hvLog, &hvLog
	if err := hv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		hv.Process.Signal(os.Interrupt)
		hv.Wait()
		if t.Failed() {
			t.Logf("master log:\n%s\nhypervisor log:\n%s", tail(m.log.String(), 8000), tail(hvLog.String(), 8000))
		}
	}()
	client := m.client
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	waitFor := func(d time.Duration, what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(d); !cond(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	waitFor(20*time.Second, "the hypervisor to connect", func() bool {
		return strings.Contains(m.log.String(), `msg="daemon connected" role=hypervisor`)
	})
	s, err := client.Start(ctx, "mkf", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	faults := filepath.Join(hvState, "netns", "cluster_e2e", "faults.json")
	waitFor(2*time.Minute, "the pause to be on", func() bool {
		if d, err := client.Session(ctx, s.ID); err == nil && d.State.Finished() {
			t.Fatalf("session ended: %+v", d.Session)
		}
		b, err := os.ReadFile(faults)
		return err == nil && strings.Contains(string(b), `"pause"`)
	})
	m.restart(t)
	waitFor(time.Minute, "the restarted master to have the cluster removed", func() bool {
		return leftovers(t, hvState, "cluster_e2e") == before
	})
	if _, err := os.Stat(faults); !os.IsNotExist(err) {
		t.Errorf("faults.json left: %v", err)
	}
	d, err := client.Session(ctx, s.ID)
	if err != nil || d.State != api.SessionInterrupted {
		t.Errorf("session after the restart: %v, %+v", err, d)
	}
}
