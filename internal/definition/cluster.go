package definition

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"

	"go.starlark.net/starlark"

	"github.com/xrdtest/xrdtest/internal/definition/pyeval"
)

// subnet is a validated IPv4 network of a cluster.
type subnet struct {
	gw, mask, lo, hi uint32
	valid            bool // ip, netmask and range parsed and consistent
}

func (s subnet) network() uint32   { return s.gw & s.mask }
func (s subnet) broadcast() uint32 { return s.gw | ^s.mask }
func (s subnet) contains(ip uint32) bool {
	return ip&s.mask == s.network()
}
func (s subnet) inRange(ip uint32) bool { return ip >= s.lo && ip <= s.hi }

// overlaps reports whether two subnets share an address.
func (s subnet) overlaps(t subnet) bool {
	m := s.mask & t.mask // the shorter prefix
	return s.gw&m == t.gw&m
}

// convertCluster validates an evaluated cluster and builds its model; nil
// if it has errors. stem is the file name without .py.
func convertCluster(rep reporter, root *pyeval.Object, stem string) (*Cluster, subnet) {
	c := &conv{rep: rep}
	cl := &Cluster{File: rep.file, Repo: rep.repo}
	cl.Name = c.str(root, "name")
	switch {
	case cl.Name == "":
		c.errorf(root.LineOf("name"), "the cluster has no name: use Cluster(%q)", stem)
	case cl.Name != stem:
		c.errorf(root.LineOf("name"), "cluster name %q does not match the file name %s.py: they must be equal", cl.Name, stem)
	case !validName(cl.Name):
		c.errorf(root.LineOf("name"), "invalid cluster name %q: use letters, digits, '_', '.' and '-'", cl.Name)
	}
	if info := root.Get("info"); info != nil && info != starlark.None {
		if s, ok := starlark.AsString(info); ok {
			cl.Info = s
		} else {
			cl.Info = info.String()
		}
	}
	net := pyeval.AsObject(root.Get("network"), pyeval.NetworkClass)
	dh := pyeval.AsObject(root.Get("defaultHost"), pyeval.HostClass)
	if dh == nil {
		c.typeError(root, "defaultHost", "a Host", root.Get("defaultHost"))
		return nil, subnet{}
	}
	sub := c.network(cl, net)

	hostObjs := map[*Host]*pyeval.Object{}
	for i, v := range c.list(root, "hosts") {
		h := pyeval.AsObject(v, pyeval.HostClass)
		if h == nil {
			c.errorf(root.LineOf("hosts"), "cluster.hosts[%d] must be a Host, got %s %s", i, v.Type(), pyeval.Describe(v))
			continue
		}
		host := c.host(cl, h, dh, sub)
		hostObjs[host] = h
		cl.Hosts = append(cl.Hosts, host)
	}
	if len(cl.Hosts) == 0 && c.errs == 0 {
		c.errorf(root.Line(), "cluster %q has no hosts: add them with cluster.addHost(...) or cluster.addHosts([...])", cl.Name)
	}
	c.uniqueHosts(cl, hostObjs)
	c.loadBalancing(cl, net, hostObjs)
	for _, h := range net.NetHosts() {
		if !slices.ContainsFunc(cl.Hosts, func(x *Host) bool { return hostObjs[x] == h }) {
			c.warnf(h.Line(), "host %s is registered with network %q but never added to the cluster: it is ignored", h.GetString("name"), cl.Network.Name)
		}
	}
	assignMACs(cl)
	if c.errs > 0 {
		return nil, sub
	}
	return cl, sub
}

