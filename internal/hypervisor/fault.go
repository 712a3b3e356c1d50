package hypervisor

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Fault kinds: what `xrdtest fault KIND ...` breaks.
const (
	FaultPartition = "partition" // no traffic between two groups of hosts
	FaultIsolate   = "isolate"   // a host reaches no other host
	FaultLoss      = "loss"      // a host's packets dropped at random
	FaultRate      = "rate"      // a host's bandwidth capped
	FaultDelay     = "delay"     // latency added to a host's packets
	FaultPause     = "pause"     // every process of a host frozen
	FaultKill      = "kill"      // SIGKILL to a host's processes of a name
	FaultFill      = "fill"      // the file system holding a path filled
)

// FaultWords are the words each kind takes after its name, as its usage
// says them.
var FaultWords = map[string]string{
	FaultPartition: "GROUP1 GROUP2", FaultIsolate: "HOST", FaultLoss: "HOST PERCENT", FaultRate: "HOST RATE",
	FaultDelay: "HOST DURATION", FaultPause: "HOST", FaultKill: "HOST PROCESS", FaultFill: "HOST PATH",
}

// FaultKinds lists the kinds ParseFault takes.
var FaultKinds = []string{FaultPartition, FaultIsolate, FaultLoss, FaultRate, FaultDelay, FaultPause, FaultKill, FaultFill}

// FaultSpec is one fault to set on a cluster's hosts. Hosts are as the
// command gave them (short names or FQDNs); ResolveHosts maps them onto
// the cluster.
type FaultSpec struct {
	Kind string
	// Hosts are the hosts the fault is set on: the first group of a
	// partition, the one host of the others.
	Hosts []string
	// Peers is the second group of a partition.
	Peers []string
	// Percent is the share of packets a loss drops, in (0, 100].
	Percent float64
	// Rate is a bandwidth cap in tc's notation (e.g. 1mbit, 500kbit).
	Rate string
	// Delay is the latency a delay adds.
	Delay time.Duration
	// Process is the name a kill matches exactly (as pkill -x).
	Process string
	// Path is where a fill fills the file system.
	Path string
}

// Fault is a fault that is on.
type Fault struct {
	ID   string
	Spec FaultSpec
	// Since is when it was set.
	Since time.Time
}

// String is the fault as a command would set it.
func (s FaultSpec) String() string {
	args := []string{s.Kind}
	switch s.Kind {
	case FaultPartition:
		args = append(args, strings.Join(s.Hosts, ","), strings.Join(s.Peers, ","))
	case FaultLoss:
		args = append(args, strings.Join(s.Hosts, ","), strconv.FormatFloat(s.Percent, 'g', -1, 64))
	case FaultRate:
		args = append(args, strings.Join(s.Hosts, ","), s.Rate)
	case FaultDelay:
		args = append(args, strings.Join(s.Hosts, ","), s.Delay.String())
	case FaultKill:
		args = append(args, strings.Join(s.Hosts, ","), s.Process)
	case FaultFill:
		args = append(args, strings.Join(s.Hosts, ","), s.Path)
	default:
		args = append(args, strings.Join(s.Hosts, ","))
	}
	return strings.Join(args, " ")
}

