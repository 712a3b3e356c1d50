package netns

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/hypervisor"
)

// MasterName resolves, in every host, to the address the master's web
// and daemon ports are reached at.
const MasterName = "master.xrd.test"

// ErrInvalid wraps every error about a cluster this backend cannot run
// as defined; the message names the host and the field.
var ErrInvalid = errors.New("invalid cluster")

// plan is a validated cluster with everything a start derives from it.
type plan struct {
	cluster string
	net     netip.Prefix // the network: gateway address and prefix length
	hosts   []hostPlan
	// master is the address master.xrd.test resolves to: the gateway,
	// where the cluster's forwarder listens, unless the spec names one.
	master netip.Addr
}

// hostPlan is one host as the start builds it.
type hostPlan struct {
	name    string // FQDN (or a single label)
	short   string // its first label: the UTS host name
	addr    netip.Addr
	mac     string // "" when the definition has none: the kernel picks one
	aliases []string
	ramKiB  uint64
	disks   []definition.Disk
}

// hostLabel is one label of an RFC 1123 host name; a short name (a
// label) always fits the kernel's 64-byte host name.
var hostLabel = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

func validHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if !hostLabel.MatchString(l) {
			return false
		}
	}
	return true
}

// newPlan checks spec's cluster and derives the plan. freeBytes is the
// free space where the hosts' disk files go: the sum of all disk sizes
// must fit in it. Every error wraps ErrInvalid and names the host and
// the field.
func newPlan(spec hypervisor.ClusterSpec, freeBytes uint64) (*plan, error) {
	c := spec.Cluster
	if c == nil {
		return nil, fmt.Errorf("%w: the spec has no cluster", ErrInvalid)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %s: %s", ErrInvalid, c.Name, fmt.Sprintf(format, args...))
	}
	if len(c.Hosts) == 0 {
		return nil, bad("no hosts")
	}
	n := c.Network
	gw, err := netip.ParseAddr(n.IP)
	if err != nil || !gw.Is4() {
		return nil, bad("network %s: ip %q is not an IPv4 address", n.Name, n.IP)
	}
	mask, err := netip.ParseAddr(n.Netmask)
	bits := maskBits(mask)
	if err != nil || bits < 8 || bits > 30 {
		return nil, bad("network %s: netmask %q is not a netmask from /8 to /30", n.Name, n.Netmask)
	}
	p := &plan{cluster: c.Name, net: netip.PrefixFrom(gw, bits)}
	subnet := p.net.Masked()
	last := broadcast(subnet)
	if gw == subnet.Addr() || gw == last {
		return nil, bad("network %s: ip %s is the network's own or broadcast address", n.Name, gw)
	}
	// inside reports why an address cannot be a host's, or "".
	inside := func(a netip.Addr) string {
		switch {
		case !subnet.Contains(a):
			return "outside network " + subnet.String()
		case a == subnet.Addr(), a == last:
			return "the network's own or broadcast address"
		case a == gw:
			return "the gateway's address"
		}
		return ""
	}

	used := map[netip.Addr]string{gw: "the gateway"}
	names := map[string]string{MasterName: "master.xrd.test"}
	var total uint64
	for _, h := range c.Hosts {
		hbad := func(field, format string, args ...any) error {
			return bad("host %s: %s: %s", h.Name, field, fmt.Sprintf(format, args...))
		}
		if !validHostname(h.Name) {
			return nil, hbad("name", "%q is not a valid host name (letters, digits and inner hyphens, labels of at most 63, dot-separated)", h.Name)
		}
		short, _, _ := strings.Cut(h.Name, ".")
		hp := hostPlan{name: h.Name, short: short, mac: h.MAC, aliases: slices.Clone(h.Aliases), ramKiB: h.RAMKiB, disks: slices.Clone(h.Disks)}
		for _, key := range []string{strings.ToLower(h.Name), strings.ToLower(short)} {
			if other, dup := names[key]; dup && other != h.Name {
				return nil, hbad("name", "%q is also %s's name", key, other)
			}
			names[key] = h.Name
		}
		if h.IP != "" {
			a, err := netip.ParseAddr(h.IP)
			if err != nil || !a.Is4() {
				return nil, hbad("ip", "%q is not an IPv4 address", h.IP)
			}
			if why := inside(a); why != "" {
				return nil, hbad("ip", "%s is %s", a, why)
			}
			if other, dup := used[a]; dup {
				return nil, hbad("ip", "%s is also %s's address", a, other)
			}
			used[a] = h.Name
			hp.addr = a
		}
		for _, al := range h.Aliases {
			if !validHostname(al) {
				return nil, hbad("aliases", "%q is not a valid host name", al)
			}
		}
		if h.RAMKiB != 0 && h.RAMKiB < minRAMKiB {
			return nil, hbad("ramSize", "%d KiB is below the %d KiB a host needs here (the memory limit of all its processes)", h.RAMKiB, minRAMKiB)
		}
		if h.MAC != "" {
			if _, err := parseMAC(h.MAC); err != nil {
				return nil, hbad("mac", "%q: %v", h.MAC, err)
			}
		}
		disks := map[string]bool{}
		for _, d := range h.Disks {
			switch {
			case d.Name == "" || disks[d.Name]:
				return nil, hbad("disks", "disk name %q is empty or used twice", d.Name)
			case !strings.HasPrefix(d.MountPoint, "/") || d.MountPoint == "/":
				return nil, hbad("disks", "disk %s: mount point %q is not an absolute path below /", d.Name, d.MountPoint)
			case d.Size < minDiskSize:
				return nil, hbad("disks", "disk %s: size %d is below the %d bytes an ext4 needs", d.Name, d.Size, minDiskSize)
			}
			disks[d.Name] = true
			if total += d.Size; total > freeBytes {
				return nil, hbad("disks", "disk %s of %d bytes does not fit: %d bytes are free for the cluster's disks, %d of them taken by those before it",
					d.Name, d.Size, freeBytes, total-d.Size)
			}
		}
		p.hosts = append(p.hosts, hp)
	}
	// Aliases may be shared (round robin) but not be a host's own name.
	for _, h := range p.hosts {
		for _, al := range h.aliases {
			if owner, ok := names[strings.ToLower(al)]; ok {
				return nil, bad("host %s: aliases: %q is %s's name", h.name, al, owner)
			}
		}
	}
	if err := p.assignAddresses(n, inside, used); err != nil {
		return nil, err
	}
	p.master = gw
	if spec.Master.IP != "" {
		m, err := netip.ParseAddr(spec.Master.IP)
		if err != nil {
			return nil, bad("master: ip %q is not an address", spec.Master.IP)
		}
		p.master = m
	}
	return p, nil
}

