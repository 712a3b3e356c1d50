package hypervisor

import (
	"encoding/json"
	"fmt"

	"github.com/xrdtest/xrdtest/internal/definition"
)

// wireCluster carries a cluster to a hypervisor: the definition's JSON
// (as `xrdtest check --json` shows it) plus what that view leaves out.
type wireCluster struct {
	*definition.Cluster
	UUIDs map[string]string `json:"uuids"`
	Info  string            `json:"info,omitempty"`
}

// EncodeCluster serialises a cluster for the StartCluster command.
func EncodeCluster(c *definition.Cluster) ([]byte, error) {
	w := wireCluster{Cluster: c, UUIDs: map[string]string{}, Info: c.Info}
	for _, h := range c.Hosts {
		w.UUIDs[h.Name] = h.UUID
	}
	return json.Marshal(w)
}

// DecodeCluster is the inverse of EncodeCluster.
func DecodeCluster(b []byte) (*definition.Cluster, error) {
	w := wireCluster{Cluster: &definition.Cluster{}}
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("bad cluster definition: %w", err)
	}
	if w.Name == "" || len(w.Hosts) == 0 {
		return nil, fmt.Errorf("bad cluster definition: no name or no hosts")
	}
	for _, h := range w.Hosts {
		h.UUID = w.UUIDs[h.Name]
	}
	w.Cluster.Info = w.Info
	return w.Cluster, nil
}
