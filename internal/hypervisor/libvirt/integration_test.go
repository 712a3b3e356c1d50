package libvirt

// Integration tests against a real, private libvirtd:
//
//	bash scripts/libvirt-env.sh exec go test ./internal/hypervisor/libvirt/ -run Integration -v
//	bash scripts/libvirt-env.sh stop
//
// They skip, saying why, when XRDTEST_LIBVIRT_URI is unset, and fail
// instead when XRDTEST_LIBVIRT_REQUIRED=1. XRDTEST_LIBVIRT_FORCE_TCG=1
// runs the guests under TCG even where KVM is offered.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"
	"libvirt.org/go/libvirtxml"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/hypervisor"
	"github.com/xrdtest/xrdtest/internal/hypervisor/backendtest"
	"github.com/xrdtest/xrdtest/internal/hypervisor/libvirt/lvxml"
	"github.com/xrdtest/xrdtest/internal/image"
	"github.com/xrdtest/xrdtest/internal/pki"
)

type itEnv struct {
	uri   string
	pool  string
	image string
	tcg   bool
	raw   *libvirt.Libvirt
	pref  libvirt.StoragePool
}

func integrationEnv(t *testing.T) *itEnv {
	t.Helper()
	uri := os.Getenv("XRDTEST_LIBVIRT_URI")
	if uri == "" {
		msg := "integration test needs a private libvirtd: XRDTEST_LIBVIRT_URI is not set " +
			"(bash scripts/libvirt-env.sh exec go test ./internal/hypervisor/libvirt/)"
		if os.Getenv("XRDTEST_LIBVIRT_REQUIRED") == "1" || os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	e := &itEnv{
		uri:   uri,
		pool:  envOr("XRDTEST_LIBVIRT_POOL", "xrdtest"),
		image: envOr("XRDTEST_LIBVIRT_TEST_IMAGE", "xrdtest-probe.qcow2"),
		tcg:   os.Getenv("XRDTEST_LIBVIRT_FORCE_TCG") == "1",
	}
	ep, err := ParseURI(uri)
	if err != nil {
		t.Fatal(err)
	}
	e.raw = libvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(ep.Socket)))
	if err := e.raw.ConnectToURI(libvirt.ConnectURI(ep.Remote)); err != nil {
		t.Fatalf("connect to %s: %v", uri, err)
	}
	t.Cleanup(func() { e.raw.Disconnect() })
	if e.pref, err = e.raw.StoragePoolLookupByName(e.pool); err != nil {
		t.Fatalf("pool %s: %v", e.pool, err)
	}
	return e
}

