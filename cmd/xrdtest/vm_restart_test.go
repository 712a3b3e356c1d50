package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/master/mastertest"
	"github.com/xrdtest/xrdtest/internal/testutil"

	"github.com/xrdtest/xrdtest/internal/hypervisor/libvirt"
	"github.com/xrdtest/xrdtest/internal/image"
	"github.com/xrdtest/xrdtest/internal/store"
)

// hvrCluster is two VMs of the slave image, on a network of their own.
var hvrCluster = testutil.ClusterHead("cluster_hvr", "10.95.0", "xrdtest-hvr.qcow2", "'163840'") + `    c.defaultHost.cacheBootImage = False
    c.addHosts([Host('r1.xrd.test', '10.95.0.11'), Host('r2.xrd.test', '10.95.0.12')])
    return c
`

// TestVMHypervisorRestart kills the hypervisor daemon (kill -9) while a
// session runs on its VMs: restarted, it reports the cluster and the master
// re-adopts it, the session passes and its cluster is removed at the end.
// Killed again and brought back only after its session ended, its cluster
// is one no session uses: the master has it removed. Real VMs, real
// processes, in the private libvirtd's network namespace.
func TestVMHypervisorRestart(t *testing.T) {
	uri, netns, pool := libvirtEnv(t)
	if os.Getenv("XRDTEST_IN_NETNS") == "" {
		// The VMs reach the master through their network's gateway, which
		// exists in the namespace only: run this test there.
		self, _ := os.Executable()
		cmd := exec.Command("ip", "netns", "exec", netns, self, "-test.run", "^TestVMHypervisorRestart$", "-test.v", "-test.timeout", "10m")
		cmd.Env = append(os.Environ(), "XRDTEST_IN_NETNS=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestVMHypervisorRestart") {
			t.Fatalf("in netns %s: %v\n%s", netns, err, out)
		}
		t.Logf("in netns %s:\n%s", netns, tail(string(out), 4000))
		return
	}

	ctx := context.Background()
	dir := t.TempDir()
	testutil.WriteFiles(t, filepath.Join(dir, "repo"), map[string]string{
		"clusters/cluster_hvr.py": hvrCluster,
		"test-suites/hvr/test_suite.py": "def getTestSuite():\n    ts = TestSuite('hvr')\n    ts.clusters = ['cluster_hvr']\n" +
			"    ts.tests = ['wait']\n    ts.schedule = dict(hour='3')\n    ts.initialize = 'file://init.sh'\n    return ts\n",
		// The VMs reach the master's web port at master.xrd.test too.
		"test-suites/hvr/payload.txt": "payload of the master\n",
		"test-suites/hvr/init.sh": "#!/bin/bash\nset -e\n" +
			"got=$(wget -q -O - @proto@://master.xrd.test:@port@/downloadScript/test-suites/hvr/payload.txt)\n" +
			"[ \"$got\" = \"payload of the master\" ] || { echo \"downloaded: $got\"; exit 1; }\necho up on @slavename@\n",
		// Long enough for a kill, a restart and a re-adoption.
		"test-suites/hvr/tc/wait/run.sh": "#!/bin/bash\nsleep 20\necho still here on @slavename@\n",
	})

	img, err := image.Build(ctx, image.Options{OutDir: filepath.Join(dir, "image"), Log: io.Discard})
	if err != nil {
		t.Fatalf("image: %v", err)
	}
	lb, err := libvirt.New(ctx, libvirt.Config{URI: uri, Pool: pool, StateDir: filepath.Join(dir, "installer")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = lb.InstallImage(ctx, "xrdtest-hvr.qcow2", img.Kernel, img.Initrd)
	lb.Close()
	if err != nil {
		t.Fatal(err)
	}

	logs := &syncBuffer{}
	// The VMs reach the master through their network's gateway, and boot
	// and reconnect slowly.
	opts := e2eOptions(dir, logs)
	opts.DaemonAddr, opts.WebAddr, opts.StartClusters = "0.0.0.0:0", "0.0.0.0:0", true
	opts.Settings.StageTimeout, opts.Settings.SlaveWait = 5*time.Minute, 4*time.Minute
	opts.HeartbeatTimeout, opts.ReconnectGrace = 10*testHeartbeat, 30*time.Second
	m := mastertest.Open(t, opts)
	defer mastertest.Serve(m)()

	self, _ := os.Executable()
	hvLog := &syncBuffer{}
	var hv *exec.Cmd
	startHV := func() {
		t.Helper()
		hv = exec.Command(self, "hypervisor", "-c", "none", "--backend", "libvirt", "--master", m.DaemonAddr().String(),
			"--name", "hv1", "--ca-fingerprint", m.CA.Fingerprint().String(), "--state-dir", filepath.Join(dir, "hv"),
			"--set", "libvirt.uri="+uri, "--set", "virtual_machines.storage_pool="+pool, "--set", "daemon.log_level=DEBUG")
		hv.Env = append(os.Environ(), "XRDTEST_TEST_MAIN=1", "XRDTEST_TOKEN="+e2eToken)
		hv.Stdout, hv.Stderr = hvLog, hvLog
		if err := hv.Start(); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 30*time.Second, "the hypervisor to connect", func() bool {
			for _, d := range m.Registry.Daemons() {
				if d.Role == "hypervisor" && d.Name == "hv1" {
					return true
				}
			}
			return false
		})
	}
	kill := func() {
		t.Helper()
		hv.Process.Kill()
		hv.Wait()
		waitUntil(t, 30*time.Second, "the master to see the hypervisor gone", func() bool {
			for _, d := range m.Registry.Daemons() {
				if d.Role == "hypervisor" {
					return false
				}
			}
			return true
		})
	}
	defer func() {
		if hv != nil && hv.ProcessState == nil {
			hv.Process.Signal(os.Interrupt)
			hv.Wait()
		}
		if t.Failed() {
			consoles, _ := filepath.Glob(filepath.Join(dir, "hv", "libvirt", "console", "*.log"))
			for _, c := range consoles {
				b, _ := os.ReadFile(c)
				t.Logf("console %s:\n%s", filepath.Base(c), tail(string(b), 2000))
			}
			t.Logf("master log:\n%s\nhypervisor log:\n%s", tail(logs.String(), 20000), tail(hvLog.String(), 20000))
		}
	}()
	// running starts a session and returns once its wait stage runs on
	// both VMs.
	running := func() *store.Session {
		t.Helper()
		s := mastertest.StartSession(t, m, "hvr")
		waitUntil(t, 4*time.Minute, "the wait stage to run on both VMs", func() bool {
			d, err := store.Detail(ctx, m.Store, s.ID)
			if err != nil || d.State.Finished() {
				t.Fatalf("session %d ended early: %v %+v", s.ID, err, d.Session)
			}
			for _, st := range d.Stages {
				if st.Name == "wait:run" {
					return len(st.Results) == 2 && st.Results[0].Status == store.StatusRunning && st.Results[1].Status == store.StatusRunning
				}
			}
			return false
		})
		return s
	}
	passed := func(s *store.Session) {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		defer cancel()
		if _, err := m.Manager.Wait(wctx, s.ID); err != nil {
			t.Fatal(err)
		}
		d, err := store.Detail(ctx, m.Store, s.ID)
		if err != nil || d.State != store.SessionPassed {
			t.Fatalf("session %d: %v %s %q", s.ID, err, d.State, d.Reason)
		}
		for _, st := range d.Stages {
			if out, _ := readOutput(m.Store, s.ID, st.Index, "r2.xrd.test"); st.Name == "wait:run" && out != "still here on r2.xrd.test\n" {
				t.Errorf("session %d: output of wait:run on r2: %q", s.ID, out)
			}
		}
	}
	gone := func(why string) {
		t.Helper()
		waitUntil(t, 2*time.Minute, why, func() bool {
			return !strings.Contains(virsh(t, uri, "list", "--all", "--name"), "cluster_hvr") &&
				!strings.Contains(virsh(t, uri, "net-list", "--all", "--name"), "cluster_hvr") &&
				!strings.Contains(virsh(t, uri, "vol-list", pool), "cluster_hvr")
		})
	}

	// 1: killed and restarted mid-session: re-adopted.
	startHV()
	s := running()
	kill()
	startHV()
	waitUntil(t, 30*time.Second, "the re-adoption", func() bool {
		return strings.Contains(logs.String(), "cluster re-adopted after the hypervisor reconnected")
	})
	passed(s)
	if strings.Contains(logs.String(), "removing a cluster no session uses") {
		t.Error("the cluster of the running session was removed")
	}
	gone("the cluster to be removed after session 1")

	// 2: killed mid-session and back only after the session ended: the
	// VMs outlive both, and are removed when the hypervisor returns.
	s = running()
	kill()
	passed(s)
	if !strings.Contains(virsh(t, uri, "list", "--name"), "cluster_hvr") {
		t.Fatal("the VMs of session 2 did not outlive their killed hypervisor")
	}
	startHV()
	waitUntil(t, 30*time.Second, "the orphan cluster's removal", func() bool {
		return strings.Contains(logs.String(), "removing a cluster no session uses")
	})
	gone("the orphan cluster to be removed")
	hv.Process.Signal(os.Interrupt)
	if err := hv.Wait(); err != nil {
		t.Errorf("hypervisor exit: %v", err)
	}
}

// libvirtEnv returns the private libvirtd of scripts/libvirt-env.sh: its
// URI, network namespace and pool. Without one the test is skipped, and
// fails under CI=true or XRDTEST_LIBVIRT_REQUIRED=1.
func libvirtEnv(t *testing.T) (uri, netns, pool string) {
	t.Helper()
	uri = os.Getenv("XRDTEST_LIBVIRT_URI")
	if uri == "" {
		msg := "needs a private libvirtd: bash scripts/libvirt-env.sh exec go test -run TestVM ./cmd/xrdtest"
		if os.Getenv("CI") == "true" || os.Getenv("XRDTEST_LIBVIRT_REQUIRED") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return uri, envOr("XRDTEST_LIBVIRT_NETNS", "xrdtest-lv"), envOr("XRDTEST_LIBVIRT_POOL", "xrdtest")
}

// virsh runs virsh on the libvirtd at uri and returns its output; a
// failure fails t.
func virsh(t *testing.T, uri string, args ...string) string {
	t.Helper()
	out, err := exec.Command("virsh", append([]string{"-c", uri}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("virsh %v: %v: %s", args, err, out)
	}
	return string(out)
}

// waitUntil polls cond until it holds, failing the test after d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
	}
}
