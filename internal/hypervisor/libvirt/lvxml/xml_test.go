package lvxml

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/hypervisor"
	"github.com/xrdtest/xrdtest/internal/pki"
)

var update = flag.Bool("update", false, "rewrite the testdata/*.golden files")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (run go test -update after checking):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

const testState = "/var/lib/xrdtest/hypervisor/state.json"

// goldenCluster: three hosts, an alias on all three (round robin), one
// alias on one host, data disks on two.
// goldenXML compares the document of x with testdata/name (see golden)
// and returns it.
func goldenXML(t *testing.T, name string, x interface{ Marshal() (string, error) }) string {
	t.Helper()
	doc, err := x.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, name, doc+"\n")
	return doc
}

func goldenCluster() *definition.Cluster {
	host := func(n int, aliases []string, disks []definition.Disk) *definition.Host {
		d := string(rune('0' + n))
		return &definition.Host{
			Name:           "h" + d + ".rr.xrd.test",
			IP:             "10.213.50.1" + d,
			MAC:            "52:54:00:AB:50:0" + d,
			RAMKiB:         163840,
			Arch:           "x86_64",
			BootImage:      "slave.qcow2",
			CacheBootImage: true,
			Aliases:        aliases,
			Disks:          disks,
		}
	}
	return &definition.Cluster{
		Name: "rr",
		Network: definition.Network{
			Name:       "rr_net",
			IP:         "10.213.50.1",
			Netmask:    "255.255.255.0",
			DHCPRange:  [2]string{"10.213.50.100", "10.213.50.200"},
			BridgeName: "xrdrr0",
		},
		Hosts: []*definition.Host{
			host(1, []string{"pool.rr.xrd.test", "redirector.rr.xrd.test"}, []definition.Disk{
				{Name: "data", Size: 64 << 20, Device: "vda", MountPoint: "/data", Cache: true},
				{Name: "scratch", Size: 1 << 30, Device: "vdb", MountPoint: "/scratch"},
			}),
			host(2, []string{"pool.rr.xrd.test"}, []definition.Disk{
				{Name: "data", Size: 64 << 20, Device: "vda", MountPoint: "/data"},
			}),
			host(3, []string{"pool.rr.xrd.test"}, nil),
		},
	}
}

func goldenSpec() hypervisor.ClusterSpec {
	var fp pki.Fingerprint
	for i := range fp {
		fp[i] = byte(i)
	}
	return hypervisor.ClusterSpec{
		Cluster: goldenCluster(),
		Master:  hypervisor.MasterEndpoint{Port: 20000, Fingerprint: fp},
		Tokens: map[string]string{
			"h1.rr.xrd.test": "tok-1",
			"h2.rr.xrd.test": "tok-2",
			"h3.rr.xrd.test": "tok-3",
		},
	}
}

func TestGoldenNetwork(t *testing.T) {
	for _, tc := range []struct {
		name     string
		masterIP string
	}{
		{"network.golden", ""},                      // master.xrd.test -> gateway
		{"network-master-ip.golden", "10.213.50.5"}, // master elsewhere on the net
		{"network-master-on-host.golden", "10.213.50.13"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := goldenSpec()
			spec.Master.IP = tc.masterIP
			x, err := BuildNetwork(spec, testState)
			if err != nil {
				t.Fatal(err)
			}
			doc := goldenXML(t, tc.name, x)
			if x.Forward != nil {
				t.Error("network has a <forward>: it must be isolated")
			}
			if strings.Count(doc, "<hostname>pool.rr.xrd.test</hostname>") != 3 {
				t.Error("alias pool.rr.xrd.test should have 3 A records (round robin)")
			}
		})
	}
}

func goldenPlan(spec hypervisor.ClusterSpec, h *definition.Host, typ string, kernel bool) DomainPlan {
	c := spec.Cluster
	dom := DomainName(c.Name, h.Name)
	p := DomainPlan{
		Name:    dom,
		Type:    typ,
		Owner:   Owner{Cluster: c.Name, Host: h.Name, Network: NetworkName(c.Name, c.Network.Name), State: testState},
		Arch:    h.Arch,
		RAMKiB:  h.RAMKiB,
		UUID:    h.UUID,
		MAC:     h.MAC,
		Network: NetworkName(c.Name, c.Network.Name),
		Overlay: "/pool/" + OverlayVolumeName(c.Name, h.Name),
		Params:  BootParams(spec, h.Name),
		Console: "/var/lib/xrdtest/hypervisor/" + ConsoleFile(dom),
	}
	for _, d := range h.Disks {
		p.Data = append(p.Data, DataDiskPlan{Path: "/pool/" + DataVolumeName(c.Name, h.Name, d.Name), Device: d.Device})
	}
	p.CPUMode = map[string]string{"qemu": "maximum", "kvm": "host-passthrough"}[typ] // what the backend picks when libvirt offers it
	if kernel {
		p.Kernel, p.Initrd = "/pool/slave.vmlinuz", "/pool/slave.initrd.img"
		p.Extra = []string{"loglevel=7"}
	}
	return p
}

