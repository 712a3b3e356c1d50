package definition

import (
	"context"
	"strings"
	"testing"

	"github.com/xrdtest/xrdtest/internal/definition/pyeval"
)

// TestClusterMustReject has one case per cluster error that DEFINITIONS.md
// requires; each must name the line that is wrong (0: the whole file).
func TestClusterMustReject(t *testing.T) {
	const first = 11 // the first line after clusterHeader
	host := "c.addHost(Host('a.xrd.test', '10.0.0.5'))"
	tests := []struct {
		name string
		src  string
		line int
		want string
	}{
		{"name differs from file stem", strings.Replace(body(host), "Cluster('cluster_t')", "Cluster('cluster_u')", 1), 4, `cluster name "cluster_u" does not match the file name cluster_t.py`},
		{"no name", strings.Replace(body(host), "Cluster('cluster_t')", "Cluster()", 1), 4, "the cluster has no name"},
		{"duplicate MAC", body("c.addHost(Host('a.xrd.test', '10.0.0.5', mac='52:54:00:00:00:01'))", "c.addHost(Host('b.xrd.test', '10.0.0.6', mac='52:54:00:00:00:01'))"), first + 1, "mac 52:54:00:00:00:01 is already used by host \"a.xrd.test\""},
		{"host on another network", body("c.addHost(Host('a.xrd.test', '10.0.0.5', 'other_net'))"), first, `network "other_net" is not the cluster's network "cluster_t_net"`},
		{"gateway is the first DHCP address", body("c.network.DHCPRange = ('10.0.0.1', '10.0.0.50')", host), first, "contains the gateway"},
		{"no gateway ip", body("c.network.ip = ''", host), first, "ip (the gateway) is missing"},
		{"no DHCP range", body("c.network.DHCPRange = ('', '')", host), first, "DHCPRange start is missing"},
		{"DHCP range not a pair", body("c.network.DHCPRange = '10.0.0.100'", host), first, "DHCPRange must be a pair"},
		{"disk size with GB", body("h = Host('a.xrd.test', '10.0.0.5')", "h.disks = [Disk('d', '20GB')]", "c.addHost(h)"), first + 1, `invalid disk size "20GB"`},
		{"disk size lower case", body("h = Host('a.xrd.test', '10.0.0.5')", "h.disks = [Disk('d', '20g')]", "c.addHost(h)"), first + 1, `invalid disk size "20g"`},
		{"duplicate host name", body(host, "c.addHost(Host('a.xrd.test', '10.0.0.6'))"), first + 1, `name a.xrd.test is already used by host "a.xrd.test" (line 11)`},
		{"duplicate host IP", body(host, "c.addHost(Host('b.xrd.test', '10.0.0.5'))"), first + 1, `ip 10.0.0.5 is already used by host "a.xrd.test"`},
		{"bad host IP", body("c.addHost(Host('a.xrd.test', '10.0.0.300'))"), first, `ip "10.0.0.300" is invalid`},
		{"IPv6 host IP", body("c.addHost(Host('a.xrd.test', 'fe80::1'))"), first, `ip "fe80::1" is invalid`},
		{"no host IP", body("c.addHost(Host('a.xrd.test'))"), first, "ip is missing"},
		{"bad gateway", body("c.network.ip = '10.0.0'", host), first, `ip (the gateway) "10.0.0" is invalid`},
		{"bad netmask", body("c.network.netmask = '255.0.255.0'", host), first, `netmask "255.0.255.0" is invalid`},
		{"bad MAC", body("c.addHost(Host('a.xrd.test', '10.0.0.5', mac='52:54:00:00:01'))"), first, `mac "52:54:00:00:01" is invalid`},
		{"multicast MAC", body("c.addHost(Host('a.xrd.test', '10.0.0.5', mac='01:00:5e:00:00:01'))"), first, "multicast"},
		{"host IP outside the subnet", body("c.addHost(Host('a.xrd.test', '10.0.1.5'))"), first, "ip 10.0.1.5 is outside the network 10.0.0.0/255.255.255.0"},
		{"host IP is the gateway", body("c.addHost(Host('a.xrd.test', '10.0.0.1'))"), first, "is the network's gateway"},
		{"host IP is the network address", body("c.addHost(Host('a.xrd.test', '10.0.0.0'))"), first, "network or broadcast address"},
		{"host IP is the broadcast address", body("c.addHost(Host('a.xrd.test', '10.0.0.255'))"), first, "network or broadcast address"},
		{"range reversed", body("c.network.DHCPRange = ('10.0.0.200', '10.0.0.100')", host), first, "is reversed"},
		{"range outside the subnet", body("c.network.DHCPRange = ('10.0.0.100', '10.0.1.20')", host), first, "is not inside the subnet"},
		{"range contains the gateway", body("c.network.ip = '10.0.0.150'", host), 10, "contains the gateway 10.0.0.150"},
		{"empty ramSize", body("c.defaultHost.ramSize = ''", host), first, "no ramSize"},
		{"bad ramSize", body("c.defaultHost.ramSize = '1G'", host), first, "ramSize must be a digit string or an int"},
		{"empty arch", body("c.defaultHost.arch = ''", host), first, "no arch"},
		{"unknown arch", body("c.defaultHost.arch = 'sparc'", host), first, `unsupported arch "sparc"`},
		{"no boot image", body("c.defaultHost.bootImage = None", host), first + 1, "no boot image"},
		{"boot image path", body("c.defaultHost.bootImage = '../etc/passwd'", host), first, "invalid bootImage"},
		{"duplicate disk names", body("h = Host('a.xrd.test', '10.0.0.5')", "h.disks = [Disk('d', '1G', 'vdb'), Disk('d', '1G', 'vdc', '/e')]", "c.addHost(h)"), first + 1, `duplicate disk name "d"`},
		{"duplicate devices", body("h = Host('a.xrd.test', '10.0.0.5')", "h.disks = [Disk('d', '1G', 'vdb'), Disk('e', '1G', 'vdb', '/e')]", "c.addHost(h)"), first + 1, `duplicate device "vdb"`},
		{"mount point with shell characters", body("h = Host('a.xrd.test', '10.0.0.5')", "h.disks = [Disk('d', '1G', 'vdb', '/data; rm -rf /')]", "c.addHost(h)"), first + 1, "invalid mountPoint"},
		{"host name not RFC 1123", body("c.addHost(Host('a_b.xrd.test', '10.0.0.5'))"), first, `invalid host name "a_b.xrd.test"`},
		{"host name with shell characters", body("c.addHost(Host('a;reboot', '10.0.0.5'))"), first, "invalid host name"},
		{"alias not RFC 1123", body("c.addHost(Host('a.xrd.test', '10.0.0.5', aliases=['$(id)']))"), first, `invalid alias "$(id)"`},
		{"bridge name too long", body("c.network.bridgeName = 'virbr_much_too_long'", host), first, "invalid bridgeName"},
		{"no hosts", body(), 4, "has no hosts"},
		{"hosts not Hosts", body("c.addHosts(['a.xrd.test'])"), first, "want a Host, got string"},
		{"network not a Network", body("c.network = 'lab_net'", host), first, "Cluster.network must be a Network"},
		{"bad uuid", body("c.addHost(Host('a.xrd.test', '10.0.0.5', uuid='1234'))"), first, `invalid uuid "1234"`},
		{"wrong attribute type", body("h = Host('a.xrd.test', '10.0.0.5')", "h.aliases = 'x.xrd.test'", "c.addHost(h)"), first + 1, "aliases must be a list"},
		// Section 0: evaluation.
		{"other import", "import os\n" + body(host), 1, `import of "os" is not allowed`},
		{"from other module", "from os.path import join\n" + body(host), 1, `import of "os.path" is not allowed`},
		{"no getCluster", "def getClusterDef():\n    return None\n", 0, "no getCluster() function"},
		{"getCluster returns None", "def getCluster():\n    return None\n", 1, "getCluster() returned None, want a Cluster"},
		{"getCluster returns a Host", "def getCluster():\n    return Host('a')\n", 1, "getCluster() returned a Host"},
		{"getCluster not a function", "getCluster = 3\n", 0, "no getCluster() function"},
		{"Python 2 print", body("print 'hello'", host), first, "Python 2 print statement"},
		{"Python 2 unicode literal", body("x = u'hello'", host), first, "syntax error"},
		{"class statement", "class Foo:\n    pass\n" + body(host), 1, "syntax error"},
		{"try statement", body("try:", "    pass", "except:", "    pass"), first, "syntax error"},
		{"undefined name", body("c.addHost(Hots('a.xrd.test', '10.0.0.5'))"), first, "undefined: Hots"},
		{"runtime error", body("x = 1 / 0", host), first, "division by zero"},
		{"load statement", "load('x.star', 'y')\n" + body(host), 1, "load() is not allowed"},
		{"endless loop", body("n = 0", "while n >= 0:", "    n += 1"), first + 2, "evaluation stopped after"},
		{"recursion", clusterHeader + "    return f(c)\n\ndef f(c):\n    return f(c)\n", 14, "called recursively"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ds := loadCluster(t, tt.src)
			if c != nil {
				t.Errorf("cluster loaded; want it rejected")
			}
			wantDiag(t, ds, Error, tt.line, tt.want)
			if tt.line == 0 {
				for _, d := range ds.Errors() {
					if d.File != "clusters/cluster_t.py" {
						t.Errorf("error names file %q", d.File)
					}
				}
			}
		})
	}
}

