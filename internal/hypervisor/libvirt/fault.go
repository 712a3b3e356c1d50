package libvirt

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"maps"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/digitalocean/go-libvirt"

	"github.com/xrdtest/xrdtest/internal/hypervisor"
	"github.com/xrdtest/xrdtest/internal/hypervisor/libvirt/lvxml"
)

// Faults on VMs (hypervisor.FaultInjector). Network faults are filters on
// the cluster's bridge, in the network namespace the backend runs in,
// which must be libvirtd's (where the bridge is): one nftables table of
// family bridge per fault, hooked where frames are forwarded from one
// port to another. Only guest-to-guest traffic passes there: what a guest
// sends to the gateway (the master, its relay, DNS) is delivered to this
// machine and never forwarded, so the slaves' channel to the master, and
// with it barriers and `xrdtest sync`, works through every network fault.
// A delay is a netem queue discipline on the host's tap (every packet to
// the guest, the master's included); a pause suspends the domain, its
// slave with it. Every change is written to the state file before it is
// made: a heal, a stop of the cluster, or a backend started again after a
// crash takes it back.

// FaultStep is one change a fault made, as its undo needs it.
type FaultStep struct {
	// Table is a bridge-family nftables table holding the fault's filters.
	Table string `json:"table,omitempty"`
	// Qdisc is a tap whose root queue discipline the fault set.
	Qdisc string `json:"qdisc,omitempty"`
	// Resume is a domain the fault suspended.
	Resume string `json:"resume,omitempty"`
}

// FaultRecord is a fault that is on, with what heals it.
type FaultRecord struct {
	hypervisor.Fault
	Steps []FaultStep `json:"steps"`
}

var _ hypervisor.FaultInjector = (*Backend)(nil)

// SetFault sets spec on the cluster's VMs; see hypervisor.FaultInjector.
func (b *Backend) SetFault(ctx context.Context, cluster string, spec hypervisor.FaultSpec) (hypervisor.Fault, error) {
	unlock := b.lockCluster(cluster)
	defer unlock()
	var rec ClusterRecord
	var live bool
	b.st.view(func(st *State) {
		if r := st.Clusters[cluster]; r != nil {
			live, rec = r.Live, *r
			rec.Addrs = maps.Clone(r.Addrs)
		}
	})
	if !live {
		return hypervisor.Fault{}, fmt.Errorf("cluster %s is not running here", cluster)
	}
	if len(rec.Addrs) == 0 {
		return hypervisor.Fault{}, fmt.Errorf("cluster %s was started without its hosts' addresses recorded (by an earlier version): start it again to set faults on it", cluster)
	}
	if err := spec.ResolveHosts(cluster, slices.Sorted(maps.Keys(rec.Addrs))); err != nil {
		return hypervisor.Fault{}, err
	}
	for _, h := range append(slices.Clone(spec.Hosts), spec.Peers...) {
		if net.ParseIP(rec.Addrs[h]).To4() == nil {
			return hypervisor.Fault{}, fmt.Errorf("fault %s: host %s has no IPv4 address recorded (%q)", spec.Kind, h, rec.Addrs[h])
		}
	}
	id := make([]byte, 4)
	rand.Read(id)
	fr := FaultRecord{Fault: hypervisor.Fault{ID: "f" + hex.EncodeToString(id), Spec: spec, Since: time.Now()}}
	if err := b.applyFault(ctx, cluster, rec, &fr); err != nil {
		if uerr := b.undoFault(cluster, fr); uerr != nil {
			err = errors.Join(err, fmt.Errorf("undo: %w", uerr))
		} else {
			b.dropFault(cluster, fr.ID)
		}
		return hypervisor.Fault{}, fmt.Errorf("fault %s: %w", spec.Kind, err)
	}
	return fr.Fault, nil
}

// HealFaults heals the cluster's faults with the given ids, all of them
// when none is given. An id not on is one already healed (by a backend
// started again after a crash, say): nothing to do.
func (b *Backend) HealFaults(ctx context.Context, cluster string, ids ...string) error {
	unlock := b.lockCluster(cluster)
	defer unlock()
	return b.healLocked(cluster, ids...)
}

