package libvirt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/hypervisor"
	"github.com/xrdtest/xrdtest/internal/hypervisor/libvirt/lvxml"
	"github.com/xrdtest/xrdtest/internal/image"
)

// bootImage is a boot volume of the pool and, when present, the kernel and
// initrd beside it.
type bootImage struct {
	name     string
	path     string
	format   string
	capacity uint64
	kernel   string
	initrd   string
	// initrdSize is the uncompressed initramfs's size (0: unknown, as
	// for a gzip one of an earlier install): it sets the RAM a guest
	// needs to boot.
	initrdSize int64
}

// volPlan is a volume a host needs.
type volPlan struct {
	name   string
	cached bool
	// reuse: a cached volume of ours that is kept as it is.
	reuse bool
	// replace: an existing volume of ours to delete first (a non-cached
	// one, or a cached overlay of another boot image).
	replace bool
}

type hostPlan struct {
	host    *definition.Host
	domain  string
	boot    *bootImage
	overlay volPlan
	data    []volPlan // parallel to host.Disks
}

// undoStack holds what one StartCluster call created, to remove it again
// (newest first) if the call fails.
type undoStack struct {
	mu  sync.Mutex
	fns []undoStep
}

type undoStep struct {
	what string
	fn   func() error
}

func (u *undoStack) push(what string, fn func() error) {
	u.mu.Lock()
	u.fns = append(u.fns, undoStep{what, fn})
	u.mu.Unlock()
}

func (u *undoStack) run() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	var errs []error
	for i := len(u.fns) - 1; i >= 0; i-- {
		if err := u.fns[i].fn(); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("undo %s: %w", u.fns[i].what, err))
		}
	}
	u.fns = nil
	return errors.Join(errs...)
}

// StartCluster creates the cluster's network, volumes and domains and
// starts the domains, all hosts in parallel. It checks everything it can
// before creating anything (boot images, names, network collisions); if a
// step fails, what this call created is removed again.
func (b *Backend) StartCluster(ctx context.Context, spec hypervisor.ClusterSpec) (err error) {
	c := spec.Cluster
	if c == nil {
		return errors.New("start cluster: spec has no cluster")
	}
	if len(c.Hosts) == 0 {
		return fmt.Errorf("start cluster %s: no hosts", c.Name)
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("start cluster %s: %w", c.Name, err)
		}
	}()
	unlock := b.lockCluster(c.Name)
	defer unlock()

	var live, leftover bool
	b.st.view(func(st *State) {
		r := st.Clusters[c.Name]
		live, leftover = r != nil && r.Live, r != nil && !r.Live
	})
	if live {
		return fmt.Errorf("%w; stop it first", hypervisor.ErrAlreadyStarted)
	}
	if leftover {
		b.log.Warn("removing what an earlier start of the cluster left", "cluster", c.Name)
		if err := b.stopLocked(ctx, c.Name); err != nil {
			return fmt.Errorf("removing what an earlier start left: %w", err)
		}
	}
	l, err := b.conn()
	if err != nil {
		return err
	}
	netXML, err := lvxml.BuildNetwork(spec, b.stateFile)
	if err != nil {
		return err
	}
	pool, err := b.pool(l)
	if err != nil {
		return err
	}
	// Images built or copied into the pool directory since the last start.
	if err := l.StoragePoolRefresh(pool.ref, 0); err != nil {
		return fmt.Errorf("refresh storage pool %s: %w", b.cfg.Pool, err)
	}
	plans, err := b.planHosts(l, pool, c)
	if err != nil {
		return err
	}
	if err := b.checkFree(l, pool, c, netXML, plans); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	// From here on everything is recorded before it is created.
	undo := &undoStack{}
	defer func() {
		if err == nil {
			return
		}
		if uerr := undo.run(); uerr != nil {
			// The record stays (not live): Leftovers and Cleanup find the rest.
			b.log.Error("could not undo a failed start; Cleanup removes the rest", "cluster", c.Name, "err", uerr)
			err = errors.Join(err, uerr)
			return
		}
		if werr := b.st.update(func(st *State) { delete(st.Clusters, c.Name) }); werr != nil {
			err = errors.Join(err, werr)
		}
	}()
	netName := netXML.Name
	addrs := map[string]string{}
	for _, h := range c.Hosts {
		addrs[h.Name] = h.IP
	}
	if err := b.st.update(func(st *State) {
		st.Clusters[c.Name] = &ClusterRecord{
			Started: time.Now().UTC(),
			Network: &NetworkRecord{Name: netName, Bridge: netXML.Bridge.Name},
			Addrs:   addrs,
		}
	}); err != nil {
		return err
	}

	// Network.
	doc, err := netXML.Marshal()
	if err != nil {
		return err
	}
	net, err := l.NetworkDefineXML(doc)
	if err != nil {
		return fmt.Errorf("define network %s: %w", netName, err)
	}
	undo.push("network "+netName, func() error { return l.NetworkUndefine(net) })
	if err := b.st.update(func(st *State) { st.Clusters[c.Name].Network.UUID = uuidString(net.UUID) }); err != nil {
		return err
	}
	if err := l.NetworkCreate(net); err != nil {
		return fmt.Errorf("start network %s (bridge %s): %w", netName, netXML.Bridge.Name, err)
	}
	undo.push("network "+netName+" (stop)", func() error {
		if err := l.NetworkDestroy(net); err != nil && !isNotRunning(err) {
			return err
		}
		return nil
	})

	// Volumes, per host in parallel.
	if err := parallel(plans, func(p *hostPlan) error { return b.prepareVolumes(ctx, l, pool, c.Name, p, undo) }); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	// Domains: defined and started in parallel.
	if err := parallel(plans, func(p *hostPlan) error { return b.startDomain(ctx, l, pool, spec, netName, p, undo) }); err != nil {
		return err
	}
	if err := b.st.update(func(st *State) { st.Clusters[c.Name].Live = true }); err != nil {
		return err
	}
	b.log.Info("cluster started", "cluster", c.Name, "network", netName, "hosts", len(plans), "domain_type", b.domainType)
	return nil
}