func TestGoldenDomain(t *testing.T) {
	spec := goldenSpec()
	hosts := spec.Cluster.Hosts
	hosts[2].UUID = "8f0e4c52-7a3b-4c55-9d0e-2a7c5b1e9f01"
	hosts[2].Arch = "i686"
	for _, tc := range []struct {
		name   string
		host   *definition.Host
		typ    string
		kernel bool
	}{
		{"domain-kernel-kvm-disks.golden", hosts[0], "kvm", true},
		{"domain-kernel-qemu.golden", hosts[1], "qemu", true},
		{"domain-smbios-qemu-disks.golden", hosts[0], "qemu", false},
		{"domain-smbios-kvm-i686.golden", hosts[2], "kvm", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x, err := BuildDomain(goldenPlan(spec, tc.host, tc.typ, tc.kernel))
			if err != nil {
				t.Fatal(err)
			}
			goldenXML(t, tc.name, x)
			if o, ok := ParseOwner(x.Metadata.XML); !ok || o.Cluster != "rr" || o.Host != tc.host.Name || o.State != testState {
				t.Errorf("metadata does not parse back: %+v %v", o, ok)
			}
		})
	}
}

func TestGoldenVolumes(t *testing.T) {
	ov, err := BuildOverlay("rr_h1.rr.xrd.test.qcow2", 2<<30, "/pool/slave.qcow2", "qcow2").Marshal()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "volume-overlay.golden", ov+"\n")
	dv, err := BuildDataVolume("rr_h1.rr.xrd.test_data.img", 64<<20).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "volume-data.golden", dv+"\n")
}

func TestBootParams(t *testing.T) {
	spec := goldenSpec()
	got := strings.Join(BootParams(spec, "h1.rr.xrd.test"), " ")
	want := "xrdtest.name=h1.rr.xrd.test xrdtest.master=master.xrd.test:20000 xrdtest.token=tok-1 " +
		"xrdtest.ca=sha256:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f xrdtest.gw=10.213.50.1"
	if got != want {
		t.Errorf("BootParams = %q\nwant %q", got, want)
	}
	delete(spec.Tokens, "h1.rr.xrd.test")
	if got := strings.Join(BootParams(spec, "h1.rr.xrd.test"), " "); strings.Contains(got, "xrdtest.token") {
		t.Errorf("no token in the spec, yet %q", got)
	}
}

func TestParseOwner(t *testing.T) {
	o := Owner{Cluster: "c", Host: "h1.x.test", Network: "c_net", State: "/s/state.json"}
	s, err := o.marshal()
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := ParseOwner(s); !ok || got != o {
		t.Errorf("round trip: %+v %v", got, ok)
	}
	// As libvirt returns it: indented, inside <metadata>, beside others.
	lv := `<metadata>
    <other:thing xmlns:other="https://example.org/x"><other:cluster>no</other:cluster></other:thing>
    <xrdtest:owner xmlns:xrdtest="https://xrdtest.dev/libvirt/1">
      <xrdtest:cluster>c</xrdtest:cluster>
      <xrdtest:host>h1.x.test</xrdtest:host>
      <xrdtest:network>c_net</xrdtest:network>
      <xrdtest:state>/s/state.json</xrdtest:state>
    </xrdtest:owner>
  </metadata>`
	if got, ok := ParseOwner(lv); !ok || got != o {
		t.Errorf("libvirt form: %+v %v", got, ok)
	}
	for _, bad := range []string{
		"",
		`<owner><cluster>c</cluster><state>/s</state></owner>`,                                        // no namespace
		`<x:owner xmlns:x="https://xrdtest.dev/libvirt/2"><x:cluster>c</x:cluster></x:owner>`,         // other version
		`<x:owner xmlns:x="https://xrdtest.dev/libvirt/1"><x:cluster>c</x:cluster></x:owner>`,         // no state
		`<x:owner xmlns:x="https://xrdtest.dev/libvirt/1"><x:state>/s/state.json</x:state></x:owner>`, // no cluster
	} {
		if got, ok := ParseOwner(bad); ok {
			t.Errorf("ParseOwner(%q) = %+v, want none", bad, got)
		}
	}
}

func TestParseMetadataAnswer(t *testing.T) {
	// virDomainGetMetadata answers with the namespace stripped.
	answer := `<owner>
  <cluster>it</cluster>
  <host>h1.it.xrd.test</host>
  <network>it_it_net</network>
  <state>/s/state.json</state>
</owner>`
	want := Owner{Cluster: "it", Host: "h1.it.xrd.test", Network: "it_it_net", State: "/s/state.json"}
	if got, ok := ParseMetadataAnswer(answer); !ok || got != want {
		t.Errorf("parseMetadataAnswer = %+v, %v", got, ok)
	}
	if got, ok := ParseOwner(answer); ok {
		t.Errorf("ParseOwner took a bare element from a <metadata>: %+v", got)
	}
	if _, ok := ParseMetadataAnswer("<owner><cluster>it</cluster></owner>"); ok {
		t.Error("an answer without state accepted")
	}
}

func TestDNSDomain(t *testing.T) {
	spec := goldenSpec()
	if d := dnsDomain(spec); d != "rr.xrd.test" {
		t.Errorf("dnsDomain = %q", d)
	}
	spec.Cluster.Hosts[1].Name = "h2.other.test"
	if d := dnsDomain(spec); d != "" {
		t.Errorf("mixed domains: dnsDomain = %q, want none", d)
	}
}
