package netns

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xrdtest/xrdtest/internal/hypervisor"
)

// A fault is set by steps, each with its undo: firewall rules in the
// hosts' network namespaces (iptables, tagged with the fault's id), queue
// disciplines on their links (tc), the host's cgroup freezer, files that
// fill a file system. Nothing is done in the machine's namespace, and the
// slaves (outside the hosts' namespaces and cgroups) are never touched:
// barriers and `xrdtest sync` work through any fault. The faults that
// are on are kept in the cluster's faults.json, so a backend started
// again after a crash heals what its predecessor left.

// step is one change a fault made and how to take it back.
type step struct {
	Undo []string `json:"undo,omitempty"` // a command healing it
	// Thaw names a host whose cgroup a pause froze.
	Thaw string `json:"thaw,omitempty"`
}

// faultRecord is a fault that is on, with what heals it.
type faultRecord struct {
	hypervisor.Fault
	Steps []step `json:"steps"`
}

func faultsFile(dir string) string { return filepath.Join(dir, "faults.json") }

var _ hypervisor.FaultInjector = (*Backend)(nil)

// SetFault sets spec on the cluster's hosts; see hypervisor.FaultInjector.
func (b *Backend) SetFault(ctx context.Context, cluster string, spec hypervisor.FaultSpec) (hypervisor.Fault, error) {
	c, ok := b.clusters.Get(cluster)
	if !ok {
		return hypervisor.Fault{}, fmt.Errorf("cluster %s is not running here", cluster)
	}
	names := make([]string, len(c.hosts))
	for i, h := range c.hosts {
		names[i] = h.name
	}
	if err := spec.ResolveHosts(cluster, names); err != nil {
		return hypervisor.Fault{}, err
	}
	id := make([]byte, 4)
	rand.Read(id)
	rec := faultRecord{Fault: hypervisor.Fault{ID: "f" + hex.EncodeToString(id), Spec: spec, Since: time.Now()}}
	c.faultMu.Lock()
	defer c.faultMu.Unlock()
	if err := b.apply(ctx, c, &rec); err != nil {
		b.undo(c, rec.Steps)
		return hypervisor.Fault{}, fmt.Errorf("fault %s: %w", spec.Kind, err)
	}
	if spec.Kind == hypervisor.FaultKill {
		return rec.Fault, nil // done once: nothing to heal
	}
	c.faults = append(c.faults, rec)
	if err := saveFaults(c); err != nil {
		b.cfg.Log.Warn("cannot record a fault: a crash would leave it on", "cluster", cluster, "err", err)
	}
	return rec.Fault, nil
}

