package pyeval

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"regexp"

	"go.starlark.net/starlark"
)

// The framework classes. They are filled in by init because their methods
// refer to each other.
var (
	ClusterClass = &Class{name: "Cluster", known: []string{"name", "hosts", "defaultHost", "network", "info"}}
	NetworkClass = &Class{name: "Network", known: []string{"name", "clusterName", "ip", "netmask", "DHCPRange", "bridgeName", "lbAlias", "lbHosts"}}
	HostClass    = &Class{name: "Host", known: []string{"name", "ip", "net", "ramSize", "arch", "bootImage", "cacheBootImage", "emulatorPath", "uuid", "aliases", "mac", "disks", "clusterName"}}
	DiskClass    = &Class{name: "Disk", known: []string{"name", "size", "device", "mountPoint", "cache"}}
	SuiteClass   = &Class{name: "TestSuite", known: []string{"name", "descName", "clusters", "machines", "tests", "schedule", "initialize", "finalize", "logs", "alert_emails", "alert_success", "alert_failure", "stage_timeout", "retries", "faults", "hold_on_failure"}}
	// TestCase objects are accepted and ignored, as by the original: cases
	// come from the tc/ folders.
	CaseClass = &Class{name: "TestCase"}
)

func init() {
	ClusterClass.onSet = clusterOnSet
	ClusterClass.methods = map[string]method{
		"addHost":  oneArg("addHost", clusterAddHost),
		"addHosts": eachArg("addHosts", clusterAddHost),
		// The original set the (ignored) emulator path of every host.
		"setEmulatorPath": func(*evaluator, *Object, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
			return starlark.None, nil
		},
	}
	NetworkClass.methods = map[string]method{
		"addHost":     oneArg("addHost", networkAddHost),
		"addHosts":    eachArg("addHosts", networkAddHost),
		"addDnsHost":  oneArg("addDnsHost", networkAddHost),
		"addDHCPHost": oneArg("addDHCPHost", networkAddHost),
	}
	NetworkClass.onSet = networkOnSet
	NetworkClass.derived = func(n *Object, attr string) starlark.Value {
		if attr == "bridgeName" {
			return starlark.String(DefaultBridgeName(n.GetString("name")))
		}
		return nil
	}
}

// predeclared returns the names every definition file sees.
func (ev *evaluator) predeclared() starlark.StringDict {
	return starlark.StringDict{
		"Cluster":   starlark.NewBuiltin("Cluster", ev.newCluster),
		"Network":   starlark.NewBuiltin("Network", ev.newNetwork),
		"Host":      starlark.NewBuiltin("Host", ev.newHost),
		"Disk":      starlark.NewBuiltin("Disk", ev.newDisk),
		"TestSuite": starlark.NewBuiltin("TestSuite", ev.newSuite),
		"TestCase":  starlark.NewBuiltin("TestCase", ev.newCase),
	}
}

// bind unpacks a constructor's arguments by parameter name. The result
// holds only the parameters the caller passed.
func bind(fn string, params []string, required int, args starlark.Tuple, kwargs []starlark.Tuple) (map[string]starlark.Value, error) {
	vals := make([]starlark.Value, len(params))
	pairs := make([]any, 0, 2*len(params))
	for i, p := range params {
		if i >= required {
			p += "?"
		}
		pairs = append(pairs, p, &vals[i])
	}
	if err := starlark.UnpackArgs(fn, args, kwargs, pairs...); err != nil {
		return nil, err
	}
	given := map[string]starlark.Value{}
	for i, p := range params {
		if vals[i] != nil {
			given[p] = vals[i]
		}
	}
	return given, nil
}

func newList() *starlark.List { return starlark.NewList(nil) }

func (ev *evaluator) newCluster(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	given, err := bind(b.Name(), []string{"name"}, 0, args, kwargs)
	if err != nil {
		return nil, err
	}
	c := ev.newObject(ClusterClass)
	c.setDefault("name", starlark.String(""))
	c.setDefault("hosts", newList())
	c.setDefault("info", starlark.None)
	dh := ev.blankHost()
	c.setDefault("defaultHost", dh)
	net := ev.newObject(NetworkClass)
	net.setNetworkDefaults()
	c.setDefault("network", net)
	net.owner = c
	name := given["name"]
	if name != nil {
		c.set("name", name, c.line)
	} else {
		name = starlark.String("")
	}
	// Naming the cluster names its implicit network <cluster>_net.
	if err := clusterOnSet(c, "name", name); err != nil {
		return nil, err
	}
	return c, nil
}

func (n *Object) setNetworkDefaults() {
	n.setDefault("name", starlark.String(""))
	n.setDefault("clusterName", starlark.String(""))
	n.setDefault("ip", starlark.String(""))
	n.setDefault("netmask", starlark.String(""))
	n.setDefault("DHCPRange", starlark.Tuple{starlark.String(""), starlark.String("")})
	n.setDefault("lbAlias", starlark.String(""))
	n.setDefault("lbHosts", newList())
}

