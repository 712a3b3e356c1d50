package lvxml

import (
	"encoding/xml"
	"fmt"
	"net/netip"
	"strings"

	"libvirt.org/go/libvirtxml"

	"github.com/xrdtest/xrdtest/internal/hypervisor"
	"github.com/xrdtest/xrdtest/internal/image"
)

// MetadataNS is the XML namespace of the element the backend puts in the
// <metadata> of its domains and networks.
const MetadataNS = "https://xrdtest.dev/libvirt/1"

// MasterName is the name the guests reach the master by.
const MasterName = "master.xrd.test"

// Owner is the backend's metadata element: which cluster and host an
// object belongs to, and the state file of the backend that created it.
// Objects without it, or with another state file, are never touched.
type Owner struct {
	Cluster string
	Host    string // empty for a network
	Network string
	State   string
}

// ownerOut writes the element with a fixed prefix: libvirt wants
// namespaced metadata elements to carry one.
type ownerOut struct {
	XMLName xml.Name `xml:"xrdtest:owner"`
	NS      string   `xml:"xmlns:xrdtest,attr"`
	Cluster string   `xml:"xrdtest:cluster"`
	Host    string   `xml:"xrdtest:host,omitempty"`
	Network string   `xml:"xrdtest:network"`
	State   string   `xml:"xrdtest:state"`
}

type ownerIn struct {
	XMLName xml.Name `xml:"https://xrdtest.dev/libvirt/1 owner"`
	Cluster string   `xml:"https://xrdtest.dev/libvirt/1 cluster"`
	Host    string   `xml:"https://xrdtest.dev/libvirt/1 host"`
	Network string   `xml:"https://xrdtest.dev/libvirt/1 network"`
	State   string   `xml:"https://xrdtest.dev/libvirt/1 state"`
}

// ownerBare is ownerIn without the namespace.
type ownerBare struct {
	XMLName xml.Name `xml:"owner"`
	Cluster string   `xml:"cluster"`
	Host    string   `xml:"host"`
	Network string   `xml:"network"`
	State   string   `xml:"state"`
}

func (o Owner) marshal() (string, error) {
	b, err := xml.Marshal(ownerOut{NS: MetadataNS, Cluster: o.Cluster, Host: o.Host, Network: o.Network, State: o.State})
	return string(b), err
}

// ParseOwner finds the backend's element in a metadata element or in the
// inner XML of <metadata>; ok is false when there is none.
func ParseOwner(s string) (Owner, bool) { return parseOwnerElement(s, false) }

// ParseMetadataAnswer parses what virDomainGetMetadata returns for our
// namespace: the element with its namespace stripped (<owner>...</owner>).
func ParseMetadataAnswer(s string) (Owner, bool) { return parseOwnerElement(s, true) }

func parseOwnerElement(s string, bare bool) (Owner, bool) {
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		tok, err := d.Token()
		if err != nil {
			return Owner{}, false
		}
		se, isStart := tok.(xml.StartElement)
		if !isStart || se.Name.Local != "owner" || !(se.Name.Space == MetadataNS || bare && se.Name.Space == "") {
			continue
		}
		var in ownerIn
		if se.Name.Space == "" {
			var bareIn ownerBare
			err = d.DecodeElement(&bareIn, &se)
			in = ownerIn(bareIn)
		} else {
			err = d.DecodeElement(&in, &se)
		}
		if err != nil || in.Cluster == "" || in.State == "" {
			return Owner{}, false
		}
		return Owner{Cluster: in.Cluster, Host: in.Host, Network: in.Network, State: in.State}, true
	}
}

// masterIP is the address master.xrd.test resolves to in the network.
func masterIP(spec hypervisor.ClusterSpec) string {
	if spec.Master.IP != "" {
		return spec.Master.IP
	}
	return spec.Cluster.Network.IP
}

