package netns

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// netnsDir is where iproute2 keeps named network namespaces.
const netnsDir = "/run/netns"

// nsPrefix starts the name of every namespace and cgroup this backend
// creates (a variable: the tests give their process tree one of its own,
// so that they count only what they made while other tests run).
var nsPrefix = "xrdn-"

// naming names what the backend creates for one cluster. Its id is a hash
// of the backend's state folder and the cluster's name: two backends on
// one machine (two test runs, a quickstart beside a daemon) may run
// clusters of the same name without meeting, and a backend restarted
// after a crash finds its clusters' objects again.
type naming struct{ id string }

func newNaming(stateDir, cluster string) naming {
	sum := sha256.Sum256([]byte(stateDir + "\x00" + cluster))
	return naming{id: hex.EncodeToString(sum[:5])}
}

// prefix starts every namespace and cgroup name of the cluster.
func (n naming) prefix() string { return nsPrefix + n.id + "-" }

// NamePrefix starts the name of every network namespace and cgroup the
// backend with state folder stateDir makes for cluster: `ip netns list |
// grep PREFIX` shows a cluster's namespaces.
func NamePrefix(stateDir, cluster string) string {
	if abs, err := filepath.Abs(stateDir); err == nil {
		stateDir = abs
	}
	return newNaming(stateDir, cluster).prefix()
}

// clusterNS holds the cluster's bridge (and later its DNS server).
func (n naming) clusterNS() string { return n.prefix() + "net" }

// hostNS is the network namespace of the cluster's i-th host.
func (n naming) hostNS(i int) string { return fmt.Sprintf("%sh%d", n.prefix(), i) }

// Interface names live inside the cluster's own namespaces, so they need
// not be unique on the machine: the bridge, its end of each host's veth,
// and the host's end.
const (
	bridgeName = "br0"
	hostIfName = "eth0"
)

func portName(i int) string { return fmt.Sprintf("h%d", i) }

// ipBatch runs iproute2 commands, one a line, in network namespace ns
// ("" = the caller's). With force it goes on after a failed line (for
// teardown); its error then reports the first.
func ipBatch(ctx context.Context, ns string, force bool, lines []string) error {
	args := []string{}
	if ns != "" {
		args = append(args, "-n", ns)
	}
	if force {
		args = append(args, "-force")
	}
	args = append(args, "-batch", "-")
	cmd := exec.CommandContext(ctx, "ip", args...)
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		where := "ip"
		if ns != "" {
			where += " -n " + ns
		}
		return fmt.Errorf("%s: %v: %s", where, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// networkUp creates the cluster's network: a namespace holding a bridge
// with the network's address, and one namespace per host with a veth into
// the bridge, the host's address and MAC, loopback up and a default route
// through the bridge. Every object is created inside those namespaces
// (veth ends are born in theirs), so the root namespace never sees one.
// On error the caller removes what was made with networkDown.
func networkUp(ctx context.Context, n naming, p *plan) error {
	root := []string{"netns add " + n.clusterNS()}
	for i := range p.hosts {
		root = append(root, "netns add "+n.hostNS(i))
	}
	for i := range p.hosts {
		root = append(root, fmt.Sprintf("link add %s netns %s type veth peer name %s netns %s",
			portName(i), n.clusterNS(), hostIfName, n.hostNS(i)))
	}
	if err := ipBatch(ctx, "", false, root); err != nil {
		return err
	}
	bridge := []string{
		"link set lo up",
		"link add " + bridgeName + " type bridge stp_state 0 forward_delay 0",
		fmt.Sprintf("addr add %s dev %s", p.net, bridgeName),
		"link set " + bridgeName + " up",
	}
	for i := range p.hosts {
		bridge = append(bridge, fmt.Sprintf("link set %s master %s up", portName(i), bridgeName))
	}
	if err := ipBatch(ctx, n.clusterNS(), false, bridge); err != nil {
		return err
	}
	// The hosts' namespaces are independent: set them up side by side.
	errs := make([]error, len(p.hosts))
	var wg sync.WaitGroup
	limit := make(chan struct{}, 8)
	for i, h := range p.hosts {
		lines := []string{"link set lo up"}
		if h.mac != "" {
			lines = append(lines, fmt.Sprintf("link set %s address %s", hostIfName, h.mac))
		}
		lines = append(lines,
			fmt.Sprintf("addr add %s/%d dev %s", h.addr, p.net.Bits(), hostIfName),
			fmt.Sprintf("link set %s up", hostIfName),
			fmt.Sprintf("route add default via %s dev %s", p.net.Addr(), hostIfName))
		wg.Go(func() {
			limit <- struct{}{}
			defer func() { <-limit }()
			if err := ipBatch(ctx, n.hostNS(i), false, lines); err != nil {
				errs[i] = fmt.Errorf("host %s: %w", h.name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// namespaces lists the cluster's network namespaces that exist.
func namespaces(n naming) ([]string, error) {
	entries, err := os.ReadDir(netnsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), n.prefix()) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// networkDown removes the cluster's namespaces; the links in them go with
// them (a veth goes when either end's namespace does). It does what is
// left to do after a partial start or stop and succeeds when nothing is
// left. A namespace still used by a process is unnamed but lives on
// until that process ends: stopping the processes first is the caller's.
func networkDown(ctx context.Context, n naming) error {
	names, err := namespaces(n)
	if err != nil || len(names) == 0 {
		return err
	}
	lines := make([]string, len(names))
	for i, name := range names {
		lines[i] = "netns del " + name
	}
	err = ipBatch(ctx, "", true, lines)
	if left, lerr := namespaces(n); lerr != nil || len(left) > 0 {
		return errors.Join(err, lerr, fmt.Errorf("network namespaces left: %s", strings.Join(left, " ")))
	}
	return nil
}