var (
	rateRE    = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(bit|kbit|mbit|gbit|bps|kbps|mbps|gbps)$`)
	processRE = regexp.MustCompile(`^[A-Za-z0-9._+-]{1,15}$`) // a kernel comm name
)

// ParseFault reads a fault from the words of `xrdtest fault KIND ARGS`:
// a clear error for an unknown kind, a wrong number of words or a value
// out of shape, before anything is touched.
func ParseFault(args []string) (FaultSpec, error) {
	if len(args) == 0 {
		return FaultSpec{}, fmt.Errorf("no fault given (one of %s)", strings.Join(FaultKinds, ", "))
	}
	s := FaultSpec{Kind: args[0]}
	want := FaultWords[s.Kind]
	if want == "" {
		return FaultSpec{}, fmt.Errorf("unknown fault %q (one of %s)", s.Kind, strings.Join(FaultKinds, ", "))
	}
	if len(args)-1 != len(strings.Fields(want)) {
		return FaultSpec{}, fmt.Errorf("fault %s takes %s, got %d words", s.Kind, want, len(args)-1)
	}
	group := func(w string) ([]string, error) {
		var hosts []string
		for h := range strings.SplitSeq(w, ",") {
			if h == "" || strings.ContainsAny(h, " /\\") {
				return nil, fmt.Errorf("fault %s: bad host list %q", s.Kind, w)
			}
			hosts = append(hosts, h)
		}
		return hosts, nil
	}
	var err error
	if s.Hosts, err = group(args[1]); err != nil {
		return FaultSpec{}, err
	}
	if s.Kind != FaultPartition && len(s.Hosts) != 1 {
		return FaultSpec{}, fmt.Errorf("fault %s takes one host, got %q", s.Kind, args[1])
	}
	switch s.Kind {
	case FaultPartition:
		if s.Peers, err = group(args[2]); err != nil {
			return FaultSpec{}, err
		}
		for _, h := range s.Hosts {
			if slices.Contains(s.Peers, h) {
				return FaultSpec{}, fmt.Errorf("fault partition: %s is in both groups", h)
			}
		}
	case FaultLoss:
		p, err := strconv.ParseFloat(strings.TrimSuffix(args[2], "%"), 64)
		if err != nil || p <= 0 || p > 100 {
			return FaultSpec{}, fmt.Errorf("fault loss: percent %q is not a number in (0, 100]", args[2])
		}
		s.Percent = p
	case FaultRate:
		if !rateRE.MatchString(args[2]) {
			return FaultSpec{}, fmt.Errorf("fault rate: %q is not a rate such as 1mbit, 500kbit or 2mbps", args[2])
		}
		s.Rate = args[2]
	case FaultDelay:
		d, err := time.ParseDuration(args[2])
		if err != nil || d <= 0 || d > time.Minute {
			return FaultSpec{}, fmt.Errorf("fault delay: %q is not a duration in (0, 1m] such as 100ms", args[2])
		}
		s.Delay = d
	case FaultKill:
		if !processRE.MatchString(args[2]) {
			return FaultSpec{}, fmt.Errorf("fault kill: %q is not a process name (up to 15 of A-Z a-z 0-9 . _ + -)", args[2])
		}
		s.Process = args[2]
	case FaultFill:
		if !strings.HasPrefix(args[2], "/") || strings.Contains(args[2], "/..") {
			return FaultSpec{}, fmt.Errorf("fault fill: %q is not an absolute path", args[2])
		}
		s.Path = args[2]
	}
	return s, nil
}

// ResolveHosts maps the spec's hosts (short names or FQDNs) onto the
// cluster's host names, or names the first one the cluster lacks.
func (s *FaultSpec) ResolveHosts(cluster string, hosts []string) error {
	resolve := func(names []string) error {
		for i, n := range names {
			found := ""
			for _, h := range hosts {
				if h == n || strings.SplitN(h, ".", 2)[0] == n {
					found = h
					break
				}
			}
			if found == "" {
				return fmt.Errorf("fault %s: cluster %s has no host %s", s.Kind, cluster, n)
			}
			names[i] = found
		}
		return nil
	}
	if err := resolve(s.Hosts); err != nil {
		return err
	}
	return resolve(s.Peers)
}

// FaultInjector is a backend that breaks its clusters' hosts on purpose
// and heals them. SetFault sets a fault (its spec resolved to the
// cluster's host names) and returns it with its id; an error means
// nothing was changed, or what was is undone. HealFaults heals the
// faults with the given ids, all when ids is empty; healing a fault
// already healed does nothing. Faults lists those on, oldest first.
// A backend that cannot do a kind says what it lacks in the error.
type FaultInjector interface {
	SetFault(ctx context.Context, cluster string, spec FaultSpec) (Fault, error)
	HealFaults(ctx context.Context, cluster string, ids ...string) error
	Faults(cluster string) []Fault
}
