package definition

import (
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/xrdtest/xrdtest/internal/definition/pyeval"
)

func TestHostConstructorForms(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  Host // compared field by field where set
	}{
		{"positional name ip", []string{"h = Host('a.xrd.test', '10.0.0.5')", "c.addHost(h)"},
			Host{Name: "a.xrd.test", IP: "10.0.0.5", RAMKiB: 1048576, Arch: "x86_64", BootImage: "base.img", CacheBootImage: true}},
		{"third positional is the network name", []string{"h = Host('a.xrd.test', '10.0.0.5', 'cluster_t_net', '2097152', 'i686')", "c.addHost(h)"},
			Host{Name: "a.xrd.test", IP: "10.0.0.5", RAMKiB: 2097152, Arch: "i686", BootImage: "base.img", CacheBootImage: true}},
		{"2012 order: MAC third", []string{"h = Host('a.xrd.test', '10.0.0.5', '52:54:00:AA:00:01', 'cluster_t_net', '524288', 'i686', 'own.img', False)", "c.addHost(h)"},
			Host{Name: "a.xrd.test", IP: "10.0.0.5", MAC: "52:54:00:aa:00:01", RAMKiB: 524288, Arch: "i686", BootImage: "own.img", CacheBootImage: false}},
		{"keywords", []string{"h = Host(name='a.xrd.test', ip='10.0.0.5', mac='00:16:3e:00:00:01', ramSize=4194304, aliases=['x.xrd.test'], bootImage='k.img')", "c.addHost(h)"},
			Host{Name: "a.xrd.test", IP: "10.0.0.5", MAC: "00:16:3e:00:00:01", RAMKiB: 4194304, Arch: "x86_64", BootImage: "k.img", CacheBootImage: true, Aliases: []string{"x.xrd.test"}}},
		{"attributes after construction", []string{"h = Host()", "h.name = 'a.xrd.test'", "h.ip = '10.0.0.5'", "h.arch = 'i686'", "c.addHost(h)"},
			Host{Name: "a.xrd.test", IP: "10.0.0.5", RAMKiB: 1048576, Arch: "i686", BootImage: "base.img", CacheBootImage: true}},
		{"all 11 positional", []string{"h = Host('a.xrd.test', '10.0.0.5', '', '1024', 'x86_64', None, True, '/usr/bin/kvm', '', ['y.xrd.test'], '52:54:00:00:00:09')", "c.addHost(h)"},
			Host{Name: "a.xrd.test", IP: "10.0.0.5", MAC: "52:54:00:00:00:09", RAMKiB: 1024, Arch: "x86_64", BootImage: "base.img", CacheBootImage: true, Aliases: []string{"y.xrd.test"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCluster(t, body(tt.lines...))
			if len(c.Hosts) != 1 {
				t.Fatalf("hosts = %d, want 1", len(c.Hosts))
			}
			got := *c.Hosts[0]
			if tt.want.MAC == "" {
				tt.want.MAC = got.MAC // generated: checked in TestGeneratedMACAndUUIDAreStable
			}
			if tt.want.Aliases == nil {
				tt.want.Aliases = []string{}
			}
			tt.want.Disks, tt.want.UUID = got.Disks, got.UUID
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("host =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

func TestHostConstructorErrors(t *testing.T) {
	for _, tt := range []struct{ line, want string }{
		{"h = Host('a', '10.0.0.5', bogus=1)", "unexpected keyword argument"},
		{"h = Host('a', '10.0.0.5', 'n', '1', 'x86_64', None, True, '', '', [], '52:54:00:00:00:01', 12)", "got 12 arguments, want at most 11"},
		{"h = Host('a', ip='1', name='b')", "got multiple values for keyword argument \"name\""},
	} {
		_, ds := loadCluster(t, body(tt.line, "c.addHost(h)"))
		wantDiag(t, ds, Error, 11, tt.want) // the first body line
	}
}

func TestDefaultHostCopiedAtAddHostTime(t *testing.T) {
	c := mustCluster(t, body(
		"a = Host('a.xrd.test', '10.0.0.5')",
		"c.addHost(a)",
		"c.defaultHost.arch = 'i686'", // after a was added: a keeps x86_64
		"c.defaultHost.bootImage = 'late.img'",
		"b = Host('b.xrd.test', '10.0.0.6', ramSize='2048')",
		"c.addHost(b)",
	))
	a, b := c.Host("a.xrd.test"), c.Host("b.xrd.test")
	if a.Arch != "x86_64" || b.Arch != "i686" {
		t.Errorf("arch a=%q b=%q, want x86_64 (copied at addHost) and i686", a.Arch, b.Arch)
	}
	// The boot image is the default host's final one for both.
	if a.BootImage != "late.img" || b.BootImage != "late.img" {
		t.Errorf("bootImage a=%q b=%q, want late.img", a.BootImage, b.BootImage)
	}
	if a.RAMKiB != 1048576 || b.RAMKiB != 2048 {
		t.Errorf("ram a=%d b=%d", a.RAMKiB, b.RAMKiB)
	}
}

func TestCacheBootImageEffective(t *testing.T) {
	c := mustCluster(t, body(
		"c.defaultHost.cacheBootImage = False",
		"a = Host('a.xrd.test', '10.0.0.5')",                      // default's: False
		"b = Host('b.xrd.test', '10.0.0.6', cacheBootImage=True)", // own, explicit
		"d = Host('d.xrd.test', '10.0.0.7')",
		"d.cacheBootImage = 1", // Python truthiness
		"c.addHosts([a, b, d])",
	))
	got := []bool{c.Hosts[0].CacheBootImage, c.Hosts[1].CacheBootImage, c.Hosts[2].CacheBootImage}
	if !reflect.DeepEqual(got, []bool{false, true, true}) {
		t.Errorf("cacheBootImage = %v, want [false true true]", got)
	}
}

func TestObjectsAreReferences(t *testing.T) {
	c := mustCluster(t, clusterHeader+`    hosts = [Host('a.xrd.test', '10.0.0.5')]
    mutate(c.network, hosts[0])
    c.addHosts(hosts)
    return c

def mutate(net, h):
    net.ip = '10.0.0.254'
    h.ip = '10.0.0.9'
    h.disks.append(Disk('d', '1K', 'vdb', '/d'))
`)
	if c.Network.IP != "10.0.0.254" || c.Hosts[0].IP != "10.0.0.9" || len(c.Hosts[0].Disks) != 1 {
		t.Errorf("changes through references lost: network ip %s, host %+v", c.Network.IP, c.Hosts[0])
	}
}

func TestModuleLevelListMutableInsideGetCluster(t *testing.T) {
	// With Python semantics the function may change module-level state.
	c := mustCluster(t, `
ALL = []

def getCluster():
    c = Cluster('cluster_t')
    c.defaultHost.bootImage = 'i.img'
    c.defaultHost.arch = 'x86_64'
    c.defaultHost.ramSize = 1024
    c.network.ip = '10.0.0.1'
    c.network.netmask = '255.255.255.0'
    c.network.DHCPRange = ('10.0.0.100', '10.0.0.200')
    for i in range(3):
        ALL.append(Host('h%d.xrd.test' % i, '10.0.0.%d' % (10 + i)))
    c.addHosts(ALL)
    return c
`)
	if len(c.Hosts) != 3 {
		t.Fatalf("hosts = %d", len(c.Hosts))
	}
}

func TestNetworkDerivedValues(t *testing.T) {
	tests := []struct {
		name                   string
		src                    string
		wantNet, wantBridge    string
		wantHostNet, wantRange [2]string
	}{
		{"implicit network named after the cluster", body("c.addHost(Host('a.xrd.test', '10.0.0.5'))"),
			"cluster_t_net", pyeval.DefaultBridgeName("cluster_t_net"), [2]string{}, [2]string{"10.0.0.100", "10.0.0.200"}},
		{"2012: Cluster() then name", `
def getCluster():
    c = Cluster()
    c.name = 'cluster_t'
    n = c.network
    n.ip = '10.0.0.1'
    n.netmask = '255.255.255.0'
    n.DHCPRange = ['10.0.0.100', '10.0.0.200']
    c.defaultHost.bootImage = 'i.img'
    c.defaultHost.arch = 'x86_64'
    c.defaultHost.ramSize = '1024'
    h = Host('a.xrd.test', '10.0.0.5', c.network.name)
    c.addHost(h)
    return c
`, "cluster_t_net", pyeval.DefaultBridgeName("cluster_t_net"), [2]string{}, [2]string{"10.0.0.100", "10.0.0.200"}},
		{"2012: explicit Network() with bridge, both addHosts", `
from XrdTest.ClusterUtils import (Cluster,
    Network, Host)

def getCluster():
    cluster = Cluster()
    cluster.name = 'cluster_t'
    cluster.defaultHost.bootImage = 'i.img'
    cluster.defaultHost.arch = 'x86_64'
    cluster.defaultHost.ramSize = '1024'
    cluster.defaultHost.net = 'lab_net'
    net = Network()
    net.bridgeName = 'virbr_lab'
    net.name = 'lab_net'
    net.ip = '10.0.0.1'
    net.netmask = '255.255.255.0'
    net.DHCPRange = ('10.0.0.2', '10.0.0.254')
    hosts = [Host('a.xrd.test', '10.0.0.3', '52:54:00:00:00:03'), Host('b.xrd.test', '10.0.0.4', '52:54:00:00:00:04')]
    net.lbAlias = 'lb.xrd.test'
    net.lbHosts = hosts
    net.addHosts(hosts)
    cluster.network = net
    cluster.addHosts(hosts)
    return cluster
`, "lab_net", "virbr_lab", [2]string{}, [2]string{"10.0.0.2", "10.0.0.254"}},
		{"HEAD Network(name, clusterName)", `
def getCluster():
    c = Cluster(name='cluster_t')
    c.network = Network('tnet', 'cluster_t')
    c.network.ip = '10.0.0.1'
    c.network.netmask = '255.255.255.0'
    c.network.DHCPRange = ('10.0.0.100', '10.0.0.200')
    c.defaultHost.bootImage = 'i.img'
    c.defaultHost.arch = 'x86_64'
    c.defaultHost.ramSize = '1024'
    c.addHost(Host('a.xrd.test', '10.0.0.5', 'tnet'))
    return c
`, "tnet", pyeval.DefaultBridgeName("tnet"), [2]string{}, [2]string{"10.0.0.100", "10.0.0.200"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ds := loadCluster(t, tt.src)
			if c == nil {
				t.Fatalf("not loaded:\n%s", dump(ds))
			}
			n := c.Network
			if n.Name != tt.wantNet || n.BridgeName != tt.wantBridge || n.DHCPRange != tt.wantRange {
				t.Errorf("network = %+v, want name %s bridge %s range %v", n, tt.wantNet, tt.wantBridge, tt.wantRange)
			}
		})
	}
}

func TestBridgeNameDefault(t *testing.T) {
	// md5("cluster_t_net") starts with these hex digits.
	if got := pyeval.DefaultBridgeName("cluster_t_net"); !regexp.MustCompile(`^virbr_[0-9a-f]{8}$`).MatchString(got) || got != "virbr_"+md5hex("cluster_t_net")[:8] {
		t.Errorf("bridge = %s", got)
	}
}

func TestLoadBalancingAliases(t *testing.T) {
	c := mustCluster(t, body(
		"rr = ['data.xrd.test']",
		"a = Host('a.xrd.test', '10.0.0.5', aliases=rr)",
		"b = Host('b.xrd.test', '10.0.0.6', aliases=rr)",
		"d = Host('d.xrd.test', '10.0.0.7')",
		"c.network.lbAlias = 'lb.xrd.test'",
		"c.network.lbHosts = [b, d]",
		"c.addHosts([a, b, d])",
	))
	want := map[string][]string{"a.xrd.test": {"data.xrd.test"}, "b.xrd.test": {"data.xrd.test", "lb.xrd.test"}, "d.xrd.test": {"lb.xrd.test"}}
	for _, h := range c.Hosts {
		if !reflect.DeepEqual(h.Aliases, want[h.Name]) {
			t.Errorf("%s aliases = %v, want %v", h.Name, h.Aliases, want[h.Name])
		}
	}
}

func TestDefaultAliasesNotShared(t *testing.T) {
	// The original's aliases=[] default was one list shared by all hosts.
	c := mustCluster(t, body(
		"a = Host('a.xrd.test', '10.0.0.5')",
		"b = Host('b.xrd.test', '10.0.0.6')",
		"a.aliases.append('only-a.xrd.test')",
		"c.addHosts([a, b])",
	))
	if len(c.Hosts[1].Aliases) != 0 {
		t.Errorf("b got a's alias: %v", c.Hosts[1].Aliases)
	}
}

func TestDisks(t *testing.T) {
	c := mustCluster(t, body(
		"h = Host('a.xrd.test', '10.0.0.5')",
		"h.disks = [Disk('d1', '20G'), Disk('d2', '512M', 'vdc', '/scratch', False), Disk('d3', '1048576', device='vdd', mountPoint='/x/y'), Disk(name='d4', size=4096, device='vde', mountPoint='/z', cache=True), Disk('d5', '3B', 'vdf', '/b'), Disk('d6', '1K', 'vdg', '/k'), Disk('d7', '2T', 'vdh', '/t'), Disk('d8', '1P', 'vdi', '/p')]",
		"c.addHost(h)",
	))
	want := []Disk{
		{"d1", 20 << 30, "vda", "/data", true},
		{"d2", 512 << 20, "vdc", "/scratch", false},
		{"d3", 1048576, "vdd", "/x/y", true},
		{"d4", 4096, "vde", "/z", true},
		{"d5", 3, "vdf", "/b", true},
		{"d6", 1024, "vdg", "/k", true},
		{"d7", 2 << 40, "vdh", "/t", true},
		{"d8", 1 << 50, "vdi", "/p", true},
	}
	if !reflect.DeepEqual(c.Hosts[0].Disks, want) {
		t.Errorf("disks =\n%+v\nwant\n%+v", c.Hosts[0].Disks, want)
	}
}

func TestGeneratedMACAndUUIDAreStable(t *testing.T) {
	src := body("c.addHosts([Host('a.xrd.test', '10.0.0.5'), Host('b.xrd.test', '10.0.0.6')])")
	c1, c2 := mustCluster(t, src), mustCluster(t, src)
	macRe := regexp.MustCompile(`^52:54:00(:[0-9a-f]{2}){3}$`)
	for i := range c1.Hosts {
		h1, h2 := c1.Hosts[i], c2.Hosts[i]
		if h1.MAC != h2.MAC || h1.UUID != h2.UUID {
			t.Errorf("%s: MAC/UUID changed between loads: %s/%s vs %s/%s", h1.Name, h1.MAC, h1.UUID, h2.MAC, h2.UUID)
		}
		if !macRe.MatchString(h1.MAC) || !uuidRe.MatchString(h1.UUID) {
			t.Errorf("%s: bad generated MAC %s or UUID %s", h1.Name, h1.MAC, h1.UUID)
		}
	}
	if c1.Hosts[0].MAC == c1.Hosts[1].MAC {
		t.Errorf("two hosts got the same MAC %s", c1.Hosts[0].MAC)
	}
}

func TestDuplicateNetworkRegistrationIsIdempotent(t *testing.T) {
	c := mustCluster(t, body(
		"h = Host('a.xrd.test', '10.0.0.5')",
		"c.network.addHosts([h])",
		"c.network.addHost(h)",
		"c.addHosts([h])",
	))
	if len(c.Hosts) != 1 {
		t.Errorf("hosts = %d, want 1", len(c.Hosts))
	}
}

func TestUnknownAttributeIsStoredAndWarned(t *testing.T) {
	c, ds := loadCluster(t, body(
		"h = Host('a.xrd.test', '10.0.0.5')",
		"h.comment = 'db node'",
		"h.ip = h.ip if h.comment == 'db node' else 'x'",
		"c.addHost(h)",
	))
	if c == nil {
		t.Fatalf("not loaded:\n%s", dump(ds))
	}
	wantDiag(t, ds, Warning, 12, "unknown attribute Host.comment")
}

func TestClusterInfo(t *testing.T) {
	c := mustCluster(t, body("c.info = 'a test lab'", "c.addHost(Host('a.xrd.test', '10.0.0.5'))"))
	if c.Info != "a test lab" {
		t.Errorf("info = %q", c.Info)
	}
}

func TestHostIPInsideDHCPRangeIsAWarning(t *testing.T) {
	c, ds := loadCluster(t, body("c.addHost(Host('a.xrd.test', '10.0.0.150'))"))
	if c == nil {
		t.Fatalf("not loaded:\n%s", dump(ds))
	}
	wantDiag(t, ds, Warning, 11, "inside the DHCP range")
}

func md5hex(s string) string {
	return strings.TrimPrefix(pyeval.DefaultBridgeName(s), "virbr_") + strings.Repeat("0", 24)
}
