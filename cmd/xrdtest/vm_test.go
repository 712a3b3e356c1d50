package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/testutil"
)

// vmCluster is a cluster of three VMs booting the xrdtest slave image: a
// round-robin alias over all of them and a data disk on vm2.
var vmCluster = testutil.ClusterHead("cluster_vm", "10.97.0", "xrdtest-slave.qcow2", "'196608'") + `    rr = ['pool.xrd.test']
    vm1 = Host('vm1.xrd.test', '10.97.0.11', aliases=rr)
    vm2 = Host('vm2.xrd.test', '10.97.0.12', aliases=rr)
    vm3 = Host('vm3.xrd.test', '10.97.0.13', aliases=rr)
    vm2.disks = [Disk('data', '64M', device='vda', mountPoint='/data', cache=False)]
    c.addHosts([vm1, vm2, vm3])
    return c
`

var vmSuite = map[string]string{
	"test-suites/vms/test_suite.py": `def getTestSuite():
    ts = TestSuite('vms')
    ts.clusters = ['cluster_vm']
    ts.tests = ['dns', 'disk', 'lockstep', 'faults']
    ts.schedule = dict(hour='3')
    ts.initialize = 'file://init.sh'
    return ts
`,
	"test-suites/vms/payload.txt": "payload of the master\n",
	"test-suites/vms/init.sh":     "#!/bin/bash\nsource /etc/XrdTest/utils/functions.sh\n@diskmounts@\nlog \"up on $(hostname)\"\n",
	"test-suites/vms/tc/dns/run.sh": `#!/bin/bash
set -e
for h in vm1 vm2 vm3 master; do
    nslookup -type=a $h.xrd.test >/dev/null || { echo "cannot resolve $h.xrd.test"; exit 1; }
done
got=$(wget -q -O - @proto@://master.xrd.test:@port@/downloadScript/test-suites/vms/payload.txt)
[ "$got" = "payload of the master" ] || { echo "downloaded from master.xrd.test: $got"; exit 1; }
n=$(nslookup -type=a pool.xrd.test | grep -c '^Address: 10.97.0.1[123]')
echo "pool.xrd.test has $n addresses"
[ "$n" -eq 3 ]
`,
	"test-suites/vms/tc/disk/run.sh": `#!/bin/bash
set -e
if [ @slavename@ = vm2.xrd.test ]; then
    grep -q " /data ext4 " /proc/mounts
    echo written > /data/ok
    cat /data/ok
fi
`,
	"test-suites/vms/tc/lockstep/init.sh": "#!/bin/bash\n[ @slavename@ = vm1.xrd.test ] && sleep 2\nexit 0\n",
	"test-suites/vms/tc/lockstep/run.sh":  "#!/bin/bash\nset -e\nxrdtest sync barrier together\necho passed the barrier\n",
	"test-suites/vms/tc/faults/init.sh":   "#!/bin/bash\n",
	"test-suites/vms/tc/faults/run.sh":    vmFaultsScript,
}

// vmFaultsScript is the faults case on the VMs: every host serves its
// name over HTTP, and vm2 a counter it bumps every 0.25 s. vm1 partitions
// itself from vm2: neither reaches the other, vm3 reaches both, and the
// barriers, through the master, pass all along. Healed, they reach each
// other again. vm3 pauses vm2: it answers nothing, and its counter, read
// before and after, moved only for the time it was not paused; after the
// resume it moves again.
const vmFaultsScript = `#!/bin/bash
set -e
me=@slavename@
mkdir -p /tmp/www && echo $me >/tmp/www/name
busybox httpd -p 8081 -h /tmp/www
get() { busybox timeout 4 wget -q -O - "http://$1.xrd.test:8081/$2"; } 2>/dev/null # not even bash's "Terminated"
reaches() { [ "$(get $1 name)" = "$1.xrd.test" ]; }
fail() { echo "$me: $*"; exit 1; }
up() { cut -d' ' -f1 /proc/uptime | tr -d .; } # centiseconds
if [ $me = vm2.xrd.test ]; then
    (i=0; while :; do i=$((i + 1)); echo $i >/tmp/www/count; sleep 0.25; done) >/dev/null 2>&1 </dev/null &
    echo $! >/tmp/counter.pid
fi
xrdtest sync barrier serving
if [ $me = vm1.xrd.test ]; then
    # A kernel without netem cannot delay: the fault says so.
    if d=$(xrdtest fault delay vm2 50ms 2>/tmp/delay.err); then xrdtest fault heal $d >/dev/null; echo "delay set and healed"
    else grep -q "netem" /tmp/delay.err || fail "delay: $(cat /tmp/delay.err)"; echo "delay refused: $(cat /tmp/delay.err)"; fi
    id=$(xrdtest fault partition vm1 vm2)
fi
xrdtest sync barrier partitioned
case $me in
vm1.xrd.test) ! reaches vm2 || fail "reaches vm2 across the partition"; reaches vm3 || fail "cannot reach vm3" ;;
vm2.xrd.test) ! reaches vm1 || fail "reaches vm1 across the partition"; reaches vm3 || fail "cannot reach vm3" ;;
vm3.xrd.test) reaches vm1 && reaches vm2 || fail "cannot reach both sides" ;;
esac
echo "partition seen from $me"
xrdtest sync barrier checked
[ $me = vm1.xrd.test ] && echo "healed $(xrdtest fault heal $id)"
xrdtest sync barrier healed
case $me in
vm1.xrd.test) reaches vm2 || fail "cannot reach vm2 after the heal" ;;
vm2.xrd.test) reaches vm1 || fail "cannot reach vm1 after the heal" ;;
esac
echo "healed seen from $me"
if [ $me = vm3.xrd.test ]; then
    t0=$(up); c0=$(get vm2 count)
    xrdtest fault pause vm2 >/dev/null
    p0=$(up)
    ! get vm2 count >/dev/null || fail "vm2 answered while paused"
    p1=$(up)
    xrdtest fault resume vm2 >/dev/null
    for i in 1 2 3 4 5; do c1=$(get vm2 count) && break; done
    t1=$(up)
    sleep 1
    c2=$(get vm2 count)
    echo "counter on vm2: $c0, then $c1 $(((t1 - t0) / 100)) s later, $(((p1 - p0) / 100)) s of them paused, then $c2"
    # 4 a second at most, for the time vm2 was not paused.
    [ $((c1 - c0)) -le $(((t1 - t0 - (p1 - p0)) * 4 / 100 + 2)) ] || fail "the counter ran while vm2 was paused"
    [ "$c2" -gt "$c1" ] || fail "the counter stopped after the resume"
fi
xrdtest sync barrier done
[ ! -f /tmp/counter.pid ] || kill $(cat /tmp/counter.pid)
echo "faults checked on $me"
`