// dnsDomain is the parent domain shared by all host names, or "".
func dnsDomain(spec hypervisor.ClusterSpec) string {
	d := ""
	for i, h := range spec.Cluster.Hosts {
		_, parent, ok := strings.Cut(h.Name, ".")
		if !ok || (i > 0 && parent != d) {
			return ""
		}
		d = parent
	}
	return d
}

// BuildNetwork is the cluster's isolated network (no <forward>): its
// bridge, gateway and subnet, DHCP with a fixed lease (MAC, address,
// short name) per host, and DNS: every host name and alias (an alias on N
// hosts gives N A records: round robin) and master.xrd.test.
func BuildNetwork(spec hypervisor.ClusterSpec, stateFile string) (*libvirtxml.Network, error) {
	c := spec.Cluster
	if c == nil {
		return nil, fmt.Errorf("cluster spec has no cluster")
	}
	n := c.Network
	if n.IP == "" || n.Netmask == "" || n.BridgeName == "" {
		return nil, fmt.Errorf("cluster %s: network %q needs ip, netmask and bridge name", c.Name, n.Name)
	}
	name := NetworkName(c.Name, n.Name)
	meta, err := Owner{Cluster: c.Name, Network: name, State: stateFile}.marshal()
	if err != nil {
		return nil, err
	}

	// DNS: one <host> per address, in definition order, master first.
	var hosts []libvirtxml.NetworkDNSHost
	index := map[string]int{}
	add := func(ip, hostname string) {
		i, ok := index[ip]
		if !ok {
			i = len(hosts)
			index[ip] = i
			hosts = append(hosts, libvirtxml.NetworkDNSHost{IP: ip})
		}
		for _, have := range hosts[i].Hostnames {
			if have.Hostname == hostname {
				return
			}
		}
		hosts[i].Hostnames = append(hosts[i].Hostnames, libvirtxml.NetworkDNSHostHostname{Hostname: hostname})
	}
	add(masterIP(spec), MasterName)
	dhcp := &libvirtxml.NetworkDHCP{}
	if n.DHCPRange[0] != "" || n.DHCPRange[1] != "" {
		dhcp.Ranges = []libvirtxml.NetworkDHCPRange{{Start: n.DHCPRange[0], End: n.DHCPRange[1]}}
	}
	for _, h := range c.Hosts {
		if h.IP == "" || h.MAC == "" {
			return nil, fmt.Errorf("cluster %s: host %s needs an ip and a mac", c.Name, h.Name)
		}
		add(h.IP, h.Name)
		for _, a := range h.Aliases {
			add(h.IP, a)
		}
		dhcp.Hosts = append(dhcp.Hosts, libvirtxml.NetworkDHCPHost{MAC: strings.ToLower(h.MAC), Name: shortName(h.Name), IP: h.IP})
	}

	x := &libvirtxml.Network{
		Name:     name,
		Metadata: &libvirtxml.NetworkMetadata{XML: meta},
		Bridge:   &libvirtxml.NetworkBridge{Name: n.BridgeName, STP: "off", Delay: "0"},
		DNS:      &libvirtxml.NetworkDNS{Host: hosts},
		IPs:      []libvirtxml.NetworkIP{{Address: n.IP, Netmask: n.Netmask, DHCP: dhcp}},
	}
	if d := dnsDomain(spec); d != "" {
		// search domain for the guests; names in it are never forwarded
		x.Domain = &libvirtxml.NetworkDomain{Name: d, LocalOnly: "yes"}
	}
	return x, nil
}

// BootParams are the key=value pairs a guest finds its identity and its
// master by: on the kernel command line (kernel boot) or as SMBIOS OEM
// strings (disk boot).
func BootParams(spec hypervisor.ClusterSpec, host string) []string {
	p := []string{
		"xrdtest.name=" + host,
		fmt.Sprintf("xrdtest.master=%s:%d", MasterName, spec.Master.Port),
	}
	if t := spec.Tokens[host]; t != "" {
		p = append(p, "xrdtest.token="+t)
	}
	p = append(p, "xrdtest.ca="+spec.Master.Fingerprint.String(), "xrdtest.gw="+spec.Cluster.Network.IP)
	return p
}