// clusterOnSet keeps the derived names consistent, as the original's
// constructor and network property did.
func clusterOnSet(c *Object, attr string, v starlark.Value) error {
	dh := AsObject(c.attrs["defaultHost"], HostClass)
	switch attr {
	case "name":
		name, ok := starlark.AsString(v)
		if !ok {
			return nil // reported by validation, with the line
		}
		net := AsObject(c.attrs["network"], NetworkClass)
		if net == nil {
			return nil
		}
		if !net.Explicit("clusterName") {
			net.setDefault("clusterName", starlark.String(name))
		}
		if net.Explicit("name") {
			return nil
		}
		old := net.GetString("name")
		derived := ""
		if name != "" {
			derived = name + "_net"
		}
		net.setDefault("name", starlark.String(derived))
		if dh != nil && !dh.Explicit("net") && dh.GetString("net") == old {
			dh.setDefault("net", starlark.String(derived))
		}
	case "network":
		net := AsObject(v, NetworkClass)
		if net == nil {
			return fmt.Errorf("Cluster.network must be a Network, got %s", v.Type())
		}
		net.attrs["clusterName"] = c.attrs["name"]
		net.owner = c
		if dh != nil {
			dh.setDefault("net", net.attrs["name"])
		}
	}
	return nil
}

// networkOnSet keeps the default host's network name in step with the
// cluster network's name, unless the definition set it itself.
func networkOnSet(n *Object, attr string, v starlark.Value) error {
	name, ok := starlark.AsString(v)
	if attr != "name" || !ok || n.owner == nil || AsObject(n.owner.attrs["network"], NetworkClass) != n {
		return nil
	}
	dh := AsObject(n.owner.attrs["defaultHost"], HostClass)
	if dh != nil && !dh.Explicit("net") && dh.GetString("net") == n.GetString("name") {
		dh.setDefault("net", starlark.String(name))
	}
	return nil
}

// oneArg adapts f to a method taking one positional argument.
func oneArg(name string, f func(ev *evaluator, self, arg *Object) error) method {
	return func(ev *evaluator, self *Object, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var v starlark.Value
		if err := starlark.UnpackPositionalArgs(self.cls.name+"."+name, args, kwargs, 1, &v); err != nil {
			return nil, err
		}
		h := AsObject(v, HostClass)
		if h == nil {
			return nil, fmt.Errorf("want a Host, got %s %s", v.Type(), Describe(v))
		}
		return starlark.None, f(ev, self, h)
	}
}

// eachArg adapts f to a method taking a list of hosts.
func eachArg(name string, f func(ev *evaluator, self, arg *Object) error) method {
	return func(ev *evaluator, self *Object, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var it starlark.Iterable
		if err := starlark.UnpackPositionalArgs(self.cls.name+"."+name, args, kwargs, 1, &it); err != nil {
			return nil, err
		}
		var hosts []*Object
		iter := it.Iterate()
		defer iter.Done()
		var v starlark.Value
		for i := 0; iter.Next(&v); i++ {
			h := AsObject(v, HostClass)
			if h == nil {
				return nil, fmt.Errorf("element %d: want a Host, got %s %s", i, v.Type(), Describe(v))
			}
			hosts = append(hosts, h)
		}
		for _, h := range hosts {
			if err := f(ev, self, h); err != nil {
				return nil, err
			}
		}
		return starlark.None, nil
	}
}

// clusterAddHost copies the cluster's default arch, ramSize and net into
// the host's empty ones (at call time, as the original did), and registers
// the host in the cluster and its network.
func clusterAddHost(ev *evaluator, c, h *Object) error {
	dh := AsObject(c.attrs["defaultHost"], HostClass)
	if dh == nil {
		return fmt.Errorf("Cluster.defaultHost is not a Host")
	}
	for _, f := range []string{"arch", "ramSize", "net"} {
		if v, ok := h.attrs[f]; ok && bool(v.Truth()) {
			continue
		}
		h.attrs[f] = dh.attrs[f]
		if l, ok := dh.setAt[f]; ok {
			h.setAt[f] = l
		} else {
			delete(h.setAt, f)
		}
	}
	h.attrs["clusterName"] = c.attrs["name"]
	net := AsObject(c.attrs["network"], NetworkClass)
	if net == nil {
		return fmt.Errorf("Cluster.network is not a Network")
	}
	if err := networkAddHost(ev, net, h); err != nil {
		return err
	}
	hosts, ok := c.attrs["hosts"].(*starlark.List)
	if !ok {
		return fmt.Errorf("Cluster.hosts is not a list")
	}
	for i := range hosts.Len() {
		if hosts.Index(i) == h {
			ev.rep.Warnf(ev.line(), "host %s added to the cluster twice: added once", h.GetString("name"))
			return nil
		}
	}
	return hosts.Append(h)
}