// TestVMQuickstart runs `xrdtest quickstart --backend libvirt` on three VMs
// of the slave image, inside the private libvirtd's network namespace
// (scripts/libvirt-env.sh): names, a data disk, barriers, and faults (a
// partition and a pause, vmFaultsScript); and checks that nothing is left
// afterwards.
func TestVMQuickstart(t *testing.T) {
	uri, netns, pool := libvirtEnv(t)
	dir := t.TempDir()
	files := map[string]string{"clusters/cluster_vm.py": vmCluster}
	for k, v := range vmSuite {
		files[k] = v
	}
	testutil.WriteFiles(t, filepath.Join(dir, "repo"), files)
	self, _ := os.Executable()
	start := time.Now()
	cmd := exec.Command("ip", "netns", "exec", netns, self, "quickstart", "--backend", "libvirt", "--libvirt-uri", uri,
		"--pool", pool, "--defs", filepath.Join(dir, "repo"), "--json", "--state-dir", filepath.Join(dir, "state"), "--log-level", "INFO")
	cmd.Env = append(os.Environ(), "XRDTEST_TEST_MAIN=1")
	cmd.Dir = "../.." // the module root: the image build compiles ./cmd/xrdtest
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	t.Logf("quickstart on VMs took %s", time.Since(start).Round(time.Second))
	if err != nil {
		consoles, _ := filepath.Glob(filepath.Join(dir, "state", "libvirt", "console", "*.log"))
		for _, c := range consoles {
			b, _ := os.ReadFile(c)
			t.Logf("console %s:\n%s", filepath.Base(c), tail(string(b), 3000))
		}
		t.Fatalf("quickstart: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), tail(stderr.String(), 6000))
	}
	var doc qsDocument
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil || len(doc.Sessions) != 1 {
		t.Fatalf("output: %v\n%s", err, stdout.String())
	}
	s := doc.Sessions[0]
	if s.State != "passed" {
		t.Errorf("session %s:\n%s", s.State, stdout.String())
	}
	// Lock-step, from the master's recorded times.
	for i := 1; i < len(s.Stages); i++ {
		var lastEnd, firstStart time.Time
		for _, r := range s.Stages[i-1].Results {
			if r.End == nil {
				continue
			}
			if e, _ := time.Parse(time.RFC3339Nano, *r.End); e.After(lastEnd) {
				lastEnd = e
			}
		}
		for _, r := range s.Stages[i].Results {
			if r.Start == nil {
				continue
			}
			if st, err := time.Parse(time.RFC3339Nano, *r.Start); err == nil && (firstStart.IsZero() || st.Before(firstStart)) {
				firstStart = st
			}
		}
		if !firstStart.IsZero() && firstStart.Before(lastEnd) {
			t.Errorf("%s started before %s ended", s.Stages[i].Name, s.Stages[i-1].Name)
		}
	}
	for _, st := range s.Stages {
		for _, r := range st.Results {
			if st.Name == "disk:run" && r.Slave == "vm2.xrd.test" && r.Output != "written\n" {
				t.Errorf("data disk on vm2: %q", r.Output)
			}
			if st.Name == "dns:run" && !strings.Contains(r.Output, "pool.xrd.test has 3 addresses") {
				t.Errorf("dns on %s: %q", r.Slave, r.Output)
			}
			if st.Name == "faults:run" {
				t.Logf("faults on %s:\n%s", r.Slave, r.Output)
				for _, want := range []string{"partition seen from", "healed seen from", "faults checked on"} {
					if !strings.Contains(r.Output, want) {
						t.Errorf("faults on %s: no %q", r.Slave, want)
					}
				}
				if r.Slave == "vm3.xrd.test" && !strings.Contains(r.Output, "counter on vm2:") {
					t.Errorf("faults on vm3: no counter read")
				}
			}
		}
	}
	// Teardown: no domain, network or non-cached volume of the cluster left.
	for _, args := range [][]string{{"list", "--all", "--name"}, {"net-list", "--all", "--name"}} {
		if out := virsh(t, uri, args...); strings.Contains(out, "cluster_vm") {
			t.Errorf("left after the quickstart (virsh %s):\n%s", args[0], out)
		}
	}
	// The quickstart purges even its cached volumes: its state is temporary.
	out, _ := exec.Command("virsh", "-c", uri, "vol-list", pool).CombinedOutput()
	if strings.Contains(string(out), "cluster_vm") {
		t.Errorf("volumes left in the pool:\n%s", out)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
