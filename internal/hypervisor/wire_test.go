package hypervisor

import (
	"reflect"
	"testing"

	"github.com/xrdtest/xrdtest/internal/definition"
)

func TestClusterWireRoundTrip(t *testing.T) {
	c := &definition.Cluster{Name: "cluster_t", File: "clusters/cluster_t.py", Info: "lab",
		Network: definition.Network{Name: "cluster_t_net", IP: "10.0.0.1", Netmask: "255.255.255.0", DHCPRange: [2]string{"10.0.0.100", "10.0.0.200"}, BridgeName: "virbr_x"},
		Hosts: []*definition.Host{{Name: "a.xrd.test", IP: "10.0.0.5", MAC: "52:54:00:00:00:01", RAMKiB: 1024, Arch: "x86_64", BootImage: "b.qcow2",
			CacheBootImage: true, Aliases: []string{"rr.xrd.test"}, Disks: []definition.Disk{{Name: "d", Size: 1 << 30, Device: "vdb", MountPoint: "/data", Cache: true}},
			UUID: "3b6a1c2e-0000-5000-8000-000000000001"}}}
	b, err := EncodeCluster(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeCluster(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("round trip:\n%+v\nwant\n%+v", got, c)
	}
	if _, err := DecodeCluster([]byte(`{"name":"x"}`)); err == nil {
		t.Error("a cluster without hosts decoded")
	}
}
