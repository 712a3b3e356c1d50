package libvirt

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/digitalocean/go-libvirt"

	"github.com/xrdtest/xrdtest/internal/hypervisor/libvirt/lvxml"
)

// StopCluster destroys and undefines the cluster's domains and network
// and deletes its non-cached volumes; cached volumes stay for the next
// start (Purge removes them). Objects are found through the state record
// and through their metadata; what is already gone counts as done, and
// domains and networks without our metadata are never touched. It is safe
// to call for a cluster that never started.
func (b *Backend) StopCluster(ctx context.Context, cluster string) error {
	unlock := b.lockCluster(cluster)
	defer unlock()
	if err := b.stopLocked(ctx, cluster); err != nil {
		return fmt.Errorf("stop cluster %s: %w", cluster, err)
	}
	return nil
}

func (b *Backend) stopLocked(ctx context.Context, cluster string) error {
	l, err := b.conn()
	if err != nil {
		return err
	}
	var rec ClusterRecord
	b.st.view(func(st *State) {
		if r := st.Clusters[cluster]; r != nil {
			rec = *r
			rec.Domains = slices.Clone(r.Domains)
			rec.Volumes = slices.Clone(r.Volumes)
			if r.Network != nil {
				n := *r.Network
				rec.Network = &n
			}
		}
	})
	var errs []error
	// Faults first: a filter outliving the cluster would hit the next
	// one on its addresses.
	if err := b.healLocked(cluster); err != nil {
		errs = append(errs, fmt.Errorf("faults: %w", err))
	}

	// Domains: ours by metadata; a recorded name now held by a domain
	// without our metadata is left alone.
	doms, err := b.listOurDomains(l)
	if err != nil {
		return err
	}
	var targets []libvirt.Domain
	for _, d := range doms {
		if d.owner.Cluster == cluster {
			targets = append(targets, d.ref)
		}
	}
	for _, name := range rec.Domains {
		if slices.ContainsFunc(targets, func(d libvirt.Domain) bool { return d.Name == name }) {
			continue
		}
		if _, err := l.DomainLookupByName(name); err == nil {
			b.log.Warn("a domain of a recorded name exists without our metadata; left alone", "domain", name, "cluster", cluster)
		} else if !isNotFound(err) {
			errs = append(errs, fmt.Errorf("domain %s: %w", name, err))
		}
	}
	derrs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, d := range targets {
		wg.Go(func() { derrs[i] = removeDomain(l, d) })
	}
	wg.Wait()
	errs = append(errs, derrs...)
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}

	// Network: ours by metadata, or by the recorded name and UUID.
	nets, refs, err := listNetworks(l)
	if err != nil {
		errs = append(errs, err)
	}
	for i, n := range nets {
		o, ok := networkOwner(n.XML)
		mine := b.ours(o, ok) && o.Cluster == cluster
		if !mine && rec.Network != nil && rec.Network.UUID != "" {
			mine = n.XML.Name == rec.Network.Name && n.XML.UUID == rec.Network.UUID
		}
		if !mine {
			continue
		}
		if err := removeNetwork(l, refs[i]); err != nil {
			errs = append(errs, fmt.Errorf("network %s: %w", n.XML.Name, err))
		}
	}

	// Non-cached volumes.
	for _, v := range rec.Volumes {
		if !lvxml.OwnsVolumeName(cluster, v.Name) {
			b.log.Warn("recorded volume has a name not of the cluster; left alone", "volume", v.Name, "cluster", cluster)
			continue
		}
		if err := deletePoolVolume(l, v.Pool, v.Name); err != nil {
			errs = append(errs, fmt.Errorf("volume %s: %w", v.Name, err))
		}
	}

	if err := errors.Join(errs...); err != nil {
		// Keep the record, no longer live: a retry or Cleanup finishes it.
		b.st.update(func(st *State) {
			if r := st.Clusters[cluster]; r != nil {
				r.Live = false
			}
		})
		return err
	}
	if err := b.st.update(func(st *State) { delete(st.Clusters, cluster) }); err != nil {
		return err
	}
	b.log.Info("cluster stopped", "cluster", cluster, "domains", len(targets))
	return nil
}

func removeDomain(l *libvirt.Libvirt, d libvirt.Domain) error {
	if err := l.DomainDestroy(d); err != nil && !isNotFound(err) && !isNotRunning(err) {
		return fmt.Errorf("destroy domain %s: %w", d.Name, err)
	}
	if err := l.DomainUndefineFlags(d, 0); err != nil && !isNotFound(err) {
		return fmt.Errorf("undefine domain %s: %w", d.Name, err)
	}
	return nil
}

func removeNetwork(l *libvirt.Libvirt, n libvirt.Network) error {
	if err := l.NetworkDestroy(n); err != nil && !isNotFound(err) && !isNotRunning(err) {
		return fmt.Errorf("destroy: %w", err)
	}
	if err := l.NetworkUndefine(n); err != nil && !isNotFound(err) {
		return fmt.Errorf("undefine: %w", err)
	}
	return nil
}

func deletePoolVolume(l *libvirt.Libvirt, pool, name string) error {
	p, err := l.StoragePoolLookupByName(pool)
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return err
	}
	return deleteVolume(l, poolInfo{ref: p}, name)
}

// Leftover is a domain, network or volume of ours that belongs to no
// started cluster: what a crash, a failed undo or a lost daemon left.
type Leftover struct {
	Kind    string // "domain", "network" or "volume"
	Name    string
	Cluster string
}