func (b *Backend) healLocked(cluster string, ids ...string) error {
	var errs []error
	for _, fr := range b.faultRecords(cluster) {
		if len(ids) > 0 && !slices.Contains(ids, fr.ID) {
			continue
		}
		if err := b.undoFault(cluster, fr); err != nil {
			errs = append(errs, fmt.Errorf("heal %s (%s): %w", fr.ID, fr.Spec, err))
			continue
		}
		if err := b.dropFault(cluster, fr.ID); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Faults lists the cluster's faults that are on, oldest first.
func (b *Backend) Faults(cluster string) []hypervisor.Fault {
	var out []hypervisor.Fault
	for _, fr := range b.faultRecords(cluster) {
		out = append(out, fr.Fault)
	}
	return out
}

func (b *Backend) faultRecords(cluster string) []FaultRecord {
	var out []FaultRecord
	b.st.view(func(st *State) {
		if r := st.Clusters[cluster]; r != nil {
			for _, fr := range r.Faults {
				fr.Steps = slices.Clone(fr.Steps)
				out = append(out, fr)
			}
		}
	})
	return out
}

// recordStep writes a step of fault fr to the state file before it is
// made, adding the fault's record with its first.
func (b *Backend) recordStep(cluster string, fr *FaultRecord, s FaultStep) error {
	fr.Steps = append(fr.Steps, s)
	return b.st.update(func(st *State) {
		r := st.Clusters[cluster]
		if r == nil {
			return
		}
		for i := range r.Faults {
			if r.Faults[i].ID == fr.ID {
				r.Faults[i].Steps = slices.Clone(fr.Steps)
				return
			}
		}
		c := *fr
		c.Steps = slices.Clone(fr.Steps)
		r.Faults = append(r.Faults, c)
	})
}

func (b *Backend) dropFault(cluster, id string) error {
	return b.st.update(func(st *State) {
		if r := st.Clusters[cluster]; r != nil {
			r.Faults = slices.DeleteFunc(r.Faults, func(fr FaultRecord) bool { return fr.ID == id })
		}
	})
}

// applyFault makes the fault's changes, each recorded before it is made.
func (b *Backend) applyFault(ctx context.Context, cluster string, rec ClusterRecord, fr *FaultRecord) error {
	s := fr.Spec
	addr := func(hosts []string) string {
		var a []string
		for _, h := range hosts {
			a = append(a, rec.Addrs[h])
		}
		return "{ " + strings.Join(a, ", ") + " }"
	}
	var rules []string
	switch s.Kind {
	case hypervisor.FaultPartition:
		a, p := addr(s.Hosts), addr(s.Peers)
		rules = []string{"ip saddr " + a + " ip daddr " + p + " drop", "ip saddr " + p + " ip daddr " + a + " drop"}
	case hypervisor.FaultIsolate:
		h := rec.Addrs[s.Hosts[0]]
		rules = []string{"ip saddr " + h + " drop", "ip daddr " + h + " drop"}
	case hypervisor.FaultLoss:
		h := rec.Addrs[s.Hosts[0]]
		// numgen draws in [0, 10000): the percent to two decimals.
		n := strconv.Itoa(int(s.Percent*100 + 0.5))
		rules = []string{"ip saddr " + h + " numgen random mod 10000 < " + n + " drop",
			"ip daddr " + h + " numgen random mod 10000 < " + n + " drop"}
	case hypervisor.FaultRate:
		bps, err := rateBytes(s.Rate)
		if err != nil {
			return err
		}
		// A policer (what exceeds the rate is dropped), each way: the
		// burst is a tenth of a second's worth, at least a few frames.
		limit := fmt.Sprintf("limit rate over %d bytes/second burst %d bytes drop", bps, max(bps/10, 16384))
		h := rec.Addrs[s.Hosts[0]]
		rules = []string{"ip saddr " + h + " " + limit, "ip daddr " + h + " " + limit}
	case hypervisor.FaultDelay:
		return b.delay(ctx, cluster, rec, fr)
	case hypervisor.FaultPause:
		return b.pause(cluster, fr)
	case hypervisor.FaultKill:
		return fmt.Errorf("the libvirt backend cannot kill a process inside a VM (it has no way into the guest, such as a guest agent): a script on %s can run pkill -KILL -x %s itself", s.Hosts[0], s.Process)
	case hypervisor.FaultFill:
		return fmt.Errorf("the libvirt backend cannot fill a disk inside a VM (it has no way into the guest, such as a guest agent): a script on %s can fill %s itself (fallocate)", s.Hosts[0], s.Path)
	default:
		return fmt.Errorf("the libvirt backend cannot do %q", s.Kind)
	}
	if err := checkBridge(cluster, rec); err != nil {
		return err
	}
	table := "xrdtest_" + fr.ID
	if err := b.recordStep(cluster, fr, FaultStep{Table: table}); err != nil {
		return err
	}
	doc := "table bridge " + table + " {\n\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n\t\t" +
		strings.Join(rules, "\n\t\t") + "\n\t}\n}\n"
	return runInput(ctx, doc, "nft", "-f", "-")
}

// checkBridge says why network faults cannot be set on the cluster: no
// nft, or its bridge not in this network namespace (the filters would
// land where no frame of it passes).
func checkBridge(cluster string, rec ClusterRecord) error {
	if _, err := exec.LookPath("nft"); err != nil {
		return fmt.Errorf("network faults on VMs need nft (package nftables) on the hypervisor host: %w", err)
	}
	if rec.Network == nil || rec.Network.Bridge == "" {
		return fmt.Errorf("cluster %s has no bridge recorded", cluster)
	}
	if _, err := net.InterfaceByName(rec.Network.Bridge); err != nil {
		return fmt.Errorf("the bridge %s of cluster %s is not in this network namespace: network faults are filters on it, "+
			"set where libvirtd runs (run the hypervisor in libvirtd's network namespace): %w", rec.Network.Bridge, cluster, err)
	}
	return nil
}

// rateBytes is a rate in tc's notation (see hypervisor.ParseFault) in
// bytes per second; tc's prefixes are powers of 1000.
func rateBytes(rate string) (int64, error) {
	m := regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)([kmg]?)(bit|bps)$`).FindStringSubmatch(rate)
	if m == nil {
		return 0, fmt.Errorf("%q is not a rate such as 1mbit, 500kbit or 2mbps", rate)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	v *= map[string]float64{"": 1, "k": 1e3, "m": 1e6, "g": 1e9}[m[2]]
	if m[3] == "bit" {
		v /= 8
	}
	if v < 1 {
		return 0, fmt.Errorf("rate %s is under a byte a second", rate)
	}
	return int64(v), nil
}

// delay adds a netem queue discipline to the host's tap: every packet to
// the guest waits.
func (b *Backend) delay(ctx context.Context, cluster string, rec ClusterRecord, fr *FaultRecord) error {
	host := fr.Spec.Hosts[0]
	tap, err := b.tap(lvxml.DomainName(cluster, host))
	if err != nil {
		return err
	}
	if _, err := net.InterfaceByName(tap); err != nil {
		return fmt.Errorf("the tap %s of %s is not in this network namespace: a delay is set where libvirtd runs (run the hypervisor in libvirtd's network namespace): %w", tap, host, err)
	}
	if err := b.recordStep(cluster, fr, FaultStep{Qdisc: tap}); err != nil {
		return err
	}
	err = runInput(ctx, "", "tc", "qdisc", "add", "dev", tap, "root", "netem", "delay", strconv.FormatInt(fr.Spec.Delay.Microseconds(), 10)+"us")
	switch {
	case err == nil:
		return nil
	case strings.Contains(err.Error(), "qdisc kind is unknown"):
		return fmt.Errorf("this kernel has no netem queue discipline (module sch_netem), which delays need: %w", err)
	case strings.Contains(err.Error(), "File exists") || strings.Contains(err.Error(), "Exclusivity flag"):
		// Not ours to remove: the failed set's undo must leave it.
		fr.Steps = fr.Steps[:len(fr.Steps)-1]
		return fmt.Errorf("%s has a delay on already: %w", host, err)
	}
	return err
}

// tap is the device of a running domain's interface, from its live XML.
func (b *Backend) tap(domain string) (string, error) {
	l, err := b.conn()
	if err != nil {
		return "", err
	}
	d, err := l.DomainLookupByName(domain)
	if err != nil {
		return "", fmt.Errorf("domain %s: %w", domain, err)
	}
	doc, err := l.DomainGetXMLDesc(d, 0)
	if err != nil {
		return "", fmt.Errorf("domain %s: %w", domain, err)
	}
	var x struct {
		Ifaces []struct {
			Target struct {
				Dev string `xml:"dev,attr"`
			} `xml:"target"`
		} `xml:"devices>interface"`
	}
	if err := xml.Unmarshal([]byte(doc), &x); err != nil {
		return "", fmt.Errorf("domain %s: %w", domain, err)
	}
	if len(x.Ifaces) == 0 || x.Ifaces[0].Target.Dev == "" {
		return "", fmt.Errorf("domain %s has no tap (is it running?)", domain)
	}
	return x.Ifaces[0].Target.Dev, nil
}

// pause suspends the host's domain: its vCPUs stop, the slave's with them.
func (b *Backend) pause(cluster string, fr *FaultRecord) error {
	l, err := b.conn()
	if err != nil {
		return err
	}
	name := lvxml.DomainName(cluster, fr.Spec.Hosts[0])
	d, err := l.DomainLookupByName(name)
	if err != nil {
		return fmt.Errorf("domain %s: %w", name, err)
	}
	if st, _, err := l.DomainGetState(d, 0); err == nil && libvirt.DomainState(st) == libvirt.DomainPaused {
		return fmt.Errorf("%s is paused already", fr.Spec.Hosts[0])
	}
	if err := b.recordStep(cluster, fr, FaultStep{Resume: name}); err != nil {
		return err
	}
	if err := l.DomainSuspend(d); err != nil {
		return fmt.Errorf("suspend domain %s: %w", name, err)
	}
	return nil
}

// undoFault takes a fault's steps back, last first; what is gone already
// (a table, a tap, a domain) counts as undone.
func (b *Backend) undoFault(cluster string, fr FaultRecord) error {
	var errs []error
	for i := len(fr.Steps) - 1; i >= 0; i-- {
		s := fr.Steps[i]
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		switch {
		case s.Table != "":
			err := runInput(ctx, "", "nft", "delete", "table", "bridge", s.Table)
			if err != nil && !strings.Contains(err.Error(), "No such file or directory") {
				errs = append(errs, err)
			}
		case s.Qdisc != "":
			err := runInput(ctx, "", "tc", "qdisc", "del", "dev", s.Qdisc, "root")
			if err != nil && !strings.Contains(err.Error(), "Cannot find device") && !strings.Contains(err.Error(), "No such file or directory") &&
				!strings.Contains(err.Error(), "Cannot delete qdisc with handle of zero") {
				errs = append(errs, err)
			}
		case s.Resume != "":
			errs = append(errs, b.resume(s.Resume))
		}
		cancel()
	}
	return errors.Join(errs...)
}

// resume resumes a domain a pause suspended, if it still is.
func (b *Backend) resume(name string) error {
	l, err := b.conn()
	if err != nil {
		return err
	}
	d, err := l.DomainLookupByName(name)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("domain %s: %w", name, err)
	}
	st, _, err := l.DomainGetState(d, 0)
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return fmt.Errorf("domain %s: %w", name, err)
	}
	if libvirt.DomainState(st) != libvirt.DomainPaused {
		return nil
	}
	if err := l.DomainResume(d); err != nil && !isNotFound(err) && !isNotRunning(err) {
		return fmt.Errorf("resume domain %s: %w", name, err)
	}
	return nil
}

// healLeftoverFaults heals what a backend that crashed left on: the
// faults recorded in the state file.
func (b *Backend) healLeftoverFaults() {
	var clusters []string
	b.st.view(func(st *State) {
		for name, r := range st.Clusters {
			if len(r.Faults) > 0 {
				clusters = append(clusters, name)
			}
		}
	})
	for _, c := range clusters {
		for _, fr := range b.faultRecords(c) {
			if err := b.healLocked(c, fr.ID); err != nil {
				b.log.Warn("healing a fault left on", "cluster", c, "fault", fr.ID, "err", err)
			} else {
				b.log.Info("healed a fault left on", "cluster", c, "fault", fr.ID, "spec", fr.Spec.String())
			}
		}
	}
}

// runInput runs a command with input on its standard input; its error
// carries the command and what it wrote on standard error.
func runInput(ctx context.Context, input, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(input)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