// network validates the cluster's network: gateway, netmask and a DHCP
// range inside the subnet that leaves the gateway out.
func (c *conv) network(cl *Cluster, net *pyeval.Object) subnet {
	n := &cl.Network
	n.Name = c.str(net, "name")
	if n.Name == "" {
		n.Name = cl.Name + "_net"
	} else if !validName(n.Name) {
		c.errorf(net.LineOf("name"), "invalid network name %q: use letters, digits, '_', '.' and '-'", n.Name)
	}
	if net.Explicit("bridgeName") {
		n.BridgeName = c.str(net, "bridgeName")
		if !validName(n.BridgeName) || len(n.BridgeName) > maxBridgeName {
			c.errorf(net.LineOf("bridgeName"), "invalid bridgeName %q: at most %d letters, digits, '_', '.' or '-'", n.BridgeName, maxBridgeName)
		}
	} else {
		n.BridgeName = pyeval.DefaultBridgeName(n.Name)
	}
	var s subnet
	gwOK, maskOK := false, false
	n.IP = c.str(net, "ip")
	if s.gw, gwOK = parseIPv4(n.IP); !gwOK {
		c.errorf(net.LineOf("ip"), "network %q: ip (the gateway) %s: want a dotted IPv4 address such as '192.168.128.1'", n.Name, badOrMissing(n.IP))
	}
	n.Netmask = c.str(net, "netmask")
	if s.mask, maskOK = parseNetmask(n.Netmask); !maskOK {
		c.errorf(net.LineOf("netmask"), "network %q: netmask %s: want a dotted netmask with contiguous ones such as '255.255.255.0'", n.Name, badOrMissing(n.Netmask))
	}
	rng := c.list(net, "DHCPRange")
	if len(rng) != 2 {
		c.errorf(net.LineOf("DHCPRange"), "network %q: DHCPRange must be a pair (first, last), got %s", n.Name, pyeval.Describe(net.Get("DHCPRange")))
		return s
	}
	var loOK, hiOK bool
	n.DHCPRange[0], _ = starlark.AsString(rng[0])
	n.DHCPRange[1], _ = starlark.AsString(rng[1])
	line := net.LineOf("DHCPRange")
	if s.lo, loOK = parseIPv4(n.DHCPRange[0]); !loOK {
		c.errorf(line, "network %q: DHCPRange start %s: want a dotted IPv4 address", n.Name, badOrMissing(n.DHCPRange[0]))
	}
	if s.hi, hiOK = parseIPv4(n.DHCPRange[1]); !hiOK {
		c.errorf(line, "network %q: DHCPRange end %s: want a dotted IPv4 address", n.Name, badOrMissing(n.DHCPRange[1]))
	}
	if !(gwOK && maskOK && loOK && hiOK) {
		return s
	}
	errs := c.errs
	switch {
	case s.gw == s.network() || s.gw == s.broadcast():
		c.errorf(net.LineOf("ip"), "network %q: ip %s is the network or broadcast address of %s/%s, not a usable gateway", n.Name, n.IP, formatIPv4(s.network()), n.Netmask)
	case s.lo > s.hi:
		c.errorf(line, "network %q: DHCPRange %s-%s is reversed", n.Name, n.DHCPRange[0], n.DHCPRange[1])
	case !s.contains(s.lo) || !s.contains(s.hi):
		c.errorf(line, "network %q: DHCPRange %s-%s is not inside the subnet %s/%s", n.Name, n.DHCPRange[0], n.DHCPRange[1], formatIPv4(s.network()), n.Netmask)
	case s.lo == s.network() || s.hi == s.broadcast():
		c.errorf(line, "network %q: DHCPRange %s-%s includes the network or broadcast address", n.Name, n.DHCPRange[0], n.DHCPRange[1])
	case s.inRange(s.gw):
		c.errorf(line, "network %q: DHCPRange %s-%s contains the gateway %s", n.Name, n.DHCPRange[0], n.DHCPRange[1], n.IP)
	}
	s.valid = c.errs == errs
	return s
}

func badOrMissing(v string) string {
	if v == "" {
		return "is missing"
	}
	return fmt.Sprintf("%q is invalid", v)
}

var knownArches = []string{"x86_64", "i686"}

