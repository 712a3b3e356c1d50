package sessiontest

import (
	"testing"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/hypervisor"
	"github.com/xrdtest/xrdtest/internal/hypervisor/backendtest"
)

// TestClustersConformance: the in-memory twin keeps the contract every
// real backend passes.
func TestClustersConformance(t *testing.T) {
	c := &Clusters{Slaves: NewSlaves()}
	backendtest.Run(t, backendtest.Config{Backend: c, Spec: func(name string) hypervisor.ClusterSpec {
		hosts := []*definition.Host{{Name: "h1." + name + ".xrd.test"}, {Name: "h2." + name + ".xrd.test"}}
		spec := hypervisor.ClusterSpec{Cluster: &definition.Cluster{Name: name, Hosts: hosts}, Tokens: map[string]string{}}
		for _, h := range hosts {
			spec.Tokens[h.Name] = (&Tokens{}).Issue(h.Name)
		}
		return spec
	}})
}
