// Package hypervisor defines how the master gets a cluster's machines: a
// Backend starts and stops them. Implementations: local (slaves as local
// processes: tests), netns (hosts in namespaces of their own on this
// machine: quickstart as root) and libvirt (VMs); backends opens them by
// name and backendtest checks them against the contract.
package hypervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/pki"
)

// ClusterSpec is what a backend needs to start a cluster.
type ClusterSpec struct {
	Cluster *definition.Cluster
	// Master says how the machines reach and trust the master.
	Master MasterEndpoint
	// Tokens holds a one-time enrollment token per host name: each slave
	// enrolls with its own, bound to its name.
	Tokens map[string]string
}

// MasterEndpoint is the master as the cluster's machines see it.
type MasterEndpoint struct {
	// Port is the master's daemon port.
	Port int
	// WebPort is the master's web port (0: none), where the suites'
	// scripts download from (@proto@://master.xrd.test:@port@/): a backend
	// makes master.xrd.test answer there as it does at Port. The bytes
	// are relayed or routed as they are, so HTTP and HTTPS alike.
	WebPort int
	// IP is the address master.xrd.test resolves to in the cluster's
	// network; "" means the network's gateway (a master listening there).
	IP string
	// Fingerprint pins the master's CA.
	Fingerprint pki.Fingerprint
}

// ErrAlreadyStarted is returned by StartCluster for a cluster the backend
// runs already.
var ErrAlreadyStarted = errors.New("cluster already started")

// Capacity is what a backend's machine has for clusters.
type Capacity struct {
	// MemoryKiB is the machine's memory.
	MemoryKiB int64
	// FreeMemoryKiB is the memory not in use now: what new machines get.
	FreeMemoryKiB int64
	// CPUs is the number of CPUs.
	CPUs int
}

// Backend brings clusters' machines up and down and says which it runs.
// The local backend runs them as processes, the netns one in namespaces,
// the libvirt one as VMs; the
// master's placement over connected hypervisor daemons is one too.
//
// StartCluster creates the cluster's machines and returns once they are
// starting: their slaves then connect and enroll by themselves, later, so
// a nil error says nothing about the slaves. Progress goes to the context
// (WithProgress). A cluster the backend runs already is refused with an
// error wrapping ErrAlreadyStarted and keeps running unchanged. On any
// other error the start is undone: the cluster is not listed, unless the
// undo itself failed and the backend keeps what is left for StopCluster.
//
// StopCluster removes what StartCluster created. It is idempotent: a stop
// of a cluster already stopped, or never started, does what is left to do
// (possibly nothing) and returns nil. After a nil error the cluster is not
// listed.
//
// Clusters lists the clusters the backend runs, in no particular order;
// Running reports whether one of them is cluster. A cluster is listed at
// the latest when StartCluster returns nil and until StopCluster returns
// nil; while either is in progress it may or may not be. Backends that
// outlive their process (libvirt, netns) list what they started before.
//
// Capacity reports the machine's memory and CPUs (the sum over the
// hypervisors for the master's placement); an error means it could not be
// read.
//
// Cancelling ctx makes StartCluster give up as soon as it can: it returns
// an error wrapping ctx.Err() and undoes what it did. StopCluster either
// hurries (local: no grace period for the slaves) or gives up early with
// an error wrapping ctx.Err(); the cluster then stays listed and a later
// StopCluster finishes the job.
//
// All methods are safe for concurrent use. A backend serialises
// StartCluster and StopCluster of one cluster (the master's placement
// leaves that to the hypervisor it forwards them to); Clusters, Running
// and Capacity do not wait for them.
//
// backendtest.Run checks a backend against this contract.
type Backend interface {
	StartCluster(ctx context.Context, spec ClusterSpec) error
	StopCluster(ctx context.Context, cluster string) error
	Clusters() []string
	Running(cluster string) bool
	Capacity(ctx context.Context) (Capacity, error)
}

type progressKey struct{}

// WithProgress returns a context whose StartCluster calls report per-host
// progress (defining, booting...) to f. The master records it in the
// session's events; a hypervisor daemon relays it to the master.
func WithProgress(ctx context.Context, f func(host, phase string)) context.Context {
	return context.WithValue(ctx, progressKey{}, f)
}

// ReportProgress reports a host's progress to whoever asked for it with
// WithProgress; it does nothing otherwise. Safe from several goroutines
// when f is.
func ReportProgress(ctx context.Context, host, phase string) {
	if f, ok := ctx.Value(progressKey{}).(func(host, phase string)); ok && f != nil {
		f(host, phase)
	}
}

// MachineCapacity is the capacity of this machine (/proc/meminfo and the
// CPUs Go sees): the backends whose hosts run here report it.
func MachineCapacity() (Capacity, error) {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return Capacity{}, fmt.Errorf("capacity: %w", err)
	}
	c := Capacity{CPUs: runtime.NumCPU()}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			fmt.Sscan(v, &c.MemoryKiB)
		} else if v, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			fmt.Sscan(v, &c.FreeMemoryKiB)
		}
	}
	return c, nil
}
