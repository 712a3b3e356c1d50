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
    ts.tests = ['dns', 'disk', 'lockstep']
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
}

// TestVMQuickstart runs `xrdtest quickstart --backend libvirt` on three VMs
// of the slave image, inside the private libvirtd's network namespace
// (scripts/libvirt-env.sh), and checks that nothing is left afterwards.
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