// minRAMKiB is the smallest ramSize a host runs a stage in: bash,
// nsenter and a little room for what the stage starts. 0 means no limit.
const minRAMKiB = 16 << 10

// minDiskSize is the smallest file system mkfs.ext4 makes without
// complaint.
const minDiskSize = 1 << 20

// assignAddresses gives each host without an address one from the DHCP
// range (or, without a range, from the whole network): where a hash of
// its name falls, or the next free one, so that a host keeps its address
// across starts as long as the cluster does not change.
func (p *plan) assignAddresses(n definition.Network, inside func(netip.Addr) string, used map[netip.Addr]string) error {
	lo, hi := p.net.Masked().Addr().Next(), broadcast(p.net.Masked()).Prev()
	if n.DHCPRange[0] != "" || n.DHCPRange[1] != "" {
		a, err1 := netip.ParseAddr(n.DHCPRange[0])
		b, err2 := netip.ParseAddr(n.DHCPRange[1])
		if sub := p.net.Masked(); err1 != nil || err2 != nil || !sub.Contains(a) || !sub.Contains(b) || b.Less(a) {
			return fmt.Errorf("%w %s: network %s: DHCP range %s-%s is not a range inside the network", ErrInvalid, p.cluster, n.Name, n.DHCPRange[0], n.DHCPRange[1])
		}
		lo, hi = a, b
	}
	size := uint64(ipv4(hi)-ipv4(lo)) + 1
	for i := range p.hosts {
		h := &p.hosts[i]
		if h.addr.IsValid() {
			continue
		}
		f := fnv.New64a()
		f.Write([]byte(h.name))
		start := f.Sum64() % size
		for k := range size {
			a := fromIPv4(ipv4(lo) + uint32((start+k)%size))
			if _, taken := used[a]; !taken && inside(a) == "" {
				h.addr = a
				used[a] = h.name
				break
			}
		}
		if !h.addr.IsValid() {
			return fmt.Errorf("%w %s: host %s: ip: none defined and no free address left in %s-%s", ErrInvalid, p.cluster, h.name, lo, hi)
		}
	}
	return nil
}