// host validates one host, filling what it inherits from the cluster's
// default host.
func (c *conv) host(cl *Cluster, h, dh *pyeval.Object, sub subnet) *Host {
	host := &Host{Name: c.str(h, "name")}
	who := fmt.Sprintf("host %q", host.Name)
	switch {
	case host.Name == "":
		who = "host"
		c.errorf(h.Line(), "host has no name: the first argument of Host() is its fully qualified name")
	case !validHostname(host.Name):
		c.errorf(h.LineOf("name"), "invalid host name %q: want an RFC 1123 name such as 'srv1.xrd.test'", host.Name)
	}

	host.IP = c.str(h, "ip")
	if ip, ok := parseIPv4(host.IP); !ok {
		c.errorf(h.LineOf("ip"), "%s: ip %s: want a dotted IPv4 address", who, badOrMissing(host.IP))
	} else if sub.valid {
		switch {
		case !sub.contains(ip):
			c.errorf(h.LineOf("ip"), "%s: ip %s is outside the network %s/%s", who, host.IP, formatIPv4(sub.network()), cl.Network.Netmask)
		case ip == sub.gw:
			c.errorf(h.LineOf("ip"), "%s: ip %s is the network's gateway", who, host.IP)
		case ip == sub.network() || ip == sub.broadcast():
			c.errorf(h.LineOf("ip"), "%s: ip %s is the network or broadcast address", who, host.IP)
		case sub.inRange(ip):
			c.warnf(h.LineOf("ip"), "%s: ip %s is inside the DHCP range %s-%s (the DHCP server reserves it for this host's MAC)", who, host.IP, cl.Network.DHCPRange[0], cl.Network.DHCPRange[1])
		}
	}

	if mac := c.str(h, "mac"); mac != "" {
		host.MAC = strings.ToLower(mac)
		switch {
		case !pyeval.IsMAC(mac):
			c.errorf(h.LineOf("mac"), "%s: mac %q is invalid: want six hex pairs such as '52:54:00:12:34:56'", who, mac)
		case hexByte(host.MAC[:2])&1 == 1:
			c.errorf(h.LineOf("mac"), "%s: mac %s is a multicast address and cannot be a network card's", who, mac)
		}
	}

	errs := c.errs
	switch ram, present := c.uintValue(h, "ramSize"); {
	case c.errs > errs: // reported
	case !present:
		c.errorf(h.LineOf("ramSize"), "%s: no ramSize: set it (in KiB, e.g. '1048576' for 1 GiB) on the host or on cluster.defaultHost", who)
	case ram == 0:
		c.errorf(h.LineOf("ramSize"), "%s: ramSize must be positive (KiB)", who)
	default:
		host.RAMKiB = ram
	}

	host.Arch = c.str(h, "arch")
	switch {
	case host.Arch == "":
		c.errorf(h.LineOf("arch"), "%s: no arch: set it (%s) on the host or on cluster.defaultHost", who, strings.Join(knownArches, " or "))
	case !slices.Contains(knownArches, host.Arch):
		c.errorf(h.LineOf("arch"), "%s: unsupported arch %q: want %s", who, host.Arch, strings.Join(knownArches, " or "))
	}

	if net := c.str(h, "net"); net != "" && net != cl.Network.Name {
		c.errorf(h.LineOf("net"), "%s: network %q is not the cluster's network %q", who, net, cl.Network.Name)
	}

	// The boot image and its caching come from the default host unless the
	// host sets its own (the original ignored the default's cacheBootImage).
	src := h
	if c.str(h, "bootImage") == "" {
		src = dh
	}
	host.BootImage = c.str(src, "bootImage")
	switch {
	case host.BootImage == "":
		c.errorf(h.Line(), "%s: no boot image: set bootImage on the host or on cluster.defaultHost", who)
	case !validName(host.BootImage):
		c.errorf(src.LineOf("bootImage"), "%s: invalid bootImage %q: want a volume name of the hypervisor's storage pool (letters, digits, '_', '.', '-')", who, host.BootImage)
	}
	if h.Explicit("cacheBootImage") {
		host.CacheBootImage = c.boolean(h, "cacheBootImage", true)
	} else {
		host.CacheBootImage = c.boolean(dh, "cacheBootImage", true)
	}

	host.Aliases = c.strList(h, "aliases")
	for _, a := range host.Aliases {
		if !validHostname(a) {
			c.errorf(h.LineOf("aliases"), "%s: invalid alias %q: want an RFC 1123 name", who, a)
		}
	}
	host.Aliases = dedupe(host.Aliases)

	host.Disks = []Disk{}
	for i, v := range c.list(h, "disks") {
		d := pyeval.AsObject(v, pyeval.DiskClass)
		if d == nil {
			c.errorf(h.LineOf("disks"), "%s: disks[%d] must be a Disk, got %s %s", who, i, v.Type(), pyeval.Describe(v))
			continue
		}
		host.Disks = append(host.Disks, c.disk(who, d))
	}
	c.uniqueDisks(who, h, host.Disks)

	host.UUID = c.str(h, "uuid")
	if host.UUID == "" {
		host.UUID = stableUUID(cl.Name, host.Name)
	} else if !uuidRe.MatchString(host.UUID) {
		c.errorf(h.LineOf("uuid"), "%s: invalid uuid %q", who, host.UUID)
	}
	return host
}

func (c *conv) disk(who string, d *pyeval.Object) Disk {
	disk := Disk{Name: c.str(d, "name"), Device: c.str(d, "device"), MountPoint: c.str(d, "mountPoint"), Cache: c.boolean(d, "cache", true)}
	if !validName(disk.Name) {
		c.errorf(d.LineOf("name"), "%s: invalid disk name %q: use letters, digits, '_', '.' and '-'", who, disk.Name)
	}
	dw := fmt.Sprintf("%s: disk %q", who, disk.Name)
	switch v := d.Get("size").(type) {
	case starlark.String:
		n, err := parseSize(string(v))
		if err != nil {
			c.errorf(d.LineOf("size"), "%s: %v", dw, err)
		}
		disk.Size = n
	case starlark.Int:
		n, ok := v.Uint64()
		if !ok || n == 0 {
			c.errorf(d.LineOf("size"), "%s: size %s must be a positive number of bytes", dw, v)
		}
		disk.Size = n
	default:
		c.typeError(d, "size", "a size such as '20G' or a number of bytes", v)
	}
	if !deviceRe.MatchString(disk.Device) {
		c.errorf(d.LineOf("device"), "%s: invalid device %q: want a guest disk device such as 'vdb'", dw, disk.Device)
	}
	if !validMountPoint(disk.MountPoint) {
		c.errorf(d.LineOf("mountPoint"), "%s: invalid mountPoint %q: want a clean absolute path of letters, digits and _ . / + -", dw, disk.MountPoint)
	}
	return disk
}

