package sessiontest

import (
	"context"
	"fmt"
	"sync"

	"github.com/xrdtest/xrdtest/internal/hypervisor"
)

// Clusters is a hypervisor.Backend over simulated slaves: starting a
// cluster reports each host booting and connects its slave, stopping it
// disconnects them. Starts and stops are Events (ClusterStarted,
// ClusterStopped, Detail: the cluster).
type Clusters struct {
	Slaves *Slaves

	mu    sync.Mutex
	fail  map[string]error
	hosts map[string][]string // running cluster -> its hosts
}

var _ hypervisor.Backend = (*Clusters)(nil)

// FailStart makes the starts of cluster fail with err (nil: succeed).
func (c *Clusters) FailStart(cluster string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail == nil {
		c.fail = map[string]error{}
	}
	c.fail[cluster] = err
}

// StartCluster implements hypervisor.Backend.
func (c *Clusters) StartCluster(ctx context.Context, spec hypervisor.ClusterSpec) error {
	name := spec.Cluster.Name
	c.Slaves.record(Event{Kind: ClusterStarted, Detail: name})
	c.mu.Lock()
	err := c.fail[name]
	c.mu.Unlock()
	if err != nil {
		return err
	}
	var hosts []string
	for _, h := range spec.Cluster.Hosts {
		if spec.Tokens[h.Name] == "" {
			return fmt.Errorf("no enrollment token for %s", h.Name)
		}
		hypervisor.ReportProgress(ctx, h.Name, "booting")
		c.Slaves.Connect(h.Name)
		hosts = append(hosts, h.Name)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hosts == nil {
		c.hosts = map[string][]string{}
	}
	c.hosts[name] = hosts
	return nil
}

// StopCluster implements hypervisor.Backend.
func (c *Clusters) StopCluster(ctx context.Context, name string) error {
	c.Slaves.record(Event{Kind: ClusterStopped, Detail: name})
	c.mu.Lock()
	hosts := c.hosts[name]
	delete(c.hosts, name)
	c.mu.Unlock()
	for _, h := range hosts {
		c.Slaves.Disconnect(h)
	}
	return nil
}

// Running reports whether the cluster was started and not stopped (the
// optional interface Manager.StopCluster asks).
func (c *Clusters) Running(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.hosts[name]
	return ok
}

// Tokens is a session.TokenIssuer of tokens that name their host.
type Tokens struct{}

// Issue implements session.TokenIssuer.
func (Tokens) Issue(host string) string { return "token-for-" + host }