// TestClustersAcrossFiles covers the checks between clusters: names,
// networks, bridges and gateways must differ; overlapping subnets warn.
func TestClustersAcrossFiles(t *testing.T) {
	cluster := func(name, ip, mask, lo, hi, extra string, hostIP ...string) string {
		if hostIP == nil {
			hostIP = []string{ip[:strings.LastIndex(ip, ".")] + ".5"}
		}
		return "def getCluster():\n" +
			"    c = Cluster('" + name + "')\n" +
			"    c.defaultHost.bootImage = 'i.img'\n    c.defaultHost.arch = 'x86_64'\n    c.defaultHost.ramSize = 1024\n" +
			"    c.network.ip = '" + ip + "'\n    c.network.netmask = '" + mask + "'\n" +
			"    c.network.DHCPRange = ('" + lo + "', '" + hi + "')\n" + extra +
			"    c.addHost(Host('h-" + name[len(name)-1:] + ".xrd.test', '" + hostIP[0] + "'))\n    return c\n"
	}
	tests := []struct {
		name  string
		b     string
		sev   Severity
		want  string
		loads bool
	}{
		{"same gateway", cluster("cluster_b", "10.0.0.1", "255.255.255.0", "10.0.0.100", "10.0.0.200", ""), Error, `network ip "10.0.0.1" is already used by cluster "cluster_a" in clusters/cluster_a.py`, false},
		{"same network name", cluster("cluster_b", "10.0.1.1", "255.255.255.0", "10.0.1.100", "10.0.1.200", "    c.network.name = 'cluster_a_net'\n"), Error, `network name "cluster_a_net" is already used by cluster "cluster_a"`, false},
		{"same bridge", cluster("cluster_b", "10.0.1.1", "255.255.255.0", "10.0.1.100", "10.0.1.200", "    c.network.bridgeName = '"+pyeval.DefaultBridgeName("cluster_a_net")+"'\n"), Error, "bridge name", false},
		{"overlapping subnet", cluster("cluster_b", "10.0.0.129", "255.255.255.128", "10.0.0.200", "10.0.0.250", "", "10.0.0.130"), Warning, "overlaps network 10.0.0.1/255.255.255.0", true},
		{"disjoint", cluster("cluster_b", "10.0.1.1", "255.255.255.0", "10.0.1.100", "10.0.1.200", ""), Warning, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := loadRepo(t, map[string]string{
				"clusters/cluster_a.py": cluster("cluster_a", "10.0.0.1", "255.255.255.0", "10.0.0.100", "10.0.0.200", ""),
				"clusters/cluster_b.py": tt.b,
				"test-suites/.keep":     "",
			})
			if set.Cluster("cluster_a") == nil {
				t.Fatalf("cluster_a did not load:\n%s", dump(set.Diagnostics))
			}
			if got := set.Cluster("cluster_b") != nil; got != tt.loads {
				t.Errorf("cluster_b loaded = %v, want %v:\n%s", got, tt.loads, dump(set.Diagnostics))
			}
			if tt.want != "" {
				wantDiag(t, set.Diagnostics, tt.sev, 0, tt.want)
			} else if len(set.Diagnostics) > 0 {
				t.Errorf("unexpected diagnostics:\n%s", dump(set.Diagnostics))
			}
		})
	}
}