// HealFaults heals the cluster's faults with the given ids, all of them
// when none is given; see hypervisor.FaultInjector.
func (b *Backend) HealFaults(ctx context.Context, cluster string, ids ...string) error {
	c, ok := b.clusters.Get(cluster)
	if !ok {
		return fmt.Errorf("cluster %s is not running here", cluster)
	}
	c.faultMu.Lock()
	defer c.faultMu.Unlock()
	for _, id := range ids {
		if !slices.ContainsFunc(c.faults, func(r faultRecord) bool { return r.ID == id }) {
			return fmt.Errorf("cluster %s has no fault %s on", cluster, id)
		}
	}
	var errs []error
	kept := c.faults[:0]
	for _, r := range c.faults {
		if len(ids) > 0 && !slices.Contains(ids, r.ID) {
			kept = append(kept, r)
			continue
		}
		if err := b.undo(c, r.Steps); err != nil {
			errs = append(errs, fmt.Errorf("heal %s (%s): %w", r.ID, r.Spec, err))
		}
	}
	c.faults = kept
	if err := saveFaults(c); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Faults lists the cluster's faults that are on, oldest first.
func (b *Backend) Faults(cluster string) []hypervisor.Fault {
	c, ok := b.clusters.Get(cluster)
	if !ok {
		return nil
	}
	c.faultMu.Lock()
	defer c.faultMu.Unlock()
	out := make([]hypervisor.Fault, len(c.faults))
	for i, r := range c.faults {
		out[i] = r.Fault
	}
	return out
}

// apply makes the fault's changes, recording each step as soon as it is
// made, so that a failure half-way undoes exactly what was done.
func (b *Backend) apply(ctx context.Context, c *cluster, rec *faultRecord) error {
	s := rec.Spec
	tag := "xrdtest-" + rec.ID
	// drop adds a DROP rule to chain in host h (iptables of h's own
	// network namespace), with its removal as the undo.
	drop := func(h int, chain string, match ...string) error {
		rule := append(append([]string{chain}, match...), "-m", "comment", "--comment", tag, "-j", "DROP")
		if err := runCmd(ctx, "ip", append([]string{"netns", "exec", c.n.hostNS(h), "iptables", "-w", "-I"}, rule...)...); err != nil {
			return err
		}
		rec.Steps = append(rec.Steps, step{Undo: append([]string{"ip", "netns", "exec", c.n.hostNS(h), "iptables", "-w", "-D"}, rule...)})
		return nil
	}
	h := c.hostIndex(s.Hosts[0])
	switch s.Kind {
	case hypervisor.FaultPartition:
		for _, a := range s.Hosts {
			for _, p := range s.Peers {
				ia, ip := c.hostIndex(a), c.hostIndex(p)
				for _, pair := range [][2]int{{ia, ip}, {ip, ia}} {
					peer := c.hosts[pair[1]].addr
					if err := drop(pair[0], "INPUT", "-s", peer); err != nil {
						return err
					}
					if err := drop(pair[0], "OUTPUT", "-d", peer); err != nil {
						return err
					}
				}
			}
		}
	case hypervisor.FaultIsolate:
		if err := drop(h, "INPUT", "-i", hostIfName); err != nil {
			return err
		}
		return drop(h, "OUTPUT", "-o", hostIfName)
	case hypervisor.FaultLoss:
		p := strconv.FormatFloat(s.Percent/100, 'f', 4, 64)
		if err := drop(h, "INPUT", "-i", hostIfName, "-m", "statistic", "--mode", "random", "--probability", p); err != nil {
			return err
		}
		return drop(h, "OUTPUT", "-o", hostIfName, "-m", "statistic", "--mode", "random", "--probability", p)
	case hypervisor.FaultRate, hypervisor.FaultDelay:
		// Both ends of the host's link: its eth0 shapes what it sends,
		// its bridge port what it receives.
		qdisc := []string{"tbf", "rate", s.Rate, "burst", "32kbit", "latency", "400ms"}
		if s.Kind == hypervisor.FaultDelay {
			qdisc = []string{"netem", "delay", strconv.FormatInt(s.Delay.Microseconds(), 10) + "us"}
		}
		for _, end := range [][2]string{{c.n.hostNS(h), hostIfName}, {c.n.clusterNS(), portName(h)}} {
			args := append([]string{"-n", end[0], "qdisc", "add", "dev", end[1], "root"}, qdisc...)
			if err := runCmd(ctx, "tc", args...); err != nil {
				if s.Kind == hypervisor.FaultDelay && strings.Contains(err.Error(), "qdisc kind is unknown") {
					return fmt.Errorf("this kernel has no netem queue discipline (module sch_netem), which delays need: %w", err)
				}
				if strings.Contains(err.Error(), "File exists") {
					return fmt.Errorf("host %s has a rate or delay fault on already: %w", s.Hosts[0], err)
				}
				return err
			}
			rec.Steps = append(rec.Steps, step{Undo: []string{"tc", "-n", end[0], "qdisc", "del", "dev", end[1], "root"}})
		}
	case hypervisor.FaultPause:
		if err := c.hosts[h].cg.freeze(true); err != nil {
			return err
		}
		rec.Steps = append(rec.Steps, step{Thaw: s.Hosts[0]})
	case hypervisor.FaultKill:
		if c.hosts[h].killNamed(s.Process) == 0 {
			return fmt.Errorf("no process %s runs on %s", s.Process, s.Hosts[0])
		}
		return nil
	case hypervisor.FaultFill:
		return b.fill(ctx, c, h, rec)
	default:
		return fmt.Errorf("the netns backend cannot do %q", s.Kind)
	}
	return nil
}

// fill fills the file system holding the path in host h, as the host
// sees it, root's reserved blocks included, so that every write there
// fails with ENOSPC; the undo removes the files.
func (b *Backend) fill(ctx context.Context, c *cluster, h int, rec *faultRecord) error {
	dir := rec.Spec.Path
	out, err := output(ctx, c.enter(h), "stat", "-L", "-c", "%F", dir)
	if err != nil {
		return fmt.Errorf("%s on %s: %w", dir, rec.Spec.Hosts[0], err)
	}
	if strings.TrimSpace(out) != "directory" {
		dir = filepath.Dir(dir)
	}
	// Only a file system of the host's own: the machine's, which its
	// private folders are on too, is every host's and the machine's.
	devs, err := output(ctx, c.enter(h), "stat", "-L", "-c", "%d", dir, "/")
	if err != nil {
		return err
	}
	if d := strings.Fields(devs); len(d) != 2 || d[0] == d[1] {
		return fmt.Errorf("%s on %s is on the machine's file system, shared by every host and the machine: only a host's disks can be filled", dir, rec.Spec.Hosts[0])
	}
	file := filepath.Join(dir, ".xrdtest-fill-"+rec.ID)
	rec.Steps = append(rec.Steps, step{Undo: []string{c.enter(h), "rm", "-f", file, file + "-rest"}})
	if out, err = output(ctx, c.enter(h), "stat", "-f", "-c", "%f %S", dir); err != nil {
		return err
	}
	var blocks, size int64
	if _, err := fmt.Sscan(out, &blocks, &size); err != nil {
		return fmt.Errorf("free space of %s: %q: %w", dir, out, err)
	}
	// All but a MiB at once (the file's own metadata needs room), then
	// written until the file system says it is full, which is the point.
	if n := blocks*size - 1<<20; n > 0 {
		if err := runCmd(ctx, c.enter(h), "fallocate", "-l", strconv.FormatInt(n, 10), file); err != nil {
			return err
		}
	}
	err = runCmd(ctx, c.enter(h), "dd", "if=/dev/zero", "of="+file+"-rest", "bs=4k", "status=none")
	if err == nil || !strings.Contains(err.Error(), "No space left") {
		return fmt.Errorf("%s on %s did not fill up: %v", dir, rec.Spec.Hosts[0], err)
	}
	return nil
}

// undo takes back steps, last first; it goes on after a failed one and
// reports the first.
func (b *Backend) undo(c *cluster, steps []step) error {
	var errs []error
	for i := len(steps) - 1; i >= 0; i-- {
		s := steps[i]
		switch {
		case s.Thaw != "":
			if h := c.hostIndex(s.Thaw); h >= 0 {
				errs = append(errs, c.hosts[h].cg.freeze(false))
			}
		case len(s.Undo) > 0:
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			errs = append(errs, runCmd(ctx, s.Undo[0], s.Undo[1:]...))
			cancel()
		}
	}
	return errors.Join(errs...)
}

// healLeftovers heals the faults a crashed backend left on an adopted
// cluster.
func (b *Backend) healLeftovers(c *cluster) {
	data, err := os.ReadFile(faultsFile(c.dir))
	if err != nil {
		return
	}
	var recs []faultRecord
	if err := json.Unmarshal(data, &recs); err != nil {
		b.cfg.Log.Warn("cannot read the faults left on", "cluster", c.name, "err", err)
		return
	}
	for _, r := range recs {
		if err := b.undo(c, r.Steps); err != nil {
			b.cfg.Log.Warn("healing a fault left on", "cluster", c.name, "fault", r.ID, "err", err)
		} else {
			b.cfg.Log.Info("healed a fault left on", "cluster", c.name, "fault", r.ID, "spec", r.Spec.String())
		}
	}
	os.Remove(faultsFile(c.dir))
}

func saveFaults(c *cluster) error {
	if len(c.faults) == 0 {
		if err := os.Remove(faultsFile(c.dir)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	data, err := json.MarshalIndent(c.faults, "", "  ")
	if err != nil {
		return err
	}
	tmp := faultsFile(c.dir) + ".new"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, faultsFile(c.dir))
}

func runCmd(ctx context.Context, name string, args ...string) error {
	_, err := output(ctx, name, args...)
	return err
}

// output runs a command and returns its standard output; its error
// carries the command and what it wrote on standard error.
func output(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// killNamed sends SIGKILL to the processes of the host called name (as
// pkill -x matches: the name the kernel keeps, at most 15 bytes) and
// returns how many it found. It looks at the host's cgroup: the slave
// beside the host, which shares its PID namespace, is never among them;
// nor is the holder, which pkill inside the host could not kill either.
func (h *host) killNamed(name string) int {
	n := 0
	for _, pid := range h.cg.pids() {
		if pid == h.pid {
			continue
		}
		// A pidfd, then the name: the signal cannot reach a process
		// that took a recycled pid after the listing.
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue
		}
		if c, err := comm(pid); err == nil && c == name && unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0) == nil {
			n++
		}
		unix.Close(fd)
	}
	return n
}
