package libvirt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"libvirt.org/go/libvirtxml"

	"github.com/xrdtest/xrdtest/internal/hypervisor/libvirt/lvxml"
)

// InstallImage puts an image built by `xrdtest image build` into the pool
// as the boot image name (e.g. xrdtest-slave.qcow2): a small empty qcow2
// volume (the per-VM overlays' base, used as scratch space) plus the kernel
// and initramfs under the names the direct kernel boot looks for. Files
// already in place with the same size are kept.
func (b *Backend) InstallImage(ctx context.Context, name, kernel, initrd string) error {
	l, err := b.conn()
	if err != nil {
		return err
	}
	pool, err := b.pool(l)
	if err != nil {
		return err
	}
	kname, iname := lvxml.KernelVolumeNames(name)
	for _, f := range []struct{ src, dst string }{{kernel, kname}, {initrd, iname}} {
		if err := copyIfChanged(f.src, filepath.Join(pool.path, f.dst)); err != nil {
			return fmt.Errorf("installing %s into pool %s: %w", f.dst, b.cfg.Pool, err)
		}
	}
	// The initrd of an earlier install under its old name would be
	// shadowed by the new one: remove it.
	if err := os.Remove(filepath.Join(pool.path, lvxml.LegacyInitrdName(name))); err == nil {
		b.log.Info("removed the initrd of an earlier install", "volume", lvxml.LegacyInitrdName(name))
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("installing %s into pool %s: %w", iname, b.cfg.Pool, err)
	}
	if err := l.StoragePoolRefresh(pool.ref, 0); err != nil {
		return fmt.Errorf("refreshing pool %s: %w", b.cfg.Pool, err)
	}
	if _, err := l.StorageVolLookupByName(pool.ref, name); err == nil {
		return nil
	} else if !isNotFound(err) {
		return err
	}
	vol := libvirtxml.StorageVolume{Name: name,
		Capacity: &libvirtxml.StorageVolumeSize{Unit: "bytes", Value: 1 << 30},
		Target:   &libvirtxml.StorageVolumeTarget{Format: &libvirtxml.StorageVolumeTargetFormat{Type: "qcow2"}}}
	x, err := vol.Marshal()
	if err != nil {
		return err
	}
	if _, err := l.StorageVolCreateXML(pool.ref, x, 0); err != nil {
		return fmt.Errorf("creating the base volume %s in pool %s: %w", name, b.cfg.Pool, err)
	}
	b.log.Info("image installed", "pool", b.cfg.Pool, "volume", name)
	return nil
}

func copyIfChanged(src, dst string) error {
	si, err := os.Stat(src)
	if err != nil {
		return err
	}
	if di, err := os.Stat(dst); err == nil && di.Size() == si.Size() && !di.ModTime().Before(si.ModTime()) {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".new"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, dst)
}