// DomainPlan is everything a host's domain XML depends on, resolved.
type DomainPlan struct {
	Name    string
	Type    string // kvm or qemu
	CPUMode string // "maximum", "host-passthrough", or "": libvirt's default CPU model
	Owner   Owner
	Arch    string
	RAMKiB  uint64
	UUID    string
	MAC     string
	Network string
	Overlay string // path of the qcow2 boot overlay
	Data    []DataDiskPlan
	Kernel  string // kernel and initrd paths; empty: disk boot
	Initrd  string
	Params  []string // BootParams
	Extra   []string // extra kernel arguments
	Console string   // serial console log file
}

// DataDiskPlan is a data disk of a DomainPlan.
type DataDiskPlan struct {
	Path   string
	Device string // vda, vdb, ...
}

func uintp(v uint) *uint { return &v }

// BuildDomain is a host's domain. The boot overlay sits on a virtio-scsi
// controller as sda, so data disks keep the virtio names (vda, vdb...) the
// definitions give them.
func BuildDomain(p DomainPlan) (*libvirtxml.Domain, error) {
	meta, err := p.Owner.marshal()
	if err != nil {
		return nil, err
	}
	arch := p.Arch
	if arch == "" {
		arch = "x86_64"
	}
	d := &libvirtxml.Domain{
		Type:       p.Type,
		Name:       p.Name,
		UUID:       p.UUID,
		Metadata:   &libvirtxml.DomainMetadata{XML: meta},
		Memory:     &libvirtxml.DomainMemory{Value: uint(p.RAMKiB), Unit: "KiB"},
		VCPU:       &libvirtxml.DomainVCPU{Value: 1},
		OS:         &libvirtxml.DomainOS{Type: &libvirtxml.DomainOSType{Arch: arch, Type: "hvm"}},
		Features:   &libvirtxml.DomainFeatureList{ACPI: &libvirtxml.DomainFeature{}},
		Clock:      &libvirtxml.DomainClock{Offset: "utc"},
		OnPoweroff: "destroy",
		OnReboot:   "destroy",
		OnCrash:    "destroy",
	}
	if p.CPUMode != "" {
		d.CPU = &libvirtxml.DomainCPU{Mode: p.CPUMode}
	}
	boot := &libvirtxml.DomainDisk{
		Device: "disk",
		Driver: &libvirtxml.DomainDiskDriver{Name: "qemu", Type: "qcow2"},
		Source: &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{File: p.Overlay}},
		Target: &libvirtxml.DomainDiskTarget{Dev: "sda", Bus: "scsi"},
	}
	if p.Kernel != "" {
		d.OS.Kernel = p.Kernel
		d.OS.Initrd = p.Initrd
		// The image's base command line (serial console, a dead guest
		// stops with panic=-1 and on_reboot=destroy, a clock that stays
		// right under TCG with <acpi/>), then the boot parameters.
		d.OS.Cmdline = strings.Join(append(append([]string{image.BaseCmdline}, p.Params...), p.Extra...), " ")
	} else {
		d.OS.SMBios = &libvirtxml.DomainSMBios{Mode: "sysinfo"}
		d.SysInfo = []libvirtxml.DomainSysInfo{{SMBIOS: &libvirtxml.DomainSysInfoSMBIOS{
			OEMStrings: &libvirtxml.DomainSysInfoOEMStrings{Entry: append([]string{}, p.Params...)},
		}}}
		boot.Boot = &libvirtxml.DomainDeviceBoot{Order: 1}
	}
	disks := []libvirtxml.DomainDisk{*boot}
	for _, dd := range p.Data {
		disks = append(disks, libvirtxml.DomainDisk{
			Device: "disk",
			Driver: &libvirtxml.DomainDiskDriver{Name: "qemu", Type: "raw"},
			Source: &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{File: dd.Path}},
			Target: &libvirtxml.DomainDiskTarget{Dev: dd.Device, Bus: "virtio"},
		})
	}
	d.Devices = &libvirtxml.DomainDeviceList{
		Disks: disks,
		Controllers: []libvirtxml.DomainController{
			{Type: "scsi", Index: uintp(0), Model: "virtio-scsi"},
			{Type: "usb", Model: "none"},
		},
		Interfaces: []libvirtxml.DomainInterface{{
			MAC:    &libvirtxml.DomainInterfaceMAC{Address: strings.ToLower(p.MAC)},
			Source: &libvirtxml.DomainInterfaceSource{Network: &libvirtxml.DomainInterfaceSourceNetwork{Network: p.Network}},
			Model:  &libvirtxml.DomainInterfaceModel{Type: "virtio"},
			ROM:    &libvirtxml.DomainROM{Enabled: "no"},
		}},
		Serials: []libvirtxml.DomainSerial{{
			Source: &libvirtxml.DomainChardevSource{File: &libvirtxml.DomainChardevSourceFile{Path: p.Console}},
			Target: &libvirtxml.DomainSerialTarget{Port: uintp(0)},
		}},
		MemBalloon: &libvirtxml.DomainMemBalloon{Model: "none"},
	}
	return d, nil
}