// parallel runs f for every plan at once and joins the errors.
func parallel(plans []*hostPlan, f func(*hostPlan) error) error {
	errs := make([]error, len(plans))
	var wg sync.WaitGroup
	for i, p := range plans {
		wg.Go(func() {
			if err := f(p); err != nil {
				errs[i] = fmt.Errorf("host %s: %w", p.host.Name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// planHosts finds every host's boot image (and kernel) in the pool. All
// missing images are named in one error.
func (b *Backend) planHosts(l *libvirt.Libvirt, pool poolInfo, c *definition.Cluster) ([]*hostPlan, error) {
	images := map[string]*bootImage{}
	var missing, problems []string
	var plans []*hostPlan
	for _, h := range c.Hosts {
		p := &hostPlan{host: h, domain: lvxml.DomainName(c.Name, h.Name)}
		plans = append(plans, p)
		if h.BootImage == "" {
			problems = append(problems, fmt.Sprintf("host %s has no boot image", h.Name))
			continue
		}
		img, ok := images[h.BootImage]
		if !ok {
			var err error
			img, err = b.lookupBootImage(l, pool, h.BootImage)
			if err != nil {
				if isNotFound(err) {
					missing = append(missing, h.BootImage)
					images[h.BootImage] = nil
					continue
				}
				return nil, err
			}
			images[h.BootImage] = img
		}
		if img == nil {
			continue
		}
		if img.initrdSize > 0 {
			if err := image.RAMCheck(h.RAMKiB, img.initrdSize); err != nil {
				problems = append(problems, fmt.Sprintf("host %s (boot image %s): %v", h.Name, h.BootImage, err))
				continue
			}
		}
		p.boot = img
		p.overlay = volPlan{name: lvxml.OverlayVolumeName(c.Name, h.Name), cached: h.CacheBootImage}
		for _, d := range h.Disks {
			p.data = append(p.data, volPlan{name: lvxml.DataVolumeName(c.Name, h.Name, d.Name), cached: d.Cache})
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: volume %s not found in storage pool %s (nothing was created)",
			ErrBootImageMissing, strings.Join(missing, ", "), b.cfg.Pool)
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return plans, nil
}

func (b *Backend) lookupBootImage(l *libvirt.Libvirt, pool poolInfo, name string) (*bootImage, error) {
	v, err := l.StorageVolLookupByName(pool.ref, name)
	if err != nil {
		return nil, err
	}
	s, err := l.StorageVolGetXMLDesc(v, 0)
	if err != nil {
		return nil, fmt.Errorf("boot image %s: %w", name, err)
	}
	var x libvirtxml.StorageVolume
	if err := x.Unmarshal(s); err != nil {
		return nil, fmt.Errorf("boot image %s: %w", name, err)
	}
	img := &bootImage{name: name, format: "raw"}
	if x.Target != nil {
		img.path = x.Target.Path
		if x.Target.Format != nil && x.Target.Format.Type != "" {
			img.format = x.Target.Format.Type
		}
	}
	if x.Capacity != nil {
		img.capacity = volumeBytes(x.Capacity)
	}
	if img.path == "" {
		return nil, fmt.Errorf("boot image %s in pool %s has no path", name, b.cfg.Pool)
	}
	kname, iname := lvxml.KernelVolumeNames(name)
	kpath, kerr := volPath(l, pool, kname)
	// The uncompressed initrd's size sets the RAM a guest needs; a gzip
	// one's (an earlier install's) is not known here and stays 0.
	ipath, isize, ierr := volPathSize(l, pool, iname)
	if isNotFound(ierr) {
		if p, err := volPath(l, pool, lvxml.LegacyInitrdName(name)); err == nil || !isNotFound(err) {
			ipath, isize, ierr = p, 0, err
		}
	}
	switch {
	case kerr == nil && ierr == nil:
		img.kernel, img.initrd, img.initrdSize = kpath, ipath, int64(isize)
	case isNotFound(kerr) && isNotFound(ierr):
		// disk boot
	case kerr == nil && isNotFound(ierr):
		return nil, fmt.Errorf("storage pool %s has %s but not %s: both are needed to boot %s's kernel", b.cfg.Pool, kname, iname, name)
	case ierr == nil && isNotFound(kerr):
		return nil, fmt.Errorf("storage pool %s has %s but not %s: both are needed to boot %s's kernel", b.cfg.Pool, iname, kname, name)
	default:
		return nil, fmt.Errorf("boot image %s: kernel lookup: %w", name, errors.Join(kerr, ierr))
	}
	return img, nil
}

func volumeBytes(s *libvirtxml.StorageVolumeSize) uint64 {
	mult := map[string]uint64{"": 1, "b": 1, "bytes": 1, "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20,
		"g": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tib": 1 << 40, "kb": 1000, "mb": 1000 * 1000, "gb": 1000 * 1000 * 1000}
	if m, ok := mult[strings.ToLower(s.Unit)]; ok {
		return s.Value * m
	}
	return s.Value
}

func volPath(l *libvirt.Libvirt, pool poolInfo, name string) (string, error) {
	v, err := l.StorageVolLookupByName(pool.ref, name)
	if err != nil {
		return "", err
	}
	return l.StorageVolGetPath(v)
}

// volPathSize is a volume's path and size in bytes.
func volPathSize(l *libvirt.Libvirt, pool poolInfo, name string) (string, uint64, error) {
	v, err := l.StorageVolLookupByName(pool.ref, name)
	if err != nil {
		return "", 0, err
	}
	path, err := l.StorageVolGetPath(v)
	if err != nil {
		return "", 0, err
	}
	_, capacity, _, err := l.StorageVolGetInfo(v)
	return path, capacity, err
}

// checkFree makes sure nothing in the way of the cluster exists: its
// network name, bridge or subnet (collisions), its domain names, and
// volumes of its names that are not ours. It also decides which volumes
// are reused and which are replaced.
func (b *Backend) checkFree(l *libvirt.Libvirt, pool poolInfo, c *definition.Cluster, netXML *libvirtxml.Network, plans []*hostPlan) error {
	nets, _, err := listNetworks(l)
	if err != nil {
		return err
	}
	if err := lvxml.CheckCollisions(netXML, nets); err != nil {
		return err
	}
	var problems []string
	for _, p := range plans {
		d, err := l.DomainLookupByName(p.domain)
		switch {
		case err == nil:
			o, ok, _ := domainOwner(l, d)
			if b.ours(o, ok) {
				problems = append(problems, fmt.Sprintf("domain %s exists from an earlier run of cluster %s; run Cleanup", p.domain, o.Cluster))
			} else {
				problems = append(problems, fmt.Sprintf("domain %s exists and is not ours (%v)", p.domain, ErrNotOurs))
			}
		case !isNotFound(err):
			return fmt.Errorf("domain %s: %w", p.domain, err)
		}
	}
	var st State
	b.st.view(func(s *State) {
		st.Cached = slices.Clone(s.Cached)
		st.Clusters = map[string]*ClusterRecord{}
		for k, v := range s.Clusters {
			st.Clusters[k] = v
		}
	})
	check := func(v *volPlan, wantBacking string, wantSize uint64) error {
		vol, err := l.StorageVolLookupByName(pool.ref, v.name)
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("volume %s: %w", v.name, err)
		}
		cachedOurs := st.isCached(b.cfg.Pool, v.name)
		if !cachedOurs && !st.recordedVolume(b.cfg.Pool, v.name) {
			problems = append(problems, fmt.Sprintf("volume %s exists in storage pool %s and is not ours (%v); remove it", v.name, b.cfg.Pool, ErrNotOurs))
			return nil
		}
		if !v.cached || !cachedOurs {
			v.replace = true
			return nil
		}
		v.reuse = true
		if wantSize != 0 {
			if _, capacity, _, err := l.StorageVolGetInfo(vol); err == nil && capacity != wantSize {
				b.log.Warn("cached data disk has another size than the definition; keeping it with its data (Purge to recreate)",
					"volume", v.name, "size", capacity, "want", wantSize)
			}
		}
		if wantBacking != "" {
			s, err := l.StorageVolGetXMLDesc(vol, 0)
			if err != nil {
				return fmt.Errorf("volume %s: %w", v.name, err)
			}
			var x libvirtxml.StorageVolume
			if err := x.Unmarshal(s); err != nil {
				return fmt.Errorf("volume %s: %w", v.name, err)
			}
			if x.BackingStore == nil || x.BackingStore.Path != wantBacking {
				b.log.Info("cached overlay has another backing image; recreating it", "volume", v.name, "want", wantBacking)
				v.reuse, v.replace = false, true
			}
		}
		return nil
	}
	for _, p := range plans {
		if err := check(&p.overlay, p.boot.path, 0); err != nil {
			return err
		}
		for i := range p.data {
			if err := check(&p.data[i], "", p.host.Disks[i].Size); err != nil {
				return err
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s (nothing was created)", strings.Join(problems, "; "))
	}
	return nil
}

// prepareVolumes makes a host's boot overlay and data disks: cached ones
// of ours are reused, the others (re)created, data disks formatted.
func (b *Backend) prepareVolumes(ctx context.Context, l *libvirt.Libvirt, pool poolInfo, cluster string, p *hostPlan, undo *undoStack) error {
	b.progress(ctx, p.host.Name, PhasePreparing)
	capacity := p.boot.capacity
	if capacity == 0 {
		capacity = 1 << 30
	}
	if _, err := b.ensureVolume(l, pool, cluster, p.overlay, undo,
		lvxml.BuildOverlay(p.overlay.name, capacity, p.boot.path, p.boot.format)); err != nil {
		return err
	}
	for i, d := range p.host.Disks {
		vp := p.data[i]
		path, err := b.ensureVolume(l, pool, cluster, vp, undo, lvxml.BuildDataVolume(vp.name, d.Size))
		if err != nil {
			return err
		}
		if vp.reuse {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, b.cfg.Mkfs[0], append(slices.Clone(b.cfg.Mkfs[1:]), path)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("format data disk %s (%s): %w: %s", d.Name, strings.Join(cmd.Args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// ensureVolume reuses, replaces or creates a volume, recording it first,
// and returns its path.
func (b *Backend) ensureVolume(l *libvirt.Libvirt, pool poolInfo, cluster string, v volPlan, undo *undoStack, x *libvirtxml.StorageVolume) (string, error) {
	if v.reuse {
		b.log.Debug("reusing cached volume", "volume", v.name)
		return volPath(l, pool, v.name)
	}
	if v.replace {
		if err := deleteVolume(l, pool, v.name); err != nil {
			return "", fmt.Errorf("replace volume %s: %w", v.name, err)
		}
	}
	rec := VolumeRecord{Pool: b.cfg.Pool, Name: v.name, Cluster: cluster}
	if err := b.st.update(func(st *State) {
		st.dropCached(rec.Pool, rec.Name)
		r := st.Clusters[cluster]
		r.Volumes = slices.DeleteFunc(r.Volumes, func(o VolumeRecord) bool { return o == rec })
		if v.cached {
			st.Cached = append(st.Cached, rec)
		} else {
			r.Volumes = append(r.Volumes, rec)
		}
	}); err != nil {
		return "", err
	}
	doc, err := x.Marshal()
	if err != nil {
		return "", err
	}
	vol, err := l.StorageVolCreateXML(pool.ref, doc, 0)
	if err != nil {
		return "", fmt.Errorf("create volume %s in pool %s: %w", v.name, b.cfg.Pool, err)
	}
	undo.push("volume "+v.name, func() error {
		err := l.StorageVolDelete(vol, 0)
		if err == nil || isNotFound(err) {
			b.st.update(func(st *State) { st.dropCached(rec.Pool, rec.Name) })
		}
		return err
	})
	return l.StorageVolGetPath(vol)
}

func deleteVolume(l *libvirt.Libvirt, pool poolInfo, name string) error {
	v, err := l.StorageVolLookupByName(pool.ref, name)
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return err
	}
	if err := l.StorageVolDelete(v, 0); err != nil && !isNotFound(err) {
		return err
	}
	return nil
}

// startDomain defines and starts a host's domain.
func (b *Backend) startDomain(ctx context.Context, l *libvirt.Libvirt, pool poolInfo, spec hypervisor.ClusterSpec, netName string, p *hostPlan, undo *undoStack) error {
	c := spec.Cluster
	b.progress(ctx, p.host.Name, PhaseDefining)
	overlay, err := volPath(l, pool, p.overlay.name)
	if err != nil {
		return fmt.Errorf("volume %s: %w", p.overlay.name, err)
	}
	plan := lvxml.DomainPlan{
		Name:    p.domain,
		Type:    b.domainType,
		CPUMode: b.cpuMode,
		Owner:   lvxml.Owner{Cluster: c.Name, Host: p.host.Name, Network: netName, State: b.stateFile},
		Arch:    p.host.Arch,
		RAMKiB:  p.host.RAMKiB,
		UUID:    p.host.UUID,
		MAC:     p.host.MAC,
		Network: netName,
		Overlay: overlay,
		Kernel:  p.boot.kernel,
		Initrd:  p.boot.initrd,
		Params:  lvxml.BootParams(spec, p.host.Name),
		Extra:   b.cfg.ExtraKernelArgs,
		Console: filepath.Join(b.cfg.StateDir, lvxml.ConsoleFile(p.domain)),
	}
	for i, d := range p.host.Disks {
		path, err := volPath(l, pool, p.data[i].name)
		if err != nil {
			return fmt.Errorf("volume %s: %w", p.data[i].name, err)
		}
		plan.Data = append(plan.Data, lvxml.DataDiskPlan{Path: path, Device: d.Device})
	}
	x, err := lvxml.BuildDomain(plan)
	if err != nil {
		return err
	}
	doc, err := x.Marshal()
	if err != nil {
		return err
	}
	if err := b.st.update(func(st *State) {
		r := st.Clusters[c.Name]
		if !slices.Contains(r.Domains, p.domain) {
			r.Domains = append(r.Domains, p.domain)
		}
	}); err != nil {
		return err
	}
	os.Remove(plan.Console) // the console of an earlier run
	d, err := l.DomainDefineXMLFlags(doc, 0)
	if err != nil {
		return fmt.Errorf("define domain %s: %w", p.domain, err)
	}
	undo.push("domain "+p.domain, func() error { return l.DomainUndefineFlags(d, 0) })
	if err := l.DomainCreate(d); err != nil {
		return fmt.Errorf("start domain %s: %w", p.domain, err)
	}
	undo.push("domain "+p.domain+" (stop)", func() error {
		if err := l.DomainDestroy(d); err != nil && !isNotRunning(err) {
			return err
		}
		return nil
	})
	b.progress(ctx, p.host.Name, PhaseBooting)
	return nil
}
