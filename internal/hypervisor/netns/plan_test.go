package netns

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/hypervisor"
)

// metaManager is the original meta-manager cluster: 8 hosts on
// 192.168.128.0/24, an alias shared by the data servers, data disks.
func metaManager() *definition.Cluster {
	c := &definition.Cluster{Name: "cluster_meta_manager", Network: definition.Network{Name: "net", IP: "192.168.128.1",
		Netmask: "255.255.255.0", DHCPRange: [2]string{"192.168.128.100", "192.168.128.200"}}}
	for i, n := range []string{"metaman", "man1", "man2", "srv1", "srv2", "srv3", "srv4", "client1"} {
		h := &definition.Host{Name: n + ".xrd.test", IP: fmt.Sprintf("192.168.128.%d", i+3), RAMKiB: 524288}
		if strings.HasPrefix(n, "srv") {
			h.Aliases = []string{"pool.xrd.test"}
			h.Disks = []definition.Disk{{Name: "data", Size: 64 << 20, MountPoint: "/data"}}
		}
		c.Hosts = append(c.Hosts, h)
	}
	return c
}

func TestPlanMetaManager(t *testing.T) {
	p := metaPlan(t)
	if p.net.String() != "192.168.128.1/24" || p.master.String() != "192.168.128.1" {
		t.Errorf("network %s, master %s", p.net, p.master)
	}
	if h := p.hosts[3]; h.short != "srv1" || h.addr.String() != "192.168.128.6" {
		t.Errorf("srv1: %+v", h)
	}
	got := map[string]string{}
	for _, r := range p.records() {
		got[r.name] = fmt.Sprint(r.addrs)
	}
	for name, want := range map[string]string{
		"master.xrd.test":  "[192.168.128.1]",
		"metaman.xrd.test": "[192.168.128.3]", "metaman": "[192.168.128.3]",
		"pool.xrd.test": "[192.168.128.6 192.168.128.7 192.168.128.8 192.168.128.9]",
	} {
		if got[name] != want {
			t.Errorf("record %s: %s, want %s", name, got[name], want)
		}
	}
	hosts := p.hostsFile(p.hosts[0])
	for _, line := range []string{"127.0.0.1\tlocalhost\n", "192.168.128.10\tclient1.xrd.test client1\n", "192.168.128.1\tmaster.xrd.test\n"} {
		if !strings.Contains(hosts, line) {
			t.Errorf("hosts file lacks %q:\n%s", line, hosts)
		}
	}
}

// TestPlanAddresses: hosts without an address get one from the DHCP
// range (or the network), the same at every start, never one in use.
func TestPlanAddresses(t *testing.T) {
	for _, tt := range []struct {
		name   string
		rng    [2]string
		ips    []string
		lo, hi string
	}{
		{"range", [2]string{"10.1.0.100", "10.1.0.102"}, []string{"", "", "10.1.0.101"}, "10.1.0.100", "10.1.0.102"},
		{"no range", [2]string{}, []string{"", ""}, "10.1.0.2", "10.1.0.254"},
		{"range full but for one", [2]string{"10.1.0.100", "10.1.0.101"}, []string{"10.1.0.100", ""}, "10.1.0.101", "10.1.0.101"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := &definition.Cluster{Name: "c", Network: definition.Network{IP: "10.1.0.1", Netmask: "255.255.255.0", DHCPRange: tt.rng}}
			for i, ip := range tt.ips {
				c.Hosts = append(c.Hosts, &definition.Host{Name: fmt.Sprintf("h%d.c", i), IP: ip})
			}
			first, err := newPlan(hypervisor.ClusterSpec{Cluster: c}, 0)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := newPlan(hypervisor.ClusterSpec{Cluster: c}, 0)
			lo, hi := netip.MustParseAddr(tt.lo), netip.MustParseAddr(tt.hi)
			seen := map[netip.Addr]bool{}
			for i, h := range first.hosts {
				if seen[h.addr] {
					t.Errorf("%s: %s given twice", h.name, h.addr)
				}
				seen[h.addr] = true
				if again.hosts[i].addr != h.addr {
					t.Errorf("%s: %s, then %s", h.name, h.addr, again.hosts[i].addr)
				}
				if tt.ips[i] == "" && (h.addr.Less(lo) || hi.Less(h.addr)) {
					t.Errorf("%s: %s outside %s-%s", h.name, h.addr, lo, hi)
				}
			}
		})
	}
}