func (c *conv) uniqueDisks(who string, h *pyeval.Object, disks []Disk) {
	names, devs, mounts := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, d := range disks {
		for _, u := range []struct {
			seen    map[string]bool
			v, what string
		}{{names, d.Name, "disk name"}, {devs, d.Device, "device"}, {mounts, d.MountPoint, "mountPoint"}} {
			if u.seen[u.v] {
				c.errorf(h.LineOf("disks"), "%s: duplicate %s %q", who, u.what, u.v)
			}
			u.seen[u.v] = true
		}
	}
}

// uniqueHosts rejects two hosts with the same name, IP or MAC.
func (c *conv) uniqueHosts(cl *Cluster, objs map[*Host]*pyeval.Object) {
	type key struct{ what, v string }
	first := map[key]*Host{}
	for _, h := range cl.Hosts {
		for _, k := range []key{{"name", h.Name}, {"ip", h.IP}, {"mac", h.MAC}} {
			if k.v == "" {
				continue
			}
			if prev, dup := first[k]; dup {
				c.errorf(objs[h].Line(), "host %q: %s %s is already used by host %q (line %d)", h.Name, k.what, k.v, prev.Name, objs[prev].Line())
				continue
			}
			first[k] = h
		}
	}
	names := map[string]bool{}
	for _, h := range cl.Hosts {
		names[h.Name] = true
	}
	for _, h := range cl.Hosts {
		for _, a := range h.Aliases {
			if names[a] {
				c.warnf(objs[h].LineOf("aliases"), "host %q: alias %q is also a host's name", h.Name, a)
			}
		}
	}
}

// loadBalancing applies the 2012 form: net.lbAlias becomes an alias of
// every host in net.lbHosts (a round-robin DNS name).
func (c *conv) loadBalancing(cl *Cluster, net *pyeval.Object, objs map[*Host]*pyeval.Object) {
	alias := c.str(net, "lbAlias")
	lbHosts := c.list(net, "lbHosts")
	if alias == "" {
		if len(lbHosts) > 0 {
			c.warnf(net.LineOf("lbHosts"), "network %q: lbHosts without lbAlias are ignored", cl.Network.Name)
		}
		return
	}
	if !validHostname(alias) {
		c.errorf(net.LineOf("lbAlias"), "network %q: invalid lbAlias %q: want an RFC 1123 name", cl.Network.Name, alias)
		return
	}
	for i, v := range lbHosts {
		h := pyeval.AsObject(v, pyeval.HostClass)
		var host *Host
		for x, o := range objs {
			if o == h {
				host = x
			}
		}
		if host == nil {
			c.errorf(net.LineOf("lbHosts"), "network %q: lbHosts[%d] (%s) is not a host of the cluster", cl.Network.Name, i, pyeval.Describe(v))
			continue
		}
		if !slices.Contains(host.Aliases, alias) {
			host.Aliases = append(host.Aliases, alias)
		}
	}
}

// assignMACs gives hosts without a MAC a stable one derived from the
// cluster and host names (the original drew a random one per load, so
// DHCP leases changed at every reload).
func assignMACs(cl *Cluster) {
	used := map[string]bool{}
	for _, h := range cl.Hosts {
		used[h.MAC] = true
	}
	for _, h := range cl.Hosts {
		if h.MAC != "" {
			continue
		}
		for i := 0; ; i++ {
			sum := sha256.Sum256(fmt.Appendf(nil, "xrdtest-mac\x00%s\x00%s\x00%d", cl.Name, h.Name, i))
			mac := fmt.Sprintf("52:54:00:%02x:%02x:%02x", sum[0], sum[1], sum[2])
			if !used[mac] {
				h.MAC, used[mac] = mac, true
				break
			}
		}
	}
}

// stableUUID derives a name-based (version 5 layout) UUID so a host keeps
// its identity across reloads.
func stableUUID(cluster, host string) string {
	sum := sha256.Sum256([]byte("xrdtest-uuid\x00" + cluster + "\x00" + host))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func hexByte(s string) byte {
	var b byte
	fmt.Sscanf(s, "%02x", &b)
	return b
}

func dedupe(ss []string) []string {
	out := []string{}
	for _, s := range ss {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