// BuildOverlay is a qcow2 volume backed by the boot image, which it
// leaves untouched.
func BuildOverlay(name string, capacity uint64, backing, backingFormat string) *libvirtxml.StorageVolume {
	return &libvirtxml.StorageVolume{
		Name:     name,
		Capacity: &libvirtxml.StorageVolumeSize{Unit: "bytes", Value: capacity},
		Target:   &libvirtxml.StorageVolumeTarget{Format: &libvirtxml.StorageVolumeTargetFormat{Type: "qcow2"}},
		BackingStore: &libvirtxml.StorageVolumeBackingStore{
			Path:   backing,
			Format: &libvirtxml.StorageVolumeTargetFormat{Type: backingFormat},
		},
	}
}

// BuildDataVolume is a sparse raw volume.
func BuildDataVolume(name string, size uint64) *libvirtxml.StorageVolume {
	return &libvirtxml.StorageVolume{
		Name:       name,
		Allocation: &libvirtxml.StorageVolumeSize{Unit: "bytes", Value: 0},
		Capacity:   &libvirtxml.StorageVolumeSize{Unit: "bytes", Value: size},
		Target:     &libvirtxml.StorageVolumeTarget{Format: &libvirtxml.StorageVolumeTargetFormat{Type: "raw"}},
	}
}

// prefixOf returns the subnet of an <ip> element of a network.
func prefixOf(ip libvirtxml.NetworkIP) (netip.Prefix, bool) {
	if ip.Family != "" && ip.Family != "ipv4" {
		return netip.Prefix{}, false
	}
	a, err := netip.ParseAddr(ip.Address)
	if err != nil || !a.Is4() {
		return netip.Prefix{}, false
	}
	bits := int(ip.Prefix)
	if ip.Netmask != "" {
		m, err := netip.ParseAddr(ip.Netmask)
		if err != nil || !m.Is4() {
			return netip.Prefix{}, false
		}
		b := m.As4()
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		bits = 0
		for v&(1<<31) != 0 {
			bits++
			v <<= 1
		}
	} else if ip.Prefix == 0 {
		// libvirt's default for an IPv4 address without a mask: its class
		switch b := a.As4(); {
		case b[0] < 128:
			bits = 8
		case b[0] < 192:
			bits = 16
		default:
			bits = 24
		}
	}
	p, err := a.Prefix(bits)
	return p, err == nil
}