// TestPlanInvalid: each bad input is refused with an error naming the
// host and the field.
func TestPlanInvalid(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(c *definition.Cluster)
		free uint64
		want string
	}{
		{"same ip twice", func(c *definition.Cluster) { c.Hosts[1].IP = c.Hosts[0].IP },
			1 << 30, "host man1.xrd.test: ip: 192.168.128.3 is also metaman.xrd.test's address"},
		{"ip outside the network", func(c *definition.Cluster) { c.Hosts[2].IP = "192.168.129.5" },
			1 << 30, "host man2.xrd.test: ip: 192.168.129.5 is outside network 192.168.128.0/24"},
		{"ip of the gateway", func(c *definition.Cluster) { c.Hosts[2].IP = "192.168.128.1" },
			1 << 30, "host man2.xrd.test: ip: 192.168.128.1 is the gateway's address"},
		{"broadcast ip", func(c *definition.Cluster) { c.Hosts[2].IP = "192.168.128.255" },
			1 << 30, "host man2.xrd.test: ip: 192.168.128.255 is the network's own or broadcast address"},
		{"not an ip", func(c *definition.Cluster) { c.Hosts[2].IP = "192.168.128" },
			1 << 30, `host man2.xrd.test: ip: "192.168.128" is not an IPv4 address`},
		{"disks bigger than the free space", func(c *definition.Cluster) {},
			100 << 20, "host srv2.xrd.test: disks: disk data of 67108864 bytes does not fit: 104857600 bytes are free for the cluster's disks, 67108864 of them taken by those before it"},
		{"underscore in a name", func(c *definition.Cluster) { c.Hosts[0].Name = "meta_man.xrd.test" },
			1 << 30, `host meta_man.xrd.test: name: "meta_man.xrd.test" is not a valid host name`},
		{"label too long", func(c *definition.Cluster) { c.Hosts[0].Name = strings.Repeat("a", 64) + ".xrd.test" },
			1 << 30, "name: \"" + strings.Repeat("a", 64) + ".xrd.test\" is not a valid host name"},
		{"same short name", func(c *definition.Cluster) { c.Hosts[1].Name = "metaman.other.test" },
			1 << 30, `host metaman.other.test: name: "metaman" is also metaman.xrd.test's name`},
		{"bad alias", func(c *definition.Cluster) { c.Hosts[3].Aliases = []string{"pool xrd"} },
			1 << 30, `host srv1.xrd.test: aliases: "pool xrd" is not a valid host name`},
		{"alias is a host's name", func(c *definition.Cluster) { c.Hosts[3].Aliases = []string{"man1"} },
			1 << 30, `host srv1.xrd.test: aliases: "man1" is man1.xrd.test's name`},
		{"bad mac", func(c *definition.Cluster) { c.Hosts[3].MAC = "52:54:00:zz:00:01" },
			1 << 30, `host srv1.xrd.test: mac: "52:54:00:zz:00:01"`},
		{"relative mount point", func(c *definition.Cluster) { c.Hosts[3].Disks[0].MountPoint = "data" },
			1 << 30, `host srv1.xrd.test: disks: disk data: mount point "data" is not an absolute path below /`},
		{"bad netmask", func(c *definition.Cluster) { c.Network.Netmask = "255.0.255.0" },
			1 << 30, `network net: netmask "255.0.255.0" is not a netmask from /8 to /30`},
		{"range outside", func(c *definition.Cluster) {
			c.Network.DHCPRange = [2]string{"10.0.0.1", "10.0.0.9"}
			c.Hosts[0].IP = ""
		}, 1 << 30, "network net: DHCP range 10.0.0.1-10.0.0.9 is not a range inside the network"},
		{"no hosts", func(c *definition.Cluster) { c.Hosts = nil }, 1 << 30, "no hosts"},
		{"ramSize too small", func(c *definition.Cluster) { c.Hosts[4].RAMKiB = 1024 },
			1 << 30, "host srv2.xrd.test: ramSize: 1024 KiB is below the 16384 KiB a host needs here"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := metaManager()
			tt.edit(c)
			_, err := newPlan(hypervisor.ClusterSpec{Cluster: c}, tt.free)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want ErrInvalid naming %q", err, tt.want)
			}
		})
	}
}
