package sessiontest

import (
	"context"
	"fmt"
	"slices"
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
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.Running(name) {
		return fmt.Errorf("start cluster %s: %w", name, hypervisor.ErrAlreadyStarted)
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

// Clusters implements hypervisor.Backend.
func (c *Clusters) Clusters() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.hosts))
	for name := range c.hosts {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// Capacity implements hypervisor.Backend: room for anything.
func (c *Clusters) Capacity(context.Context) (hypervisor.Capacity, error) {
	return hypervisor.Capacity{MemoryKiB: 64 << 20, FreeMemoryKiB: 64 << 20, CPUs: 64}, nil
}

// Running implements hypervisor.Backend.
func (c *Clusters) Running(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.hosts[name]
	return ok
}

// Tokens is a session.TokenIssuer of tokens that name their host; it
// remembers which hosts' tokens were revoked.
type Tokens struct {
	mu      sync.Mutex
	revoked map[string]bool
}

// Issue implements session.TokenIssuer.
func (t *Tokens) Issue(host string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.revoked, host)
	return "token-for-" + host
}

// Revoke implements session.TokenIssuer.
func (t *Tokens) Revoke(hosts ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.revoked == nil {
		t.revoked = map[string]bool{}
	}
	for _, h := range hosts {
		t.revoked[h] = true
	}
}

// Revoked reports whether host's token was revoked since it was issued.
func (t *Tokens) Revoked(host string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.revoked[host]
}