// record is one name and the addresses a lookup of it returns, in
// definition order.
type record struct {
	name  string
	addrs []netip.Addr
}

// records are the cluster's DNS names: master.xrd.test, then every
// host's FQDN and short name, then every alias with the addresses of all
// the hosts that share it (round robin).
func (p *plan) records() []record {
	var out []record
	index := map[string]int{}
	add := func(name string, a netip.Addr) {
		key := strings.ToLower(name)
		i, ok := index[key]
		if !ok {
			i = len(out)
			index[key] = i
			out = append(out, record{name: name})
		}
		if !slices.Contains(out[i].addrs, a) {
			out[i].addrs = append(out[i].addrs, a)
		}
	}
	add(MasterName, p.master)
	for _, h := range p.hosts {
		add(h.name, h.addr)
		if h.short != h.name {
			add(h.short, h.addr)
		}
	}
	for _, h := range p.hosts {
		for _, al := range h.aliases {
			add(al, h.addr)
		}
	}
	return out
}

// hostsFile is the /etc/hosts of host h: localhost, then every host of
// the cluster (FQDN first, then its short name), then master.xrd.test.
// Aliases are left to the DNS server, which returns all their addresses.
func (p *plan) hostsFile(h hostPlan) string {
	var b strings.Builder
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	for _, o := range p.hosts {
		if o.short != o.name {
			fmt.Fprintf(&b, "%s\t%s %s\n", o.addr, o.name, o.short)
		} else {
			fmt.Fprintf(&b, "%s\t%s\n", o.addr, o.name)
		}
	}
	fmt.Fprintf(&b, "%s\t%s\n", p.master, MasterName)
	return b.String()
}

func maskBits(m netip.Addr) int {
	if !m.Is4() {
		return -1
	}
	v := ipv4(m)
	bits := 0
	for v&(1<<31) != 0 {
		bits++
		v <<= 1
	}
	if v != 0 {
		return -1 // not contiguous
	}
	return bits
}

func broadcast(p netip.Prefix) netip.Addr {
	return fromIPv4(ipv4(p.Addr()) | ^uint32(0)>>p.Bits())
}

func ipv4(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func fromIPv4(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// parseMAC accepts a unicast MAC address, hh:hh:hh:hh:hh:hh.
func parseMAC(s string) (string, error) {
	var b [6]byte
	if n, err := fmt.Sscanf(strings.ToLower(s), "%02x:%02x:%02x:%02x:%02x:%02x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]); err != nil || n != 6 || len(s) != 17 {
		return "", errors.New("not hh:hh:hh:hh:hh:hh")
	}
	if b[0]&1 != 0 {
		return "", errors.New("a multicast address")
	}
	return strings.ToLower(s), nil
}

// resolvConf is every host's /etc/resolv.conf: the cluster's DNS server
// on the gateway, the hosts' domain to search, and a quick failure rather
// than the libc's 5 s waits when a lookup gets no answer.
func (p *plan) resolvConf() string {
	var b strings.Builder
	fmt.Fprintf(&b, "nameserver %s\n", p.net.Addr())
	if d := p.domain(); d != "" {
		fmt.Fprintf(&b, "search %s\n", d)
	}
	b.WriteString("options timeout:1 attempts:2\n")
	return b.String()
}

// domain is the parent domain shared by all host names, or "".
func (p *plan) domain() string {
	d := ""
	for i, h := range p.hosts {
		_, parent, ok := strings.Cut(h.name, ".")
		if !ok || (i > 0 && parent != d) {
			return ""
		}
		d = parent
	}
	return d
}

// gatewayPrefix reads a recorded gateway address back as the prefix
// forward needs.
func gatewayPrefix(s string) (netip.Prefix, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, 32), nil
}
