package netns

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/hypervisor"
	"github.com/xrdtest/xrdtest/internal/hypervisor/netns/holder"
)

// fourHosts is a 4-host cluster: two servers sharing an alias, 64 MiB
// each.
func fourHosts() *definition.Cluster {
	c := &definition.Cluster{Name: "four", Network: definition.Network{Name: "net", IP: "192.168.128.1", Netmask: "255.255.255.0"}}
	for i, n := range []string{"man", "srv1", "srv2", "client"} {
		h := &definition.Host{Name: n + ".xrd.test", IP: "192.168.128." + string(rune('3'+i)), RAMKiB: 64 << 10}
		if strings.HasPrefix(n, "srv") {
			h.Aliases = []string{"pool.xrd.test"}
		}
		c.Hosts = append(c.Hosts, h)
	}
	return c
}

// runningHosts starts the network and every host of c; the test's end
// stops them.
func runningHosts(t *testing.T, c *definition.Cluster, work string) (naming, []*host) {
	t.Helper()
	ctx := context.Background()
	p, err := newPlan(hypervisor.ClusterSpec{Cluster: c}, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	n := newNaming(dir, c.Name)
	t.Cleanup(func() { networkDown(ctx, n) })
	if err := networkUp(ctx, n, p); err != nil {
		t.Fatal(err)
	}
	hosts := make([]*host, len(p.hosts))
	for i := range p.hosts {
		h, err := startHost(ctx, n, p, i, filepath.Join(dir, p.hosts[i].name), []string{os.Args[0], holder.Command}, DefaultPrivateDirs, []string{work, dir})
		if err != nil {
			t.Fatal(err)
		}
		hosts[i] = h
		t.Cleanup(func() { h.stop(5 * time.Second) })
	}
	return n, hosts
}

// run runs argv in host h from folder dir and returns its output.
func run(t *testing.T, h *host, dir string, argv ...string) (string, error) {
	t.Helper()
	return runFrom(h, dir, argv...)
}

// runIn runs argv in host h from its own folder.
func runIn(h *host, argv ...string) (string, error) { return runFrom(h, h.dir, argv...) }

func runFrom(h *host, dir string, argv ...string) (string, error) {
	cmd := exec.Command(hostLayout(h.dir).enter(), argv...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}

// TestHosts: each host has its own name, processes, private folders and
// memory limit, sees the machine's programs, and the stop ends every
// process of it and leaves nothing.
func TestHosts(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	mountsBefore := machineMounts(t)
	work := t.TempDir()
	c := fourHosts()
	diskMount := "/mnt/xrdtest-disk-" + filepath.Base(work)
	// The backend leaves the mount point it made (see doc.go); the test
	// removes it.
	t.Cleanup(func() { os.Remove(diskMount) })
	c.Hosts[1].Disks = []definition.Disk{{Name: "data", Size: 64 << 20, MountPoint: diskMount}}
	n, hosts := runningHosts(t, c, work)
	// The test's folders share a parent: the disk file is below it.
	if got := loopDevices(t, filepath.Dir(work)); got != 1 {
		t.Errorf("%d loop devices on the test's disk files, want 1", got)
	}
	// The test binary plays the daemons; it must be where the hosts see
	// it (its build folder is in the machine's /tmp).
	self := filepath.Join(work, "daemon")
	if out, err := exec.Command("cp", os.Args[0], self).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}

	// srv1's data disk: an ext4 of its size there, nothing elsewhere.
	for i, h := range hosts {
		out, err := run(t, h, work, "findmnt", "-n", "-b", "-o", "FSTYPE,SIZE", diskMount)
		if got, want := strings.Join(strings.Fields(out), " "), "ext4 "; i == 1 && (err != nil || !strings.HasPrefix(got, want)) {
			t.Errorf("%s: %s: %q, %v; want an ext4", h.name, diskMount, out, err)
		} else if i == 1 {
			size, _ := strconv.ParseInt(strings.Fields(out)[1], 10, 64)
			if size < 50<<20 || size > 64<<20 {
				t.Errorf("%s: disk of %d bytes, defined 64 MiB", h.name, size)
			}
		} else if err == nil {
			t.Errorf("%s: srv1's disk is mounted here too: %s", h.name, out)
		}
	}
	if out, err := exec.Command("findmnt", diskMount).CombinedOutput(); err == nil {
		t.Errorf("srv1's disk is mounted in the machine's namespace: %s", out)
	}
	for i, h := range hosts {
		short, _, _ := strings.Cut(h.name, ".")
		for argv, want := range map[string]string{"hostname": short, "hostname -f": h.name, "pwd": work, "cat /etc/hostname": short} {
			if got, err := run(t, h, work, strings.Fields(argv)...); err != nil || got != want {
				t.Errorf("host %d: %s: %q, %v; want %q", i, argv, got, err, want)
			}
		}
		// A double-forked daemon per host, all of one name and port.
		if out, err := run(t, h, work, "sh", "-c", "setsid "+self+" __test-serve :1094 xrootd </dev/null >/dev/null 2>&1 &"); err != nil {
			t.Fatalf("%s: start a daemon: %v %s", h.name, err, out)
		}
		if out, err := run(t, h, work, "sh", "-c", "echo "+short+" > /tmp/mine"); err != nil {
			t.Fatalf("%s: write /tmp: %v %s", h.name, err, out)
		}
	}
	// Two hosts serve port 1094 at once, each under its own name (once
	// their daemons listen).
	for _, h := range hosts[:2] {
		short, _, _ := strings.Cut(h.name, ".")
		var got string
		var err error
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if got, err = run(t, hosts[3], work, "bash", "-c", "exec 3<>/dev/tcp/"+short+"/1094; head -1 <&3"); err == nil {
				break
			}
		}
		if err != nil || got != "xrootd from "+short {
			t.Errorf("client -> %s:1094: %q, %v", short, got, err)
		}
	}
	// pkill in one host leaves the others' processes alone.
	if out, err := run(t, hosts[0], work, "pkill", "-f", "__test-serve"); err != nil {
		t.Errorf("pkill in %s: %v %s", hosts[0].name, err, out)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if out, _ := run(t, hosts[0], work, "pgrep", "-f", "__test-serve"); out == "" {
			break
		}
	}
	for i, h := range hosts {
		out, _ := run(t, h, work, "pgrep", "-f", "__test-serve")
		if running := out != ""; running != (i != 0) {
			t.Errorf("%s: daemon running %v after pkill in %s (pgrep: %q)", h.name, running, hosts[0].name, out)
		}
		// Its own /proc: the holder is PID 1, the daemon and ps alone.
		if out, _ := run(t, h, work, "ps", "-e", "-o", "pid="); len(strings.Fields(out)) > 5 {
			t.Errorf("%s: ps -e sees %d processes", h.name, len(strings.Fields(out)))
		}
		short, _, _ := strings.Cut(h.name, ".")
		if got, _ := run(t, h, work, "cat", "/tmp/mine"); got != short {
			t.Errorf("%s: /tmp/mine is %q", h.name, got)
		}
	}
	if _, err := os.Stat("/tmp/mine"); err == nil {
		t.Error("a host's /tmp file is in the machine's /tmp")
	}
	// ramSize: 64 MiB; 200 MiB cannot be had.
	if out, err := run(t, hosts[1], work, self, "__test-alloc", "200"); err == nil {
		t.Errorf("allocating 200 MiB in a 64 MiB host succeeded: %s", out)
	} else {
		t.Logf("allocating 200 MiB in a 64 MiB host: %v %s", err, out)
	}
	if out, err := run(t, hosts[1], work, self, "__test-alloc", "8"); err != nil {
		t.Errorf("allocating 8 MiB in a 64 MiB host: %v %s", err, out)
	}

	for _, h := range hosts {
		cg := h.cg
		if len(cg.dirs) == 0 || len(cg.pids()) == 0 {
			t.Errorf("%s: no cgroup or nothing in it: %+v", h.name, cg)
		}
		if err := h.stop(5 * time.Second); err != nil {
			t.Errorf("stop %s: %v", h.name, err)
		}
		if len(cg.pids()) != 0 {
			t.Errorf("%s: processes left", h.name)
		}
		for _, d := range cg.dirs {
			if _, err := os.Stat(d); err == nil {
				t.Errorf("%s: cgroup %s left", h.name, d)
			}
		}
	}
	if err := networkDown(context.Background(), n); err != nil {
		t.Error(err)
	}
	checkNothingLeft(t, before)
	if out, _ := exec.Command("pgrep", "-f", "__test-serve").Output(); len(out) > 0 {
		t.Errorf("daemons left after the stop: %s", out)
	}
	if entries, err := os.ReadDir(diskMount); err != nil || len(entries) != 0 {
		t.Errorf("mount point %s made for the disk: %d entries (%v), want it left empty, its disk unmounted", diskMount, len(entries), err)
	}
	if got := loopDevices(t, filepath.Dir(work)); got != 0 {
		t.Errorf("%d loop devices left on the test's disk files", got)
	}
	if n := machineMounts(t); n != mountsBefore {
		t.Errorf("%d mounts in the machine's namespace, %d before", n, mountsBefore)
	}
}

// machineMounts counts the mounts of the machine's mount namespace but
// for the named network namespaces (/run/netns), which other tests make
// and remove meanwhile; checkNothingLeft counts this test's.
func machineMounts(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		if line != "" && !strings.Contains(line, " "+netnsDir+"/") {
			n++
		}
	}
	return n
}

// loopDevices counts the loop devices in use whose file is below dir.
func loopDevices(t *testing.T, dir string) int {
	t.Helper()
	files, err := filepath.Glob("/sys/block/loop*/loop/backing_file")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && strings.HasPrefix(string(b), dir) {
			n++
		}
	}
	return n
}
