package netns

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/hypervisor"
)

// needRoot skips tests that create namespaces when not run as root; CI
// runs them as root.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("needs iproute2 (apt-get install iproute2): ", err)
	}
}

// machineState is what the tests count before and after: the machine's
// named network namespaces and the root namespace's links.
type machineState struct{ namespaces, rootLinks []string }

func snapshot(t *testing.T) machineState {
	t.Helper()
	var s machineState
	if entries, err := os.ReadDir(netnsDir); err == nil {
		for _, e := range entries {
			s.namespaces = append(s.namespaces, e.Name())
		}
	}
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifs {
		s.rootLinks = append(s.rootLinks, i.Name)
	}
	return s
}

// checkNothingLeft fails if the machine has namespaces or root links that
// before did not have. Other tests on the machine may remove theirs
// meanwhile, so only additions count.
func checkNothingLeft(t *testing.T, before machineState) {
	t.Helper()
	after := snapshot(t)
	for _, n := range after.namespaces {
		if !slices.Contains(before.namespaces, n) && strings.HasPrefix(n, nsPrefix) {
			t.Errorf("network namespace %s left behind", n)
		}
	}
	for _, l := range after.rootLinks {
		if !slices.Contains(before.rootLinks, l) {
			t.Errorf("link %s left in the root namespace", l)
		}
	}
}

// metaPlan is the plan of the meta-manager cluster.
func metaPlan(t *testing.T) *plan {
	t.Helper()
	p, err := newPlan(hypervisor.ClusterSpec{Cluster: metaManager()}, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// serve answers every connection to addr inside network namespace ns
// with greeting, until the test ends.
func serve(t *testing.T, ns, addr, greeting string) {
	t.Helper()
	var l net.Listener
	if err := inNetns(ns, func() (err error) { l, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	greet(t, l, greeting)
}

// greet answers every connection to l with greeting, until the test ends.
func greet(t *testing.T, l net.Listener, greeting string) {
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(greeting + "\n"))
			c.Close()
		}
	}()
}

// ask connects from network namespace ns to addr and returns the
// greeting.
func ask(ns, addr string) (string, error) {
	var line string
	err := inNetns(ns, func() error {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		line, err = bufio.NewReader(c).ReadString('\n')
		return err
	})
	return strings.TrimSpace(line), err
}

// TestNetworkTwoClustersSameSubnet: two copies of the meta-manager
// cluster (same subnet, same addresses) run at once, each host reaches
// its own cluster's hosts and gateway only, nothing appears in the root
// namespace, and the stop leaves nothing.
func TestNetworkTwoClustersSameSubnet(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	ctx := context.Background()
	p := metaPlan(t)
	dir := t.TempDir()
	names := []naming{newNaming(dir, "a"), newNaming(dir, "b")}
	for _, n := range names {
		t.Cleanup(func() { networkDown(ctx, n) })
		t0 := time.Now()
		if err := networkUp(ctx, n, p); err != nil {
			t.Fatal(err)
		}
		t.Logf("network of %d hosts up in %v", len(p.hosts), time.Since(t0))
	}
	if got := snapshot(t).rootLinks; !slices.Equal(got, before.rootLinks) {
		t.Errorf("root links %v while clusters run, before %v", got, before.rootLinks)
	}
	for _, n := range names {
		serve(t, n.hostNS(3), "192.168.128.6:1094", "srv1 of "+n.id)
		serve(t, n.clusterNS(), "192.168.128.1:8080", "gateway of "+n.id)
	}
	for _, n := range names {
		for addr, want := range map[string]string{"192.168.128.6:1094": "srv1 of " + n.id, "192.168.128.1:8080": "gateway of " + n.id} {
			if got, err := ask(n.hostNS(7), addr); err != nil || got != want {
				t.Errorf("client1 of %s -> %s: %q, %v; want %q", n.id, addr, got, err, want)
			}
		}
	}
	for _, n := range names {
		t0 := time.Now()
		if err := networkDown(ctx, n); err != nil {
			t.Fatal(err)
		}
		t.Logf("network down in %v", time.Since(t0))
		if err := networkDown(ctx, n); err != nil {
			t.Errorf("second down: %v", err)
		}
	}
	checkNothingLeft(t, before)
}

// TestNetworkUpFailsCleanly: a start that fails half way (a host address
// the kernel refuses is impossible after newPlan, so a namespace name
// already taken stands in) is undone by networkDown.
func TestNetworkUpFailsCleanly(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	ctx := context.Background()
	p := metaPlan(t)
	n := newNaming(t.TempDir(), "c")
	if err := ipBatch(ctx, "", false, []string{"netns add " + n.hostNS(5)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { networkDown(ctx, n) })
	if err := networkUp(ctx, n, p); err == nil {
		t.Fatal("networkUp succeeded over a namespace that exists already")
	}
	if err := networkDown(ctx, n); err != nil {
		t.Fatal(err)
	}
	checkNothingLeft(t, before)
}
