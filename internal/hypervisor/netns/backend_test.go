package netns

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/hypervisor"
	"github.com/xrdtest/xrdtest/internal/hypervisor/backendtest"
	"github.com/xrdtest/xrdtest/internal/proctree"
)

// newTestBackend is a backend whose holders and slaves are this test
// binary (see TestMain), in a state folder of the test's own.
func newTestBackend(t *testing.T, dir string) *Backend {
	t.Helper()
	b, err := New(Config{StateDir: dir, Binary: testBinary(), StopGrace: 5 * time.Second,
		FunctionsPath: filepath.Join(dir, "functions.sh"), Log: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBackend runs the backend contract: every cluster on the same
// subnet, as they may be here.
func TestBackend(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	b := newTestBackend(t, t.TempDir())
	backendtest.Run(t, backendtest.Config{Backend: b, Spec: func(name string) hypervisor.ClusterSpec {
		return hypervisor.ClusterSpec{
			Cluster: &definition.Cluster{Name: name, Network: definition.Network{Name: "net", IP: "10.7.0.1", Netmask: "255.255.255.0"},
				Hosts: []*definition.Host{{Name: "h1." + name + ".xrd.test", IP: "10.7.0.11"}, {Name: "h2." + name + ".xrd.test"}}},
			Master: hypervisor.MasterEndpoint{Port: 1},
		}
	}})
	checkNothingLeft(t, before)
}

// startFour starts fourHosts through b with master.xrd.test's ports
// relayed to a listener of the test on loopback; it returns that port.
func startFour(t *testing.T, b *Backend) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	greet(t, l, "the master")
	port := l.Addr().(*net.TCPAddr).Port
	spec := hypervisor.ClusterSpec{Cluster: fourHosts(), Master: hypervisor.MasterEndpoint{Port: 1, WebPort: port}}
	t.Cleanup(func() { b.StopCluster(context.Background(), spec.Cluster.Name) })
	t0 := time.Now()
	if err := b.StartCluster(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	t.Logf("4 hosts started in %v", time.Since(t0))
	return port
}

// TestBackendNames: in every host, every host's FQDN and short name,
// every alias (all its addresses) and master.xrd.test resolve, and
// master.xrd.test reaches the master's relayed port.
func TestBackendNames(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	b := newTestBackend(t, t.TempDir())
	port := startFour(t, b)
	c := running(b, "four")
	want := map[string]string{
		"man": "192.168.128.3", "man.xrd.test": "192.168.128.3", "client": "192.168.128.6",
		"srv2.xrd.test": "192.168.128.5", "master.xrd.test": "192.168.128.1",
		"pool.xrd.test": "192.168.128.4 192.168.128.5",
	}
	for _, h := range c.hosts {
		for name, addrs := range want {
			// ahostsv4 asks the DNS server for names /etc/hosts lacks.
			out, err := run(t, h, c.dir, "sh", "-c", "getent ahostsv4 "+name+" | awk '$2==\"STREAM\"{print $1}' | sort | xargs")
			if err != nil || out != addrs {
				t.Errorf("%s: %s resolves to %q (%v), want %q", h.name, name, out, err, addrs)
			}
		}
		got, err := run(t, h, c.dir, "bash", "-c", "exec 3<>/dev/tcp/master.xrd.test/"+strconv.Itoa(port)+"; head -1 <&3")
		if err != nil || got != "the master" {
			t.Errorf("%s: master.xrd.test:%d: %q, %v", h.name, port, got, err)
		}
	}
	cmd, err := b.HostCommand("four", "srv2.xrd.test", "hostname", "-f")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := cmd.Output(); err != nil || string(out) != "srv2.xrd.test\n" {
		t.Errorf("HostCommand: hostname -f %q, %v", out, err)
	}
	if _, err := b.HostCommand("four", "nohost.xrd.test", "true"); err == nil {
		t.Error("HostCommand in a host the cluster lacks: no error")
	}
	if err := b.StopCluster(context.Background(), "four"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.HostCommand("four", "srv2.xrd.test", "true"); err == nil {
		t.Error("HostCommand in a stopped cluster: no error")
	}
	checkNothingLeft(t, before)
	if out, _ := exec.Command("pgrep", "-f", "dnsmasq.*"+c.dir).Output(); len(out) > 0 {
		t.Errorf("dnsmasq left: %s", out)
	}
}

// TestBackendRestart: a backend that died (its clusters' processes run
// on) is replaced by a new one on the same state folder, which adopts a
// whole cluster and removes one that lost a host.
func TestBackendRestart(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	for _, tt := range []struct {
		name   string
		break_ func(c *cluster)
		adopt  bool
	}{
		{"whole", func(*cluster) {}, true},
		{"host gone", func(c *cluster) { syscall.Kill(c.hosts[2].pid, syscall.SIGKILL); <-c.hosts[2].done }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			old := newTestBackend(t, dir)
			startFour(t, old)
			c := running(old, "four")
			c.fwd.Close() // what the death of its process does
			tt.break_(c)
			b := newTestBackend(t, dir)
			if b.Running("four") != tt.adopt {
				t.Fatalf("running after the restart: %v, want %v", b.Running("four"), tt.adopt)
			}
			if tt.adopt {
				if out, err := run(t, running(b, "four").hosts[0], dir, "hostname"); err != nil || out != "man" {
					t.Errorf("adopted host: hostname %q, %v", out, err)
				}
			}
			stopAdopted(t, b, c)
		})
	}
	checkNothingLeft(t, before)
}

// stopAdopted stops cluster four, which b adopted, and fails the test if
// a holder of c (the cluster as the backend before b ran it) still runs.
// Orphans of a killed backend: the machine's init reaps them, in its own
// time; a zombie has ended.
func stopAdopted(t *testing.T, b *Backend, c *cluster) {
	t.Helper()
	if err := b.StopCluster(context.Background(), "four"); err != nil {
		t.Fatal(err)
	}
	for _, h := range c.hosts {
		if alive(h.pid) {
			t.Errorf("holder of %s still runs", h.name)
		}
	}
}

// testBinary is this test binary, which plays holders and slaves.
func testBinary() string { return os.Args[0] }

// TestBackendKilled: a hypervisor process killed with -9 leaves its
// cluster running; a backend started again on its state folder adopts it
// and its stop leaves nothing.
func TestBackendKilled(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	dir := t.TempDir()
	hv := exec.Command(testBinary(), "__test-hypervisor", dir)
	out, err := hv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := hv.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "started\n" {
		hv.Process.Kill()
		hv.Wait()
		t.Fatalf("the hypervisor said %q", line)
	}
	hv.Process.Signal(syscall.SIGKILL)
	hv.Wait()

	b := newTestBackend(t, dir)
	if !b.Running("four") {
		t.Fatal("the cluster of the killed hypervisor is not adopted")
	}
	c := running(b, "four")
	if out, err := runIn(c.hosts[3], "hostname", "-f"); err != nil || out != "client.xrd.test" {
		t.Errorf("adopted host: hostname -f %q, %v", out, err)
	}
	stopAdopted(t, b, c)
	for _, s := range c.slaves {
		if alive(s.pid) {
			t.Errorf("slave %d still runs", s.pid)
		}
	}
	if left := filepath.Join(dir, "four"); exists(left) {
		t.Errorf("%s left", left)
	}
	checkNothingLeft(t, before)
}

func alive(pid int) bool {
	st, err := proctree.ReadStat(pid)
	return err == nil && st.State != 'Z'
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

// TestBackendBadInput: a cluster the backend cannot run is refused naming
// the host and the field, and nothing is made.
func TestBackendBadInput(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	dir := t.TempDir()
	b := newTestBackend(t, dir)
	for _, tt := range []struct {
		name string
		edit func(c *definition.Cluster)
		want string
	}{
		{"same ip", func(c *definition.Cluster) { c.Hosts[1].IP = c.Hosts[0].IP }, "host srv1.xrd.test: ip: 192.168.128.3 is also man.xrd.test's address"},
		{"ip outside", func(c *definition.Cluster) { c.Hosts[1].IP = "10.0.0.1" }, "host srv1.xrd.test: ip: 10.0.0.1 is outside network 192.168.128.0/24"},
		{"disk too big", func(c *definition.Cluster) {
			c.Hosts[2].Disks = []definition.Disk{{Name: "data", Size: 1 << 60, MountPoint: "/data"}}
		}, "host srv2.xrd.test: disks: disk data of 1152921504606846976 bytes does not fit"},
		{"bad name", func(c *definition.Cluster) { c.Hosts[3].Name = "client_1.xrd.test" }, `host client_1.xrd.test: name: "client_1.xrd.test" is not a valid host name`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := fourHosts()
			tt.edit(c)
			err := b.StartCluster(context.Background(), hypervisor.ClusterSpec{Cluster: c, Master: hypervisor.MasterEndpoint{Port: 1}})
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("start: %v, want ErrInvalid naming %q", err, tt.want)
			}
			if b.Running(c.Name) || exists(filepath.Join(dir, c.Name)) {
				t.Error("the refused cluster is listed or has a folder")
			}
		})
	}
	checkNothingLeft(t, before)
}

// TestCheckNotRoot: without root, Check names what is missing.
func TestCheckNotRoot(t *testing.T) {
	needRoot(t) // to run the check as another user
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "bin")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// nobody must reach the copy: the test's folders are private.
	for _, d := range []string{tmp, filepath.Dir(tmp)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "netns.test")
	if out, err := exec.Command("cp", testBinary(), bin).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	cmd := exec.Command(bin, "__test-check")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if want := "netns backend: this machine lacks root (it creates namespaces, mounts and cgroups)"; err != nil || !strings.HasPrefix(string(out), want) {
		t.Errorf("as nobody: %q, %v; want it to start %q", out, err, want)
	}
}

// TestBackendStopLeavesOthers: a cluster's stop leaves the private
// folders of another cluster's hosts mounted, also one the machine
// lacked and the backend made for the bind (removing such a mount point
// would detach it in every host that uses it).
func TestBackendStopLeavesOthers(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	missing := filepath.Join(dir, "made-for-the-bind")
	b, err := New(Config{StateDir: filepath.Join(dir, "state"), Binary: testBinary(), StopGrace: 5 * time.Second,
		PrivateDirs: []string{"/var/tmp", missing}, FunctionsPath: filepath.Join(dir, "functions.sh"),
		Log: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"one", "two"} {
		c := fourHosts()
		c.Name = name
		spec := hypervisor.ClusterSpec{Cluster: c, Master: hypervisor.MasterEndpoint{Port: 1}}
		if err := b.StartCluster(context.Background(), spec); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.StopCluster(context.Background(), name) })
	}
	write, err := b.HostCommand("two", "srv1.xrd.test", "sh", "-c", "echo kept > "+missing+"/f && echo kept > /var/tmp/f")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := write.CombinedOutput(); err != nil {
		t.Fatalf("write in two/srv1: %v %s", err, out)
	}
	if err := b.StopCluster(context.Background(), "one"); err != nil {
		t.Fatal(err)
	}
	read, err := b.HostCommand("two", "srv1.xrd.test", "cat", missing+"/f", "/var/tmp/f")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := read.CombinedOutput(); err != nil || string(out) != "kept\nkept\n" {
		t.Errorf("two/srv1 after one stopped: %q, %v", out, err)
	}
}

// running is what b keeps of the cluster name it runs (nil: none).
func running(b *Backend, name string) *cluster {
	c, _ := b.clusters.Get(name)
	return c
}