// networkAddHost registers a host for DHCP and DNS. 2012 definitions call
// both net.addHosts and cluster.addHosts with the same hosts: registering
// is idempotent.
func networkAddHost(_ *evaluator, n, h *Object) error {
	for _, r := range n.netHosts {
		if r == h {
			return nil
		}
	}
	n.netHosts = append(n.netHosts, h)
	return nil
}

func (ev *evaluator) newNetwork(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	given, err := bind(b.Name(), []string{"name", "clusterName"}, 0, args, kwargs)
	if err != nil {
		return nil, err
	}
	n := ev.newObject(NetworkClass)
	n.setNetworkDefaults()
	n.setGiven(given)
	return n, nil
}

var (
	hostParams     = []string{"name", "ip", "net", "ramSize", "arch", "bootImage", "cacheBootImage", "emulatorPath", "uuid", "aliases", "mac"}
	hostParams2012 = []string{"name", "ip", "mac", "net", "ramSize", "arch", "bootImage", "cacheBootImage", "emulatorPath", "uuid"}
	macRe          = regexp.MustCompile(`^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$`)
)

// blankHost is a Host with the framework's defaults.
func (ev *evaluator) blankHost() *Object {
	h := ev.newObject(HostClass)
	for _, f := range []string{"name", "ip", "net", "ramSize", "arch", "emulatorPath", "uuid", "mac", "clusterName"} {
		h.setDefault(f, starlark.String(""))
	}
	h.setDefault("bootImage", starlark.None)
	h.setDefault("cacheBootImage", starlark.True)
	h.setDefault("aliases", newList()) // one list per host (the original shared one)
	h.setDefault("disks", newList())
	return h
}

func (ev *evaluator) newHost(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	params := hostParams
	if len(args) >= 3 {
		// The 2012 releases had the MAC third; a MAC-shaped third argument
		// can only mean that order (a network name cannot look like one).
		if s, ok := starlark.AsString(args[2]); ok && IsMAC(s) {
			params = hostParams2012
		}
	}
	given, err := bind(b.Name(), params, 0, args, kwargs)
	if err != nil {
		return nil, err
	}
	h := ev.blankHost()
	h.setGiven(given)
	return h, nil
}

func (ev *evaluator) newDisk(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	given, err := bind(b.Name(), []string{"name", "size", "device", "mountPoint", "cache"}, 2, args, kwargs)
	if err != nil {
		return nil, err
	}
	d := ev.newObject(DiskClass)
	d.setDefault("device", starlark.String("vda"))
	d.setDefault("mountPoint", starlark.String("/data"))
	d.setDefault("cache", starlark.True)
	d.setGiven(given)
	return d, nil
}

func (ev *evaluator) newSuite(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	given, err := bind(b.Name(), []string{"name"}, 0, args, kwargs)
	if err != nil {
		return nil, err
	}
	s := ev.newObject(SuiteClass)
	for _, f := range []string{"name", "descName", "initialize", "finalize"} {
		s.setDefault(f, starlark.String(""))
	}
	for _, f := range []string{"clusters", "machines", "tests", "logs", "alert_emails"} {
		s.setDefault(f, newList())
	}
	s.setDefault("schedule", starlark.NewDict(0))
	// The framework's alert policies, as definition.AlertSuite and AlertCase
	// spell them.
	s.setDefault("alert_success", starlark.String("SUITE"))
	s.setDefault("alert_failure", starlark.String("CASE"))
	s.setDefault("stage_timeout", starlark.None)
	s.setDefault("retries", starlark.None)
	s.setDefault("faults", starlark.None)          // xrdtest's own: a seeded fault schedule
	s.setDefault("hold_on_failure", starlark.None) // xrdtest's own: keep a failed cluster
	s.setGiven(given)
	return s, nil
}

func (ev *evaluator) newCase(_ *starlark.Thread, _ *starlark.Builtin, _ starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := ev.newObject(CaseClass)
	for _, f := range []string{"name", "initialize", "run", "finalize"} {
		c.setDefault(f, starlark.String(""))
	}
	c.setDefault("machines", newList())
	for _, kv := range kwargs {
		name, _ := starlark.AsString(kv[0])
		c.set(name, kv[1], c.line)
	}
	return c, nil
}

// DefaultBridgeName is a network's bridge name when the definition sets
// none: virbr_ and the first 8 hex digits of the MD5 of the network's
// name.
func DefaultBridgeName(network string) string {
	sum := md5.Sum([]byte(network))
	return "virbr_" + hex.EncodeToString(sum[:])[:8]
}

// IsMAC reports whether s is a MAC address as definitions write it: six
// hex pairs such as 52:54:00:12:34:56.
func IsMAC(s string) bool { return macRe.MatchString(s) }
