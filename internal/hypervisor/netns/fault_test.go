package netns

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/hypervisor"
)

// inHost runs a shell command in a host of cluster "four" and returns its
// output and error.
func inHost(t *testing.T, b *Backend, host, script string) (string, error) {
	t.Helper()
	cmd, err := b.HostCommand("four", host+".xrd.test", "sh", "-c", script)
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// reaches says whether host from answers pings to host to's address.
func reaches(t *testing.T, b *Backend, from, to string) bool {
	t.Helper()
	_, err := inHost(t, b, from, "busybox ping -c 1 -W 1 "+to+" >/dev/null")
	return err == nil
}

func setFault(t *testing.T, b *Backend, args ...string) hypervisor.Fault {
	t.Helper()
	spec, err := hypervisor.ParseFault(args)
	if err != nil {
		t.Fatal(err)
	}
	f, err := b.SetFault(context.Background(), "four", spec)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestFaults sets each fault kind on a running cluster, checks its effect
// from inside the hosts and that a heal takes it back; a backend started
// again after a crash heals what was left on.
func TestFaults(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	dir := t.TempDir()
	b := newTestBackend(t, dir)
	c := fourHosts()
	c.Hosts[1].Disks = []definition.Disk{{Name: "data", Size: 32 << 20, MountPoint: "/mnt/xrdtest-fault-" + strings.TrimPrefix(dir, "/tmp/")}}
	disk := c.Hosts[1].Disks[0].MountPoint
	t.Cleanup(func() { os.Remove(disk) })
	ctx := context.Background()
	if err := b.StartCluster(ctx, hypervisor.ClusterSpec{Cluster: c, Master: hypervisor.MasterEndpoint{Port: 1}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.StopCluster(ctx, "four") })
	man, srv1, srv2 := "192.168.128.3", "192.168.128.4", "192.168.128.5"

	t.Run("partition", func(t *testing.T) {
		f := setFault(t, b, "partition", "man", "srv1.xrd.test")
		if reaches(t, b, "man", srv1) || reaches(t, b, "srv1", man) {
			t.Error("man and srv1 reach each other through the partition")
		}
		if !reaches(t, b, "srv2", man) || !reaches(t, b, "srv2", srv1) {
			t.Error("srv2, outside the partition, does not reach both sides")
		}
		if err := b.HealFaults(ctx, "four", f.ID); err != nil {
			t.Fatal(err)
		}
		if !reaches(t, b, "man", srv1) || !reaches(t, b, "srv1", man) {
			t.Error("man and srv1 apart after the heal")
		}
	})
	t.Run("isolate and loss", func(t *testing.T) {
		setFault(t, b, "isolate", "srv2")
		setFault(t, b, "loss", "man", "100")
		if reaches(t, b, "srv2", srv1) || reaches(t, b, "srv1", srv2) || reaches(t, b, "man", srv1) {
			t.Error("isolated srv2 or man losing every packet still reach another host")
		}
		if got := len(b.Faults("four")); got != 2 {
			t.Errorf("%d faults listed, want 2", got)
		}
		if err := b.HealFaults(ctx, "four"); err != nil {
			t.Fatal(err)
		}
		if !reaches(t, b, "srv2", srv1) || !reaches(t, b, "man", srv1) || len(b.Faults("four")) != 0 {
			t.Errorf("after heal all: reaches %v %v, faults %v", reaches(t, b, "srv2", srv1), reaches(t, b, "man", srv1), b.Faults("four"))
		}
	})
	t.Run("rate and delay", func(t *testing.T) {
		f := setFault(t, b, "rate", "srv1", "1mbit")
		ns := running(b, "four").n.hostNS(1)
		if out, _ := output(ctx, "tc", "-n", ns, "qdisc", "show", "dev", "eth0"); !strings.Contains(out, "tbf") {
			t.Errorf("no tbf on srv1's eth0: %q", out)
		}
		spec, _ := hypervisor.ParseFault([]string{"delay", "srv1", "100ms"})
		if _, err := b.SetFault(ctx, "four", spec); err == nil {
			t.Error("a delay on a host with a rate fault: no error")
		}
		if err := b.HealFaults(ctx, "four", f.ID); err != nil {
			t.Fatal(err)
		}
		if out, _ := output(ctx, "tc", "-n", ns, "qdisc", "show", "dev", "eth0"); strings.Contains(out, "tbf") {
			t.Errorf("tbf left on srv1's eth0: %q", out)
		}
		// netem is missing on some kernels (this project's CI machines):
		// then the error says so; else the delay is on.
		d, err := b.SetFault(ctx, "four", spec)
		if err != nil {
			if !strings.Contains(err.Error(), "netem") {
				t.Errorf("delay refused without naming netem: %v", err)
			}
		} else if out, _ := output(ctx, "tc", "-n", ns, "qdisc", "show", "dev", "eth0"); !strings.Contains(out, "netem") {
			t.Errorf("delay set, no netem on eth0: %q", out)
		} else if err := b.HealFaults(ctx, "four", d.ID); err != nil {
			t.Error(err)
		}
		if len(b.Faults("four")) != 0 {
			t.Errorf("faults on: %v", b.Faults("four"))
		}
	})
	t.Run("pause", func(t *testing.T) {
		if _, err := inHost(t, b, "srv2", "(while :; do echo x >> /tmp/counter; sleep 0.05; done) >/dev/null 2>&1 &"); err != nil {
			t.Fatal(err)
		}
		count := func() int {
			out, _ := inHost(t, b, "srv2", "wc -l < /tmp/counter")
			n := 0
			for _, r := range out {
				if r >= '0' && r <= '9' {
					n = n*10 + int(r-'0')
				}
			}
			return n
		}
		time.Sleep(300 * time.Millisecond)
		f := setFault(t, b, "pause", "srv2")
		// The count is read by a process that joins srv2's cgroup: it
		// would freeze too, so read the file from the machine.
		counter := hostLayout(running(b, "four").hosts[2].dir).private("/tmp") + "/counter"
		size := func() int64 {
			st, err := os.Stat(counter)
			if err != nil {
				t.Fatal(err)
			}
			return st.Size()
		}
		s1 := size()
		time.Sleep(400 * time.Millisecond)
		if s2 := size(); s2 != s1 {
			t.Errorf("the counter went on while paused: %d -> %d bytes", s1, s2)
		}
		if err := b.HealFaults(ctx, "four", f.ID); err != nil {
			t.Fatal(err)
		}
		n1 := count()
		time.Sleep(400 * time.Millisecond)
		if n2 := count(); n2 <= n1 {
			t.Errorf("the counter did not go on after resume: %d -> %d", n1, n2)
		}
	})
	t.Run("kill", func(t *testing.T) {
		for _, h := range []string{"srv1", "srv2"} {
			if _, err := inHost(t, b, h, "setsid sleep 1000 >/dev/null 2>&1 &"); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(100 * time.Millisecond)
		setFault(t, b, "kill", "srv1", "sleep")
		if _, err := inHost(t, b, "srv1", "pgrep -x sleep"); err == nil {
			t.Error("sleep still runs on srv1")
		}
		if _, err := inHost(t, b, "srv2", "pgrep -x sleep"); err != nil {
			t.Error("srv2's sleep was killed too")
		}
		spec, _ := hypervisor.ParseFault([]string{"kill", "srv1", "sleep"})
		if _, err := b.SetFault(ctx, "four", spec); err == nil || !strings.Contains(err.Error(), "no process sleep runs on srv1") {
			t.Errorf("kill of nothing: %v", err)
		}
		if len(b.Faults("four")) != 0 {
			t.Errorf("a kill is listed as on: %v", b.Faults("four"))
		}
		// The slave beside srv1 (this test binary, as is its holder)
		// shares its PID namespace, yet a kill never reaches it.
		self := filepath.Base(os.Args[0])
		spec, _ = hypervisor.ParseFault([]string{"kill", "srv1", self})
		if _, err := b.SetFault(ctx, "four", spec); err == nil || !strings.Contains(err.Error(), "no process "+self+" runs on srv1") {
			t.Errorf("kill of the slave's name: %v", err)
		}
		c := running(b, "four")
		if i := c.hostIndex("srv1.xrd.test"); !alive(c.slaves[i].pid) || !alive(c.hosts[i].pid) {
			t.Error("a kill of their name ended srv1's slave or holder")
		}
	})
	t.Run("fill", func(t *testing.T) {
		f := setFault(t, b, "fill", "srv1", disk)
		if out, err := inHost(t, b, "srv1", "dd if=/dev/zero of="+disk+"/x bs=4k count=1 status=none"); err == nil || !strings.Contains(out, "No space left") {
			t.Errorf("write on a full disk: %v %q", err, out)
		}
		if err := b.HealFaults(ctx, "four", f.ID); err != nil {
			t.Fatal(err)
		}
		if out, err := inHost(t, b, "srv1", "dd if=/dev/zero of="+disk+"/x bs=1M count=8 status=none && rm "+disk+"/x"); err != nil {
			t.Errorf("write after the heal: %v %q", err, out)
		}
		spec, _ := hypervisor.ParseFault([]string{"fill", "srv1", "/tmp"})
		if _, err := b.SetFault(ctx, "four", spec); err == nil || !strings.Contains(err.Error(), "machine's file system") {
			t.Errorf("fill of the machine's file system: %v", err)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		spec, _ := hypervisor.ParseFault([]string{"isolate", "nohost"})
		if _, err := b.SetFault(ctx, "four", spec); err == nil || !strings.Contains(err.Error(), "no host nohost") {
			t.Errorf("unknown host: %v", err)
		}
		if err := b.HealFaults(ctx, "four", "f00000000"); err == nil {
			t.Error("heal of an unknown fault: no error")
		}
		if _, err := b.SetFault(ctx, "nocluster", spec); err == nil {
			t.Error("a fault on a cluster not running: no error")
		}
	})
	t.Run("left on by a crash", func(t *testing.T) {
		setFault(t, b, "isolate", "client")
		setFault(t, b, "pause", "srv2")
		running(b, "four").fwd.Close() // what the death of its process does
		b = newTestBackend(t, dir)
		if !b.Running("four") {
			t.Fatal("not adopted")
		}
		if !reaches(t, b, "client", man) || len(b.Faults("four")) != 0 {
			t.Error("the faults a crash left on are not healed")
		}
		if _, err := inHost(t, b, "srv2", "true"); err != nil {
			t.Errorf("srv2 still paused: %v", err)
		}
	})
	if err := b.StopCluster(ctx, "four"); err != nil {
		t.Fatal(err)
	}
	checkNothingLeft(t, before)
}