// stateDir is a state dir whose leftovers (a test that failed half way)
// are removed at the end of the test by a fresh backend: Cleanup, then
// Purge. It runs after the test's own backends are closed.
func (e *itEnv) stateDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(dir, StateFileName)); err != nil {
			return
		}
		b, err := New(context.Background(), Config{URI: e.uri, Pool: e.pool, StateDir: dir}, nil)
		if err != nil {
			t.Errorf("cleanup of %s: %v", dir, err)
			return
		}
		defer b.Close()
		lo, _ := b.Leftovers(context.Background())
		if len(lo) > 0 {
			t.Logf("removing leftovers of the test: %v", lo)
		}
		if err := b.Cleanup(context.Background(), nil); err != nil {
			t.Errorf("cleanup of %s: %v", dir, err)
		}
		if err := b.Purge(context.Background()); err != nil {
			t.Errorf("purge of %s: %v", dir, err)
		}
	})
	return dir
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func (e *itEnv) backend(t *testing.T, stateDir string, mod func(*Config)) *Backend {
	t.Helper()
	cfg := Config{URI: e.uri, Pool: e.pool, StateDir: stateDir, ForceTCG: e.tcg}
	if mod != nil {
		mod(&cfg)
	}
	b, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(tLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

type tLogWriter struct{ t *testing.T }

func (w tLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// itCluster: n hosts hK.<name>.xrd.test on 10.213.<subnet>.0/24, alias
// pool.<name>.xrd.test on all of them, a 64 MiB data disk at vda each.
func itCluster(name string, subnet, n int, image string) *definition.Cluster {
	pfx := fmt.Sprintf("10.213.%d.", subnet)
	c := &definition.Cluster{
		Name: name,
		Network: definition.Network{
			Name:       name + "_net",
			IP:         pfx + "1",
			Netmask:    "255.255.255.0",
			DHCPRange:  [2]string{pfx + "100", pfx + "200"},
			BridgeName: fmt.Sprintf("xrdit%d", subnet),
		},
	}
	for k := 1; k <= n; k++ {
		c.Hosts = append(c.Hosts, &definition.Host{
			Name:           fmt.Sprintf("h%d.%s.xrd.test", k, name),
			IP:             fmt.Sprintf("%s%d", pfx, 10+k),
			MAC:            fmt.Sprintf("52:54:00:d6:%02x:%02x", subnet, k),
			RAMKiB:         160 << 10,
			Arch:           "x86_64",
			BootImage:      image,
			CacheBootImage: true,
			Aliases:        []string{"pool." + name + ".xrd.test"},
			Disks:          []definition.Disk{{Name: "data", Size: 64 << 20, Device: "vda", MountPoint: "/data", Cache: true}},
		})
	}
	return c
}

func itSpec(c *definition.Cluster) hypervisor.ClusterSpec {
	spec := hypervisor.ClusterSpec{
		Cluster: c,
		Master:  hypervisor.MasterEndpoint{Port: 20000, Fingerprint: pki.Fingerprint{1, 2, 3}},
		Tokens:  map[string]string{},
	}
	for k, h := range c.Hosts {
		spec.Tokens[h.Name] = fmt.Sprintf("tok-%d", k+1)
	}
	return spec
}

// probeArgs makes the probe guest resolve every host, the alias and the master.
func probeArgs(c *definition.Cluster) []string {
	names := []string{"pool." + c.Name + ".xrd.test", lvxml.MasterName}
	for _, h := range c.Hosts {
		names = append(names, h.Name)
	}
	return []string{"xrdtest.probe=" + strings.Join(names, ",")}
}

// snapshot is every domain, network and volume of the private libvirtd.
func (e *itEnv) snapshot(t *testing.T) string {
	t.Helper()
	var out []string
	doms, _, err := e.raw.ConnectListAllDomains(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range doms {
		st, _, _ := e.raw.DomainGetState(d, 0)
		out = append(out, fmt.Sprintf("domain %s state=%d", d.Name, st))
	}
	nets, _, err := e.raw.ConnectListAllNetworks(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets {
		a, _ := e.raw.NetworkIsActive(n)
		out = append(out, fmt.Sprintf("network %s active=%d", n.Name, a))
	}
	for _, v := range e.volumes(t) {
		out = append(out, "volume "+v)
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

func (e *itEnv) volumes(t *testing.T) []string {
	t.Helper()
	if err := e.raw.StoragePoolRefresh(e.pref, 0); err != nil {
		t.Fatal(err)
	}
	vols, _, err := e.raw.StoragePoolListAllVolumes(e.pref, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range vols {
		names = append(names, v.Name)
	}
	slices.Sort(names)
	return names
}

// domainXML is the domain of host of cluster, its XML as libvirt has it
// and that XML parsed.
func (e *itEnv) domainXML(t *testing.T, cluster, host string) (libvirt.Domain, string, libvirtxml.Domain) {
	t.Helper()
	d, err := e.raw.DomainLookupByName(lvxml.DomainName(cluster, host))
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.raw.DomainGetXMLDesc(d, 0)
	if err != nil {
		t.Fatal(err)
	}
	var x libvirtxml.Domain
	if err := x.Unmarshal(s); err != nil {
		t.Fatalf("domain XML of %s: %v\n%s", host, err, s)
	}
	return d, s, x
}

func (e *itEnv) hasVolume(t *testing.T, name string) bool {
	return slices.Contains(e.volumes(t), name)
}

func (e *itEnv) volPath(t *testing.T, name string) string {
	t.Helper()
	v, err := e.raw.StorageVolLookupByName(e.pref, name)
	if err != nil {
		t.Fatalf("volume %s: %v", name, err)
	}
	p, err := e.raw.StorageVolGetPath(v)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// ext4UUID reads the file system UUID from the superblock of a raw image.
func ext4UUID(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sb := make([]byte, 1024)
	if _, err := f.ReadAt(sb, 1024); err != nil {
		t.Fatal(err)
	}
	if sb[0x38] != 0x53 || sb[0x39] != 0xef {
		t.Fatalf("%s holds no ext4 file system", path)
	}
	return fmt.Sprintf("%x", sb[0x68:0x78])
}

// ourObjects lists the domains and networks with the backend's metadata.
func (e *itEnv) ourObjects(t *testing.T, b *Backend) []string {
	t.Helper()
	doms, err := b.listOurDomains(e.raw)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range doms {
		out = append(out, "domain "+d.ref.Name)
	}
	nets, _, err := listNetworks(e.raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets {
		if o, ok := networkOwner(n.XML); ok && o.State == b.StateFile() {
			out = append(out, "network "+n.XML.Name)
		}
	}
	return out
}

// foreign defines an isolated network (started) and a domain (defined
// only) without our metadata; both must survive everything.
func (e *itEnv) foreign(t *testing.T, prefix string, subnet int) (dom, net string) {
	t.Helper()
	net, dom = prefix+"_net", prefix+"_vm"
	nx := &libvirtxml.Network{
		Name:   net,
		Bridge: &libvirtxml.NetworkBridge{Name: fmt.Sprintf("xrdfor%d", subnet)},
		IPs:    []libvirtxml.NetworkIP{{Address: fmt.Sprintf("10.213.%d.1", subnet), Netmask: "255.255.255.0"}},
	}
	doc, _ := nx.Marshal()
	n, err := e.raw.NetworkDefineXML(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.raw.NetworkCreate(n); err != nil {
		t.Fatal(err)
	}
	dx := &libvirtxml.Domain{
		Type:   "qemu",
		Name:   dom,
		Memory: &libvirtxml.DomainMemory{Value: 64, Unit: "MiB"},
		OS:     &libvirtxml.DomainOS{Type: &libvirtxml.DomainOSType{Arch: "x86_64", Type: "hvm"}},
		Devices: &libvirtxml.DomainDeviceList{Interfaces: []libvirtxml.DomainInterface{{
			Source: &libvirtxml.DomainInterfaceSource{Network: &libvirtxml.DomainInterfaceSourceNetwork{Network: net}},
		}}},
	}
	doc, _ = dx.Marshal()
	d, err := e.raw.DomainDefineXML(doc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.raw.DomainUndefineFlags(d, 0)
		e.raw.NetworkDestroy(n)
		e.raw.NetworkUndefine(n)
	})
	return dom, net
}

func (e *itEnv) requireForeign(t *testing.T, dom, net string) {
	t.Helper()
	if _, err := e.raw.DomainLookupByName(dom); err != nil {
		t.Errorf("foreign domain %s is gone: %v", dom, err)
	}
	n, err := e.raw.NetworkLookupByName(net)
	if err != nil {
		t.Errorf("foreign network %s is gone: %v", net, err)
		return
	}
	if a, _ := e.raw.NetworkIsActive(n); a != 1 {
		t.Errorf("foreign network %s was stopped", net)
	}
}

// progressLog records Progress calls with their times.
type progressLog struct {
	mu     sync.Mutex
	events []progressEvent
}

type progressEvent struct {
	host, phase string
	at          time.Time
}

func (p *progressLog) record(host, phase string) {
	p.mu.Lock()
	p.events = append(p.events, progressEvent{host, phase, time.Now()})
	p.mu.Unlock()
}

// span is from the first event of phase `from` to the last of phase `to`.
func (p *progressLog) span(from, to string) (time.Duration, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var first, last time.Time
	n := 0
	for _, e := range p.events {
		if e.phase == from && (first.IsZero() || e.at.Before(first)) {
			first = e.at
		}
		if e.phase == to {
			n++
			if e.at.After(last) {
				last = e.at
			}
		}
	}
	return last.Sub(first), n
}

// probeReport is what a probe guest wrote to its console.
type probeReport struct {
	params  map[string]string
	lease   string
	disks   map[string]string
	resolve map[string]string
	done    bool
	initAt  string // guest uptime when /init started
	doneAt  string // and when it had resolved every name
}

func parseProbe(console []byte) probeReport {
	r := probeReport{params: map[string]string{}, disks: map[string]string{}, resolve: map[string]string{}}
	for _, line := range strings.Split(string(console), "\n") {
		_, rest, ok := strings.Cut(strings.TrimRight(line, "\r"), "xrdtest-probe: ")
		if !ok {
			continue
		}
		kind, arg, _ := strings.Cut(rest, " ")
		switch kind {
		case "param":
			k, v, _ := strings.Cut(arg, "=")
			r.params[k] = v
		case "lease":
			r.lease = arg
		case "disk":
			d, info, _ := strings.Cut(arg, " ")
			r.disks[d] = info
		case "resolve":
			n, ips, _ := strings.Cut(arg, "=")
			r.resolve[n] = ips
		case "init":
			r.initAt = strings.TrimPrefix(arg, "uptime=")
		case "done":
			r.done = true
			r.doneAt = strings.TrimPrefix(arg, "uptime=")
		}
	}
	return r
}

func sortedCSV(s string) string {
	parts := strings.Split(s, ",")
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// waitProbes waits until every host's console says done, failing early
// (with the console tail) if a domain shuts off.
func (e *itEnv) waitProbes(t *testing.T, b *Backend, c *definition.Cluster, timeout time.Duration) map[string]probeReport {
	t.Helper()
	deadline := time.Now().Add(timeout)
	out := map[string]probeReport{}
	for polls := 0; ; polls++ {
		pending := 0
		for _, h := range c.Hosts {
			data, _ := os.ReadFile(b.ConsoleLog(c.Name, h.Name))
			r := parseProbe(data)
			out[h.Name] = r
			if !r.done {
				pending++
				if polls%10 == 9 {
					d, err := e.raw.DomainLookupByName(lvxml.DomainName(c.Name, h.Name))
					if err != nil {
						t.Fatalf("domain of %s: %v", h.Name, err)
					}
					if st, _, _ := e.raw.DomainGetState(d, 0); st != int32(libvirt.DomainRunning) {
						t.Fatalf("domain of %s is in state %d before its probe finished; console:\n%s", h.Name, st, tail(data, 20))
					}
				}
			}
		}
		if pending == 0 {
			return out
		}
		if time.Now().After(deadline) {
			for _, h := range c.Hosts {
				data, _ := os.ReadFile(b.ConsoleLog(c.Name, h.Name))
				t.Logf("console of %s:\n%s", h.Name, tail(data, 30))
			}
			t.Fatalf("%d of %d probes not done within %v", pending, len(c.Hosts), timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestIntegrationCluster starts 3 probe guests with a round-robin alias and
// data disks, checks what each guest saw, stops the cluster, and checks
// what is left: cached volumes only, and the foreign objects.
func TestIntegrationCluster(t *testing.T) {
	e := integrationEnv(t)
	ctx := context.Background()
	fdom, fnet := e.foreign(t, "foreign1", 90)

	c := itCluster("it", 60, 3, e.image)
	h1 := c.Hosts[0]
	h1.CacheBootImage = false
	h1.Disks[0].Cache = false
	spec := itSpec(c)
	progress := &progressLog{}
	b := e.backend(t, e.stateDir(t), func(cfg *Config) {
		cfg.ExtraKernelArgs = probeArgs(c)
		cfg.Progress = progress.record
	})
	capacity, err := b.Capacity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("capacity: %d MiB of %d free, %d CPUs; domain type %s", capacity.FreeMemoryKiB>>10, capacity.MemoryKiB>>10, capacity.CPUs, b.DomainType())

	t0 := time.Now()
	if err := b.StartCluster(ctx, spec); err != nil {
		t.Fatal(err)
	}
	tStarted := time.Since(t0)
	defineToStarted, booting := progress.span(PhaseDefining, PhaseBooting)
	if booting != 3 {
		t.Errorf("%d hosts reported booting, want 3", booting)
	}
	t.Logf("StartCluster of 3 hosts (%s): %v in all; define -> all 3 started (in parallel): %v",
		b.DomainType(), tStarted.Round(time.Millisecond), defineToStarted.Round(time.Millisecond))

	// TCG guests get every CPU feature TCG emulates (libvirt here offers
	// mode maximum): AES-NI for the slave's TLS among them; KVM guests
	// the host's CPU.
	{
		want := map[string]string{"qemu": "maximum", "kvm": "host-passthrough"}[b.DomainType()]
		if _, _, x := e.domainXML(t, c.Name, c.Hosts[0].Name); x.CPU == nil || x.CPU.Mode != want {
			t.Errorf("%s domain CPU: %+v, want mode %s", b.DomainType(), x.CPU, want)
		}
	}

	if err := b.StartCluster(ctx, spec); !errors.Is(err, hypervisor.ErrAlreadyStarted) {
		t.Errorf("second start: %v, want ErrAlreadyStarted", err)
	}
	if lo, err := b.Leftovers(ctx); err != nil || len(lo) != 0 {
		t.Errorf("leftovers of a started cluster: %v %v", lo, err)
	}

	reports := e.waitProbes(t, b, c, 4*time.Minute)
	t.Logf("start -> all 3 guests resolved their names: %v", time.Since(t0).Round(time.Millisecond))
	var pool []string
	for _, h := range c.Hosts {
		pool = append(pool, h.IP)
	}
	slices.Sort(pool)
	for k, h := range c.Hosts {
		r := reports[h.Name]
		short, _, _ := strings.Cut(h.Name, ".") // the DHCP lease's name
		for key, want := range map[string]string{
			"xrdtest.name":   h.Name,
			"xrdtest.master": "master.xrd.test:20000",
			"xrdtest.token":  fmt.Sprintf("tok-%d", k+1),
			"xrdtest.gw":     c.Network.IP,
			"xrdtest.ca":     spec.Master.Fingerprint.String(),
		} {
			if r.params[key] != want {
				t.Errorf("%s: %s=%q, want %q", h.Name, key, r.params[key], want)
			}
		}
		if !strings.HasPrefix(r.lease, "ip="+h.IP+" hostname="+short+" ") {
			t.Errorf("%s: lease %q, want ip=%s hostname=%s", h.Name, r.lease, h.IP, short)
		}
		if !strings.HasPrefix(r.disks["vda"], "fs=ext4 sectors=131072") {
			t.Errorf("%s: data disk vda: %q, want a 64 MiB ext4", h.Name, r.disks["vda"])
		}
		for _, p := range c.Hosts {
			if r.resolve[p.Name] != p.IP {
				t.Errorf("%s resolves %s to %q, want %s", h.Name, p.Name, r.resolve[p.Name], p.IP)
			}
		}
		if got := sortedCSV(r.resolve["pool.it.xrd.test"]); got != strings.Join(pool, ",") {
			t.Errorf("%s resolves the alias to %q, want all of %v (round robin)", h.Name, got, pool)
		}
		if r.resolve[lvxml.MasterName] != c.Network.IP {
			t.Errorf("%s resolves %s to %q, want the gateway %s", h.Name, lvxml.MasterName, r.resolve[lvxml.MasterName], c.Network.IP)
		}
		t.Logf("%s: init at uptime %s; lease %s; done at uptime %s; alias -> %s", h.Name, r.initAt, r.lease, r.doneAt, r.resolve["pool.it.xrd.test"])
	}

	b = e.checkFaults(t, b, c)

	data := func(h *definition.Host) string { return lvxml.DataVolumeName(c.Name, h.Name, "data") }
	uuids := map[string]string{}
	for _, h := range c.Hosts {
		uuids[h.Name] = ext4UUID(t, e.volPath(t, data(h)))
	}

	t1 := time.Now()
	if err := b.StopCluster(ctx, c.Name); err != nil {
		t.Fatal(err)
	}
	t.Logf("StopCluster: %v", time.Since(t1).Round(time.Millisecond))
	if left := e.ourObjects(t, b); len(left) != 0 {
		t.Errorf("after stop, ours left: %v", left)
	}
	if _, err := e.raw.NetworkLookupByName(lvxml.NetworkName(c.Name, c.Network.Name)); !isNotFound(err) {
		t.Errorf("network still there: %v", err)
	}
	for _, h := range c.Hosts {
		cached := h != h1
		if e.hasVolume(t, lvxml.OverlayVolumeName(c.Name, h.Name)) != cached || e.hasVolume(t, data(h)) != cached {
			t.Errorf("%s: overlay/data volumes present = %v/%v after stop, want %v (cached)", h.Name,
				e.hasVolume(t, lvxml.OverlayVolumeName(c.Name, h.Name)), e.hasVolume(t, data(h)), cached)
		}
	}
	if !e.hasVolume(t, e.image) {
		t.Errorf("boot image %s is gone", e.image)
	}
	e.requireForeign(t, fdom, fnet)
	if err := b.StopCluster(ctx, c.Name); err != nil {
		t.Errorf("second stop: %v", err)
	}

	// Restart: cached data disks keep their file system, h1's is new.
	if err := b.StartCluster(ctx, spec); err != nil {
		t.Fatal(err)
	}
	for _, h := range c.Hosts {
		u := ext4UUID(t, e.volPath(t, data(h)))
		if same := u == uuids[h.Name]; same != (h != h1) {
			t.Errorf("%s: data disk file system kept = %v across a restart, want %v", h.Name, same, h != h1)
		}
	}
	if err := b.Cleanup(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if left := e.ourObjects(t, b); len(left) != 0 {
		t.Errorf("after cleanup, ours left: %v", left)
	}
	if lo, err := b.Leftovers(ctx); err != nil || len(lo) != 0 {
		t.Errorf("leftovers after cleanup: %v %v", lo, err)
	}
	e.requireForeign(t, fdom, fnet)

	if err := b.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	for _, v := range e.volumes(t) {
		if strings.HasPrefix(v, c.Name+"_") {
			t.Errorf("volume %s left after Purge", v)
		}
	}
	b.st.view(func(st *State) {
		if len(st.Clusters) != 0 || len(st.Cached) != 0 {
			t.Errorf("state not empty after stop and purge: %+v", st)
		}
	})
	e.requireForeign(t, fdom, fnet)
}

// TestIntegrationMissingBootImage: a clear error naming pool and volume,
// nothing created.
func TestIntegrationMissingBootImage(t *testing.T) {
	e := integrationEnv(t)
	b := e.backend(t, e.stateDir(t), nil)
	before := e.snapshot(t)
	c := itCluster("nobootimg", 61, 2, e.image)
	c.Hosts[1].BootImage = "no-such-image.qcow2"
	err := b.StartCluster(context.Background(), itSpec(c))
	if !errors.Is(err, ErrBootImageMissing) || !strings.Contains(err.Error(), "no-such-image.qcow2") ||
		!strings.Contains(err.Error(), "pool "+e.pool) {
		t.Fatalf("got %v, want ErrBootImageMissing naming the volume and pool %s", err, e.pool)
	}
	t.Logf("error: %v", err)
	if after := e.snapshot(t); after != before {
		t.Errorf("objects changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// volume creates an empty volume in the pool, deleted when t ends.
func (e *itEnv) volume(t *testing.T, name, format string, size uint64) {
	t.Helper()
	x := &libvirtxml.StorageVolume{Name: name, Capacity: &libvirtxml.StorageVolumeSize{Unit: "bytes", Value: size},
		Target: &libvirtxml.StorageVolumeTarget{Format: &libvirtxml.StorageVolumeTargetFormat{Type: format}}}
	doc, _ := x.Marshal()
	v, err := e.raw.StorageVolCreateXML(e.pref, doc, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.raw.StorageVolDelete(v, 0) })
}

// TestIntegrationRAMTooSmall: a host whose RAM cannot unpack its boot
// image's initramfs is refused at once, naming the host and the RAM it
// needs, with nothing created (the guest would otherwise boot into
// "Initramfs unpacking failed" and its slave never connect).
func TestIntegrationRAMTooSmall(t *testing.T) {
	e := integrationEnv(t)
	const name = "xrdtest-ramcheck"
	for _, v := range []struct {
		name   string
		format string
		size   uint64
	}{{name + ".qcow2", "qcow2", 16 << 20}, {name + ".vmlinuz", "raw", 1 << 20}, {name + ".initrd.img", "raw", 64 << 20}} {
		e.volume(t, v.name, v.format, v.size)
	}
	b := e.backend(t, e.stateDir(t), nil)
	before := e.snapshot(t)
	c := itCluster("ramcheck", 62, 2, name+".qcow2")
	c.Hosts[1].RAMKiB = 512 << 10 // enough for a 64 MiB archive: only host 0 is named
	err := b.StartCluster(context.Background(), itSpec(c))
	need := image.MinRAM(64 << 20)
	if err == nil || !strings.Contains(err.Error(), "host "+c.Hosts[0].Name) || strings.Contains(err.Error(), c.Hosts[1].Name) ||
		!strings.Contains(err.Error(), fmt.Sprintf("at least %d MiB", need)) {
		t.Fatalf("got %v, want an error naming host %s only and its %d MiB", err, c.Hosts[0].Name, need)
	}
	t.Logf("error: %v", err)
	if after := e.snapshot(t); after != before {
		t.Errorf("objects changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// TestIntegrationCollisions: the subnet of an active network, the bridge of
// an inactive one, and a foreign volume of one of our names each give a
// clear error with nothing created.
func TestIntegrationCollisions(t *testing.T) {
	e := integrationEnv(t)
	ctx := context.Background()
	fdom, fnet := e.foreign(t, "foreign2", 62)
	b := e.backend(t, e.stateDir(t), nil)

	c := itCluster("collide", 62, 1, e.image) // same subnet as foreign2_net
	err := b.StartCluster(ctx, itSpec(c))
	if !errors.Is(err, ErrNetworkCollision) || !strings.Contains(err.Error(), fnet) || !strings.Contains(err.Error(), "10.213.62.0/24") {
		t.Errorf("subnet: got %v, want ErrNetworkCollision naming %s", err, fnet)
	}
	t.Logf("subnet collision: %v", err)

	inactive := &libvirtxml.Network{Name: "foreign3_net", Bridge: &libvirtxml.NetworkBridge{Name: "xrdit63"},
		IPs: []libvirtxml.NetworkIP{{Address: "10.213.163.1", Netmask: "255.255.255.0"}}}
	doc, _ := inactive.Marshal()
	n, err := e.raw.NetworkDefineXML(doc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.raw.NetworkUndefine(n) })
	before2 := e.snapshot(t)
	c = itCluster("collide", 63, 1, e.image) // bridge xrdit63
	err = b.StartCluster(ctx, itSpec(c))
	if !errors.Is(err, ErrNetworkCollision) || !strings.Contains(err.Error(), "bridge xrdit63") {
		t.Errorf("bridge: got %v, want ErrNetworkCollision naming bridge xrdit63", err)
	}
	t.Logf("bridge collision: %v", err)
	if after := e.snapshot(t); after != before2 {
		t.Errorf("objects changed:\nbefore:\n%s\nafter:\n%s", before2, after)
	}

	// A volume of our naming scheme that we did not make.
	c = itCluster("collide", 64, 1, e.image)
	vx := lvxml.BuildDataVolume(lvxml.DataVolumeName(c.Name, c.Hosts[0].Name, "data"), 1<<20)
	doc, _ = vx.Marshal()
	v, err := e.raw.StorageVolCreateXML(e.pref, doc, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.raw.StorageVolDelete(v, 0) })
	before3 := e.snapshot(t)
	err = b.StartCluster(ctx, itSpec(c))
	if err == nil || !strings.Contains(err.Error(), v.Name) || !strings.Contains(err.Error(), "not ours") {
		t.Errorf("foreign volume: got %v, want an error naming %s", err, v.Name)
	}
	t.Logf("foreign volume: %v", err)
	if after := e.snapshot(t); after != before3 {
		t.Errorf("objects changed:\nbefore:\n%s\nafter:\n%s", before3, after)
	}
	e.requireForeign(t, fdom, fnet)
}

// TestIntegrationUndo: a start that fails half way (a data disk that cannot
// be formatted; a domain that cannot be defined while its peer already
// runs) leaves nothing behind.
func TestIntegrationUndo(t *testing.T) {
	e := integrationEnv(t)
	ctx := context.Background()
	before := e.snapshot(t)

	b := e.backend(t, e.stateDir(t), func(cfg *Config) { cfg.Mkfs = []string{"false"} })
	c := itCluster("undo", 65, 2, e.image)
	err := b.StartCluster(ctx, itSpec(c))
	if err == nil || !strings.Contains(err.Error(), "format data disk") {
		t.Fatalf("got %v, want a format error", err)
	}
	t.Logf("mkfs failure: %v", err)
	if after := e.snapshot(t); after != before {
		t.Errorf("objects changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	b.Close()

	b = e.backend(t, e.stateDir(t), nil)
	c = itCluster("undo", 66, 2, e.image)
	c.Hosts[1].Disks[0].Device = "sda" // clashes with the boot overlay
	progress := &progressLog{}
	b.cfg.Progress = progress.record
	err = b.StartCluster(ctx, itSpec(c))
	if err == nil || !strings.Contains(err.Error(), "define domain "+lvxml.DomainName(c.Name, c.Hosts[1].Name)) {
		t.Fatalf("got %v, want a define error for host 2", err)
	}
	t.Logf("define failure: %v", err)
	if _, n := progress.span(PhaseDefining, PhaseBooting); n != 1 {
		t.Logf("note: %d hosts had started before the undo (want 1 for the test to mean much)", n)
	}
	if after := e.snapshot(t); after != before {
		t.Errorf("objects changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	b.st.view(func(st *State) {
		if len(st.Clusters) != 0 || len(st.Cached) != 0 {
			t.Errorf("state after a failed start: %+v", st)
		}
	})
}

// TestIntegrationLeftovers: a backend restarted on the same state dir
// finds its clusters; leftovers (a crashed start, a domain of ours missing
// from the state) are listed and cleaned up; Cleanup keeps what it is told
// to; foreign objects survive.
func TestIntegrationLeftovers(t *testing.T) {
	e := integrationEnv(t)
	ctx := context.Background()
	fdom, fnet := e.foreign(t, "foreign4", 91)
	dir := e.stateDir(t)
	b := e.backend(t, dir, nil)
	c1 := itCluster("lo1", 67, 1, e.image)
	c2 := itCluster("lo2", 68, 1, e.image)
	c2.Hosts[0].Disks[0].Cache = false
	for _, c := range []*definition.Cluster{c1, c2} {
		if err := b.StartCluster(ctx, itSpec(c)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := New(ctx, Config{URI: e.uri, Pool: e.pool, StateDir: dir}, nil); err == nil {
		t.Error("a second backend on the same state dir was allowed")
	}
	b.Close() // the daemon goes away; the VMs keep running

	b = e.backend(t, dir, nil)
	if lo, err := b.Leftovers(ctx); err != nil || len(lo) != 0 {
		t.Errorf("leftovers with both clusters live: %v %v", lo, err)
	}
	// lo2's start "crashed": its record is not live.
	b.st.update(func(st *State) { st.Clusters["lo2"].Live = false })
	// A domain of ours the state does not know (state lost or edited).
	ghost := lvxml.DomainPlan{Name: "ghost_h1", Type: "qemu", RAMKiB: 65536, MAC: "52:54:00:d6:ff:01",
		Network: lvxml.NetworkName(c1.Name, c1.Network.Name), Overlay: "/nonexistent.qcow2",
		Owner: lvxml.Owner{Cluster: "ghost", Host: "h1", Network: "ghost_net", State: b.StateFile()}, Console: "/dev/null"}
	gx, _ := lvxml.BuildDomain(ghost)
	doc, _ := gx.Marshal()
	if _, err := e.raw.DomainDefineXML(doc); err != nil {
		t.Fatal(err)
	}
	lo, err := b.Leftovers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range lo {
		got = append(got, l.String())
	}
	want := []string{
		"domain ghost_h1 (cluster ghost)",
		"domain lo2_h1.lo2.xrd.test (cluster lo2)",
		"network lo2_lo2_net (cluster lo2)",
		"volume lo2_h1.lo2.xrd.test_data.img (cluster lo2)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("leftovers:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if err := b.Cleanup(ctx, []string{"lo1"}); err != nil {
		t.Fatal(err)
	}
	if left := e.ourObjects(t, b); !slices.Equal(left, []string{"domain lo1_h1.lo1.xrd.test", "network lo1_lo1_net"}) {
		t.Errorf("after Cleanup(keep lo1): %v", left)
	}
	if lo, _ := b.Leftovers(ctx); len(lo) != 0 {
		t.Errorf("leftovers after cleanup: %v", lo)
	}
	if err := b.Cleanup(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if left := e.ourObjects(t, b); len(left) != 0 {
		t.Errorf("after Cleanup: %v", left)
	}
	e.requireForeign(t, fdom, fnet)
	if err := b.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	for _, v := range e.volumes(t) {
		if strings.HasPrefix(v, "lo1_") || strings.HasPrefix(v, "lo2_") {
			t.Errorf("volume %s left after Purge", v)
		}
	}
}

// TestIntegrationDiskBoot: a boot image without a kernel beside it boots
// from disk and gets its parameters as SMBIOS OEM strings; libvirt takes
// the XML and starts the domain.
func TestIntegrationDiskBoot(t *testing.T) {
	e := integrationEnv(t)
	ctx := context.Background()
	const img = "xrdtest-diskboot.qcow2"
	e.volume(t, img, "qcow2", 16<<20)
	b := e.backend(t, e.stateDir(t), nil)
	c := itCluster("diskboot", 69, 1, img)
	c.Hosts[0].Disks = nil
	if err := b.StartCluster(ctx, itSpec(c)); err != nil {
		t.Fatal(err)
	}
	d, s, x := e.domainXML(t, c.Name, c.Hosts[0].Name)
	if x.OS.Kernel != "" || x.OS.SMBios == nil || x.OS.SMBios.Mode != "sysinfo" || len(x.SysInfo) != 1 ||
		x.SysInfo[0].SMBIOS == nil || x.SysInfo[0].SMBIOS.OEMStrings == nil ||
		!slices.Contains(x.SysInfo[0].SMBIOS.OEMStrings.Entry, "xrdtest.name="+c.Hosts[0].Name) {
		t.Errorf("domain XML as libvirt has it lacks the SMBIOS boot parameters:\n%s", s)
	}
	if st, _, _ := e.raw.DomainGetState(d, 0); st != int32(libvirt.DomainRunning) {
		t.Errorf("domain state %d, want running", st)
	}
	if !bytes.Contains([]byte(s), []byte("<target dev='sda' bus='scsi'/>")) {
		t.Errorf("boot overlay is not sda on scsi:\n%s", s)
	}
	if err := b.StopCluster(ctx, c.Name); err != nil {
		t.Fatal(err)
	}
	if err := b.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	if left := e.ourObjects(t, b); len(left) != 0 {
		t.Errorf("left: %v", left)
	}
}

// TestIntegrationBackendContract runs the backend contract on one-host
// clusters of the probe image, each on its own subnet from 10.213.70.0/24.
func TestIntegrationBackendContract(t *testing.T) {
	e := integrationEnv(t)
	b := e.backend(t, e.stateDir(t), nil)
	var mu sync.Mutex
	subnets := map[string]int{}
	backendtest.Run(t, backendtest.Config{Backend: b, Spec: func(name string) hypervisor.ClusterSpec {
		mu.Lock()
		defer mu.Unlock()
		if _, ok := subnets[name]; !ok {
			subnets[name] = 70 + len(subnets)
		}
		return itSpec(itCluster(name, subnets[name], 1, e.image))
	}})
}

// checkFaults sets faults on the running cluster c: a pause suspends a
// domain and its heal resumes it; a pause left on by a backend that is
// closed (as a crashed one) is healed by the next on the same state dir,
// which it returns. Kill and fill are refused naming what is missing, and
// so are network faults outside libvirtd's network namespace (where the
// tests run unless started in it), with nothing recorded.
func (e *itEnv) checkFaults(t *testing.T, b *Backend, c *definition.Cluster) *Backend {
	t.Helper()
	ctx := context.Background()
	h2 := c.Hosts[1].Name
	state := func() libvirt.DomainState {
		t.Helper()
		d, err := e.raw.DomainLookupByName(lvxml.DomainName(c.Name, h2))
		if err != nil {
			t.Fatal(err)
		}
		st, _, err := e.raw.DomainGetState(d, 0)
		if err != nil {
			t.Fatal(err)
		}
		return libvirt.DomainState(st)
	}
	set := func(args ...string) (hypervisor.Fault, error) {
		spec, err := hypervisor.ParseFault(args)
		if err != nil {
			t.Fatal(err)
		}
		return b.SetFault(ctx, c.Name, spec)
	}
	f, err := set("pause", "h2")
	if err != nil {
		t.Fatal(err)
	}
	if st := state(); st != libvirt.DomainPaused {
		t.Errorf("after pause: domain state %d, want paused", st)
	}
	if on := b.Faults(c.Name); len(on) != 1 || on[0].ID != f.ID || on[0].Spec.Hosts[0] != h2 {
		t.Errorf("faults on: %+v", on)
	}
	if _, err := set("pause", "h2"); err == nil || !strings.Contains(err.Error(), "paused already") {
		t.Errorf("second pause: %v", err)
	}
	if err := b.HealFaults(ctx, c.Name, f.ID); err != nil {
		t.Fatal(err)
	}
	if st := state(); st != libvirt.DomainRunning {
		t.Errorf("after heal: domain state %d, want running", st)
	}
	if err := b.HealFaults(ctx, c.Name, f.ID); err != nil || len(b.Faults(c.Name)) != 0 {
		t.Errorf("healed again: %v, faults on %v", err, b.Faults(c.Name))
	}

	// Network faults are set where the cluster's bridge is: refused here
	// unless the test runs in libvirtd's network namespace.
	_, nerr := net.InterfaceByName(c.Network.BridgeName)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"kill", "h1", "sshd"}, "cannot kill a process inside a VM"},
		{[]string{"fill", "h1", "/data"}, "cannot fill a disk inside a VM"},
		{[]string{"partition", "h1", "h2"}, "not in this network namespace"},
		{[]string{"loss", "h1", "10"}, "not in this network namespace"},
		{[]string{"rate", "h3", "1mbit"}, "not in this network namespace"},
		{[]string{"isolate", "h3"}, "not in this network namespace"},
	} {
		f, err := set(tc.args...)
		if nerr == nil && tc.args[0] != "kill" && tc.args[0] != "fill" {
			if err != nil {
				t.Errorf("fault %v in libvirtd's namespace: %v", tc.args, err)
			} else if out, err := exec.Command("nft", "list", "table", "bridge", "xrdtest_"+f.ID).CombinedOutput(); err != nil {
				t.Errorf("fault %v: its table: %v\n%s", tc.args, err, out)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("fault %v: %v, want an error with %q", tc.args, err, tc.want)
		} else {
			t.Logf("fault %v refused: %v", tc.args, err)
		}
	}
	if on := b.Faults(c.Name); nerr != nil && len(on) != 0 {
		t.Errorf("faults recorded after refused ones: %+v", on)
	}
	if err := b.HealFaults(ctx, c.Name); err != nil {
		t.Error(err)
	}
	if out, _ := exec.Command("nft", "list", "tables", "bridge").CombinedOutput(); strings.Contains(string(out), "xrdtest_") {
		t.Errorf("tables left after the heal:\n%s", out)
	}

	// A pause left on by a backend gone: the next one resumes the domain.
	if _, err := set("pause", "h2"); err != nil {
		t.Fatal(err)
	}
	dir := b.cfg.StateDir
	b.Close()
	b = e.backend(t, dir, func(cfg *Config) { cfg.ExtraKernelArgs = probeArgs(c) })
	if st := state(); st != libvirt.DomainRunning {
		t.Errorf("after a new backend took the state dir over: domain state %d, want running", st)
	}
	if on := b.Faults(c.Name); len(on) != 0 {
		t.Errorf("faults left recorded: %+v", on)
	}
	return b
}