func (o Leftover) String() string { return o.Kind + " " + o.Name + " (cluster " + o.Cluster + ")" }

// Leftovers lists our domains and networks (found by metadata and in the
// state file) and recorded non-cached volumes that belong to no live
// cluster. Cached volumes are not leftovers: they are kept on purpose.
func (b *Backend) Leftovers(ctx context.Context) ([]Leftover, error) {
	l, err := b.conn()
	if err != nil {
		return nil, err
	}
	live := map[string]bool{}
	recs := map[string]ClusterRecord{}
	b.st.view(func(st *State) {
		for name, r := range st.Clusters {
			live[name] = r.Live
			c := *r
			c.Volumes = slices.Clone(r.Volumes)
			recs[name] = c
		}
	})
	var out []Leftover
	doms, err := b.listOurDomains(l)
	if err != nil {
		return nil, err
	}
	for _, d := range doms {
		if !live[d.owner.Cluster] {
			out = append(out, Leftover{Kind: "domain", Name: d.ref.Name, Cluster: d.owner.Cluster})
		}
	}
	nets, _, err := listNetworks(l)
	if err != nil {
		return nil, err
	}
	for _, n := range nets {
		cluster := ""
		if o, ok := networkOwner(n.XML); b.ours(o, ok) {
			cluster = o.Cluster
		} else {
			for name, r := range recs {
				if r.Network != nil && r.Network.UUID != "" && r.Network.Name == n.XML.Name && r.Network.UUID == n.XML.UUID {
					cluster = name
				}
			}
		}
		if cluster != "" && !live[cluster] {
			out = append(out, Leftover{Kind: "network", Name: n.XML.Name, Cluster: cluster})
		}
	}
	for name, r := range recs {
		if r.Live {
			continue
		}
		for _, v := range r.Volumes {
			p, err := l.StoragePoolLookupByName(v.Pool)
			if err != nil {
				continue
			}
			if _, err := l.StorageVolLookupByName(p, v.Name); err == nil {
				out = append(out, Leftover{Kind: "volume", Name: v.Name, Cluster: name})
			}
		}
	}
	slices.SortFunc(out, func(a, b Leftover) int {
		return cmp.Or(cmp.Compare(a.Cluster, b.Cluster), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name))
	})
	return out, nil
}

// Cleanup removes every cluster of ours (recorded in the state file or
// found by metadata), started or not, except the clusters named in keep,
// as StopCluster does. Cached volumes stay (see Purge).
func (b *Backend) Cleanup(ctx context.Context, keep []string) error {
	l, err := b.conn()
	if err != nil {
		return err
	}
	clusters := map[string]bool{}
	b.st.view(func(st *State) {
		for name := range st.Clusters {
			clusters[name] = true
		}
	})
	doms, err := b.listOurDomains(l)
	if err != nil {
		return err
	}
	for _, d := range doms {
		clusters[d.owner.Cluster] = true
	}
	nets, _, err := listNetworks(l)
	if err != nil {
		return err
	}
	for _, n := range nets {
		if o, ok := networkOwner(n.XML); b.ours(o, ok) {
			clusters[o.Cluster] = true
		}
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(clusters)) {
		if slices.Contains(keep, name) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, err)...)
		}
		unlock := b.lockCluster(name)
		err := b.stopLocked(ctx, name)
		unlock()
		if err != nil {
			errs = append(errs, fmt.Errorf("cluster %s: %w", name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cleanup: %w", err)
	}
	return nil
}

// Purge deletes the cached volumes of ours (kept boot overlays and data
// disks) of every cluster that is not started; those of a started cluster,
// or of one whose leftovers are still recorded, are kept and named in the
// error.
func (b *Backend) Purge(ctx context.Context) error {
	l, err := b.conn()
	if err != nil {
		return err
	}
	var cached []VolumeRecord
	b.st.view(func(st *State) { cached = slices.Clone(st.Cached) })
	var errs []error
	for _, v := range cached {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, err)...)
		}
		unlock := b.lockCluster(v.Cluster)
		var busy bool
		b.st.view(func(st *State) { busy = st.Clusters[v.Cluster] != nil })
		switch {
		case busy:
			errs = append(errs, fmt.Errorf("volume %s kept: cluster %s is started or has leftovers", v.Name, v.Cluster))
		case !lvxml.OwnsVolumeName(v.Cluster, v.Name):
			errs = append(errs, fmt.Errorf("volume %s kept: not a name of cluster %s", v.Name, v.Cluster))
		default:
			if err := deletePoolVolume(l, v.Pool, v.Name); err != nil {
				errs = append(errs, fmt.Errorf("volume %s: %w", v.Name, err))
			} else if err := b.st.update(func(st *State) { st.dropCached(v.Pool, v.Name) }); err != nil {
				errs = append(errs, err)
			}
		}
		unlock()
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	return nil
}

// Clusters lists the clusters this backend started and has not stopped,
// from its state file: after a restart of the hypervisor daemon they are
// reported to the master, which re-adopts those its sessions still use
// and has the others stopped.
func (b *Backend) Clusters() []string {
	var out []string
	b.st.view(func(st *State) {
		for name := range st.Clusters {
			out = append(out, name)
		}
	})
	slices.Sort(out)
	return out
}

// Running reports whether the state file has a record of the cluster: it
// runs, or a failed start or stop left something StopCluster removes.
func (b *Backend) Running(cluster string) bool {
	var ok bool
	b.st.view(func(st *State) { ok = st.Clusters[cluster] != nil })
	return ok
}