func TestClusterNameClashAcrossRepos(t *testing.T) {
	src := body("c.addHost(Host('a.xrd.test', '10.0.0.5'))")
	r1 := writeRepo(t, map[string]string{"clusters/cluster_t.py": src, "test-suites/.keep": ""})
	r2 := writeRepo(t, map[string]string{"clusters/cluster_t.py": src, "test-suites/.keep": ""})
	set := Load(context.Background(), []Repo{{Root: r1}, {Root: r2}}, Options{})
	if len(set.Clusters) != 1 || set.Clusters[0].Repo != r1 {
		t.Fatalf("want the first repo's cluster only, got %d clusters", len(set.Clusters))
	}
	// The error is on the second file and names the first one.
	for _, d := range set.Diagnostics.Errors() {
		if d.Repo == r2 && d.File == "clusters/cluster_t.py" && strings.Contains(d.Message, r1) {
			return
		}
	}
	t.Errorf("no clash error naming both files:\n%s", dump(set.Diagnostics))
}

func TestMemoryBomb(t *testing.T) {
	src := body("s = 'x' * 1000000", "big = [s * 8 for i in range(100000)]", "c.addHost(Host('a.xrd.test', '10.0.0.5'))")
	root := writeRepo(t, map[string]string{"clusters/cluster_t.py": src, "test-suites/.keep": ""})
	set := Load(context.Background(), []Repo{{Root: root}}, Options{MaxMemory: 64 << 20})
	if set.Cluster("cluster_t") != nil {
		t.Fatal("a definition allocating 800 GB loaded")
	}
	wantDiag(t, set.Diagnostics, Error, 12, "used more than 64 MiB of memory")
}
